"""Realtime glue for one process: bus signals, presence announcements and typing.

Presence is computed where it is shown: each process keeps everyone's connectedness (its own
sockets plus heartbeats from other processes) and tells only its *own* sockets, and only those
who share a room with the user. Nothing quadratic crosses the bus; changes are coalesced by a
short tick.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from parlour.clock import iso
from parlour.domain.presence import Status
from parlour.events.bus import Bus
from parlour.events.hub import Hub
from parlour.events.types import PresenceUpdated, Typing
from parlour.services import Services
from parlour.storage import rooms as room_queries
from parlour.storage import users as user_queries
from parlour.storage.models import User
from parlour.storage.writer import WriteContext

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 5.0
HEARTBEAT_TTL = 15.0


def announce_status_change(bus: Bus, user_id: str) -> None:
    """A user chose a status: every process re-announces their presence to its own sockets."""
    bus.signal({"kind": "status", "user_id": user_id})


class Realtime:
    def __init__(self, services: Services, hub: Hub, *, tick_seconds: float = 0.5) -> None:
        self.services = services
        self.hub = hub
        self._tick = tick_seconds
        self._announced: dict[str, str] = {}
        self._chosen: dict[str, str] = {}
        self._dirty: set[str] = set()
        self._typing_sent: dict[tuple[str, str], float] = {}
        self._task: asyncio.Task[None] | None = None
        self._last_beat = 0.0

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        self.services.bus.set_listener(self)
        await self.services.bus.start()
        await self.hub.start()
        self._task = asyncio.create_task(self._presence_loop(), name="parlour-presence")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for user_id in self.hub.local_users():
            self.services.bus.signal(
                {"kind": "gone", "process": self.services.process_id, "user_id": user_id}
            )
        await self.hub.stop()
        await self.services.bus.stop()

    # -- bus listener ---------------------------------------------------------------------

    def on_stream_advanced(self, position: int) -> None:
        self.hub.on_stream_advanced(position)

    def on_signal(self, signal: dict[str, Any]) -> None:
        kind = signal.get("kind")
        presence = self.services.presence
        if kind == "typing":
            self.hub.send_to_room(signal["room_id"], signal["frame"], exclude=signal["user_id"])
        elif kind == "receipt":
            self.hub.send_to_room(signal["room_id"], signal["frame"])
        elif kind == "status":
            self._chosen.pop(signal["user_id"], None)
            self._dirty.add(signal["user_id"])
        elif signal.get("process") == self.services.process_id:
            return
        elif kind == "here":
            presence.remote_seen(signal["process"], signal["user_id"], False, HEARTBEAT_TTL)
            self._dirty.add(signal["user_id"])
        elif kind == "gone":
            presence.remote_gone(signal["process"], signal["user_id"])
            self._dirty.add(signal["user_id"])
        elif kind == "beat":
            for user_id, idle in signal["users"]:
                presence.remote_seen(signal["process"], user_id, idle, HEARTBEAT_TTL)
                self._dirty.add(user_id)

    # -- sockets --------------------------------------------------------------------------

    def socket_opened(self, user_id: str) -> None:
        # Called after hub.attach: this socket is already counted.
        first = self._local_count(user_id) == 1
        self.services.presence.socket_opened(user_id)
        self._dirty.add(user_id)
        if first:
            self.services.bus.signal(
                {"kind": "here", "process": self.services.process_id, "user_id": user_id}
            )

    def socket_closed(self, user_id: str) -> None:
        self.services.presence.socket_closed(user_id)
        self._dirty.add(user_id)
        if not self.hub.is_local(user_id):
            self.services.bus.signal(
                {"kind": "gone", "process": self.services.process_id, "user_id": user_id}
            )
            self._touch_last_seen(user_id)

    def _local_count(self, user_id: str) -> int:
        return len(self.hub.by_user.get(user_id, ()))

    def _touch_last_seen(self, user_id: str) -> None:
        async def job(ctx: WriteContext) -> None:
            await user_queries.touch_last_seen(ctx.session, user_id, ctx.clock.now())

        task = asyncio.create_task(self.services.writer.run(job))
        task.add_done_callback(lambda t: t.exception() if not t.cancelled() else None)

    # -- typing ---------------------------------------------------------------------------

    def typing(self, user_id: str, room_id: str) -> bool:
        """Relay a typing notice at most once per throttle window; False if not a member."""
        if room_id not in self.hub.user_rooms.get(user_id, set()):
            return False
        settings = self.services.settings
        now = self.services.clock.monotonic()
        key = (user_id, room_id)
        if now - self._typing_sent.get(key, -1e9) < settings.typing_throttle_seconds:
            return True
        self._typing_sent[key] = now
        self.services.presence.touch(user_id)
        until = iso(self.services.clock.now() + timedelta(seconds=settings.typing_seconds))
        frame = Typing(room_id=room_id, user_id=user_id, until=until).to_json()
        self.services.bus.signal(
            {"kind": "typing", "room_id": room_id, "user_id": user_id, "frame": frame}
        )
        return True

    # -- presence -------------------------------------------------------------------------

    async def _presence_loop(self) -> None:
        while True:
            await asyncio.sleep(self._tick)
            try:
                await self.presence_tick()
            except Exception:
                log.warning("presence tick failed", exc_info=True)

    async def presence_tick(self) -> None:
        presence = self.services.presence
        now = self.services.clock.monotonic()
        if now - self._last_beat >= HEARTBEAT_SECONDS:
            self._last_beat = now
            local = presence.local_users()
            if local:
                self.services.bus.signal(
                    {
                        "kind": "beat",
                        "process": self.services.process_id,
                        "users": [[u, presence.is_local_idle(u)] for u in local],
                    }
                )
            # Connected users go idle, and grace periods end, without any signal.
            self._dirty.update(local)
            self._dirty.update(u for u, s in self._announced.items() if s != "offline")
        candidates = self._dirty
        self._dirty = set()
        if not candidates:
            return
        await self._load_chosen(candidates)
        changed: dict[str, Status] = {}
        for user_id in candidates:
            chosen = self._chosen.get(user_id)
            if chosen is None:
                continue
            status = presence.status(user_id, chosen)
            if self._announced.get(user_id, "offline") != status:
                self._announced[user_id] = status
                changed[user_id] = status
            if status != "offline" or presence.is_connected(user_id):
                self._dirty.add(user_id)  # keep watching until settled offline
        if changed:
            await self._announce(changed)

    async def _load_chosen(self, user_ids: set[str]) -> None:
        missing = [u for u in user_ids if u not in self._chosen]
        if not missing:
            return
        async with self.services.db.read_session() as session:
            rows = await session.execute(
                select(User.id, User.status, User.is_active).where(User.id.in_(missing))
            )
            for user_id, status, active in rows:
                self._chosen[user_id] = status if active else "offline"

    async def _announce(self, changed: dict[str, Status]) -> None:
        """Tell this process's sockets of everyone whose status changed in this tick."""
        if not self.hub.by_user:
            return
        async with self.services.db.read_session() as session:
            audiences = await room_queries.presence_audiences(
                session,
                changed,
                max_room_members=self.services.settings.presence_room_members,
            )
        last_seen_at = iso(self.services.clock.now())
        for user_id, status in changed.items():
            frame = PresenceUpdated(
                user_id=user_id, status=status, last_seen_at=last_seen_at
            ).to_json()
            for viewer in audiences.get(user_id, ()):
                if self.hub.is_local(viewer):
                    self.hub.send_to_user(viewer, frame)
