"""The benchmark suite, one command:

    scripts/bench [--quick] [--only latency,fanout,...]
    uv run --frozen python -m bench.run [--quick] [--only ...]

Runs the scenarios in bench/scenarios (each `async def run(ctx) -> list[Row]`), writes every row
to build/bench/results.json, and regenerates the generated part of docs/benchmarks.md and the
plot docs/benchmarks.png. With --only, the other scenarios' rows are kept from the previous
results.json, so the document always shows the latest figure of every scenario.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import sys
import tempfile
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

if __package__ in (None, ""):  # `python bench/run.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import ROOT, BenchContext, Row, ScenarioFailedError
from bench.report import machine, write_docs

# Issue 6's order, then issue 11's HTTP scenario.
SCENARIOS = [
    "latency",
    "fanout",
    "durable",
    "idle",
    "storm",
    "history",
    "http",
    "conversations",
    "away",
]
RESULTS = ROOT / "build" / "bench" / "results.json"


def _load_previous() -> dict[str, object]:
    if RESULTS.exists():
        try:
            data: dict[str, object] = json.loads(RESULTS.read_text())
            return data
        except ValueError:
            return {}
    return {}


async def _run_all(
    names: list[str], quick: bool, console: Console, profile: bool = False
) -> dict[str, object]:
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:>6.0f}/{task.total:.0f}"),
        TimeElapsedColumn(),
        console=console,
    )
    scenarios: dict[str, object] = {}
    with (
        tempfile.TemporaryDirectory(prefix="parlour-bench-") as tmp,
        progress,
    ):
        overall = progress.add_task("all scenarios", total=len(names))
        for name in names:
            try:
                module = importlib.import_module(f"bench.scenarios.{name}")
            except ModuleNotFoundError as exc:
                if exc.name != f"bench.scenarios.{name}":
                    raise
                console.print(f"[yellow]scenario {name}: not written yet, skipped")
                progress.advance(overall)
                continue
            except Exception:
                console.print(f"[red]scenario {name} does not import:\n{traceback.format_exc()}")
                scenarios[name] = {"quick": quick, "rows": [], "failed": traceback.format_exc(3)}
                progress.advance(overall)
                continue
            ctx = BenchContext(
                quick=quick, progress=progress, out_dir=Path(tmp) / name, profile=profile
            )
            ctx.out_dir.mkdir(parents=True, exist_ok=True)
            started = time.monotonic()
            entry: dict[str, object] = {"quick": quick}
            try:
                rows: list[Row] = await module.run(ctx)
                entry["rows"] = [row.as_dict() for row in rows]
            except ScenarioFailedError as failure:  # measured, but what it found is wrong
                console.print(f"[red]scenario {name} failed: {failure}")
                entry["rows"] = [row.as_dict() for row in failure.rows]
                entry["failed"] = str(failure)
            except Exception:
                console.print(f"[red]scenario {name} failed:\n{traceback.format_exc()}")
                entry["rows"] = []
                entry["failed"] = traceback.format_exc(limit=3)
            entry["seconds"] = round(time.monotonic() - started, 1)
            entry["notes"] = ctx.notes
            entry["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
            scenarios[name] = entry
            progress.advance(overall)
    return scenarios


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Parlour's benchmark suite (issue 6).")
    parser.add_argument("--quick", action="store_true", help="smaller sizes: a ~3 minute smoke")
    parser.add_argument("--only", default="", help=f"comma-separated subset of {SCENARIOS}")
    parser.add_argument("--no-docs", action="store_true", help="do not touch docs/")
    parser.add_argument(
        "--profile", action="store_true", help="py-spy the server (build/bench/profile-*)"
    )
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.only.split(",") if n.strip()] or SCENARIOS
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(unknown)}")

    console = Console()
    scenarios = asyncio.run(_run_all(names, args.quick, console, args.profile))
    results = _load_previous()
    previous = results.get("scenarios")
    kept: dict[str, object] = dict(previous) if isinstance(previous, dict) else {}
    kept.update(scenarios)
    results = {
        "machine": machine(),
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "scenarios": {name: kept[name] for name in SCENARIOS if name in kept},
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2))
    console.print(f"results: {RESULTS.relative_to(ROOT)}")
    if not args.no_docs:
        write_docs(results)
        console.print("updated docs/benchmarks.md and docs/benchmarks.png")
    failed = [n for n, e in scenarios.items() if isinstance(e, dict) and e.get("failed")]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
