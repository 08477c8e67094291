"""Servers under test and the people in them: Parlour (real `parlour serve` processes, set up
through the actions like tests/support.py) and the bare broadcast server (bench/baseline_server).

Thousands of users are made in a few write transactions through Parlour's own writer: one
argon2 hash (cheap parameters, still a valid hash the server can verify) shared by every bench
user, and a session row per user whose bearer token the bench keeps. The server is never told
anything special: it sees ordinary users with ordinary sessions.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import psutil
from argon2 import PasswordHasher
from tests.support import (
    OrgFactory,
    ServerProcess,
    free_port,
    org_factory,
    start_server,
    wait_healthy,
)
from websockets.asyncio.client import ClientConnection, connect

from bench.common import ROOT, stop_process
from bench.load import MAX_FRAME, bare_frame, make_content
from parlour.actions.context import Actor
from parlour.actions.rooms import do_create_group, do_open_direct
from parlour.ids import hash_secret, new_id, new_secret
from parlour.schemas import Preferences
from parlour.storage.models import Session, User
from parlour.storage.writer import WriteContext

# Flood control and login throttles are for people; the bench is one address sending fast.
BENCH_ENV = {
    "PARLOUR_LIMIT_FRAMES_PER_SECOND": "1000000",
    "PARLOUR_LIMIT_FRAME_BURST": "1000000",
    "PARLOUR_LIMIT_LOGIN_FAILURES_PER_IP": "1000000",
    "PARLOUR_LIMIT_GROUP_MEMBERS": "20000",
    "PARLOUR_PRESENCE_GRACE_SECONDS": "5",
    "PARLOUR_STREAM_POLL_SECONDS": "1",
}


@dataclass
class BenchUser:
    user_id: str
    token: str
    actor: Actor


@contextlib.contextmanager
def parlour_server(extra_env: dict[str, str] | None = None) -> Iterator[ServerProcess]:
    os.environ.update(BENCH_ENV)  # the bench process's own actions see the same limits
    with start_server({**BENCH_ENV, **(extra_env or {})}) as server:
        try:
            yield server
        finally:
            stop_server(server)


def stop_server(server: ServerProcess, grace: float = 60) -> None:
    """Stop gracefully, but with thousands of sockets allow more than tests/support's 20 s."""
    process = server.process
    if process is None:
        return
    process.terminate()
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=20)
    server.process = None


def parlour_factory(server: ServerProcess) -> contextlib.AbstractAsyncContextManager[OrgFactory]:
    return org_factory(server)


def ws_url(server: ServerProcess, token: str) -> str:
    return f"ws://127.0.0.1:{server.port}/api/v1/events?token={token}"


async def bulk_users(factory: OrgFactory, count: int, prefix: str = "u") -> list[BenchUser]:
    """`count` users of one new organization, each with a live session (bearer token)."""
    services = factory.services
    assert services is not None
    org = await factory.create([], login=False)
    password_hash = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(
        "bench password"
    )
    users: list[BenchUser] = []
    chunk = 1000
    for start in range(0, count, chunk):
        made: list[BenchUser] = []

        async def job(ctx: WriteContext, start: int = start, made: list[BenchUser] = made) -> None:
            now = ctx.clock.now()
            rows: list[object] = []
            for index in range(start, min(count, start + chunk)):
                user_id, session_id, token = new_id(), new_id(), new_secret()
                rows.append(
                    User(
                        id=user_id,
                        org_id=org.org_id,
                        email=f"{prefix}{index}.{user_id.lower()}@bench.test",
                        full_name=f"Bench {prefix.upper()}{index}",
                        password_hash=password_hash,
                        is_admin=index == 0,
                        is_active=True,
                        status="online",
                        preferences=Preferences().model_dump(),
                        created_at=now,
                    )
                )
                rows.append(
                    Session(
                        id=session_id,
                        token_hash=hash_secret(token),
                        csrf_token=new_secret(),
                        user_id=user_id,
                        created_at=now,
                    )
                )
                made.append(
                    BenchUser(user_id, token, Actor(user_id, org.org_id, index == 0, session_id))
                )
            ctx.session.add_all(rows[0::2])
            await ctx.session.flush()
            ctx.session.add_all(rows[1::2])
            await ctx.session.flush()

        await services.writer.run(job)
        users.extend(made)
    return users


async def group_room(factory: OrgFactory, users: list[BenchUser]) -> str:
    assert factory.services is not None
    room = await do_create_group(
        factory.services, users[0].actor, f"Bench group {new_id()}", [u.user_id for u in users]
    )
    return room.id


async def direct_room(factory: OrgFactory, a: BenchUser, b: BenchUser) -> str:
    assert factory.services is not None
    room, _ = await do_open_direct(factory.services, a.actor, b.user_id)
    return room.id


# ---------------------------------------------------------------------------------------------
# The bare server


@dataclass
class BareServer:
    port: int
    process: subprocess.Popen[bytes]

    def url(self, group: str) -> str:
        return f"ws://127.0.0.1:{self.port}/ws?group={group}"

    @property
    def pid(self) -> int:
        return self.process.pid


@contextlib.contextmanager
def bare_server(log_dir: Path) -> Iterator[BareServer]:
    port = free_port()
    log_dir.mkdir(parents=True, exist_ok=True)
    with (log_dir / "baseline_server.log").open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "bench.baseline_server", "--port", str(port)],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    try:
        wait_healthy(f"http://127.0.0.1:{port}", process)  # the same readiness as Parlour's
        yield BareServer(port, process)
    finally:
        stop_process(process, timeout=10)


def rss(pid: int) -> int:
    return int(psutil.Process(pid).memory_info().rss)


# ---------------------------------------------------------------------------------------------
# One sending client, for either server


class Sender:
    """One socket that sends bench messages of one stream and drains what comes back.

    For Parlour it sends `send` frames and counts acks and errors; for the bare server it sends
    the message.created-shaped frame itself.
    """

    def __init__(self, url: str, stream: str, room_id: str | None) -> None:
        self.url, self.stream, self.room_id = url, stream, room_id
        self.ws: ClientConnection | None = None
        self.seq = 0
        self.acks = 0
        self.errors: list[str] = []
        self._drain: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Sender:
        self.ws = await connect(self.url, max_size=MAX_FRAME, compression=None, ping_interval=None)
        hello = orjson.loads(await self.ws.recv())
        if hello.get("type") != "hello":
            raise RuntimeError(f"expected hello, got {hello}")
        self._drain = asyncio.create_task(self._drain_loop())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._drain is not None:
            self._drain.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._drain
        if self.ws is not None:
            await self.ws.close()

    async def _drain_loop(self) -> None:
        assert self.ws is not None
        async for raw in self.ws:
            if self.room_id is None:
                continue
            kind = orjson.loads(raw).get("type")
            if kind == "ack":
                self.acks += 1
            elif kind == "error" and len(self.errors) < 1000:
                self.errors.append(str(raw)[:300])

    def frame(self) -> str:
        seq = self.seq
        self.seq += 1
        content = make_content(self.stream, seq, time.monotonic_ns())
        if self.room_id is None:
            return bare_frame(content, seq)
        return orjson.dumps(
            {
                "type": "send",
                "room_id": self.room_id,
                "content": content,
                "client_id": f"{self.stream}-{seq}",
            }
        ).decode()

    async def send(self) -> None:
        assert self.ws is not None
        await self.ws.send(self.frame())

    async def paced(self, rate: float, seconds: float) -> float:
        """Send at `rate` messages/s for `seconds`; returns when the first was sent (monotonic)."""
        total = max(1, int(rate * seconds))
        started = time.monotonic()
        for index in range(total):
            due = started + index / rate
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            await self.send()
        return started


class Receiver:
    """A single receiving socket in the bench process, for one-at-a-time latency probes."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.ws: ClientConnection | None = None

    async def __aenter__(self) -> Receiver:
        self.ws = await connect(self.url, max_size=MAX_FRAME, compression=None, ping_interval=None)
        hello = orjson.loads(await self.ws.recv())
        if hello.get("type") != "hello":
            raise RuntimeError(f"expected hello, got {hello}")
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.ws is not None:
            await self.ws.close()

    async def next_content(self, stream: str, within: float = 10) -> str:
        """The content of the next bench message of `stream` (other frames are skipped)."""
        assert self.ws is not None
        async with asyncio.timeout(within):
            while True:
                frame = orjson.loads(await self.ws.recv())
                if frame.get("type") != "message.created":
                    continue
                content = frame["message"]["content"]
                if content.startswith(f"bench {stream} "):
                    return str(content)


async def settle(pid: int, *, below: float = 0.15, longest: float = 90.0) -> float:
    """Wait until a process is quiet (e.g. after a wave of connects and the presence
    announcements it causes): three half-second windows in a row under `below` of a core.
    Returns how long that took."""
    process = psutil.Process(pid)
    started = time.monotonic()
    quiet = 0
    while quiet < 3 and time.monotonic() - started < longest:
        times = process.cpu_times()
        before = times.user + times.system
        await asyncio.sleep(0.5)
        times = process.cpu_times()
        quiet = quiet + 1 if (times.user + times.system - before) / 0.5 < below else 0
    return time.monotonic() - started
