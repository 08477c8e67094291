"""The one container of long-lived things, opened in one place (`open_services`).

Everything in it is known when it is built: the database is migrated, the writer runs and the
stream's epoch is read before the container exists, so no field is filled in later.
"""

from __future__ import annotations

import functools
import os
import socket
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from argon2 import PasswordHasher

from parlour.actions.auth_cache import AuthCache
from parlour.clock import Clock, SystemClock
from parlour.config import Limits, Settings
from parlour.events import stream
from parlour.events.bus import Bus
from parlour.events.presence import PresenceTracker
from parlour.ids import new_id, new_secret
from parlour.storage.coalesce import Coalescer
from parlour.storage.engine import Database, open_database
from parlour.storage.migrate import upgrade
from parlour.storage.writer import WriteContext, Writer

if TYPE_CHECKING:
    from parlour.actions.link_previews import LinkPreviews


@dataclass
class Services:
    settings: Settings
    db: Database
    writer: Writer
    clock: Clock
    presence: PresenceTracker
    bus: Bus
    hasher: PasswordHasher
    # The stream's epoch (the prefix of every cursor), read from the database at open.
    epoch: str
    # Folds concurrent plain sends into one write (parlour.actions.sending makes it on first use).
    send_coalescer: Coalescer[Any, Any] | None = None
    # Link previews' queue and fetches of this process (parlour.actions.link_previews makes it
    # on the first message with a link).
    link_previews: LinkPreviews | None = None
    # Token → actor, per process (parlour.actions.auth_cache); serves once a hub follows the stream.
    auth_cache: AuthCache = field(default_factory=AuthCache)
    # Keys the server made once and keeps in the database (parlour.away.secrets), read once.
    secrets: dict[str, str] = field(default_factory=dict)
    process_id: str = field(
        default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}:{new_id()[:6]}"
    )

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


async def open_services(
    settings: Settings, clock: Clock | None = None, *, migrate: bool = True
) -> Services:
    """The services, with the database migrated (unless `migrate` is off: another process did
    it), the writer started and the epoch read. Close with `close_services`."""
    clock = clock or SystemClock()
    if settings.resolved_database_url().startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = open_database(
        settings.resolved_database_url(), sqlite_synchronous=settings.sqlite_synchronous
    )
    if migrate:
        await upgrade(db.writer)
    bus: Bus
    if settings.redis_url:
        from parlour.events.redis_bus import RedisBus

        bus = RedisBus(settings.redis_url)
    else:
        # The processes of this machine (`serve --workers N`, a CLI command beside a server)
        # share wake-ups, presence and typing through sockets in the data dir. Until started it
        # delivers only to this process, like InProcessBus.
        from parlour.events.local_bus import LocalBus

        bus = LocalBus(settings.data_dir / "bus")
    writer = Writer(db, clock, on_commit=lambda event_id: bus.stream_advanced(event_id))
    writer.start()

    async def read_epoch(ctx: WriteContext) -> str:
        return await stream.ensure_epoch(ctx.session)

    try:
        epoch = await writer.run(read_epoch)
    except BaseException:
        await writer.stop()
        await db.dispose()
        raise
    return Services(
        settings=settings,
        db=db,
        writer=writer,
        clock=clock,
        presence=PresenceTracker(
            clock,
            away_seconds=settings.presence_away_seconds,
            grace_seconds=settings.presence_grace_seconds,
        ),
        bus=bus,
        # argon2id with the library's RFC 9106 low-memory defaults.
        hasher=PasswordHasher(),
        epoch=epoch,
    )


async def close_services(services: Services) -> None:
    """Let queued writes finish, then close the database."""
    if services.link_previews is not None:  # previews not yet written are lost (documented)
        await services.link_previews.stop()
    await services.writer.stop()
    await services.db.dispose()
