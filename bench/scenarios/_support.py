"""What the durable and history scenarios share: an instrumented server, PostgreSQL scratch
databases, cheap password hashes, writer statistics and a stand-alone runner."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson
from argon2 import PasswordHasher
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from tests.support import ServerProcess, free_port, wait_healthy

from bench.common import ROOT, BenchContext, Row, median, percentile

PG_ADMIN = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-q", "-c"]

# The bench's users are made with this: the server verifies any argon2 hash by the parameters
# stored in it, so logging 200 users in costs milliseconds instead of seconds.
CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)

# The per-socket flood limit (20 frames/s) is for people; the bench sends as fast as it can.
NO_FRAME_LIMIT = {
    "PARLOUR_LIMIT_FRAMES_PER_SECOND": "1000000",
    "PARLOUR_LIMIT_FRAME_BURST": "1000000",
    "PARLOUR_LIMIT_LOGIN_FAILURES_PER_IP": "100000",
}


@dataclass
class InstrumentedServer(ServerProcess):
    """`parlour serve` through bench.scenarios._serve, which records the writer's batches."""

    def stats_path(self) -> Path:
        return self.data_dir / "writer-stats.jsonl"

    def _spawn(self, log: IO[bytes]) -> None:
        env = dict(self.env)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        env["PARLOUR_BENCH_WRITER_STATS"] = str(self.stats_path())
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.scenarios._serve",
                "serve",
                "--port",
                str(self.port),
                "--data-dir",
                str(self.data_dir),
            ],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )

    def start(self) -> None:
        with (self.data_dir / "server.log").open("ab") as log:
            self._spawn(log)
        assert self.process is not None
        wait_healthy(self.base_url, self.process, timeout=120)


@contextlib.contextmanager
def instrumented_server(
    extra_env: dict[str, str] | None = None, data_dir: Path | None = None
) -> Iterator[InstrumentedServer]:
    """Like tests.support.start_server, but instrumented and optionally on a prepared data dir."""
    with tempfile.TemporaryDirectory(prefix="parlour-bench-") as tmp:
        env = dict(os.environ)
        env.pop("PARLOUR_DATABASE_URL", None)
        env.update(NO_FRAME_LIMIT)
        env.update(extra_env or {})
        port = free_port()
        server = InstrumentedServer(
            f"http://127.0.0.1:{port}", data_dir or Path(tmp), env, port=port
        )
        server.start()
        try:
            yield server
        finally:
            server.stop()


def postgres_available() -> bool:
    try:
        subprocess.run([*PG_ADMIN, "SELECT 1"], check=True, capture_output=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return False
    return True


@contextlib.contextmanager
def scratch_postgres(prefix: str, template: str | None = None) -> Iterator[str]:
    """A throwaway PostgreSQL database (a copy of `template`, if given); yields its URL and
    drops it afterwards."""
    name = f"{prefix}_{os.getpid()}_{int(time.time())}"
    create = f"CREATE DATABASE {name}" + (f" TEMPLATE {template}" if template else "")
    subprocess.run([*PG_ADMIN, create], check=True, capture_output=True)
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        subprocess.run(
            [*PG_ADMIN, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"], capture_output=True
        )


@dataclass
class BatchStats:
    batches: int
    jobs: int
    sends: int
    sizes_p50: float
    sizes_p99: float
    size_max: int
    statements_per_send: float
    commit_ms_p50: float
    commit_ms_p99: float


def writer_stats(path: Path, start: float, end: float) -> BatchStats | None:
    """The writer's batches that ended inside [start, end] (wall clock)."""
    if not path.exists():
        return None
    records = [orjson.loads(line) for line in path.read_bytes().splitlines() if line]
    inside = [r for r in records if start <= r[0] <= end]
    if not inside:
        return None
    sizes = [float(r[2]) for r in inside]  # sends (or jobs) per batch
    sends = int(sum(sizes))
    commit_ms = [r[4] * 1000 for r in inside]
    return BatchStats(
        batches=len(inside),
        jobs=int(sum(r[1] for r in inside)),
        sends=sends,
        sizes_p50=median(sizes),
        sizes_p99=percentile(sizes, 0.99),
        size_max=int(max(sizes)),
        statements_per_send=sum(r[3] for r in inside) / max(1, sends),
        commit_ms_p50=median(commit_ms),
        commit_ms_p99=percentile(commit_ms, 0.99),
    )


def main(run: Callable[[BenchContext], Coroutine[Any, Any, list[Row]]]) -> None:
    """`python -m bench.scenarios.X [--quick]`: run one scenario and print its rows."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="the smaller smoke run")
    args = parser.parse_args()
    console = Console(width=None if sys.stdout.isatty() else 200)
    out_dir = ROOT / "build" / "bench" / "scratch"
    out_dir.mkdir(parents=True, exist_ok=True)
    with Progress(console=console) as progress:
        ctx = BenchContext(quick=args.quick, progress=progress, out_dir=out_dir)
        rows = asyncio.run(run(ctx))
    table = Table("variant", "metric", "value", "unit", "bare", "target", "met", "note")
    for row in rows:
        table.add_row(
            row.variant,
            row.metric,
            f"{row.value:,.2f}",
            row.unit,
            "" if row.baseline is None else f"{row.baseline:,.2f}",
            row.target,
            "" if row.met is None else ("yes" if row.met else "NO"),
            row.note,
        )
    console.print(table)
    for note in ctx.notes:
        console.print(f"- {note}")
