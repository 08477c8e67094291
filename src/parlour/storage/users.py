"""User queries. Every lookup that serves a client is scoped to the viewer's organization."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import datetime

from sqlalchemy import bindparam, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from parlour.storage.models import User


def escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def by_email(session: AsyncSession, email: str) -> User | None:
    return await session.scalar(select(User).where(User.email == email.strip().lower()))


async def in_org(session: AsyncSession, org_id: str, user_id: str) -> User | None:
    return await session.scalar(select(User).where(User.id == user_id, User.org_id == org_id))


async def many_in_org(session: AsyncSession, org_id: str, user_ids: Iterable[str]) -> list[User]:
    ids = list(set(user_ids))
    if not ids:
        return []
    rows = await session.scalars(select(User).where(User.org_id == org_id, User.id.in_(ids)))
    return list(rows)


async def by_ids(session: AsyncSession, user_ids: Iterable[str]) -> dict[str, User]:
    ids = list(set(user_ids))
    if not ids:
        return {}
    rows = await session.scalars(select(User).where(User.id.in_(ids)))
    return {user.id: user for user in rows}


@dataclass(frozen=True, slots=True)
class UserRow:
    """What others see of a user (an author, a member): plain columns, no ORM object."""

    id: str
    email: str
    full_name: str
    status: str
    is_admin: bool
    is_active: bool
    last_seen_at: datetime | None
    avatar_version: str | None
    is_bot: bool


_USER_COLUMNS = tuple(User.__table__.c[f.name] for f in fields(UserRow))
# Built once: pages and room lists name their people on every read.
_ROWS_BY_IDS = select(*_USER_COLUMNS).where(
    User.__table__.c.id.in_(bindparam("ids", expanding=True))
)


async def rows_by_ids(session: AsyncSession, user_ids: Iterable[str]) -> dict[str, UserRow]:
    """`by_ids` for display only: cheaper, as pages name their authors on every read."""
    ids = list(set(user_ids))
    if not ids:
        return {}
    rows = await session.execute(_ROWS_BY_IDS, {"ids": ids})
    return {row[0]: UserRow(*row) for row in rows}


async def search(
    session: AsyncSession, org_id: str, query: str, limit: int, *, include_inactive: bool = False
) -> list[User]:
    """Active users (all, with include_inactive) whose name or email contains `query`, prefix
    matches first."""
    stmt = select(User).where(User.org_id == org_id)
    if not include_inactive:
        stmt = stmt.where(User.is_active.is_(True))
    needle = query.strip().lower()
    if needle:
        pattern = f"%{escape_like(needle)}%"
        stmt = stmt.where(
            or_(
                func.lower(User.full_name).like(pattern, escape="\\"),
                User.email.like(pattern, escape="\\"),
            )
        )
        prefix = f"{escape_like(needle)}%"
        starts = or_(
            func.lower(User.full_name).like(prefix, escape="\\"),
            User.email.like(prefix, escape="\\"),
        )
        stmt = stmt.order_by(starts.desc(), User.full_name)
    else:
        stmt = stmt.order_by(User.full_name)
    return list(await session.scalars(stmt.limit(limit)))


async def active_in_org(session: AsyncSession, org_id: str) -> list[User]:
    stmt = (
        select(User).where(User.org_id == org_id, User.is_active.is_(True)).order_by(User.full_name)
    )
    return list(await session.scalars(stmt))


async def touch_last_seen(session: AsyncSession, user_id: str, at: datetime) -> None:
    """Record when the user's last socket closed ("last seen"). Inside a writer job."""
    await session.execute(update(User).where(User.id == user_id).values(last_seen_at=at))
