"""Reaching people who are away, at size (issue #14): a flood of direct messages to 1,000 people
who are away (quick: 200), each with a push subscription and e-mail on, while a connected person
keeps chatting.

Measured:
- push latency: from the flood's send acknowledgement to the push reaching the local push
  service (a real HTTP server in this process), p50/p99 — target ≤ 2 s;
- digest latency: from the end of each person's delay to their e-mail reaching a real SMTP
  server (aiosmtpd in this process), p50/p99 — target ≤ 10 s;
- the server's CPU time spent on notifications: its process CPU from the flood's last
  acknowledgement until every push and e-mail arrived, with nothing else going on — target ≤ 1 s
  for the 1,000;
- live delivery to a connected person (a message posted every 20 ms in another room, received
  over their socket) while the flood is notified, beside the same measured on an idle server —
  the notifications must not delay it.

SQLite, the embedded default (the notifier's queries are the same on PostgreSQL).

    uv run --frozen python -m bench.scenarios.away [--quick]
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import os
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import psutil
from aiosmtpd.controller import Controller
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import insert
from tests.support import Org, OrgFactory, free_port, org_factory

from bench.common import BenchContext, Row, median, percentile
from bench.profiling import profiled
from bench.scenarios._support import CHEAP_HASHER, instrumented_server, main
from parlour.ids import new_id
from parlour.storage.models import PushSubscription, User

SCENARIO = "away"
DELAY_SECONDS = 5.0
WARM_UP = 20


class _Arrivals:
    """Arrival times (monotonic) by key, filled by the SMTP and HTTP server threads."""

    def __init__(self) -> None:
        self.times: dict[str, float] = {}
        self.lock = threading.Lock()
        self.count: queue.Queue[str] = queue.Queue()

    def note(self, key: str) -> None:
        with self.lock:
            self.times.setdefault(key, time.monotonic())
        self.count.put(key)

    def wait_for(self, keys: set[str], timeout: float) -> None:
        """Until every key arrived (queue.Empty past the timeout)."""
        deadline = time.monotonic() + timeout
        while not keys <= self.times.keys():
            self.count.get(timeout=max(0.01, deadline - time.monotonic()))


@contextlib.contextmanager
def _push_service(arrivals: _Arrivals) -> Iterator[int]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as real push services serve

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            arrivals.note(self.path.rsplit("/", 1)[-1])
            self.send_response(201)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    class Server(ThreadingHTTPServer):
        request_queue_size = 1024  # the default 5 would drop a flood's connections (SYN retries)

    httpd = Server(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(httpd.server_address[1])
    finally:
        httpd.shutdown()
        httpd.server_close()


class _Smtp:
    def __init__(self, arrivals: _Arrivals) -> None:
        self.arrivals = arrivals

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        for rcpt in envelope.rcpt_tos:
            self.arrivals.note(rcpt)
        return "250 OK"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


async def _subscribe_all(factory: OrgFactory, org: Org, push_port: int) -> None:
    """A push subscription per away person, written straight into the database (1,000 browser
    subscriptions through the API would measure logins, not notifications)."""
    assert factory.services is not None
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    p256dh = _b64(
        key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    )
    now = factory.services.clock.now()
    rows = []
    for member in org.members[2:]:  # the warm-up people and the away people
        endpoint = f"http://127.0.0.1:{push_port}/push/{member.user_id}"
        rows.append(
            {
                "id": new_id(),
                "user_id": member.user_id,
                "endpoint": endpoint,
                "endpoint_hash": hashlib.sha256(endpoint.encode()).hexdigest(),
                "p256dh": p256dh,
                "auth": _b64(os.urandom(16)),
                "created_at": now,
            }
        )
    async with factory.services.db.writer.begin() as conn:
        await conn.execute(insert(PushSubscription.metadata.tables["push_subscriptions"]), rows)


async def _live_latency(org: Org, seconds: float) -> list[float]:
    """Ada posts to Bea every 20 ms for `seconds`; Bea's socket times each arrival."""
    ada, bea = org[0], org[1]
    room = await ada.client.create_direct(bea.user_id)
    sent: dict[str, float] = {}
    samples: list[float] = []
    async with bea.client.events() as stream:
        await stream.wait_for(lambda e: e.type == "hello")

        async def receive() -> None:
            async for event in stream:
                if event.type == "message.created" and event.message.client_id in sent:
                    samples.append((time.monotonic() - sent[event.message.client_id]) * 1000)

        receiver = asyncio.create_task(receive())
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            client_id = new_id()
            sent[client_id] = time.monotonic()
            await ada.client.send_message(room.id, "live", client_id=client_id)
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.5)  # the last arrivals: a drain, not a measurement
        receiver.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await receiver
    return samples


@dataclass
class _Run:
    """One flood: what the server spent and what the connected person saw."""

    cpu_seconds: float  # the server's CPU from the flood's start until everything arrived
    flood_seconds: float
    live_ms: list[float]
    push_ms: list[float]
    mail_s: list[float]


async def _measure(ctx: BenchContext, n: int, pairs: int) -> list[Row]:
    """The same flood on fresh servers: with nobody to notify (no push subscriptions, no SMTP),
    then with everyone away, subscribed and e-mailed; the difference is what the notifications
    cost. Repeated `pairs` times: one server's CPU for the same flood moves by a second between
    runs on a shared machine, so the figure is the median of the pairs' differences."""
    quiets: list[_Run] = []
    louds: list[_Run] = []
    for _ in range(pairs):
        quiets.append(await _one_run(ctx, n, notify=False))
        louds.append(await _one_run(ctx, n, notify=True))
    differences = [
        (loud.cpu_seconds - quiet.cpu_seconds) * 1000 / n
        for quiet, loud in zip(quiets, louds, strict=True)
    ]
    per_thousand = median(differences)
    loud = _pooled(louds)
    quiet = _pooled(quiets)
    variant = f"SQLite, {n:,} away people"
    push_p99, mail_p99 = percentile(loud.push_ms, 0.99), percentile(loud.mail_s, 0.99)
    live = f"{variant}: live delivery during the flood"
    shown = ", ".join(f"{d:.2f} s" for d in differences)
    ctx.notes.append(
        f"away: {pairs} pair(s) of floods of {n:,} sends, each on a fresh server; a flood took "
        f"{loud.flood_seconds:.1f} s with notifications and {quiet.flood_seconds:.1f} s without "
        f"(means); the server's CPU from the flood's start until the last push and e-mail "
        f"arrived was {loud.cpu_seconds:.2f} s, against {quiet.cpu_seconds:.2f} s for the same "
        f"flood with nobody to notify (means): the difference is the notifications' cost "
        f"(deciding, one encrypted push and one digest per person), per 1,000 by pair: {shown}."
    )
    return [
        Row(SCENARIO, f"{variant}: push latency", "p50", median(loud.push_ms), "ms"),
        Row(
            SCENARIO,
            f"{variant}: push latency",
            "p99",
            push_p99,
            "ms",
            target="<= 2000 ms",
            met=push_p99 <= 2000,
        ),
        Row(SCENARIO, f"{variant}: digest after its delay", "p50", median(loud.mail_s), "s"),
        Row(
            SCENARIO,
            f"{variant}: digest after its delay",
            "p99",
            mail_p99,
            "s",
            target="<= 10 s",
            met=mail_p99 <= 10,
        ),
        Row(
            SCENARIO,
            f"{variant}: server CPU for notifying everyone",
            "per 1,000",
            per_thousand,
            "s",
            target="<= 1 s",
            met=per_thousand <= 1.0,
            note="CPU with notifications less CPU of the same flood without (median of pairs)",
        ),
        Row(
            SCENARIO,
            live,
            "p50",
            median(loud.live_ms),
            "ms",
            baseline=median(quiet.live_ms),
            note="bare = the same flood with nobody to notify",
        ),
        Row(
            SCENARIO,
            live,
            "p99",
            percentile(loud.live_ms, 0.99),
            "ms",
            baseline=percentile(quiet.live_ms, 0.99),
        ),
    ]


async def _one_run(ctx: BenchContext, n: int, *, notify: bool) -> _Run:
    pushes, mails = _Arrivals(), _Arrivals()
    smtp_port = free_port()
    controller = Controller(_Smtp(mails), hostname="127.0.0.1", port=smtp_port)
    controller.start()
    try:
        with _push_service(pushes) as push_port:
            env = {
                "PARLOUR_EMAIL_DELAY_SECONDS": str(DELAY_SECONDS),
                "PARLOUR_OUTBOUND_ALLOW_NETWORKS": "127.0.0.1/32",
                "PARLOUR_LIMIT_SENDS_PER_SECOND": "100000",
                "PARLOUR_LIMIT_SEND_BURST": "100000",
            }
            if notify:
                env["PARLOUR_SMTP_URL"] = f"smtp://127.0.0.1:{smtp_port}"
            with instrumented_server(env) as server:
                assert server.process is not None
                cpu = psutil.Process(server.process.pid)
                async with org_factory(server) as factory:
                    return await _flood(
                        ctx, factory, n, pushes, mails, push_port if notify else None, cpu
                    )
    finally:
        controller.stop()


async def _flood(
    ctx: BenchContext,
    factory: OrgFactory,
    n: int,
    pushes: _Arrivals,
    mails: _Arrivals,
    push_port: int | None,
    cpu: psutil.Process,
) -> _Run:
    kind = "notified" if push_port else "nobody to notify"
    setup = ctx.task(f"away: {n} people, {kind}", total=n)
    assert factory.services is not None
    factory.services.hasher = CHEAP_HASHER  # 1,000 users: their hashes are not what is measured
    org = await factory.create(["Ada Sender", "Bea Watching"])
    everyone = await factory.create([f"Away{i} Person" for i in range(n + WARM_UP)], login=False)
    org.members += everyone.members
    warm, away = everyone.members[:WARM_UP], everyone.members[WARM_UP:]
    # Everyone in one organization: move the away people into Ada's.
    async with factory.services.db.writer.begin() as conn:
        users = User.metadata.tables["users"]
        await conn.execute(
            users.update()
            .where(users.c.id.in_([m.user_id for m in everyone.members]))
            .values(org_id=org.org_id)
        )
    if push_port is not None:
        await _subscribe_all(factory, org, push_port)
    ada = org[0]
    rooms = [await ada.client.create_direct(m.user_id) for m in away]
    # A first round to a few others: each worker process imports and warms what notifying
    # uses (HTTP client, SMTP, e-mail) once in its life, and that is not what is measured.
    for member in warm:
        room = await ada.client.create_direct(member.user_id)
        await ada.client.send_message(room.id, "warming up")
    if push_port is not None:
        await asyncio.to_thread(pushes.wait_for, {m.user_id for m in warm}, 120)
        await asyncio.to_thread(mails.wait_for, {m.email for m in warm}, 120 + DELAY_SECONDS)
    ctx.progress.update(setup, description=f"away: flooding {n} rooms, {kind}")

    acked: dict[str, float] = {}

    async def send(index: int) -> None:
        await ada.client.send_message(rooms[index].id, f"ping {index}")
        acked[away[index].user_id] = time.monotonic()
        ctx.progress.advance(setup)

    name = "away-notified" if push_port is not None else "away-quiet"
    with profiled(ctx, cpu.pid, name):
        cpu_before = _cpu_seconds(cpu)
        live_task = asyncio.create_task(_live_latency(org, 4.0))
        flood_start = time.monotonic()
        for start in range(0, n, 50):
            await asyncio.gather(*(send(i) for i in range(start, min(n, start + 50))))
        flood_seconds = time.monotonic() - flood_start
        live_ms = await live_task
        push_ms: list[float] = []
        mail_s: list[float] = []
        if push_port is not None:
            await asyncio.to_thread(pushes.wait_for, {m.user_id for m in away}, 120)
            await asyncio.to_thread(mails.wait_for, {m.email for m in away}, 120 + DELAY_SECONDS)
            push_ms = [(pushes.times[uid] - acked[uid]) * 1000 for uid in acked]
            mail_s = [mails.times[m.email] - (acked[m.user_id] + DELAY_SECONDS) for m in away]
        else:
            # As long as the notified run waits for its e-mails: the idle time costs the same.
            await asyncio.sleep(DELAY_SECONDS + 1.0)
        return _Run(_cpu_seconds(cpu) - cpu_before, flood_seconds, live_ms, push_ms, mail_s)


def _pooled(runs: list[_Run]) -> _Run:
    """Several runs as one: mean CPU and flood time, every sample of each."""
    return _Run(
        sum(r.cpu_seconds for r in runs) / len(runs),
        sum(r.flood_seconds for r in runs) / len(runs),
        [x for r in runs for x in r.live_ms],
        [x for r in runs for x in r.push_ms],
        [x for r in runs for x in r.mail_s],
    )


def _cpu_seconds(server: psutil.Process) -> float:
    """User + system CPU of the server and its workers."""
    processes = [server, *server.children(recursive=True)]
    return sum(sum(p.cpu_times()[:2]) for p in processes)


async def run(ctx: BenchContext) -> list[Row]:
    return await _measure(ctx, 200 if ctx.quick else 1_000, 1 if ctx.quick else 2)


if __name__ == "__main__":
    main(run)
