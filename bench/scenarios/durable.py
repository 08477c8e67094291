"""Persisted send throughput: acknowledged (durable) sends per second under many senders.

Users are paired in direct rooms; every user has a socket and keeps `window` sends in flight,
sending the next as soon as an `ack` comes back (a closed loop, so the figure is what the server
sustains, not what we offered). The load runs in separate processes, each on its share of the
sockets, and each reports its own CPU % so we can tell whether the generator was the bottleneck.
After the run every acknowledged (author, client_id) is looked up in the database: each must be
stored exactly once, and nothing unacknowledged may be stored.

    uv run --frozen python -m bench.scenarios.durable [--quick]
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import multiprocessing
import time
from dataclasses import dataclass, field
from typing import Any

import orjson
import psutil
import websockets
from sqlalchemy import func, select
from tests.support import PASSWORD, OrgFactory

from bench.common import BenchContext, Row, median, percentile
from bench.scenarios._support import (
    CHEAP_HASHER,
    InstrumentedServer,
    instrumented_server,
    main,
    postgres_available,
    scratch_postgres,
    writer_stats,
)
from parlour.client.events import events_url

SCENARIO = "durable sends"
TARGET_SQLITE = 5000.0
CONTENT = "Persisted send throughput: the quick brown fox jumps over the lazy dog, message {n}."


@dataclass
class Plan:
    users: int
    window: int  # sends in flight per socket
    warmup: float  # seconds of load before measuring
    seconds: float  # measured seconds
    processes: int  # load generator processes


@dataclass
class LoadSpec:
    url: str
    sockets: list[tuple[str, str, str]]  # (token, user_id, room_id)
    window: int
    warmup: float
    seconds: float
    tag: str
    ready: Any  # a manager Queue: one item per process once its sockets are open
    go: Any  # a manager Event, set when every process is ready
    clock: Any  # a manager dict: "start_at", the wall-clock second everyone starts sending
    start_at: float = 0.0
    measure_from: float = 0.0
    measure_to: float = 0.0


@dataclass
class LoadResult:
    latencies_ms: list[float] = field(default_factory=list)  # acks inside the measured window
    acked_in_window: int = 0
    acked: list[tuple[str, str, str]] = field(default_factory=list)  # (user_id, client_id, msg id)
    errors: dict[str, int] = field(default_factory=dict)
    unanswered: int = 0
    cpu_percent: float = 0.0  # of one core, over the measured window


def _run_load(spec: LoadSpec) -> LoadResult:
    """Entry point of a load process."""
    return asyncio.run(_load(spec))


async def _load(spec: LoadSpec) -> LoadResult:
    result = LoadResult()
    me = psutil.Process()
    connections = [
        await websockets.connect(
            f"{spec.url}?token={token}", max_size=2**22, compression=None, ping_interval=None
        )
        for token, _, _ in spec.sockets
    ]
    for ws in connections:
        await ws.recv()  # hello
    spec.ready.put(len(connections))
    await asyncio.to_thread(spec.go.wait)
    spec.start_at = float(spec.clock["start_at"])
    spec.measure_from = spec.start_at + spec.warmup
    spec.measure_to = spec.measure_from + spec.seconds

    async def cpu_probe() -> None:
        await asyncio.sleep(max(0.0, spec.measure_from - time.time()))
        me.cpu_percent(None)
        await asyncio.sleep(max(0.0, spec.measure_to - time.time()))
        result.cpu_percent = me.cpu_percent(None)

    probe = asyncio.create_task(cpu_probe())
    await asyncio.gather(
        *(
            _socket(ws, index, user_id, room_id, spec, result)
            for index, (ws, (_, user_id, room_id)) in enumerate(
                zip(connections, spec.sockets, strict=True)
            )
        )
    )
    await probe
    for ws in connections:
        await ws.close()
    return result


async def _socket(
    ws: websockets.ClientConnection,
    index: int,
    user_id: str,
    room_id: str,
    spec: LoadSpec,
    result: LoadResult,
) -> None:
    pending: dict[str, float] = {}
    sent = 0

    async def send_one() -> None:
        nonlocal sent
        client_id = f"{spec.tag}-{index}-{sent}"
        frame = {"type": "send", "room_id": room_id, "content": CONTENT.format(n=sent)}
        frame["client_id"] = client_id
        sent += 1
        pending[client_id] = time.perf_counter()
        await ws.send(orjson.dumps(frame).decode())

    await asyncio.sleep(max(0.0, spec.start_at - time.time()))
    for _ in range(spec.window):
        await send_one()
    try:
        async with asyncio.timeout(spec.measure_to - time.time() + 60):
            async for raw in ws:
                if not isinstance(raw, str):
                    continue  # Parlour sends only text frames
                head = raw[:16]
                if head.startswith(('{"type":"ack"', '{"type":"error"')):  # skip the broadcasts
                    frame = orjson.loads(raw)
                    client_id = frame.get("client_id")
                    started = pending.pop(client_id, None) if client_id else None
                    if frame["type"] == "ack":
                        now = time.time()
                        if started is not None and spec.measure_from <= now < spec.measure_to:
                            result.latencies_ms.append((time.perf_counter() - started) * 1000)
                            result.acked_in_window += 1
                        result.acked.append((user_id, client_id, frame["message"]["id"]))
                    else:
                        code = frame["error"].get("code", "?")
                        result.errors[code] = result.errors.get(code, 0) + 1
                    if started is not None and time.time() < spec.measure_to:
                        await send_one()
                if not pending and time.time() >= spec.measure_to:
                    break
    except TimeoutError:
        pass
    result.unanswered += len(pending)


async def _prepare(
    server: InstrumentedServer, plan: Plan
) -> tuple[list[tuple[str, str, str]], OrgFactory]:
    """`plan.users` users, logged in, paired in direct rooms: (token, user_id, room_id) each."""
    factory = OrgFactory(server)
    await factory.start()
    assert factory.services is not None
    factory.services.hasher = CHEAP_HASHER
    org = await factory.create([f"Sender{n} Bench" for n in range(plan.users)], login=False)
    await asyncio.gather(*(member.client.login(member.email, PASSWORD) for member in org.members))
    sockets: list[tuple[str, str, str]] = []
    for first in range(0, plan.users - 1, 2):
        a, b = org.members[first], org.members[first + 1]
        room = await a.client.create_direct(b.user_id)
        for member in (a, b):
            assert member.client.token is not None
            sockets.append((member.client.token, member.user_id, room.id))
    return sockets, factory


async def _verify(factory: OrgFactory, acked: list[tuple[str, str, str]], tag: str) -> str:
    """Every acknowledged send stored exactly once, and no other send of this run stored."""
    from parlour.storage.models import Message

    assert factory.services is not None
    async with factory.services.db.read_session() as session:
        rows = await session.execute(
            select(Message.author_id, Message.client_id, func.min(Message.id), func.count())
            .where(Message.client_id.like(f"{tag}p%"))
            .group_by(Message.author_id, Message.client_id)
        )
        stored = {(r[0], r[1]): (r[2], int(r[3])) for r in rows}
    problems = []
    acked_keys = {(user, client_id): message_id for user, client_id, message_id in acked}
    if len(acked_keys) != len(acked):
        problems.append(f"{len(acked) - len(acked_keys)} duplicate acks")
    missing = [key for key in acked_keys if key not in stored]
    wrong = [key for key, mid in acked_keys.items() if key in stored and stored[key][0] != mid]
    twice = [key for key, (_, count) in stored.items() if count != 1]
    extra = [key for key in stored if key not in acked_keys]
    for label, found in (
        ("acked but missing", missing),
        ("stored under another id", wrong),
        ("stored more than once", twice),
        ("stored but never acked", extra),
    ):
        if found:
            problems.append(f"{len(found)} {label}")
    if problems:
        return "FAILED: " + ", ".join(problems)
    return f"all {len(acked_keys):,} acked sends stored exactly once"


async def _measure(
    ctx: BenchContext, server: InstrumentedServer, plan: Plan, variant: str
) -> tuple[list[Row], tuple[float, float]]:
    task = ctx.task(f"{SCENARIO}: {variant} (setup)", total=plan.warmup + plan.seconds)
    sockets, factory = await _prepare(server, plan)
    tag = f"d{int(time.time() * 1000) % 10**9}"
    url = events_url(server.base_url)
    shares = [sockets[n :: plan.processes] for n in range(plan.processes)]
    loop = asyncio.get_running_loop()
    server_proc = psutil.Process(server.process.pid) if server.process else None
    spawn = multiprocessing.get_context("spawn")
    with (
        spawn.Manager() as manager,
        concurrent.futures.ProcessPoolExecutor(plan.processes, mp_context=spawn) as pool,
    ):
        ready, go, clock = manager.Queue(), manager.Event(), manager.dict()
        specs = [
            LoadSpec(
                url, share, plan.window, plan.warmup, plan.seconds, f"{tag}p{n}", ready, go, clock
            )
            for n, share in enumerate(shares)
        ]
        futures = [loop.run_in_executor(pool, _run_load, spec) for spec in specs]
        for _ in specs:  # every socket open before anyone sends
            await asyncio.to_thread(ready.get, True, 120)
        start_at = time.time() + 0.2
        measure_from = start_at + plan.warmup
        measure_to = measure_from + plan.seconds
        clock["start_at"] = start_at
        go.set()
        ctx.progress.update(task, description=f"{SCENARIO}: {variant}")
        server_cpu = 0.0
        while time.time() < measure_to:
            now = time.time()
            if server_proc is not None and now >= measure_from and not server_cpu:
                server_proc.cpu_percent(None)
                server_cpu = -1.0
            ctx.progress.update(task, completed=max(0.0, min(now - start_at, task_total(plan))))
            await asyncio.sleep(0.25)
        if server_proc is not None and server_cpu < 0:
            server_cpu = server_proc.cpu_percent(None)
        results: list[LoadResult] = list(await asyncio.gather(*futures))
    ctx.progress.update(task, completed=task_total(plan))
    acked = [item for result in results for item in result.acked]
    try:
        verdict = await _verify(factory, acked, tag)
    finally:
        await factory.stop()
    latencies = [ms for result in results for ms in result.latencies_ms]
    per_second = sum(result.acked_in_window for result in results) / plan.seconds
    errors: dict[str, int] = {}
    for result in results:
        for code, count in result.errors.items():
            errors[code] = errors.get(code, 0) + count
    unanswered = sum(result.unanswered for result in results)
    load_cpu = ", ".join(f"{result.cpu_percent:.0f}%" for result in results)
    setup = f"{len(sockets)} sockets in {len(sockets) // 2} direct rooms, window {plan.window}"
    is_sqlite = "sqlite" in variant
    rows = [
        Row(
            SCENARIO,
            variant,
            "sends/s",
            per_second,
            "msg/s",
            target=">= 5,000 (SQLite)" if is_sqlite else "",
            met=per_second >= TARGET_SQLITE if is_sqlite else None,
            note=setup,
        ),
        Row(SCENARIO, variant, "ack p50", median(latencies), "ms"),
        Row(SCENARIO, variant, "ack p99", percentile(latencies, 0.99), "ms"),
    ]
    ctx.notes.append(
        f"{SCENARIO}, {variant}: {setup}; {verdict}; errors {errors or 'none'}; "
        f"{unanswered} unanswered at the end; load generator CPU per process {load_cpu} "
        f"(of one core; near 100% would mean the generator limits the figure); "
        f"server process CPU {server_cpu:.0f}%."
    )
    if verdict.startswith("FAILED"):
        rows.append(Row(SCENARIO, variant, "exactly-once check", 0, "", met=False, note=verdict))
    return rows, (measure_from, measure_to)


def task_total(plan: Plan) -> float:
    return plan.warmup + plan.seconds


async def run(ctx: BenchContext) -> list[Row]:
    if ctx.quick:
        plans = {"sqlite": Plan(users=50, window=1, warmup=1.0, seconds=3.0, processes=1)}
    else:
        plans = {
            "sqlite": Plan(users=200, window=1, warmup=2.0, seconds=10.0, processes=2),
            "sqlite, window 8": Plan(users=50, window=8, warmup=2.0, seconds=10.0, processes=2),
        }
    rows: list[Row] = []
    for variant, plan in plans.items():
        rows += await _run_on(ctx, plan, f"{variant} (synchronous=FULL)", None)
    if not postgres_available():
        ctx.notes.append(f"{SCENARIO}: PostgreSQL not reachable on 127.0.0.1; skipped.")
        return rows
    pg_plan = plans["sqlite"]
    with scratch_postgres("parlour_bench_durable") as url:
        rows += await _run_on(ctx, pg_plan, "postgresql", url)
    return rows


async def _run_on(ctx: BenchContext, plan: Plan, variant: str, pg_url: str | None) -> list[Row]:
    env = {"PARLOUR_DATABASE_URL": pg_url} if pg_url else {}
    with instrumented_server(env) as server:
        rows, (start, end) = await _measure(ctx, server, plan, variant)
        server.stop()  # the writer's batch records are written when the server exits
        stats = writer_stats(server.stats_path(), start, end)
    if stats is not None:
        rows += [
            Row(SCENARIO, variant, "writes per commit p50", stats.sizes_p50, "writes"),
            Row(SCENARIO, variant, "writes per commit p99", stats.sizes_p99, "writes"),
            Row(SCENARIO, variant, "commit p50", stats.commit_ms_p50, "ms", note="per batch"),
            Row(SCENARIO, variant, "commit p99", stats.commit_ms_p99, "ms", note="per batch"),
            Row(SCENARIO, variant, "SQL statements per send", stats.statements_per_send, "stmts"),
        ]
        ctx.notes.append(
            f"{SCENARIO}, {variant}: the writer committed {stats.batches:,} transactions with "
            f"{stats.jobs:,} jobs carrying {stats.sends:,} writes in the measured window "
            f"(largest {stats.size_max} writes); commit time is the whole batch transaction."
        )
    else:
        ctx.notes.append(f"{SCENARIO}, {variant}: no writer batch records (server log?).")
    return rows


if __name__ == "__main__":
    main(run)
