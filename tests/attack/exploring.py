"""How the attack suites choose their examples: the same ones on every run, unless exploring.

The test command (scripts/test) must pass or fail the same way on every machine, every time: a
suite that fails by the luck of a random seed teaches people to ignore it. So by default Hypothesis
runs derandomized (the examples follow from the code, including the constants Hypothesis collects
from the project's modules, and from Hypothesis's version) and with no example database (no
examples are read or saved; `.hypothesis/` in the repo holds only Hypothesis's gitignored caches).

The long runs (scripts/faults) set PARLOUR_EXPLORE=1 and pass `--hypothesis-seed=N`, a fresh N
each run that the script prints and writes into its report: they look for new failures, and a
failure they find is replayed with `PARLOUR_EXPLORE=1 pytest tests/attack --hypothesis-seed=N`
(with the same PARLOUR_MODEL_* / PARLOUR_FUZZ_* sizes). Each suite's report line names the mode,
the seed and, on failure, Hypothesis's falsifying example.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

EXPLORE = os.environ.get("PARLOUR_EXPLORE") == "1"


def attack_settings(**overrides: Any) -> settings:
    """Settings for an attack suite: derandomized and without a database unless exploring."""
    chosen: dict[str, Any] = {
        "deadline": None,
        "suppress_health_check": list(HealthCheck),
        "derandomize": not EXPLORE,
        "database": None,
        **overrides,
    }
    return settings(**chosen)


def run_info(config: pytest.Config) -> dict[str, Any]:
    """What a report line says about how its examples were chosen."""
    seed = config.getoption("--hypothesis-seed", default=None)
    if isinstance(seed, str) and seed.isdigit():
        seed = int(seed)  # as Hypothesis reads it
    return {"mode": "explore" if EXPLORE else "deterministic", "seed": seed if EXPLORE else None}


def failure_info(error: BaseException | None) -> dict[str, Any]:
    """The failure and Hypothesis's notes on it (the falsifying example, how to reproduce)."""
    if error is None:
        return {}
    notes = [str(note) for note in getattr(error, "__notes__", [])]
    return {"failure": f"{type(error).__name__}: {error}"[:2000], "notes": notes}


def _stable(value: object) -> str:
    """A repr that is the same in every process (no `<... object at 0x...>`)."""
    if type(value).__repr__ is object.__repr__:
        return type(value).__qualname__
    return repr(value)


class Trace:
    """A digest of the examples a run generated: two runs that print the same one tried the same
    cases (used to check that the deterministic mode is deterministic)."""

    def __init__(self) -> None:
        self._digest = hashlib.sha256()
        self.items = 0

    def add(self, *parts: Any) -> None:
        self.items += 1
        self._digest.update(json.dumps(parts, default=_stable).encode())
        self._digest.update(b"\n")

    def hexdigest(self) -> str:
        return self._digest.hexdigest()[:16]
