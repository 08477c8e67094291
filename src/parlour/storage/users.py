"""User queries. Every lookup that serves a client is scoped to the viewer's organization."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, or_, select, update
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


async def search(session: AsyncSession, org_id: str, query: str, limit: int) -> list[User]:
    """Active users whose name or email contains `query`, prefix matches first."""
    stmt = select(User).where(User.org_id == org_id, User.is_active.is_(True))
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
