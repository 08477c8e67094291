"""Test support for `parlour serve --workers N`: reach a chosen worker, REST or WebSocket.

The workers share one listening socket and the kernel picks who accepts each connection, so a
connection is pinned by asking first: a `GET /healthz` names its worker (`X-Parlour-Process`),
and a connection of the wrong worker is dropped before it did anything else. A WebSocket is then
opened on the very connection that asked (an upgrade on a kept-alive connection), so a socket
never appears, even briefly, on another worker.
"""

from __future__ import annotations

import asyncio
import socket
import time
from dataclasses import dataclass
from urllib.parse import urlencode

import httpx
from websockets.asyncio.client import ClientConnection, connect

from parlour.client import ParlourClient
from parlour.client.events import Event, events_url, parse_frame
from parlour.server import PROCESS_HEADER
from tests.support import ServerProcess

# Long enough for a loaded machine to start both workers.
START_SECONDS = 90.0


def _probe(port: int) -> tuple[socket.socket, str]:
    """A new connection and the worker that answered `GET /healthz` on it (kept alive)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("closed before answering")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    headers = dict(
        line.decode().lower().split(": ", 1) for line in head.split(b"\r\n")[1:] if b": " in line
    )
    length = int(headers["content-length"])
    while len(body) < length:
        body += sock.recv(4096)
    return sock, headers[PROCESS_HEADER.lower()]


def _connection_to(port: int, worker: str | None, deadline: float) -> tuple[socket.socket, str]:
    while True:
        try:
            sock, answered = _probe(port)
        except OSError:
            if time.monotonic() > deadline:
                raise
            continue  # a worker restarting under us
        if worker is None or answered == worker:
            return sock, answered
        sock.close()
        if time.monotonic() > deadline:
            raise TimeoutError(f"no connection reached worker {worker}")


def workers_of(
    server: ServerProcess, count: int = 2, exclude: frozenset[str] = frozenset()
) -> list[str]:
    """The process ids of `count` workers answering on `server` (new connections until seen)."""
    deadline = time.monotonic() + START_SECONDS
    seen: set[str] = set()
    while len(seen - exclude) < count:
        sock, worker = _connection_to(server.port, None, deadline)
        sock.close()
        seen.add(worker)
        if time.monotonic() > deadline:
            raise TimeoutError(f"workers answering: {seen}")
    return sorted(seen - exclude)


@dataclass
class PinnedSocket:
    """An event WebSocket on a known worker."""

    ws: ClientConnection
    worker: str
    hello: Event

    async def next(self, frame_type: str, timeout: float) -> Event:
        """The next frame of `frame_type` (others are skipped)."""
        async with asyncio.timeout(timeout):
            while True:
                event = parse_frame(await self.ws.recv())
                if event.type == frame_type:
                    return event

    async def durable(self, count: int, timeout: float) -> list[Event]:
        """The next `count` durable events."""
        events: list[Event] = []
        async with asyncio.timeout(timeout):
            while len(events) < count:
                event = parse_frame(await self.ws.recv())
                if event.durable:
                    events.append(event)
        return events

    async def close(self) -> None:
        await self.ws.close()


async def socket_on(
    server: ServerProcess, token: str, worker: str, since: str | None = None
) -> PinnedSocket:
    """An event WebSocket of `token` opened on `worker` and nowhere else."""
    deadline = time.monotonic() + START_SECONDS
    sock, _ = await asyncio.to_thread(_connection_to, server.port, worker, deadline)
    url = events_url(server.base_url)
    if since is not None:
        url = f"{url}?{urlencode({'since': since})}"
    ws = await connect(url, sock=sock, additional_headers={"Authorization": f"Bearer {token}"})
    assert ws.response is not None
    assert ws.response.headers[PROCESS_HEADER] == worker
    hello = parse_frame(await ws.recv())
    assert hello.type == "hello"
    return PinnedSocket(ws, worker, hello)


class RecordingTransport(httpx.AsyncHTTPTransport):
    """Remembers which worker answered each request."""

    def __init__(self) -> None:
        super().__init__()
        self.workers: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await super().handle_async_request(request)
        self.workers.append(response.headers.get(PROCESS_HEADER, ""))
        return response


async def client_on(
    server: ServerProcess, token: str, worker: str
) -> tuple[ParlourClient, RecordingTransport]:
    """A REST client of `token` whose kept-alive connection reached `worker`.

    Later requests stay there while the connection lives (the transport records where each
    went, so a test asserts on what happened, not on what was meant)."""
    deadline = time.monotonic() + START_SECONDS
    while True:
        transport = RecordingTransport()
        client = ParlourClient(server.base_url, token, transport=transport)
        await client.healthz()
        if transport.workers[-1] == worker:
            return client, transport
        await client.aclose()
        if time.monotonic() > deadline:
            raise TimeoutError(f"no REST connection reached worker {worker}")
