"""Scenario 2, fan-out throughput: deliveries/s to N connected clients in one group room.

N receivers (quick: 100 and 1,000; full: also 5,000) are lean sockets spread over the load
processes, each checking every message's content and sequence number and reporting latency
samples. One member sends at a fixed rate for a few seconds per step; the rate doubles each step
until a step fails: a message missing, duplicated or reordered at any receiver, an error frame,
or a p99 delivery latency of 100 ms or more. The figure is the best passing step's deliveries/s
(messages delivered to receivers per second of the step, measured from first send to last
receipt). Target: ≥ 30,000 deliveries/s and ≥ 50% of the bare server's figure.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass

import psutil
from rich.progress import TaskID

from bench.common import BenchContext, Row, median, percentile
from bench.fixtures import (
    Sender,
    bare_server,
    bulk_users,
    group_room,
    parlour_factory,
    parlour_server,
    settle,
    ws_url,
)
from bench.load import CpuMeter, LoadPool
from bench.profiling import profiled

P99_LIMIT_MS = 100.0
LOAD_PROCESSES = 2
MAX_MEMBERS = 1000
SENDERS = 4
SIZES_QUICK = [100, 1000]
SIZES_FULL = [100, 1000, 5000]


@dataclass
class Step:
    offered: float  # deliveries/s asked for
    delivered_per_s: float
    p50: float
    p99: float
    ok: bool
    why: str
    clean: bool  # every message arrived once, in order, no error frames
    server_cpu: float
    load_cpu: float
    bench_cpu: float
    load_cpu_max: float  # the busiest single load process


async def ladder(
    ctx: BenchContext,
    task: TaskID,
    pool: LoadPool,
    senders: Senders,
    n: int,
    server_pid: int,
) -> list[Step]:
    seconds = 1.5 if ctx.quick else 3.0
    offered = 4000.0
    steps: list[Step] = []
    meters = [
        CpuMeter([psutil.Process(server_pid)]),
        CpuMeter(pool.ps),
        CpuMeter([psutil.Process()]),
    ]
    going_up = True
    while len(steps) < 9:
        rate = offered / n
        await pool.reset()
        errors_before = senders.errors()
        for meter in meters:
            meter.start()
        watchers = [asyncio.create_task(meter.watch()) for meter in meters]
        started = time.monotonic_ns()
        await senders.paced(rate, max(seconds, 3 / rate))
        got = await pool.wait(senders.expect(), within=seconds + 8)
        for watcher in watchers:
            watcher.cancel()
        await asyncio.gather(*watchers, return_exceptions=True)
        # The busiest half second of the step: was anyone saturated while the load was on?
        server_cpu, load_cpu, bench_cpu = (meter.peak for meter in meters)
        load_cpu_max = meters[1].peak_single
        sent = senders.sent()
        sender_errors = senders.errors() - errors_before
        delivered = got.received
        duration = max(1e-3, (got.last_ns - started) / 1e9)
        p50 = median(got.samples) if got.samples else float("inf")
        p99 = percentile(got.samples, 0.99) if got.samples else float("inf")
        reasons = []
        if not got.clean:
            reasons.append(got.problems())
        if sender_errors:
            reasons.append(f"{sender_errors} error frames to the senders: {senders.last_error()}")
        if p99 >= P99_LIMIT_MS:
            reasons.append(f"p99 {p99:.0f} ms")
        steps.append(
            Step(
                offered,
                delivered / duration,
                p50,
                p99,
                not reasons,
                "; ".join(reasons),
                got.clean and not sender_errors,
                server_cpu,
                load_cpu,
                bench_cpu,
                load_cpu_max,
            )
        )
        ctx.progress.advance(task)
        healthy = got.open >= n and got.missing == 0 and sent * n > 0
        if going_up:
            # Keep going up while every message arrives and the server keeps up with the offered
            # rate, whatever the latency: that also finds the saturation throughput.
            keeps_up = steps[-1].clean and steps[-1].delivered_per_s >= 0.8 * offered
            if healthy and keeps_up and len(steps) < 6:
                offered *= 2
                continue
            if any(step.ok for step in steps) or not healthy:
                break
            going_up = False  # not even the first step met the p99 limit: try lighter loads
            offered = steps[0].offered / 2
            continue
        if steps[-1].ok or not healthy or offered <= 1000:
            break
        offered /= 2
    ctx.progress.advance(task, max(0, 8 - len(steps)))
    return steps


class Senders:
    """Several sending sockets (members) sharing the offered rate, one stream each: one
    socket alone would hit Parlour's per-socket cap on sends in flight (ws.MAX_SENDS_IN_FLIGHT)
    long before the server's limit; a busy room has many senders anyway."""

    def __init__(self, senders: list[Sender]) -> None:
        self.senders = senders

    async def __aenter__(self) -> Senders:
        for sender in self.senders:
            await sender.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        for sender in self.senders:
            with contextlib.suppress(Exception):
                await sender.__aexit__(*exc)

    async def paced(self, rate: float, seconds: float) -> None:
        total = max(len(self.senders), int(rate * seconds))
        started = time.monotonic()
        for index in range(total):
            delay = started + index / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            await self.senders[index % len(self.senders)].send()

    def expect(self) -> dict[str, int]:
        return {s.stream: s.seq for s in self.senders}

    def sent(self) -> int:
        return sum(s.seq for s in self.senders)

    def errors(self) -> int:
        return sum(len(s.errors) for s in self.senders)

    def last_error(self) -> str:
        return next((s.errors[-1] for s in self.senders if s.errors), "")


def best(steps: list[Step]) -> Step | None:
    passing = [s for s in steps if s.ok]
    return max(passing, key=lambda s: s.delivered_per_s) if passing else None


def saturation(steps: list[Step]) -> Step | None:
    clean = [s for s in steps if s.clean]
    return max(clean, key=lambda s: s.delivered_per_s) if clean else None


def describe(steps: list[Step]) -> str:
    return ", ".join(
        f"{s.offered / 1000:g}k→{s.delivered_per_s / 1000:.1f}k "
        f"p50 {s.p50:.0f} p99 {s.p99:.0f} ms" + ("" if s.ok else " FAIL")
        for s in steps
    )


async def run(ctx: BenchContext) -> list[Row]:
    sizes = SIZES_QUICK if ctx.quick else SIZES_FULL
    task = ctx.task("fan-out", 2 * 8 * len(sizes))
    pool = LoadPool(LOAD_PROCESSES)
    rows: list[Row] = []
    try:
        for n in sizes:
            # Parlour's groups hold at most 1,000 members (PARLOUR_LIMIT_GROUP_MEMBERS): beyond
            # that, N sockets are 1,000 members with several devices each.
            members = min(n, MAX_MEMBERS)
            with parlour_server() as server:
                async with parlour_factory(server) as factory:
                    users = await bulk_users(factory, members + SENDERS)
                    room = await group_room(factory, users)
                talkers, receivers = users[:SENDERS], users[SENDERS:]
                assert server.process is not None
                began = time.monotonic()
                # Each member's first socket first: a member coming online is announced to the
                # room (presence), its further devices are not.
                urls = [ws_url(server, u.token) for u in receivers]
                connected = await pool.connect(urls)
                connected += await pool.connect([urls[i % members] for i in range(members, n)])
                if connected != n:
                    raise RuntimeError(f"only {connected} of {n} receivers connected to Parlour")
                connect_s = time.monotonic() - began
                settle_s = await settle(server.process.pid)
                ctx.notes.append(
                    f"Fan-out N={n}: {n} sockets ({members} members"
                    + (f", {n // members} devices each" if n > members else "")
                    + f") connected to Parlour in {connect_s:.1f} s; the server then stayed busy "
                    f"{settle_s:.1f} s more (presence announcements to everyone sharing the room) "
                    "before the first step."
                )
                senders = Senders(
                    [
                        Sender(ws_url(server, u.token), f"p{n}s{i}", room)
                        for i, u in enumerate(talkers)
                    ]
                )
                async with senders:
                    with profiled(ctx, server.process.pid, f"fanout-{n}"):
                        ours = await ladder(ctx, task, pool, senders, n, server.process.pid)
                await pool.close_connections()
            with bare_server(ctx.out_dir) as bare:
                connected = await pool.connect([bare.url(f"g{n}") for _ in range(n)])
                if connected != n:
                    raise RuntimeError(f"only {connected} of {n} receivers connected to bare")
                senders = Senders(
                    [Sender(bare.url(f"g{n}"), f"b{n}s{i}", None) for i in range(SENDERS)]
                )
                async with senders:
                    theirs = await ladder(ctx, task, pool, senders, n, bare.pid)
                await pool.close_connections()
            rows.extend(_rows(ctx, n, ours, theirs))
    finally:
        pool.shutdown()
    ctx.notes.append(
        "Fan-out: the offered load doubles from 4,000 deliveries/s each step "
        f"({'1.5' if ctx.quick else '3'} s of sending per step, at most 6 steps) while every "
        "message arrives and at least 80% of the offered rate is delivered; if no step met the "
        "p99 limit it then halves from 2,000 down to 1,000. A step passes with no missing, "
        "duplicate or reordered message at any receiver, no error frame, and p99 < "
        f"{P99_LIMIT_MS:g} ms. deliveries/s counts from the first send to the last receipt. "
        "Saturation = the most delivered per second by a clean step whatever its latency. In "
        "the step lists: offered→delivered, FAIL = over the p99 limit, LOSS = a message "
        "missing, duplicated, reordered or refused."
    )
    return rows


def _rows(ctx: BenchContext, n: int, ours: list[Step], theirs: list[Step]) -> list[Row]:
    a, b = best(ours), best(theirs)
    value = a.delivered_per_s if a else 0.0
    base = b.delivered_per_s if b else None
    met = value >= 30000 and base is not None and value >= 0.5 * base
    note = f"Parlour steps: {describe(ours)}. Bare steps: {describe(theirs)}."
    rows = [
        Row(
            "fanout",
            f"N={n}",
            "deliveries/s",
            round(value),
            "/s",
            baseline=round(base) if base is not None else None,
            target=">= 30,000/s and >= 50% of bare",
            met=met,
            note=note,
        )
    ]
    sat_a, sat_b = saturation(ours), saturation(theirs)
    if sat_a is not None:
        rows.append(
            Row(
                "fanout",
                f"N={n}",
                "saturation deliveries/s (any latency)",
                round(sat_a.delivered_per_s),
                "/s",
                baseline=None if sat_b is None else round(sat_b.delivered_per_s),
                note=f"p99 at that load {sat_a.p99:.0f} ms"
                + ("" if sat_b is None else f" (bare {sat_b.p99:.0f} ms)"),
            )
        )
    if a is not None:
        for metric, ours_v, theirs_v in (
            ("p50 at that load", a.p50, b.p50 if b else None),
            ("p99 at that load", a.p99, b.p99 if b else None),
        ):
            rows.append(
                Row(
                    "fanout",
                    f"N={n}",
                    metric,
                    round(ours_v, 2),
                    "ms",
                    baseline=None if theirs_v is None else round(theirs_v, 2),
                )
            )
    # Where each ladder stopped, and who was busy: the generator-honesty evidence.
    last_a, last_b = saturation(ours) or ours[-1], saturation(theirs) or theirs[-1]
    ctx.notes.append(
        f"generator: fan-out N={n} (CPU of the busiest half second of the step, 1.0 = one "
        f"core): at Parlour's saturation step ({last_a.offered:,.0f} offered) the "
        f"server used {last_a.server_cpu:.2f} cores, the {LOAD_PROCESSES} load processes "
        f"{last_a.load_cpu:.2f} (busiest {last_a.load_cpu_max:.2f}), the sender "
        f"{last_a.bench_cpu:.2f}"
        f"{'' if last_a.ok else ' (failed: ' + last_a.why + ')'}; at the bare server's "
        f"saturation step ({last_b.offered:,.0f} offered, "
        f"{last_b.delivered_per_s:,.0f} delivered/s) "
        f"the load processes used {last_b.load_cpu:.2f} cores (busiest "
        f"{last_b.load_cpu_max:.2f}) and the bare server {last_b.server_cpu:.2f}."
    )
    return rows
