"""The fault tests' "lost" and "duplicates" are computed, not asserted into being: reconciling
acknowledged sends with a stored history finds each kind of divergence."""

from __future__ import annotations

from dataclasses import dataclass

from tests.faults.history import reconcile


@dataclass(frozen=True)
class Row:
    id: str
    client_id: str | None


def test_reconcile_finds_lost_duplicated_unacknowledged_and_misfiled_sends() -> None:
    acked = {"t-1": "m1", "t-2": "m2", "t-3": "m3", "t-4": "m4"}
    stored = [
        Row("m1", "t-1"),
        Row("m1b", "t-1"),  # stored twice
        Row("m2x", "t-2"),  # stored, under another id than the one acknowledged
        Row("m4", "t-4"),
        Row("m5", "t-5"),  # stored, never acknowledged
        Row("o1", "other-1"),  # not this test's send
        Row("n1", None),
    ]
    found = reconcile(acked, stored, "t-")
    assert found.lost == ["t-3"]
    assert found.duplicates == 1
    assert found.unacknowledged == ["t-5"]
    assert found.wrong_id == ["t-2"]


def test_reconcile_of_a_clean_run_is_all_zero() -> None:
    acked = {"t-1": "m1", "o-1": "m2"}
    found = reconcile(acked, [Row("m1", "t-1"), Row("m2", "o-1")], ("t-", "o-"))
    assert (found.lost, found.duplicates, found.unacknowledged, found.wrong_id) == ([], 0, [], [])
