"""In-process services on a FakeClock and a real database, for tests of time-dependent behaviour.

The database is a fresh SQLite file, or PARLOUR_TEST_DATABASE_URL's PostgreSQL database when the
suite runs against it (each test makes its own organization there, as the server tests do). Time
moves only when a test calls `clock.advance`: nothing here sleeps.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from argon2 import PasswordHasher

from parlour.actions.context import Actor
from parlour.actions.rooms import do_open_direct
from parlour.actions.users import do_create_org, do_create_user
from parlour.clock import FakeClock
from parlour.config import Settings
from parlour.events.hub import Hub, Subscriber
from parlour.events.realtime import Realtime
from parlour.ids import new_id
from parlour.services import Services, close_services, open_services
from parlour.storage.engine import Database, open_database
from parlour.storage.migrate import upgrade
from tests.support import PASSWORD

AWAY_SECONDS = 60
GRACE_SECONDS = 5.0
TYPING_SECONDS = 6.0
TYPING_THROTTLE_SECONDS = 2.0


def unit_settings(data_dir: Path) -> Settings:
    return Settings(
        data_dir=data_dir,
        database_url=os.environ.get("PARLOUR_TEST_DATABASE_URL", ""),
        presence_away_seconds=AWAY_SECONDS,
        presence_grace_seconds=GRACE_SECONDS,
        typing_seconds=TYPING_SECONDS,
        typing_throttle_seconds=TYPING_THROTTLE_SECONDS,
    )


@contextlib.asynccontextmanager
async def migrated_database() -> AsyncIterator[Database]:
    """A database at the newest schema, disposed of afterwards."""
    with tempfile.TemporaryDirectory(prefix="parlour-unit-") as tmp:
        settings = unit_settings(Path(tmp))
        db = open_database(settings.resolved_database_url())
        try:
            await upgrade(db.writer)
            yield db
        finally:
            await db.dispose()


@contextlib.asynccontextmanager
async def clocked_services(clock: FakeClock) -> AsyncIterator[Services]:
    """Services on `clock` over a migrated database, their writer running."""
    with tempfile.TemporaryDirectory(prefix="parlour-unit-") as tmp:
        services = await open_services(unit_settings(Path(tmp)), clock)
        # Users are made here by the dozen; a cheap hash keeps that to milliseconds.
        services.hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
        try:
            yield services
        finally:
            await close_services(services)


async def make_users(services: Services, *names: str) -> tuple[str, list[str]]:
    """A new organization and one user per name in it: (org id, user ids)."""
    org_id = await do_create_org(services, f"Org {new_id()}")
    ids: list[str] = []
    for name in names:
        user = await do_create_user(
            services,
            org_id,
            email=f"{name.lower()}.{new_id().lower()}@example.test",
            full_name=f"{name} Person",
            password=PASSWORD,
        )
        ids.append(user.id)
    return org_id, ids


def frames_of(outbox: Iterable[str], frame_type: str) -> list[dict[str, Any]]:
    """The frames of one type among the JSON frames in `outbox`, decoded."""
    decoded: list[dict[str, Any]] = [orjson.loads(frame) for frame in outbox]
    return [frame for frame in decoded if frame.get("type") == frame_type]


@dataclass
class World:
    """Ann and Bea share a direct room; Cal shares no room with either."""

    clock: FakeClock
    realtime: Realtime
    hub: Hub
    ann: str
    bea: str
    cal: str
    room_id: str

    async def connect(self, user_id: str) -> Subscriber:
        """What the WebSocket endpoint does for a new socket, minus the socket."""
        subscriber = Subscriber(user_id, new_id(), max_frames=100)
        await self.hub.attach(subscriber)
        self.realtime.socket_opened(user_id)
        return subscriber

    def disconnect(self, subscriber: Subscriber) -> None:
        self.hub.detach(subscriber)
        self.realtime.socket_closed(subscriber.user_id)


@contextlib.asynccontextmanager
async def realtime_world() -> AsyncIterator[World]:
    clock = FakeClock()
    async with clocked_services(clock) as services:
        org_id, (ann, bea, cal) = await make_users(services, "Ann", "Bea", "Cal")
        actor = Actor(user_id=ann, org_id=org_id, is_admin=False, session_id=new_id())
        room, _ = await do_open_direct(services, actor, bea)
        # A poll far longer than any test: the hub reads the stream when the bus says it moved.
        hub = Hub(services.db, services.epoch, poll_seconds=3600)
        await hub.start()
        # Not started: the test runs each presence tick itself, after moving the clock.
        realtime = Realtime(services, hub)
        services.bus.set_listener(realtime)
        try:
            yield World(clock, realtime, hub, ann, bea, cal, room.id)
        finally:
            await hub.stop()
