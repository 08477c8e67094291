"""Connection limits (issue #10): what an attack run found held open or let through.

Slow headers, trickling bodies and idle connections are cut by the server's own deadlines; past
the connection cap a new connection is refused while open ones are served; one user's sockets are
capped (close code 4429); REST sends are rate-limited per user (429 with Retry-After).

Each server here is its own, with small limits, so the deadlines are short and the counts exact.
Waits are on the socket's end (EOF or reset) with a timeout; the only sleeps pace a trickle.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from parlour.client import ParlourAPIError, events_url
from tests.support import Member, OrgFactory, ServerProcess, org_factory, start_server

DEADLINE = 1.0  # header, body and keep-alive timeouts of the slow-client server
SLACK = 2.5  # how much later than its deadline a cut may come (a loaded CI machine)
SOCKETS_PER_USER = 3
SEND_BURST = 5


@pytest.fixture(scope="module")
def slow_server() -> Iterator[ServerProcess]:
    with start_server(
        {
            "PARLOUR_HEADER_TIMEOUT_SECONDS": str(DEADLINE),
            "PARLOUR_BODY_TIMEOUT_SECONDS": str(DEADLINE),
            "PARLOUR_BODY_MIN_BYTES_PER_SECOND": "100",
            "PARLOUR_KEEPALIVE_TIMEOUT_SECONDS": str(int(DEADLINE)),
        }
    ) as server:
        yield server


@pytest.fixture(scope="module")
async def quota_orgs() -> AsyncIterator[OrgFactory]:
    env = {
        "PARLOUR_LIMIT_SOCKETS_PER_USER": str(SOCKETS_PER_USER),
        "PARLOUR_LIMIT_SEND_BURST": str(SEND_BURST),
        # One token per 1,000 s: within a test, exactly the burst is accepted.
        "PARLOUR_LIMIT_SENDS_PER_SECOND": "0.001",
    }
    with start_server(env) as server:
        async with org_factory(server) as factory:
            yield factory


@contextlib.asynccontextmanager
async def _raw(
    server: ServerProcess,
) -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    """A bare TCP connection to the server, closed afterwards."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        yield reader, writer
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def _until_closed(reader: asyncio.StreamReader, within: float) -> bytes:
    """Everything the server sends until it closes the connection; TimeoutError if it does not."""
    received = bytearray()
    async with asyncio.timeout(within):
        with contextlib.suppress(ConnectionResetError):
            while chunk := await reader.read(65536):
                received += chunk
    return bytes(received)


async def _trickle(writer: asyncio.StreamWriter, data: bytes, pace: float) -> None:
    for byte in data:
        writer.write(bytes([byte]))
        await writer.drain()
        await asyncio.sleep(pace)  # pacing the trickle, not waiting for anything


async def _until_closed_while(
    reader: asyncio.StreamReader, within: float, sending: asyncio.Task[None]
) -> bytes:
    try:
        return await _until_closed(reader, within)
    finally:
        sending.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionError):
            await sending


async def test_half_a_request_line_is_cut_at_the_header_deadline(
    slow_server: ServerProcess,
) -> None:
    async with _raw(slow_server) as (reader, writer):
        started = time.monotonic()
        writer.write(b"GET /heal")
        await writer.drain()
        answer = await _until_closed(reader, DEADLINE + SLACK)
    assert time.monotonic() - started >= DEADLINE * 0.9  # the deadline, not a parse error
    assert answer.startswith(b"HTTP/1.1 408 "), answer
    assert orjson.loads(answer.split(b"\r\n\r\n", 1)[1])["error"]["code"] == "request_timeout"


async def test_a_connection_that_never_speaks_is_closed(slow_server: ServerProcess) -> None:
    async with _raw(slow_server) as (reader, _):
        assert await _until_closed(reader, DEADLINE + SLACK) == b""


async def test_trickled_headers_do_not_extend_the_header_deadline(
    slow_server: ServerProcess,
) -> None:
    request = b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Slow: " + b"a" * 200
    async with _raw(slow_server) as (reader, writer):
        sending = asyncio.create_task(_trickle(writer, request, 0.05))
        answer = await _until_closed_while(reader, DEADLINE + SLACK, sending)
    assert answer.startswith(b"HTTP/1.1 408 "), answer


async def _cut_body(server: ServerProcess, pace: float | None) -> tuple[bytes, float]:
    """POST a body that stalls (pace None) or trickles a byte per `pace` seconds."""
    async with _raw(server) as (reader, writer):
        writer.write(
            b"POST /api/v1/auth/login HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100000\r\n\r\n{"
        )
        await writer.drain()
        started = time.monotonic()
        body = b" " * 100_000 if pace is not None else b""  # JSON whitespace, a byte at a time
        sending = asyncio.create_task(_trickle(writer, body, pace or 0))
        answer = await _until_closed_while(reader, DEADLINE * 2 + SLACK, sending)
    return answer, time.monotonic() - started


async def test_a_stalled_body_is_cut(slow_server: ServerProcess) -> None:
    answer, elapsed = await _cut_body(slow_server, None)
    assert answer == b""
    assert elapsed >= DEADLINE * 0.9


async def test_a_trickling_body_is_cut_though_it_never_stalls(slow_server: ServerProcess) -> None:
    # 20 bytes/s always makes progress within the deadline, but is under the 100 bytes/s minimum.
    answer, elapsed = await _cut_body(slow_server, 0.05)
    assert answer == b""
    assert elapsed >= DEADLINE * 0.9


async def test_an_idle_keep_alive_connection_is_closed(slow_server: ServerProcess) -> None:
    async with _raw(slow_server) as (reader, writer):
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
        await writer.drain()
        started = time.monotonic()
        # uvicorn's own default is 5 s: this server's 1 s setting must be the one in force.
        answer = await _until_closed(reader, DEADLINE + SLACK)
    assert answer.startswith(b"HTTP/1.1 200 "), answer
    assert b"connection: close" not in answer.lower()  # kept alive, then closed for idling
    assert time.monotonic() - started >= DEADLINE * 0.9


async def test_connections_past_the_cap_are_refused_and_open_ones_served() -> None:
    cap = 4
    env = {
        "PARLOUR_MAX_CONNECTIONS": str(cap),
        # The idle connections below must outlive the test.
        "PARLOUR_HEADER_TIMEOUT_SECONDS": "60",
        "PARLOUR_KEEPALIVE_TIMEOUT_SECONDS": "60",
    }
    with start_server(env) as server:
        async with org_factory(server) as factory, contextlib.AsyncExitStack() as idle:
            org = await factory.create(["Capped Admin"])  # logged in: one kept-alive connection
            for _ in range(cap - 1):
                await idle.enter_async_context(_raw(server))
            # Accepted after the idle ones (the listen queue is FIFO): over the cap.
            async with _raw(server) as (reader, writer):
                writer.write(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
                await writer.drain()
                answer = await _until_closed(reader, 5)
            assert answer.startswith(b"HTTP/1.1 503 "), answer
            assert b"retry-after: 1" in answer.lower()
            body = orjson.loads(answer.split(b"\r\n\r\n", 1)[1])
            assert body["error"]["code"] == "unavailable"
            # The user's connection, open before the cap was reached, is still served.
            me = await org[0].client.me()
            assert me.id == org[0].user_id


def _socket(member: Member) -> Any:
    assert member.client.token is not None
    headers = {"Authorization": f"Bearer {member.client.token}"}
    return connect(events_url(member.client.base_url), additional_headers=headers)


async def _hello_or_close_code(ws: ClientConnection) -> int | None:
    """None if the socket says hello; else the code it was closed with."""
    try:
        async with asyncio.timeout(10):
            frame = orjson.loads(await ws.recv())
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd is not None else -1
    assert frame["type"] == "hello", frame
    return None


async def _next_message(ws: ClientConnection, message_id: str) -> None:
    async with asyncio.timeout(10):
        while True:
            frame = orjson.loads(await ws.recv())
            if frame["type"] == "message.created" and frame["message"]["id"] == message_id:
                return


async def test_a_users_socket_past_the_cap_is_closed_with_4429(quota_orgs: OrgFactory) -> None:
    org = await quota_orgs.create(["Socket Admin", "Socket Peer"])
    user, peer = org[0], org[1]
    room = await peer.client.create_direct(user.user_id)
    async with contextlib.AsyncExitStack() as stack:
        sockets = [await stack.enter_async_context(_socket(user)) for _ in range(SOCKETS_PER_USER)]
        for ws in sockets:
            assert await _hello_or_close_code(ws) is None
        extra = await stack.enter_async_context(_socket(user))
        assert await _hello_or_close_code(extra) == 4429
        # Another user is not counted against this one.
        peer_socket = await stack.enter_async_context(_socket(peer))
        assert await _hello_or_close_code(peer_socket) is None
        # The sockets within the cap keep working.
        sent = await peer.client.send_message(room.id, "still there?")
        for ws in sockets:
            await _next_message(ws, sent.id)
        # A closed socket frees its place (the server counts it off once its handler ends).
        await sockets.pop().close()
        async with asyncio.timeout(10):
            while True:
                again = await stack.enter_async_context(_socket(user))
                code = await _hello_or_close_code(again)
                if code is None:
                    break
                assert code == 4429


async def test_sockets_arriving_together_are_capped_exactly(quota_orgs: OrgFactory) -> None:
    org = await quota_orgs.create(["Crowd Admin"])
    async with contextlib.AsyncExitStack() as stack:
        sockets = await asyncio.gather(
            *(stack.enter_async_context(_socket(org[0])) for _ in range(SOCKETS_PER_USER + 3))
        )
        codes = await asyncio.gather(*(_hello_or_close_code(ws) for ws in sockets))
    assert sorted(codes, key=str) == [4429] * 3 + [None] * SOCKETS_PER_USER


async def test_a_rest_send_flood_gets_429_and_stores_only_what_was_accepted(
    quota_orgs: OrgFactory,
) -> None:
    org = await quota_orgs.create(["Flood Admin", "Flood Peer"])
    flooder, peer = org[0], org[1]
    room = await flooder.client.create_group("Flooded", [peer.user_id])
    accepted: list[str] = []
    refused: list[ParlourAPIError] = []
    for n in range(SEND_BURST + 4):
        try:
            sent = await flooder.client.send_message(room.id, f"flood {n}", client_id=f"fl-{n}")
        except ParlourAPIError as error:
            refused.append(error)
        else:
            accepted.append(sent.id)
    assert len(accepted) == SEND_BURST
    assert len(refused) == 4
    for refusal in refused:
        assert (refusal.status, refusal.code) == (429, "rate_limited")
        assert refusal.retry_after is not None  # the Retry-After header
        assert refusal.retry_after >= 1
    # Per user: someone else in the same room still sends.
    other = await peer.client.send_message(room.id, "my turn")
    stored = await peer.client.list_messages(room.id)
    assert sorted(m.id for m in stored) == sorted([*accepted, other.id])
