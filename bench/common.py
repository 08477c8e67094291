"""What every benchmark scenario shares: its result rows, its run context and percentile maths.

A scenario is a module in bench/scenarios/ with `async def run(ctx: BenchContext) -> list[Row]`.
bench/run.py runs the scenarios, shows progress, and writes docs/benchmarks.md and its plot from
the rows. Figures that have a bare-WebSocket counterpart in the same run carry it as `baseline`,
and the headline is the ratio between them.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from rich.progress import Progress, TaskID

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # bench/ reuses tests/support.py to run real server processes
    sys.path.insert(0, str(ROOT))


@dataclass
class Row:
    """One measured figure, e.g. scenario "latency", variant "direct, idle", metric "p99"."""

    scenario: str
    variant: str
    metric: str
    value: float
    unit: str
    baseline: float | None = None  # the bare-WebSocket server's figure for the same thing
    target: str = ""  # the goal in words, e.g. "<= 20 ms"
    met: bool | None = None  # None when the row has no target
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.baseline in (None, 0):
            return None
        assert self.baseline is not None
        return self.value / self.baseline

    def as_dict(self) -> dict[str, object]:
        return {
            "scenario": self.scenario,
            "variant": self.variant,
            "metric": self.metric,
            "value": self.value,
            "unit": self.unit,
            "baseline": self.baseline,
            "ratio": self.ratio,
            "target": self.target,
            "met": self.met,
            "note": self.note,
        }


class ScenarioFailedError(Exception):
    """A scenario that measured but found something wrong (e.g. an audit): its rows are kept
    and shown, and the run fails."""

    def __init__(self, rows: list[Row], reason: str) -> None:
        super().__init__(reason)
        self.rows = rows


@dataclass
class BenchContext:
    """Handed to every scenario: whether this is the quick smoke run, where to report progress."""

    quick: bool
    progress: Progress
    out_dir: Path  # scratch space for this run (data dirs, raw samples)
    notes: list[str] = field(default_factory=list)  # free text for the doc (how we know, caveats)
    profile: bool = False  # run py-spy on the server under test (bench.profiling)

    def task(self, description: str, total: float | None) -> TaskID:
        return self.progress.add_task(description, total=total)


def stop_process(process: subprocess.Popen[bytes], timeout: float) -> None:
    """SIGTERM, then SIGKILL if it has not ended within `timeout` seconds."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def percentile(samples: list[float], fraction: float) -> float:
    """Nearest-rank percentile: the value below which `fraction` of the samples fall."""
    if not samples:
        raise ValueError("no samples")
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))
    return ordered[index]


def median(samples: list[float]) -> float:
    return float(statistics.median(samples))
