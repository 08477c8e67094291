"""`(a, b) IN ((x, y), ...)` written so that SQLite searches its index.

SQLite plans a row-value IN list as a scan of the whole index (seen with EXPLAIN QUERY PLAN:
"SCAN messages USING COVERING INDEX"), so every send batch read every message to find retries.
The same condition as `a = x AND b IN (...)` per distinct `x`, joined by OR, is a search per term
on both databases ("MULTI-INDEX OR" on SQLite, a bitmap OR on PostgreSQL). The send batch runs
these as driver statements (storage/write_driver.py), hence SQL text rather than SQLAlchemy.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from parlour.storage.hot import HotQuery, statement


def grouped(pairs: Iterable[tuple[str, str]]) -> list[tuple[str, list[str]]]:
    """(a, b) pairs as (a, [b, ...]) groups, in a stable order (one statement text per shape)."""
    groups: dict[str, set[str]] = defaultdict(set)
    for first, second in pairs:
        groups[first].add(second)
    return [(first, sorted(groups[first])) for first in sorted(groups)]


def pairs_statement(
    template: str, condition: str, groups: list[tuple[str, list[str]]]
) -> tuple[HotQuery, list[str]]:
    """`template` with its `{where}` the OR of `condition` (two `?`, the second an IN list `{}`)
    per group, and the bound values in order."""
    where = " OR ".join([f"({condition})"] * len(groups))
    query = statement(template.replace("{where}", where), *(len(seconds) for _, seconds in groups))
    return query, [value for first, seconds in groups for value in (first, *seconds)]
