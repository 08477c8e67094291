"""Scenario 5, reconnect storm: the server restarts under N connected clients.

N clients (quick: 500; full: 5,000), each its own user, in groups of 100 members. All connect
(load processes, resuming clients: they keep the cursor of the last durable event and reconnect
with `since=` and a jittered backoff capped at 0.5 s). Then, per group, messages are sent just
before the stop (not yet delivered when the server goes down), the server is stopped, more
messages are sent while it is down (written through Parlour's actions by the bench process, as
another server process on the same database would), and the server is started again on the same
data dir and port. Measured: time from starting the process until every client has every
message of its group, with zero missing or duplicate events (target: 5,000 clients within 10 s).
"""

from __future__ import annotations

import asyncio
import time

from tests.support import OrgFactory

from bench.common import BenchContext, Row
from bench.fixtures import (
    BenchUser,
    bulk_users,
    group_room,
    parlour_factory,
    parlour_server,
    settle,
    stop_server,
    ws_url,
)
from bench.load import LoadPool, make_content
from bench.profiling import profiled
from parlour.actions.messages import do_send_message

GROUP = 100
BEFORE, DURING = 3, 5  # messages per group just before the stop, and while the server is down
LOAD_PROCESSES = 2


async def _send(
    factory: OrgFactory, groups: list[tuple[str, BenchUser]], counts: dict[str, int], n: int
) -> None:
    assert factory.services is not None
    services = factory.services

    async def one(tag: str, room_id: str, author: BenchUser) -> None:
        stream = f"s@{tag}"
        for _ in range(n):
            seq = counts[stream]
            counts[stream] += 1
            content = make_content(stream, seq, time.monotonic_ns())
            await do_send_message(services, author.actor, room_id, content, f"{stream}-{seq}")

    await asyncio.gather(*(one(f"g{i}", room, author) for i, (room, author) in enumerate(groups)))


async def run(ctx: BenchContext) -> list[Row]:
    n = 500 if ctx.quick else 5000
    task = ctx.task("reconnect storm", 6)
    pool = LoadPool(LOAD_PROCESSES)
    try:
        with parlour_server() as server:
            async with parlour_factory(server) as factory:
                users = await bulk_users(factory, n)
                groups: list[tuple[str, BenchUser]] = []
                tags: list[str] = []
                for start in range(0, n, GROUP):
                    members = users[start : start + GROUP]
                    groups.append((await group_room(factory, members), members[0]))
                    tags.extend([f"g{len(groups) - 1}"] * len(members))
                ctx.progress.advance(task)
                assert server.process is not None
                connected = await pool.connect(
                    [ws_url(server, u.token) for u in users], resume=True, tags=tags
                )
                await settle(server.process.pid)
                ctx.progress.advance(task)
                counts = {f"s@g{i}": 0 for i in range(len(groups))}
                # Traffic while all are connected: everyone is live and has a recent cursor.
                await _send(factory, groups, counts, 2)
                warm = await pool.wait(dict(counts), within=30, samples=False)
                ctx.progress.advance(task)

                await _send(factory, groups, counts, BEFORE)
                stopped_at = time.monotonic()
                await asyncio.to_thread(stop_server, server)
                stop_s = time.monotonic() - stopped_at
                await _send(factory, groups, counts, DURING)
                down_s = time.monotonic() - stopped_at
                ctx.progress.advance(task)
                started_at = time.monotonic()
                await asyncio.to_thread(server.start)
                healthy_at = time.monotonic()
                ctx.progress.advance(task)
                assert server.process is not None
                with profiled(ctx, server.process.pid, "storm"):
                    got = await pool.wait(dict(counts), within=120, samples=False)
                caught_up_at = time.monotonic()
                ctx.progress.advance(task)
                await pool.close_connections()
    finally:
        pool.shutdown()

    total_s = caught_up_at - started_at
    after_healthy = caught_up_at - healthy_at
    expected = n * sum(counts.values()) // len(groups)
    clean = got.clean and got.missing == 0
    target_n = 5000
    note = (
        f"{connected} clients, {len(groups)} groups of {GROUP}; {sum(counts.values())} messages "
        f"({BEFORE}+{DURING} per group around a {down_s:.1f} s outage, of which the graceful "
        f"stop {stop_s:.1f} s); each client expected "
        f"{expected // n}; reconnects {got.reconnects}; problems: {got.problems()}"
    )
    startup = healthy_at - started_at
    rows = [
        Row(
            "storm",
            f"N={n:,}",
            "server up → all caught up",
            round(after_healthy, 2),
            "s",
            target=f"<= 10 s (N={target_n:,})",
            met=(after_healthy <= 10 and clean) if n >= target_n else None,
            note=note,
        ),
        Row(
            "storm",
            f"N={n:,}",
            "process start → all caught up",
            round(total_s, 2),
            "s",
            note=f"of which start-up (spawn → /healthz answers) {startup:.2f} s",
        ),
        Row(
            "storm",
            f"N={n:,}",
            "missing + duplicate + reordered",
            float(got.missing + got.duplicates + got.reordered),
            "events",
            target="0",
            met=got.missing + got.duplicates + got.reordered == 0 and got.errors == 0,
            note=f"errors {got.errors}; before the restart: {warm.problems()}",
        ),
    ]
    ctx.notes.append(
        "Storm: the target is timed from the restarted server answering /healthz until the "
        "last client has every message of its group (its start-up is shown separately); "
        "clients had been retrying with a jittered backoff (≤ 0.5 s) during the outage."
    )
    return rows
