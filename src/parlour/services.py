"""The one container of long-lived things, built in the app's lifespan (or by the CLI)."""

from __future__ import annotations

import functools
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from argon2 import PasswordHasher

from parlour.clock import Clock, SystemClock
from parlour.config import Limits, Settings
from parlour.events.bus import Bus, InProcessBus
from parlour.events.presence import PresenceTracker
from parlour.ids import new_id, new_secret
from parlour.storage.coalesce import Coalescer
from parlour.storage.engine import Database, open_database
from parlour.storage.writer import Writer


@dataclass
class Services:
    settings: Settings
    db: Database
    writer: Writer
    clock: Clock
    presence: PresenceTracker
    bus: Bus
    hasher: PasswordHasher
    epoch: str = ""
    # Folds concurrent plain sends into one write (parlour.actions.sending makes it on first use).
    send_coalescer: Coalescer[Any, Any] | None = None
    process_id: str = field(
        default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}:{new_id()[:6]}"
    )
    # Set by the realtime hub: a user's chosen status changed, re-announce their presence.
    on_presence_change: Callable[[str], None] = lambda user_id: None

    def presence_changed(self, user_id: str) -> None:
        self.on_presence_change(user_id)

    @functools.cached_property
    def dummy_password_hash(self) -> str:
        """Verified against when a login names no known user, so that costs what a wrong
        password costs and the timing does not tell which emails exist."""
        return self.hasher.hash(new_secret())

    @property
    def limits(self) -> Limits:
        return self.settings.limits

    @property
    def dialect(self) -> str:
        return "sqlite" if self.db.is_sqlite else "postgresql"


def build_services(settings: Settings, clock: Clock | None = None) -> Services:
    """Everything but the realtime hub, which `parlour.app` attaches (it needs a running loop)."""
    clock = clock or SystemClock()
    db = open_database(
        settings.resolved_database_url(), sqlite_synchronous=settings.sqlite_synchronous
    )
    bus: Bus
    if settings.redis_url:
        from parlour.events.redis_bus import RedisBus

        bus = RedisBus(settings.redis_url)
    else:
        bus = InProcessBus()
    services = Services(
        settings=settings,
        db=db,
        writer=Writer(db, clock, on_commit=lambda event_id: bus.stream_advanced(event_id)),
        clock=clock,
        presence=PresenceTracker(
            clock,
            away_seconds=settings.presence_away_seconds,
            grace_seconds=settings.presence_grace_seconds,
        ),
        bus=bus,
        # argon2id with the library's RFC 9106 low-memory defaults.
        hasher=PasswordHasher(),
    )
    return services
