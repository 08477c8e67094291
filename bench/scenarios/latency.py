"""Scenario 1, delivery latency: send → receive between two clients.

- "direct, idle": two users in a direct room on an otherwise idle server, one message in flight
  at a time (target p50 ≤ 5 ms, p99 ≤ 20 ms).
- "group of M, background traffic": the same probe in a group room of M connected members (the
  other members are lean sockets in load processes) while another member sends a steady stream;
  every member checks every message (probe and background) by content and sequence.
- "direct, across two processes (Redis)", when a Redis answers on 127.0.0.1:6379: sender and
  receiver on two `parlour serve` processes sharing the database.

Baseline: the same clients and payloads through the bare broadcast server.
"""

from __future__ import annotations

import asyncio
import socket
import time
from dataclasses import dataclass

from tests.support import ServerProcess, free_port

from bench.common import BenchContext, Row, median, percentile
from bench.fixtures import (
    BenchUser,
    Receiver,
    Sender,
    bare_server,
    bulk_users,
    direct_room,
    group_room,
    parlour_factory,
    parlour_server,
    settle,
    ws_url,
)
from bench.load import LoadPool, parse_content

WARMUP = 10


@dataclass
class Probe:
    samples: list[float]
    errors: int
    background: str = ""


async def probe(sender: Sender, receiver: Receiver, count: int, advance: object = None) -> Probe:
    """`count` sequential messages; the latency of each, checked by content and sequence."""
    samples: list[float] = []
    errors = 0
    for index in range(count + WARMUP):
        expected_seq = sender.seq
        await sender.send()
        content = await receiver.next_content(sender.stream)
        now = time.monotonic_ns()
        parsed = parse_content(content)
        if parsed is None or parsed[1] != expected_seq:
            errors += 1
            continue
        if index >= WARMUP:
            samples.append((now - parsed[2]) / 1e6)
        if callable(advance):
            advance()
        await asyncio.sleep(0.002)  # one in flight, with a breath between: an idle server
    return Probe(samples, errors + len(sender.errors))


def _redis_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


async def run(ctx: BenchContext) -> list[Row]:
    quick = ctx.quick
    direct_count = 150 if quick else 1000
    members = 200 if quick else 1000
    group_count = 100 if quick else 500
    background_rate = 5.0  # messages/s into the group: `members` x 5 deliveries/s
    redis = _redis_up()
    steps = (WARMUP + direct_count) * (3 if redis else 2) + 2 * (WARMUP + group_count)
    task = ctx.task("latency", steps)

    def advance() -> None:
        ctx.progress.advance(task)

    results: dict[str, tuple[Probe, Probe]] = {}
    pool = LoadPool(2)
    try:
        # Parlour
        parlour: dict[str, Probe] = {}
        with parlour_server() as server:
            async with parlour_factory(server) as factory:
                users = await bulk_users(factory, members)
                room = await direct_room(factory, users[0], users[1])
                async with (
                    Sender(ws_url(server, users[0].token), "direct", room) as sender,
                    Receiver(ws_url(server, users[1].token)) as receiver,
                ):
                    parlour["direct"] = await probe(sender, receiver, direct_count, advance)
                if redis:
                    parlour["redis"] = await _across_processes(
                        server, users, room, direct_count, advance
                    )
                group = await group_room(factory, users)
                assert server.process is not None
                parlour["group"] = await _group(
                    server.process.pid,
                    pool,
                    [ws_url(server, u.token) for u in users[3:]],
                    Sender(ws_url(server, users[0].token), "probe", group),
                    Receiver(ws_url(server, users[1].token)),
                    Sender(ws_url(server, users[2].token), "bg", group),
                    group_count,
                    background_rate,
                    advance,
                )
        # The bare server, same clients
        with bare_server(ctx.out_dir) as bare:
            async with (
                Sender(bare.url("d"), "direct", None) as sender,
                Receiver(bare.url("d")) as receiver,
            ):
                bare_direct = await probe(sender, receiver, direct_count, advance)
            bare_group = await _group(
                bare.pid,
                pool,
                [bare.url("g") for _ in users[3:]],
                Sender(bare.url("g"), "probe", None),
                Receiver(bare.url("g")),
                Sender(bare.url("g"), "bg", None),
                group_count,
                background_rate,
                advance,
            )
        results["direct, idle"] = (parlour["direct"], bare_direct)
        results[f"group of {members}, background {background_rate:g} msg/s"] = (
            parlour["group"],
            bare_group,
        )
        if redis:
            results["direct, across two processes (Redis)"] = (parlour["redis"], bare_direct)
    finally:
        pool.shutdown()

    rows: list[Row] = []
    for variant, (ours, theirs) in results.items():
        targets = ("<= 5 ms", "<= 20 ms") if variant == "direct, idle" else ("", "")
        note = (
            f"{len(ours.samples)} messages, errors {ours.errors}"
            + (f"; {ours.background}" if ours.background else "")
            + (f"; bare errors {theirs.errors}" if theirs.errors else "")
        )
        for metric, fraction, target in (("p50", 0.5, targets[0]), ("p99", 0.99, targets[1])):
            value = median(ours.samples) if fraction == 0.5 else percentile(ours.samples, 0.99)
            base = median(theirs.samples) if fraction == 0.5 else percentile(theirs.samples, 0.99)
            limit = float(target.split()[1]) if target else None
            rows.append(
                Row(
                    "latency",
                    variant,
                    metric,
                    round(value, 2),
                    "ms",
                    baseline=round(base, 2),
                    target=target,
                    met=None if limit is None else (value <= limit and ours.errors == 0),
                    note=note,
                )
            )
    ours_direct, bare_direct_probe = results["direct, idle"]
    ctx.notes.append(
        "generator: latency: the same sender and receiver (same process, same code) measured "
        f"p50 {median(bare_direct_probe.samples):.2f} ms through the bare server, so the clients' "
        f"own share of Parlour's p50 of {median(ours_direct.samples):.2f} ms is at most that."
    )
    ctx.notes.append(
        "Latency: one message in flight at a time, from writing the frame to the other client "
        "receiving it (CLOCK_MONOTONIC stamped in the content). Parlour acknowledges and "
        "delivers only after the commit (SQLite, synchronous=FULL: an fsync per commit)."
    )
    return rows


async def _across_processes(
    first: ServerProcess, users: list[BenchUser], room: str, count: int, advance: object
) -> Probe:
    # Parlour's first server must itself be on Redis for events to cross; start a pair.
    env = dict(first.env)
    env["PARLOUR_REDIS_URL"] = "redis://127.0.0.1:6379/0"
    port_a, port_b = free_port(), free_port()
    a = ServerProcess(f"http://127.0.0.1:{port_a}", first.data_dir, env, port=port_a)
    b = ServerProcess(f"http://127.0.0.1:{port_b}", first.data_dir, env, port=port_b)
    a.start()
    b.start()
    try:
        async with (
            Sender(ws_url(a, users[0].token), "redis", room) as sender,
            Receiver(ws_url(b, users[1].token)) as receiver,
        ):
            return await probe(sender, receiver, count, advance)
    finally:
        a.stop()
        b.stop()


async def _group(
    pid: int,
    pool: LoadPool,
    member_urls: list[str],
    sender: Sender,
    receiver: Receiver,
    background: Sender,
    count: int,
    rate: float,
    advance: object,
) -> Probe:
    await pool.connect(member_urls)
    await settle(pid)  # members coming online are announced (presence): let that pass
    try:
        async with sender, receiver, background:
            stop = asyncio.Event()

            async def steady() -> None:
                started = time.monotonic()
                index = 0
                while not stop.is_set():
                    delay = started + index / rate - time.monotonic()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    await background.send()
                    index += 1

            runner = asyncio.create_task(steady())
            await asyncio.sleep(1.0)  # background traffic is flowing before the first probe
            result = await probe(sender, receiver, count, advance)
            stop.set()
            await runner
            collected = await pool.wait(
                {"probe": sender.seq, "bg": background.seq}, within=15, samples=False
            )
            result.errors += len(background.errors)
            result.background = (
                f"{len(member_urls)} load-process members received "
                f"{collected.received} messages, problems: {collected.problems()}"
            )
            if not collected.clean:
                result.errors += 1
            return result
    finally:
        await pool.close_connections()
