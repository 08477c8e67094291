"""REST throughput with a C load generator (wrk), each workload beside the bare stack.

Workloads, each `wrk -t2 -c16 -d8s --latency` (--quick: 3 s) with a bearer token:
- messages page: `GET /api/v1/rooms/{id}/messages?limit=50` of a direct room of a few hundred
  messages; room list: `GET /api/v1/rooms`; unread: `GET /api/v1/unread`; search:
  `GET /api/v1/messages?q=WORD&limit=50`;
- post: `POST /api/v1/rooms/{id}/messages` (durable), every body with its own client_id
  (bench/wrk/post.lua). Afterwards the stored messages carrying this run's client_ids are
  counted: none twice, at least every acknowledged one, and at most the acknowledged ones plus
  the requests in flight when wrk stopped (one per connection).

Beside each, in the same run, the bare stack (bench/baseline_http.py: the same Starlette/uvicorn
stack and options, a constant JSON body of the size Parlour answered) with the same worker count.
Variants: SQLite (synchronous=FULL) and PostgreSQL + Redis, each with 1 and 2 workers
(`parlour serve --workers 2`; a server that refuses the flag makes that row "not available").

The users are made through the server tree's own CLI and everything else through the REST API,
so the server can come from another source tree: PARLOUR_BENCH_SERVER_TREE=/path/to/checkout
(with its own `.venv`, e.g. a `git worktree` of an older commit) runs that tree's
`parlour serve` while the bench code stays this one.

    uv run --frozen python -m bench.scenarios.http [--quick]
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import orjson
from tests.support import free_port, wait_healthy

from bench.common import ROOT, BenchContext, Row, ScenarioFailedError, stop_process
from bench.scenarios._support import PG_ADMIN, main, postgres_available, scratch_postgres
from parlour.client import ParlourClient

SCENARIO = "http"
CONNECTIONS = 16
THREADS = 2  # wrk's default; the server, wrk and the bare stack share the machine's cores
PAGE = 50
ROOM_MESSAGES = 300  # "a room with a few hundred messages"
GROUP_ROOMS = 10
SEARCH_WORD = "quartz"
PASSWORD = "bench password 123"
TARGET_RPS = 2500.0  # messages page and post, SQLite, one worker
TARGET_SCALED_RPS = 1.6 * TARGET_RPS  # the same with two workers
TARGET_P99_MS = 25.0
WRK_DIR = ROOT / "bench" / "wrk"
REDIS_URL = "redis://127.0.0.1:6379/9"  # a database of its own: other servers share Redis

# Flood control and throttles are for people; the bench is one user sending as fast as it can.
SERVER_ENV = {
    "PARLOUR_LIMIT_SENDS_PER_SECOND": "1000000000",
    "PARLOUR_LIMIT_SEND_BURST": "1000000000",
    "PARLOUR_LIMIT_FRAMES_PER_SECOND": "1000000",
    "PARLOUR_LIMIT_FRAME_BURST": "1000000",
    "PARLOUR_LIMIT_LOGIN_FAILURES_PER_IP": "1000000",
}


class NotAvailableError(RuntimeError):
    """The server under test does not offer this variant (e.g. no `--workers`)."""


@dataclass(frozen=True)
class Tree:
    """Where the server under test comes from: a python and the directory to run it in."""

    python: str
    cwd: Path
    label: str


def server_tree() -> Tree:
    tree = os.environ.get("PARLOUR_BENCH_SERVER_TREE")
    if not tree:
        return Tree(sys.executable, ROOT, f"this tree ({_describe(ROOT)})")
    path = Path(tree).resolve()
    python = path / ".venv" / "bin" / "python"
    if not python.exists():
        raise RuntimeError(f"{python} is missing: run `uv sync --frozen` in {path}")
    return Tree(str(python), path, f"{path} ({_describe(path)})")


def _describe(path: Path) -> str:
    done = subprocess.run(
        ["git", "-C", str(path), "describe", "--always", "--dirty"],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip() or "unknown commit"


@dataclass(frozen=True)
class Variant:
    label: str  # e.g. "SQLite, 1 worker"
    database: str  # "sqlite" or "postgresql"
    workers: int


@dataclass
class Workload:
    name: str
    path: str  # Parlour's path and query
    method: str = "GET"


@dataclass
class WrkResult:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int
    timeouts: int

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def acknowledged(self) -> int:
        return self.requests - self.non_2xx


@dataclass
class Measured:
    workload: Workload
    ours: WrkResult
    bare: WrkResult
    body_bytes: int
    audit: str = ""
    audit_failed: bool = False


@dataclass
class Outcome:
    variant: Variant
    measured: list[Measured] = field(default_factory=list)
    unavailable: str = ""


# ---------------------------------------------------------------------------------------------
# Servers


class ParlourUnderTest:
    """`parlour serve` of the server tree, on a fresh SQLite data dir or a PostgreSQL database."""

    def __init__(self, tree: Tree, data_dir: Path, database_url: str, workers: int) -> None:
        self.tree, self.data_dir, self.workers = tree, data_dir, workers
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("PARLOUR_")}
        env.pop("VIRTUAL_ENV", None)  # the tree's python, not this one's environment
        env.update(SERVER_ENV)
        if database_url:
            env["PARLOUR_DATABASE_URL"] = database_url
            env["PARLOUR_REDIS_URL"] = REDIS_URL
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None
        self.log = data_dir / "server.log"

    def cli(self, *args: str) -> str:
        """Run `parlour ARGS --data-dir D` of the server tree (it migrates the database)."""
        done = subprocess.run(
            [self.tree.python, "-m", "parlour", *args, "--data-dir", str(self.data_dir)],
            cwd=self.tree.cwd,
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        if done.returncode != 0:
            raise RuntimeError(f"parlour {' '.join(args[:2])} failed: {done.stderr[-2000:]}")
        return done.stdout.strip()

    def start(self) -> None:
        # `--workers` always for this tree (its default is the machine's cores); an older tree
        # without the flag (PARLOUR_BENCH_SERVER_TREE) runs one process, so it gets the flag only
        # when asked for more than one.
        is_this_tree = self.tree.cwd == ROOT
        workers = ["--workers", str(self.workers)] if self.workers > 1 or is_this_tree else []
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    self.tree.python,
                    "-m",
                    "parlour",
                    "serve",
                    "--port",
                    str(self.port),
                    "--data-dir",
                    str(self.data_dir),
                    *workers,
                ],
                cwd=self.tree.cwd,
                env=self.env,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        try:
            wait_healthy(self.base_url, self.process, timeout=120)
        except RuntimeError as exc:
            tail = self.log.read_text(errors="replace")[-2000:]
            if self.workers > 1 and "No such option" in tail:
                raise NotAvailableError("this server has no `--workers` option") from exc
            raise RuntimeError(f"{exc}: {tail}") from exc

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=20)
        self.process = None


@contextlib.contextmanager
def bare_http(log_dir: Path, workers: int) -> Iterator[str]:
    """bench/baseline_http.py with `workers` processes; yields its base URL."""
    port = free_port()
    with (log_dir / "baseline_http.log").open("ab") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.baseline_http",
                "--port",
                str(port),
                "--workers",
                str(workers),
            ],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    try:
        wait_healthy(f"http://127.0.0.1:{port}", process)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_process(process, timeout=20)


# ---------------------------------------------------------------------------------------------
# The people and messages


@dataclass
class Seeded:
    token: str
    direct_room: str


async def seed(server: ParlourUnderTest) -> Seeded:
    """A reader with a direct room of ROOM_MESSAGES messages (unread) and GROUP_ROOMS groups."""
    async with (
        ParlourClient(server.base_url, timeout=60) as reader,
        ParlourClient(server.base_url, timeout=60) as writer,
    ):
        await reader.login("reader@bench.test", PASSWORD)
        other = await reader.create_user("writer@bench.test", "Bench Writer", PASSWORD)
        third = await reader.create_user("third@bench.test", "Bench Third", PASSWORD)
        await writer.login("writer@bench.test", PASSWORD)
        direct = await reader.create_direct(other.id)
        groups = [
            await reader.create_group(f"Bench room {n}", [other.id, third.id])
            for n in range(GROUP_ROOMS)
        ]
        gate = asyncio.Semaphore(8)

        async def send(room_id: str, n: int) -> None:
            word = f" {SEARCH_WORD}" if n % 7 == 0 else ""
            content = f"Message {n} of the bench: a line of ordinary chat{word}, nothing more."
            async with gate:
                await writer.send_message(room_id, content, client_id=f"seed-{room_id}-{n}")

        await asyncio.gather(*(send(direct.id, n) for n in range(ROOM_MESSAGES)))
        await asyncio.gather(*(send(g.id, n) for g in groups for n in range(3)))
        assert reader.token is not None
        return Seeded(reader.token, direct.id)


# ---------------------------------------------------------------------------------------------
# wrk


def wrk_binary() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise RuntimeError("wrk is not installed (scripts/bench installs the Debian package)")
    return found


async def run_wrk(
    url: str, seconds: int, token: str, method: str, tag: str = "", body_note: str = ""
) -> WrkResult:
    script = WRK_DIR / ("post.lua" if method == "POST" else "get.lua")
    command = [
        wrk_binary(),
        f"-t{THREADS}",
        f"-c{CONNECTIONS}",
        f"-d{seconds}s",
        "--latency",
        "-s",
        str(script),
        "-H",
        f"Authorization: Bearer {token}",
        "-H",
        "Content-Type: application/json",
        url,
    ]
    if tag:
        command += ["--", tag]
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await process.communicate()
    text = out.decode(errors="replace")
    line = next((x for x in text.splitlines() if x.startswith("BENCH_JSON ")), None)
    if process.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({process.returncode}) on {url}: {text} {err.decode()}")
    data = orjson.loads(line.removeprefix("BENCH_JSON "))
    return WrkResult(
        requests=int(data["requests"]),
        seconds=data["duration_us"] / 1e6,
        p50_ms=data["p50_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        non_2xx=int(data["status_errors"]),
        socket_errors=int(data["connect_errors"] + data["read_errors"] + data["write_errors"]),
        timeouts=int(data["timeouts"]),
    )


async def answer_size(base_url: str, workload: Workload, token: str) -> int:
    """The size of Parlour's answer to one request of the workload (checked to be a 2xx)."""
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        if workload.method == "POST":
            body = {"content": "wrk post 1: the quick brown fox jumps over the lazy dog"}
            response = await client.post(
                workload.path, json={**body, "client_id": "probe-0-1"}, headers=headers
            )
        else:
            response = await client.get(workload.path, headers=headers)
    if not response.is_success:
        raise RuntimeError(f"{workload.name}: {response.status_code} {response.text[:300]}")
    return len(response.content)


# ---------------------------------------------------------------------------------------------
# The audit of posts


def stored_counts(
    variant: Variant, server: ParlourUnderTest, db_url: str, tag: str
) -> tuple[int, int]:
    """(rows, distinct client_ids) of stored messages with this run's client_ids."""
    assert tag.isalnum()  # made by the bench: nothing to quote
    query = (
        "SELECT count(*), count(DISTINCT client_id) FROM messages "  # noqa: S608
        f"WHERE client_id LIKE '{tag}-%'"
    )
    if variant.database == "sqlite":
        path = server.data_dir / "parlour.db"
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
            rows, distinct = conn.execute(query).fetchone()
        return int(rows), int(distinct)
    database = db_url.rsplit("/", 1)[1]
    done = subprocess.run(
        [*PG_ADMIN[:-1], "-d", database, "-At", "-F", " ", "-c", query],
        capture_output=True,
        text=True,
        check=True,
    )
    rows_text, distinct_text = done.stdout.split()
    return int(rows_text), int(distinct_text)


def audit(stored: tuple[int, int], result: WrkResult) -> tuple[str, bool]:
    rows, distinct = stored
    acked = result.acknowledged
    # A request in flight when wrk stops (one per connection), or on a connection that broke,
    # may be stored without its answer having been counted.
    in_flight = CONNECTIONS + result.socket_errors
    problems = []
    if rows != distinct:
        problems.append(f"{rows - distinct} stored twice")
    if distinct < acked:
        problems.append(f"{acked - distinct} acknowledged but not stored")
    if distinct > acked + in_flight:
        problems.append(f"{distinct - acked} stored but never acknowledged (> {in_flight})")
    if problems:
        return f"audit FAILED: {', '.join(problems)} ({acked:,} acked)", True
    return (
        f"audit: {acked:,} acked, {distinct:,} stored once each "
        f"({distinct - acked} were in flight at the end)",
        False,
    )


# ---------------------------------------------------------------------------------------------
# The scenario


def redis_command(*commands: bytes) -> bool:
    """Send inline commands to the bench's Redis database; False if Redis does not answer."""
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=2) as sock:
            sock.sendall(b"SELECT 9\r\n" + b"".join(c + b"\r\n" for c in commands))
            answer = b""
            while answer.count(b"\r\n") < 1 + len(commands):
                chunk = sock.recv(4096)
                if not chunk:
                    return False
                answer += chunk
            return not answer.startswith(b"-")
    except OSError:
        return False


def variants() -> list[Variant]:
    found = [Variant("SQLite, 1 worker", "sqlite", 1), Variant("SQLite, 2 workers", "sqlite", 2)]
    if postgres_available() and redis_command(b"PING"):
        found += [
            Variant("PostgreSQL + Redis, 1 worker", "postgresql", 1),
            Variant("PostgreSQL + Redis, 2 workers", "postgresql", 2),
        ]
    return found


def workloads(seeded: Seeded) -> list[Workload]:
    room = seeded.direct_room
    return [
        Workload("messages page", f"/api/v1/rooms/{room}/messages?limit={PAGE}"),
        Workload("room list", "/api/v1/rooms"),
        Workload("unread", "/api/v1/unread"),
        Workload("search", f"/api/v1/messages?q={SEARCH_WORD}&limit={PAGE}"),
        Workload("post", f"/api/v1/rooms/{room}/messages", method="POST"),
    ]


async def measure_variant(ctx: BenchContext, tree: Tree, variant: Variant) -> Outcome:
    outcome = Outcome(variant)
    seconds = 3 if ctx.quick else 8
    with contextlib.ExitStack() as stack:
        data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="parlour-http-")))
        db_url = ""
        if variant.database == "postgresql":
            db_url = stack.enter_context(scratch_postgres("parlour_bench_http"))
            redis_command(b"FLUSHDB")  # no stream left over from an earlier run
        server = ParlourUnderTest(tree, data_dir, db_url, variant.workers)
        server.cli("org", "create", "Bench")
        server.cli(
            "user", "create", "--org", "Bench", "--email", "reader@bench.test",
            "--name", "Bench Reader", "--password", PASSWORD, "--admin",
        )  # fmt: skip
        try:
            server.start()
        except NotAvailableError as exc:
            outcome.unavailable = str(exc)
            return outcome
        stack.callback(server.stop)
        seeded = await seed(server)
        bare = stack.enter_context(bare_http(ctx.out_dir, variant.workers))
        jobs = workloads(seeded)
        task = ctx.task(f"{SCENARIO}: {variant.label}", total=len(jobs))
        for workload in jobs:
            size = await answer_size(server.base_url, workload, seeded.token)
            tag = f"w{int(time.time() * 1000) % 10**10}" if workload.method == "POST" else ""
            ours = await run_wrk(
                server.base_url + workload.path, seconds, seeded.token, workload.method, tag
            )
            theirs = await run_wrk(
                f"{bare}/size/{size}", seconds, seeded.token, workload.method, "bare"
            )
            measured = Measured(workload, ours, theirs, size)
            if workload.method == "POST":
                stored = stored_counts(variant, server, db_url, tag)
                measured.audit, measured.audit_failed = audit(stored, ours)
            outcome.measured.append(measured)
            ctx.progress.advance(task)
    return outcome


def rows_of(outcome: Outcome, one_worker: Outcome | None) -> list[Row]:
    variant = outcome.variant
    if outcome.unavailable:
        return [
            Row(SCENARIO, variant.label, "all workloads", 0, "not available",
                note=outcome.unavailable[:200])
        ]  # fmt: skip
    sqlite = variant.database == "sqlite"
    rows: list[Row] = []
    for m in outcome.measured:
        targeted = sqlite and m.workload.name in ("messages page", "post")
        rps_target = TARGET_RPS if variant.workers == 1 else TARGET_SCALED_RPS
        note = f"{m.body_bytes:,} B answers; non-2xx {m.ours.non_2xx:,}"
        if m.ours.socket_errors or m.ours.timeouts:
            note += f"; socket errors {m.ours.socket_errors}, timeouts {m.ours.timeouts}"
        if m.bare.non_2xx:
            note += f"; bare non-2xx {m.bare.non_2xx}"
        if m.audit:
            note += f"; {m.audit}"
        name = m.workload.name
        rows.append(
            Row(
                SCENARIO,
                variant.label,
                f"{name} req/s",
                round(m.ours.per_second),
                "req/s",
                baseline=round(m.bare.per_second),
                target=f">= {rps_target:,.0f}" if targeted else "",
                met=(m.ours.per_second >= rps_target and not m.audit_failed)
                if targeted
                else (False if m.audit_failed else None),
                note=note,
            )
        )
        rows.append(
            Row(SCENARIO, variant.label, f"{name} p50", round(m.ours.p50_ms, 2), "ms",
                baseline=round(m.bare.p50_ms, 2))
        )  # fmt: skip
        rows.append(
            Row(
                SCENARIO,
                variant.label,
                f"{name} p99",
                round(m.ours.p99_ms, 2),
                "ms",
                baseline=round(m.bare.p99_ms, 2),
                target=f"<= {TARGET_P99_MS:g} ms" if targeted else "",
                met=m.ours.p99_ms <= TARGET_P99_MS if targeted else None,
            )
        )
        if one_worker is not None and not one_worker.unavailable:
            single = next((x for x in one_worker.measured if x.workload.name == name), None)
            if single is not None and single.ours.per_second:
                rows.append(
                    Row(
                        SCENARIO,
                        variant.label,
                        f"{name} scaling, 2 workers / 1",
                        round(m.ours.per_second / single.ours.per_second, 2),
                        "x",
                        baseline=round(m.bare.per_second / single.bare.per_second, 2)
                        if single.bare.per_second
                        else None,
                    )
                )
    return rows


async def run(ctx: BenchContext) -> list[Row]:
    tree = server_tree()
    wrk_binary()
    rows: list[Row] = []
    outcomes: dict[tuple[str, int], Outcome] = {}
    for variant in variants():
        outcome = await measure_variant(ctx, tree, variant)
        outcomes[(variant.database, variant.workers)] = outcome
        one = outcomes.get((variant.database, 1)) if variant.workers > 1 else None
        rows += rows_of(outcome, one)
    if not any(v.database == "postgresql" for v in variants()):
        ctx.notes.append(f"{SCENARIO}: PostgreSQL or Redis not reachable on 127.0.0.1; skipped.")
    seconds = 3 if ctx.quick else 8
    ctx.notes.append(
        f"HTTP: server from {tree.label}. wrk -t{THREADS} -c{CONNECTIONS} -d{seconds}s per "
        f"workload, bearer token; the bare column is bench/baseline_http.py (same uvicorn stack "
        "and options, a constant JSON body of the size Parlour answered) with the same number "
        "of worker processes, measured right after Parlour in the same run. Messages page: "
        f"{PAGE} of a direct room of {ROOM_MESSAGES}; the reader is in {GROUP_ROOMS + 1} rooms "
        f"with {ROOM_MESSAGES + 3 * GROUP_ROOMS} unread; search for a word in every 7th "
        "message. Post: durable REST sends, each with a unique client_id (bench/wrk/post.lua)."
    )
    ctx.notes.append(
        "generator: http: wrk (C) drives the bare stack with the same connections, scripts and "
        "answer sizes in the same run; where the bare stack answers many times Parlour's "
        "requests/s, wrk was not what limited Parlour."
    )
    failed = [
        f"{o.variant.label}: {m.audit}"
        for o in outcomes.values()
        for m in o.measured
        if m.audit_failed
    ]
    if failed:
        raise ScenarioFailedError(rows, "; ".join(failed))
    return rows


if __name__ == "__main__":
    main(run)
