"""This process's sockets, and the loop that fans the stream out to them.

The hub tails the event stream in order (woken by the bus, or by its own poll when the bus is
quiet or down) and hands each event's frame, encoded once, to the local subscribers entitled to it.
It knows, for each local user, the rooms whose events they receive at the hub's position; the
stream's own membership events keep that map exact as it advances.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable

from parlour.actions.auth_cache import AuthCache
from parlour.events import stream
from parlour.events.stream import StoredEvent
from parlour.events.types import (
    INTERNAL_TYPES,
    MEMBERSHIP_TYPES,
    MembershipNotice,
    RoomMemberRemoved,
    SessionRevoked,
    UserChanged,
)
from parlour.storage import rooms as room_queries
from parlour.storage.engine import Database

log = logging.getLogger(__name__)

BATCH = 1000


class Subscriber:
    """One socket's outbox. Small on purpose: tens of thousands of these live in one process."""

    __slots__ = (
        "_wake",
        "close_code",
        "closed",
        "floor",
        "max_frames",
        "on_close",
        "outbox",
        "session_id",
        "user_id",
    )

    def __init__(self, user_id: str, session_id: str, max_frames: int) -> None:
        self.user_id = user_id
        self.session_id = session_id
        self.outbox: deque[str] = deque()
        self._wake = asyncio.Event()
        self.closed = False
        self.close_code = 1000
        self.max_frames = max_frames
        # Durable events at or below this id were already sent (replay) and are skipped.
        self.floor = 0
        self.on_close: Callable[[int], None] | None = None

    def push(self, frame: str, event_id: int = 0) -> None:
        if self.closed or (event_id and event_id <= self.floor):
            return
        if len(self.outbox) >= self.max_frames:
            # A slow consumer: drop it rather than grow without bound; it resumes by cursor.
            self.close(4008)
            return
        self.outbox.append(frame)
        self._wake.set()

    def close(self, code: int) -> None:
        if not self.closed:
            self.closed = True
            self.close_code = code
            self._wake.set()
            if self.on_close is not None:
                self.on_close(code)

    async def next_frames(self) -> list[str]:
        """Wait for frames; an empty list means the subscriber was closed."""
        while not self.outbox and not self.closed:
            self._wake.clear()
            await self._wake.wait()
        if self.closed:
            return []
        frames = list(self.outbox)
        self.outbox.clear()
        return frames


class Hub:
    def __init__(
        self,
        db: Database,
        epoch: str,
        *,
        poll_seconds: float,
        auth_cache: AuthCache | None = None,
    ) -> None:
        self._db = db
        # Invalidated by the internal events this hub passes (parlour.actions.auth_cache).
        self._auth_cache = auth_cache
        self.epoch = epoch
        self._poll = poll_seconds
        self.position = 0
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.by_user: dict[str, set[Subscriber]] = {}
        self.user_rooms: dict[str, set[str]] = {}
        self.room_users: dict[str, set[str]] = {}
        self._attaching: list[tuple[Subscriber, asyncio.Future[int]]] = []
        self._attacher: asyncio.Task[None] | None = None
        self.delivered = 0

    async def start(self) -> None:
        async with self._db.read_session() as session:
            self.position = await stream.current_position(session)
        if self._auth_cache is not None:
            self._auth_cache.follow()
        self._task = asyncio.create_task(self._run(), name="parlour-hub")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._auth_cache is not None:
            self._auth_cache.unfollow()
        for subscribers in list(self.by_user.values()):
            for subscriber in list(subscribers):
                subscriber.close(1012)  # service restart: clients reconnect and resume

    def on_stream_advanced(self, position: int) -> None:
        if position > self.position:
            self._wake.set()

    async def _run(self) -> None:
        while True:
            # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancellation.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._poll):
                    await self._wake.wait()
            self._wake.clear()
            try:
                await self.catch_up()
            except Exception:
                # The database is down or failing: keep polling; nothing is lost, only later.
                log.warning("hub could not read the stream", exc_info=True)

    async def catch_up(self) -> None:
        while True:
            async with self._lock:
                events = await stream.fetch_after(self._db.hot, self.position, BATCH)
                for event in events:
                    self._dispatch(event)
                    self.position = event.id
            if len(events) < BATCH:
                return

    def _dispatch(self, event: StoredEvent) -> None:
        if event.user_id is not None:
            subscribers = self.by_user.get(event.user_id)
            if event.type in INTERNAL_TYPES:
                # Before the sockets check: the auth cache may hold users without a socket here.
                self._internal(event, event.user_id, subscribers or set())
                return
            if not subscribers:
                return
            if event.type in MEMBERSHIP_TYPES:
                self._track_membership(event)
            frame = event.frame_text(self.epoch)
            for subscriber in list(subscribers):
                subscriber.push(frame, event.id)
                self.delivered += 1
            return
        if event.type in MEMBERSHIP_TYPES:
            self._track_room_membership(event)
        users = self.room_users.get(event.room_id or "")
        if not users:
            return
        # One text for every socket: the stored payload spliced once, never parsed.
        frame = event.frame_text(self.epoch)
        for user_id in list(users):
            for subscriber in list(self.by_user.get(user_id, ())):
                subscriber.push(frame, event.id)
                self.delivered += 1

    def _track_membership(self, event: StoredEvent) -> None:
        assert event.user_id is not None
        notice = MembershipNotice.model_validate_json(event.payload)
        if event.type == RoomMemberRemoved.TYPE and notice.user_id == event.user_id:
            self._leave(event.user_id, notice.room.id)
        else:
            self._join(event.user_id, notice.room.id)

    def _track_room_membership(self, event: StoredEvent) -> None:
        """A group's room-wide membership event lists its members at that position: exactly
        the local users who receive this and later events of the room."""
        assert event.room_id is not None
        notice = MembershipNotice.model_validate_json(event.payload)
        members = {user.id for user in notice.room.members}
        for user_id in list(self.room_users.get(event.room_id, ())):
            if user_id not in members:
                self._leave(user_id, event.room_id)
        for user_id in members:
            if user_id in self.by_user:
                self._join(user_id, event.room_id)

    def _internal(self, event: StoredEvent, user_id: str, subscribers: set[Subscriber]) -> None:
        cache = self._auth_cache
        if event.type == UserChanged.TYPE:
            if cache is not None:
                cache.drop_user(user_id)
        elif event.type == SessionRevoked.TYPE:
            revoked = SessionRevoked.model_validate_json(event.payload)
            only, keep = revoked.only, revoked.keep
            if cache is not None:
                cache.drop_sessions(user_id, only=only, keep=keep)
            for subscriber in list(subscribers):
                if (
                    only is None or subscriber.session_id == only
                ) and subscriber.session_id != keep:
                    subscriber.close(4401)

    def _join(self, user_id: str, room_id: str) -> None:
        self.user_rooms.setdefault(user_id, set()).add(room_id)
        self.room_users.setdefault(room_id, set()).add(user_id)

    def _leave(self, user_id: str, room_id: str) -> None:
        self.user_rooms.get(user_id, set()).discard(room_id)
        users = self.room_users.get(room_id)
        if users is not None:
            users.discard(user_id)
            if not users:
                del self.room_users[room_id]

    async def attach(self, subscriber: Subscriber) -> int:
        """Register a subscriber; returns the position from which it receives live events.

        Attaching runs under the hub's lock, so no batch is dispatched between reading the
        position and loading the user's rooms at that exact position. Sockets that arrive
        together (a reconnect storm after a restart) are attached together: one rooms query for
        all of them instead of one each, in turn, under the lock.
        """
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._attaching.append((subscriber, future))
        if self._attacher is None or self._attacher.done():
            self._attacher = asyncio.create_task(self._attach_waiting(), name="parlour-attach")
        return await future

    async def _attach_waiting(self) -> None:
        while self._attaching:
            async with self._lock:
                batch, self._attaching = self._attaching, []
                try:
                    await self._load_rooms({s.user_id for s, _ in batch} - self.user_rooms.keys())
                except Exception as error:
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(error)
                    continue
                for subscriber, future in batch:
                    if future.done():  # the socket went away while waiting
                        continue
                    self.by_user.setdefault(subscriber.user_id, set()).add(subscriber)
                    future.set_result(self.position)
                for subscriber, _ in batch:
                    if subscriber.user_id not in self.by_user:
                        self._forget(subscriber.user_id)  # rooms loaded for a socket now gone

    async def _load_rooms(self, user_ids: set[str]) -> None:
        if not user_ids:
            return
        async with self._db.read_session() as session:
            rooms = await room_queries.rooms_at_position_of_users(session, user_ids, self.position)
        for user_id in user_ids:
            self.user_rooms.setdefault(user_id, set())  # known, even with no rooms yet
            for room_id in rooms.get(user_id, ()):
                self._join(user_id, room_id)

    def detach(self, subscriber: Subscriber) -> None:
        user_id = subscriber.user_id
        subscribers = self.by_user.get(user_id)
        if subscribers is None:
            return
        subscribers.discard(subscriber)
        if not subscribers:
            del self.by_user[user_id]
            self._forget(user_id)

    def _forget(self, user_id: str) -> None:
        """Drop a user without local sockets from the maps: only events keep them exact."""
        for room_id in self.user_rooms.pop(user_id, set()):
            users = self.room_users.get(room_id)
            if users is not None:
                users.discard(user_id)
                if not users:
                    del self.room_users[room_id]

    def send_to_room(self, room_id: str, frame: str, *, exclude: str | None = None) -> None:
        """An ephemeral frame (typing) to this process's sockets in a room."""
        for user_id in list(self.room_users.get(room_id, ())):
            if user_id == exclude:
                continue
            for subscriber in list(self.by_user.get(user_id, ())):
                subscriber.push(frame)

    def send_to_user(self, user_id: str, frame: str) -> None:
        for subscriber in list(self.by_user.get(user_id, ())):
            subscriber.push(frame)

    def local_users(self) -> list[str]:
        return list(self.by_user)

    def is_local(self, user_id: str) -> bool:
        return user_id in self.by_user
