"""Fresh databases and in-process services for the retention tests.

Housekeeping acts on whole tables, so each test gets a database of its own: a SQLite file in a
temporary directory, or a new PostgreSQL database on the server PARLOUR_TEST_DATABASE_URL names
(dropped afterwards). Time comes from a FakeClock, so "a day later" is one call, not a wait.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from parlour.actions.context import Actor
from parlour.actions.users import do_create_org, do_create_user
from parlour.clock import FakeClock
from parlour.config import Settings
from parlour.ids import hash_secret, new_id, new_secret
from parlour.services import Services, open_services
from parlour.storage.models import Session
from parlour.storage.writer import WriteContext

PASSWORD = "correct horse battery"


def settings_for(database_url: str, data_dir: Path) -> Settings:
    return Settings(
        data_dir=data_dir,
        database_url=database_url,
        redis_url="",
        attachments_dir=data_dir / "attachments",
    )


async def start_services(
    database_url: str, data_dir: Path, clock: FakeClock, *, migrate: bool = True
) -> Services:
    """Started services without the realtime hub: the writer, the database, the clock."""
    return await open_services(settings_for(database_url, data_dir), clock, migrate=migrate)


def now_clock() -> FakeClock:
    """A fake clock that starts at the real time, so files' real mtimes compare sensibly."""
    return FakeClock(datetime.now(UTC))


async def write(services: Services, job: Callable[[WriteContext], Awaitable[Any]]) -> Any:
    return await services.writer.run(job)


async def new_session(services: Services, user_id: str, org_id: str) -> tuple[Actor, str]:
    """A logged-in session made directly (no login throttle involved): its actor and token."""
    token, session_id = new_secret(), new_id()

    async def job(ctx: WriteContext) -> None:
        ctx.session.add(
            Session(
                id=session_id,
                token_hash=hash_secret(token),
                csrf_token=new_secret(),
                user_id=user_id,
                created_at=ctx.clock.now(),
            )
        )

    await services.writer.run(job)
    return Actor(user_id=user_id, org_id=org_id, is_admin=False, session_id=session_id), token


async def new_org(services: Services, names: list[str]) -> list[Actor]:
    """An organization whose users each have a live session."""
    org_id = await do_create_org(services, f"Org {new_id()}")
    actors = []
    for index, full_name in enumerate(names):
        user = await do_create_user(
            services,
            org_id,
            email=f"{full_name.lower()}.{new_id().lower()}@example.test",
            full_name=full_name,
            password=PASSWORD,
            is_admin=index == 0,
        )
        actor, _ = await new_session(services, user.id, org_id)
        actors.append(actor)
    return actors


async def chunks(data: bytes) -> AsyncIterator[bytes]:
    yield data
