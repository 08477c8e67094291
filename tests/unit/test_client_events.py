"""EventStream against a tiny real WebSocket server that plays Parlour's part of the contract.

The fake keeps a durable log with cursors c1, c2, ...; `since=cN` replays what follows cN, an
unknown cursor gets hello + resync_required. Tests drive it (publish, drop, reject handshakes)
and wait on events with timeouts, never on sleeps.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson
import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from parlour.client import (
    Backoff,
    ConnectionLost,
    Event,
    EventStream,
    ParlourClient,
    ProtocolError,
    SessionRevoked,
)

FAST = Backoff(base=0.001, cap=0.005)
TIMEOUT = 5.0
USER = {"id": "u1", "email": "ada@example.com", "full_name": "Ada", "status": "online"}


@dataclass(frozen=True)
class Handshake:
    since: str | None
    authorization: str | None


class FakeEventServer:
    def __init__(self) -> None:
        self.url = ""
        self.log: list[dict[str, Any]] = []
        self.handshakes: asyncio.Queue[Handshake] = asyncio.Queue()
        self.handshake_count = 0
        self.received: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        # Statuses to refuse the next handshakes with, one per attempt.
        self.refusals: deque[HTTPStatus] = deque()
        self._live: dict[ServerConnection, asyncio.Queue[bytes]] = {}

    def publish(self, type_: str = "message.created", **payload: Any) -> str:
        cursor = f"c{len(self.log) + 1}"
        frame = {"type": type_, "cursor": cursor, **payload}
        self.log.append(frame)
        self.push(frame)
        return cursor

    def push(self, frame: dict[str, Any] | bytes) -> None:
        """Send to every live socket now, without logging (non-durable frames)."""
        raw = frame if isinstance(frame, bytes) else orjson.dumps(frame)
        for queue in self._live.values():
            queue.put_nowait(raw)

    async def drop(self, code: int | None = None) -> None:
        """Lose every connection: abruptly (TCP abort) by default, or with a close code."""
        for ws in list(self._live):
            if code is None:
                ws.transport.abort()
            else:
                await ws.close(code, "bye")

    async def next_handshake(self) -> Handshake:
        async with asyncio.timeout(TIMEOUT):
            return await self.handshakes.get()

    def process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        self.handshake_count += 1
        if self.refusals:
            return connection.respond(self.refusals.popleft(), "refused\n")
        return None

    async def handler(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        since = parse_qs(urlsplit(ws.request.path).query).get("since", [None])[0]
        self.handshakes.put_nowait(Handshake(since, ws.request.headers.get("Authorization")))
        # Snapshot the backlog and subscribe with no await in between, as the real server must:
        # whatever is published later arrives live, whatever came before is replayed.
        known = {f"c{n}": n for n in range(len(self.log) + 1)}
        backlog: list[dict[str, Any]]
        if since is None:
            hello_cursor, backlog = f"c{len(self.log)}", []
        elif since in known:
            hello_cursor, backlog = since, self.log[known[since] :]
        else:
            hello_cursor, backlog = f"c{len(self.log)}", [{"type": "resync_required"}]
        queue: asyncio.Queue[bytes] = asyncio.Queue()
        self._live[ws] = queue
        pump: asyncio.Task[None] | None = None
        try:
            await ws.send(orjson.dumps({"type": "hello", "cursor": hello_cursor, "user": USER}))
            for frame in backlog:
                await ws.send(orjson.dumps(frame))
            # Live frames queued meanwhile go out only now, after the replay: in order.
            pump = asyncio.create_task(self._pump(ws, queue))
            async for raw in ws:
                self.received.put_nowait(orjson.loads(raw))
        except ConnectionClosed:
            pass
        finally:
            del self._live[ws]
            if pump is not None:
                pump.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await pump

    async def _pump(self, ws: ServerConnection, queue: asyncio.Queue[bytes]) -> None:
        with contextlib.suppress(ConnectionClosed):
            while True:
                await ws.send(await queue.get())


@pytest.fixture
async def server() -> AsyncIterator[FakeEventServer]:
    fake = FakeEventServer()
    async with serve(
        fake.handler, "127.0.0.1", 0, process_request=fake.process_request
    ) as ws_server:
        port = next(iter(ws_server.sockets)).getsockname()[1]
        fake.url = f"ws://127.0.0.1:{port}/api/v1/events"
        yield fake


def open_stream(server: FakeEventServer, **kwargs: Any) -> EventStream:
    return EventStream(server.url, "tok", backoff=FAST, **kwargs)


async def take(stream: EventStream, count: int) -> list[Event]:
    async with asyncio.timeout(TIMEOUT):
        return [await anext(stream) for _ in range(count)]


def seen(events: list[Event]) -> list[tuple[str, str | None]]:
    return [(event.type, event.cursor) for event in events]


async def test_reconnect_resumes_after_the_last_durable_event_without_duplicates(
    server: FakeEventServer,
) -> None:
    async with open_stream(server) as stream:
        first = await server.next_handshake()
        assert first == Handshake(since=None, authorization="Bearer tok")
        server.publish()
        server.publish()
        # A non-durable frame last: it must not become the resume point.
        server.push({"type": "typing", "room_id": "r1", "user_id": "u2"})
        assert seen(await take(stream, 4)) == [
            ("hello", "c0"),
            ("message.created", "c1"),
            ("message.created", "c2"),
            ("typing", None),
        ]
        assert stream.last_cursor == "c2"

        await server.drop()
        server.publish()
        server.publish()
        assert seen(await take(stream, 3)) == [
            ("hello", "c2"),
            ("message.created", "c3"),
            ("message.created", "c4"),
        ]
        assert (await server.next_handshake()).since == "c2"
        assert stream.reconnects == 1
        assert stream.last_cursor == "c4"


async def test_a_clean_close_before_any_event_resumes_from_the_hello_cursor(
    server: FakeEventServer,
) -> None:
    server.publish()
    server.publish()
    async with open_stream(server) as stream:
        # Without since, hello.cursor is "now": older events are not replayed.
        assert seen(await take(stream, 1)) == [("hello", "c2")]
        await server.drop(code=1001)
        server.publish()
        assert seen(await take(stream, 2)) == [("hello", "c2"), ("message.created", "c3")]
    handshakes = [await server.next_handshake() for _ in range(2)]
    assert [h.since for h in handshakes] == [None, "c2"]


async def test_since_given_to_the_client_replays_what_followed(server: FakeEventServer) -> None:
    for _ in range(3):
        server.publish()
    port = urlsplit(server.url).port
    async with (
        ParlourClient(f"http://127.0.0.1:{port}", "tok") as client,
        client.events(since="c1") as stream,
    ):
        assert seen(await take(stream, 3)) == [
            ("hello", "c1"),
            ("message.created", "c2"),
            ("message.created", "c3"),
        ]
    assert await server.next_handshake() == Handshake(since="c1", authorization="Bearer tok")


async def test_resync_required_is_yielded_and_the_stream_continues_from_hello(
    server: FakeEventServer,
) -> None:
    server.publish()
    server.publish()
    async with open_stream(server, since="expired") as stream:
        assert seen(await take(stream, 2)) == [("hello", "c2"), ("resync_required", None)]
        assert stream.last_cursor == "c2"
        await server.drop()
        server.publish()
        assert seen(await take(stream, 2)) == [("hello", "c2"), ("message.created", "c3")]
    assert [(await server.next_handshake()).since for _ in range(2)] == ["expired", "c2"]


async def test_close_code_4401_raises_session_revoked_and_does_not_reconnect(
    server: FakeEventServer,
) -> None:
    async with open_stream(server) as stream:
        await take(stream, 1)
        await server.drop(code=4401)
        with pytest.raises(SessionRevoked):
            await take(stream, 1)
        assert stream.closed
        with pytest.raises(StopAsyncIteration):
            await anext(stream)
    assert server.handshake_count == 1


async def test_a_401_on_reconnect_raises_session_revoked(server: FakeEventServer) -> None:
    async with open_stream(server) as stream:
        await take(stream, 1)
        server.refusals.append(HTTPStatus.UNAUTHORIZED)
        await server.drop()
        with pytest.raises(SessionRevoked):
            await take(stream, 1)
    assert server.handshake_count == 2


async def test_refused_handshakes_are_retried_with_backoff(server: FakeEventServer) -> None:
    async with open_stream(server) as stream:
        await take(stream, 1)
        server.publish()
        await take(stream, 1)
        server.refusals.extend([HTTPStatus.SERVICE_UNAVAILABLE, HTTPStatus.BAD_GATEWAY])
        await server.drop()
        server.publish()
        assert seen(await take(stream, 2)) == [("hello", "c1"), ("message.created", "c2")]
    assert server.handshake_count == 4
    assert stream.reconnects == 1


async def test_without_reconnect_a_lost_connection_raises(server: FakeEventServer) -> None:
    async with open_stream(server, reconnect=False) as stream:
        await take(stream, 1)
        await server.drop(code=1011)
        with pytest.raises(ConnectionLost) as caught:
            await take(stream, 1)
        assert caught.value.code == 1011
    assert server.handshake_count == 1


async def test_client_frames_reach_the_server_in_order(server: FakeEventServer) -> None:
    async with open_stream(server) as stream:
        await stream.send("r1", "hello", "k1")
        await stream.typing("r1")
        await stream.read("r1", "m1")
        await stream.ping()
        async with asyncio.timeout(TIMEOUT):
            frames = [await server.received.get() for _ in range(4)]
    assert frames == [
        {"type": "send", "room_id": "r1", "content": "hello", "client_id": "k1"},
        {"type": "typing", "room_id": "r1"},
        {"type": "read", "room_id": "r1", "message_id": "m1"},
        {"type": "ping"},
    ]


async def test_wait_for_skips_frames_until_one_matches(server: FakeEventServer) -> None:
    async with open_stream(server) as stream:
        server.push({"type": "presence.updated", "user_id": "u2"})
        server.publish("message.created", message={"id": "m1"})
        server.publish("unread.updated", room_id="r1", unread_count=1, total=1)
        event = await stream.wait_for("unread.updated")
        assert event["unread_count"] == 1
        assert stream.last_cursor == "c2"
        server.publish("message.created", message={"id": "m2"})
        event = await stream.wait_for(lambda e: e.get("message", {}).get("id") == "m2")
        assert event.cursor == "c3"


async def test_wait_for_times_out_when_nothing_matches(server: FakeEventServer) -> None:
    async with open_stream(server) as stream:
        with pytest.raises(TimeoutError):
            await stream.wait_for("message.created", timeout=0.05)


async def test_close_ends_a_concurrent_iteration(server: FakeEventServer) -> None:
    stream = open_stream(server)
    await stream.connect()

    async def consume() -> list[Event]:
        return [event async for event in stream]

    consumer = asyncio.create_task(consume())
    await server.next_handshake()
    await stream.close()
    async with asyncio.timeout(TIMEOUT):
        events = await consumer
    assert [event.type for event in events] in ([], ["hello"])


async def test_close_interrupts_a_reconnect_backoff(server: FakeEventServer) -> None:
    backing_off = asyncio.Event()

    class SlowBackoff(Backoff):
        def delay(self, attempt: int) -> float:
            backing_off.set()
            return 60.0

    stream = EventStream(server.url, "tok", backoff=SlowBackoff())
    await stream.connect()
    await take(stream, 1)
    consumer = asyncio.create_task(take(stream, 1))
    await server.drop()
    async with asyncio.timeout(TIMEOUT):
        await backing_off.wait()
        # The consumer is asleep in a 60 s backoff; close() must wake it at once.
        await stream.close()
        with pytest.raises(StopAsyncIteration):
            await consumer
    assert server.handshake_count == 1


async def test_a_malformed_frame_raises_protocol_error(server: FakeEventServer) -> None:
    async with open_stream(server) as stream:
        await take(stream, 1)
        server.push(b"<not json>")
        with pytest.raises(ProtocolError):
            await take(stream, 1)
