"""EventStream: a resumable reader of the realtime feed `GET /api/v1/events` (WebSocket).

The contract's promise is "no gap, no duplicate" across reconnects, provided the client resumes
with `since=<cursor of the last durable event it processed>`. This module keeps that cursor and
reconnects on its own, so a consumer simply iterates and never sees the seams.

The client deliberately does not de-duplicate or reorder: cursors are opaque and must not be
compared, and tests rely on this stream to report exactly what the server sent.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlencode, urlsplit, urlunsplit

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from parlour.client.backoff import Backoff
from parlour.client.errors import ConnectionLost, ProtocolError, SessionRevoked
from parlour.client.models import Message, Room

# Close code the server uses when the session's token is revoked (logout, password change,
# deactivation). Reconnecting could never succeed, so it ends the stream instead.
REVOKED_CLOSE_CODE = 4401
# Room payloads list every member (up to 1,000 of them); websockets' 1 MiB default is too tight.
MAX_FRAME_BYTES = 16 * 1024 * 1024
# Frames that carry a cursor but are not durable events: not a resume point.
_NOT_DURABLE = frozenset({"hello", "resync_required"})


@dataclass(frozen=True, slots=True)
class Event:
    """One server frame. `data` is the whole frame as sent (it includes `type` and `cursor`)."""

    type: str
    cursor: str | None
    data: dict[str, Any]

    @property
    def durable(self) -> bool:
        """Whether this frame is a resume point (a durable event from the stream)."""
        return self.cursor is not None and self.type not in _NOT_DURABLE

    @property
    def message(self) -> Message:
        """The `message` payload of message.* and ack frames, validated."""
        return Message.model_validate(self.data["message"])

    @property
    def room(self) -> Room:
        """The `room` payload of room.* frames, validated."""
        return Room.model_validate(self.data["room"])

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)


def parse_frame(raw: str | bytes) -> Event:
    """Decode one server frame; anything but a JSON object with a string `type` is a bug."""
    try:
        obj: Any = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ProtocolError(f"frame is not JSON: {raw[:100]!r}") from exc
    if not isinstance(obj, dict) or not isinstance(obj.get("type"), str):
        raise ProtocolError(f"frame is not an object with a type: {raw[:100]!r}")
    cursor = obj.get("cursor")
    return Event(type=obj["type"], cursor=cursor if isinstance(cursor, str) else None, data=obj)


def events_url(base_url: str) -> str:
    """The WebSocket URL of the event feed for a server whose HTTP root is `base_url`."""
    parts = urlsplit(base_url)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    return urlunsplit((scheme, parts.netloc, parts.path.rstrip("/") + "/api/v1/events", "", ""))


Predicate = Callable[[Event], bool] | str


class EventStream:
    """Async iterator (and async context manager) over every server frame, reconnecting as needed.

    Every frame is yielded, including each connection's `hello` (so a consumer can tell a
    reconnect happened) and `resync_required` (the consumer must then reload its state over REST;
    the stream carries on from that connection's hello cursor). Iteration ends when `close()` is
    called; it raises `SessionRevoked` on close code 4401, and `ConnectionLost` on any other loss
    when `reconnect=False`.

    One task should iterate; `send`/`typing`/`read`/`ping` may be called from other tasks.
    """

    def __init__(
        self,
        url: str,
        token: str | None = None,
        *,
        since: str | None = None,
        reconnect: bool = True,
        backoff: Backoff | None = None,
        open_timeout: float = 10.0,
    ) -> None:
        self.url = url
        self._token = token
        self._last_cursor = since
        self.reconnect = reconnect
        self._backoff = backoff or Backoff()
        self._open_timeout = open_timeout
        self._ws: ClientConnection | None = None
        # Serializes (re)connecting, so a failing send and the reader never open two sockets.
        self._lock = asyncio.Lock()
        self._closing = asyncio.Event()
        # Hellos read while connecting, handed to the consumer before the frames that follow them.
        self._pending: deque[Event] = deque()
        self._hello: Event | None = None
        self._connected_once = False
        self._failures = 0
        self.reconnects = 0

    @property
    def last_cursor(self) -> str | None:
        """Where a reconnect resumes: the last durable event yielded, else the hello's cursor."""
        return self._last_cursor

    @property
    def hello(self) -> Event | None:
        """The latest connection's hello frame (its `user` is the logged-in user)."""
        return self._hello

    @property
    def closed(self) -> bool:
        return self._closing.is_set()

    async def connect(self) -> None:
        """Open the socket and read its hello; once this returns, new events will be delivered.

        The first connection fails fast (a wrong URL or token should surface at once); only later
        losses are retried.
        """
        if await self._connection() is None:
            raise ConnectionLost("event stream is closed")

    async def close(self) -> None:
        """Stop the stream: a pending or later iteration ends, reconnect attempts stop."""
        self._closing.set()
        ws = self._ws
        if ws is not None:
            await ws.close()

    async def __aenter__(self) -> Self:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Event:
        while True:
            if self.closed:
                raise StopAsyncIteration
            if self._pending:
                return self._pending.popleft()
            ws = await self._connection()
            if ws is None:
                raise StopAsyncIteration
            try:
                raw = await ws.recv()
            except ConnectionClosed as exc:
                await self._recover(ws, exc)
                continue
            event = parse_frame(raw)
            self._note_yielded(event)
            return event

    # A timeout parameter (ASYNC109) is the point of this helper: tests wait on events, not sleeps.
    async def wait_for(self, predicate: Predicate, timeout: float = 5.0) -> Event:  # noqa: ASYNC109
        """Consume frames until one matches `predicate` (a callable, or a frame type) and return it.

        Frames that do not match are consumed and dropped. Raises TimeoutError after `timeout`
        seconds; cancelling mid-wait loses no frame (websockets' recv is cancellation-safe).
        """
        match = (lambda e: e.type == predicate) if isinstance(predicate, str) else predicate
        async with asyncio.timeout(timeout):
            async for event in self:
                if match(event):
                    return event
        raise ConnectionLost("event stream closed before a matching frame arrived")

    async def send(
        self, room_id: str, content: str, client_id: str, reply_to: str | None = None
    ) -> None:
        """Post a message (a reply in `reply_to`'s thread, if given) over the socket; the answer
        comes later as an `ack` (or `error`) frame.

        If the socket is down this waits for the reconnect and writes then; that is safe because
        the server de-duplicates by `client_id`.
        """
        frame = {"type": "send", "room_id": room_id, "content": content, "client_id": client_id}
        if reply_to is not None:
            frame["reply_to"] = reply_to
        await self._send_frame(frame)

    async def typing(self, room_id: str) -> None:
        await self._send_frame({"type": "typing", "room_id": room_id})

    async def read(self, room_id: str, message_id: str) -> None:
        await self._send_frame({"type": "read", "room_id": room_id, "message_id": message_id})

    async def ping(self) -> None:
        await self._send_frame({"type": "ping"})

    async def _send_frame(self, frame: dict[str, Any]) -> None:
        data = orjson.dumps(frame).decode()
        while True:
            ws = await self._connection()
            if ws is None:
                raise ConnectionLost("event stream is closed")
            try:
                await ws.send(data)
            except ConnectionClosed as exc:
                await self._recover(ws, exc)
                continue
            return

    def _note_yielded(self, event: Event) -> None:
        """Advance the resume point for a frame about to reach the consumer."""
        # A frame after hello shows the connection works, so later losses start the backoff anew.
        self._failures = 0
        if event.type == "resync_required":
            # The cursor we sent was unknown or too old: the consumer reloads over REST and the
            # stream continues from this connection's hello cursor, as the contract says.
            self._last_cursor = self._hello.cursor if self._hello is not None else None
        elif event.durable:
            self._last_cursor = event.cursor

    async def _connection(self) -> ClientConnection | None:
        """The open socket, connecting first if there is none; None once the stream is closed."""
        ws = self._ws
        if ws is not None:
            return ws
        async with self._lock:
            if self._ws is None and not self.closed:
                if self._connected_once:
                    # Only reached if an earlier reconnect was cancelled midway.
                    await self._reopen()
                else:
                    await self._open()
            return self._ws

    async def _recover(self, failed: ClientConnection, exc: ConnectionClosed) -> None:
        """Handle the loss of `failed`: reconnect, or raise if the stream must end."""
        async with self._lock:
            if self._ws is not failed:
                return  # another task already reconnected
            self._ws = None
            if self.closed:
                return
            if exc.rcvd is not None and exc.rcvd.code == REVOKED_CLOSE_CODE:
                self._closing.set()
                raise SessionRevoked(exc.rcvd.reason or "session revoked") from exc
            if not self.reconnect:
                self._closing.set()
                code = exc.rcvd.code if exc.rcvd is not None else None
                reason = exc.rcvd.reason if exc.rcvd is not None else ""
                raise ConnectionLost("event stream lost", code, reason) from exc
            await self._reopen()

    async def _reopen(self) -> None:
        """Reconnect until it works or the stream is closed. Precondition: holds self._lock."""
        while not self.closed:
            delay = self._backoff.delay(self._failures)
            self._failures += 1
            # Sleep, but wake at once if close() is called meanwhile.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), delay)
            if self.closed:
                return
            try:
                await self._open()
            except SessionRevoked:
                self._closing.set()
                raise
            except (OSError, TimeoutError, InvalidHandshake, ConnectionClosed):
                # Server restarting, overloaded, or dropped us mid-handshake: try again later.
                continue
            self.reconnects += 1
            return

    async def _open(self) -> None:
        """Open one socket resuming from `last_cursor`, and read its hello.

        Precondition: holds self._lock. Leaves `_ws` unset if anything fails.
        """
        url = self.url
        if self._last_cursor is not None:
            url = f"{url}?{urlencode({'since': self._last_cursor})}"
        headers = {"Authorization": f"Bearer {self._token}"} if self._token else {}
        try:
            ws = await connect(
                url,
                additional_headers=headers,
                open_timeout=self._open_timeout,
                max_size=MAX_FRAME_BYTES,
            )
        except InvalidStatus as exc:
            if exc.response.status_code == 401:
                raise SessionRevoked("token rejected (HTTP 401)") from exc
            raise
        try:
            async with asyncio.timeout(self._open_timeout):
                hello = parse_frame(await ws.recv())
            if hello.type != "hello":
                raise ProtocolError(f"first frame is {hello.type!r}, not hello")
        except ConnectionClosed as exc:
            if exc.rcvd is not None and exc.rcvd.code == REVOKED_CLOSE_CODE:
                raise SessionRevoked(exc.rcvd.reason or "session revoked") from exc
            raise
        except BaseException:
            # Timeout, protocol error or cancellation: never leak a half-open socket.
            ws.transport.abort()
            raise
        if self.closed:
            await ws.close()
            return
        self._ws = ws
        self._hello = hello
        self._connected_once = True
        self._pending.append(hello)
        if self._last_cursor is None:
            # Nothing processed yet: the hello's cursor is "now", the start of what we will see.
            self._last_cursor = hello.cursor
