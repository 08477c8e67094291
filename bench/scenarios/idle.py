"""Scenario 4, idle connections: memory per open WebSocket, and latency as idle sockets pile up.

Idle sockets (each its own user with its own session, all in one organization, no shared
rooms) are opened in waves from the load processes up to 10,000 (quick: 1,000). After each wave
the server's RSS is read (psutil) and a probe pair in a direct room measures send → receive
latency. Memory per socket = RSS growth from 0 to the last level / sockets. Targets: ≥ 10,000
sockets held, ≤ 20 KiB each. Baseline: the same waves and probe on the bare server.
"""

from __future__ import annotations

import asyncio
import gc
from dataclasses import dataclass

from rich.progress import TaskID

from bench.common import BenchContext, Row, median, percentile
from bench.fixtures import (
    Receiver,
    Sender,
    bare_server,
    bulk_users,
    direct_room,
    parlour_factory,
    parlour_server,
    rss,
    settle,
    ws_url,
)
from bench.load import LoadPool
from bench.scenarios.latency import probe

LOAD_PROCESSES = 2


@dataclass
class Level:
    idle: int
    connected: int
    rss: int
    p50: float
    p99: float
    errors: int


async def waves(
    ctx: BenchContext,
    task: TaskID,
    pool: LoadPool,
    pid: int,
    urls: list[str],
    levels: list[int],
    sender: Sender,
    receiver: Receiver,
    count: int,
) -> list[Level]:
    out: list[Level] = []
    connected = 0
    for level in levels:
        if level > connected:
            connected += await pool.connect(urls[connected:level])
        await settle(pid)
        gc.collect()
        memory = rss(pid)
        result = await probe(sender, receiver, count)
        ctx.progress.advance(task)
        out.append(
            Level(
                level,
                connected,
                memory,
                median(result.samples),
                percentile(result.samples, 0.99),
                result.errors,
            )
        )
    # The sockets were idle, not dead: they all still hold their connection.
    collected = await pool.wait({}, within=1, samples=False)
    if collected.open != connected:
        out[-1].errors += connected - collected.open
    await pool.close_connections()
    return out


async def run(ctx: BenchContext) -> list[Row]:
    top = 1000 if ctx.quick else 10000
    levels = [0, top // 4, top // 2, top]
    count = 100 if ctx.quick else 200
    task = ctx.task("idle sockets", 2 * len(levels))
    pool = LoadPool(LOAD_PROCESSES)
    try:
        with parlour_server() as server:
            async with parlour_factory(server) as factory:
                users = await bulk_users(factory, top + 2)
                room = await direct_room(factory, users[0], users[1])
            assert server.process is not None
            async with (
                Sender(ws_url(server, users[0].token), "idle", room) as sender,
                Receiver(ws_url(server, users[1].token)) as receiver,
            ):
                ours = await waves(
                    ctx,
                    task,
                    pool,
                    server.process.pid,
                    [ws_url(server, u.token) for u in users[2:]],
                    levels,
                    sender,
                    receiver,
                    count,
                )
        with bare_server(ctx.out_dir) as bare:
            async with (
                Sender(bare.url("probe"), "idle", None) as sender,
                Receiver(bare.url("probe")) as receiver,
            ):
                theirs = await waves(
                    ctx,
                    task,
                    pool,
                    bare.pid,
                    [bare.url(f"idle{i}") for i in range(top)],
                    levels,
                    sender,
                    receiver,
                    count,
                )
    finally:
        pool.shutdown()

    rows: list[Row] = []
    per_ours = (ours[-1].rss - ours[0].rss) / max(1, ours[-1].connected) / 1024
    per_theirs = (theirs[-1].rss - theirs[0].rss) / max(1, theirs[-1].connected) / 1024
    rows.append(
        Row(
            "idle",
            f"{top:,} sockets",
            "memory per socket",
            round(per_ours, 1),
            "KiB",
            baseline=round(per_theirs, 1),
            target="<= 20 KiB",
            met=per_ours <= 20,
            note=f"server RSS {ours[0].rss / 2**20:.0f} → {ours[-1].rss / 2**20:.0f} MiB; "
            f"bare {theirs[0].rss / 2**20:.0f} → {theirs[-1].rss / 2**20:.0f} MiB",
        )
    )
    rows.append(
        Row(
            "idle",
            f"{top:,} sockets",
            "sockets held",
            float(ours[-1].connected),
            "",
            baseline=float(theirs[-1].connected),
            target=f">= {top:,}",
            met=ours[-1].connected >= top and ours[-1].errors == 0,
            note="all still open after the last probe" if ours[-1].errors == 0 else "lost some",
        )
    )
    for a, b in zip(ours, theirs, strict=True):
        for metric, value, base in (("probe p50", a.p50, b.p50), ("probe p99", a.p99, b.p99)):
            rows.append(
                Row(
                    "idle",
                    f"{a.idle:,} idle",
                    metric,
                    round(value, 2),
                    "ms",
                    baseline=round(base, 2),
                    note=f"probe errors {a.errors}" if a.errors else "",
                )
            )
    ctx.notes.append(
        "Idle: each idle socket is its own user and session (no shared rooms, so no presence "
        f"traffic); the probe is {count} sequential messages in a direct room after each wave, "
        "once the server is quiet again. RSS is the server process's resident set (psutil)."
    )
    await asyncio.sleep(0)
    return rows
