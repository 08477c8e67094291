"""Room and membership queries."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy import bindparam, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from parlour.storage.models import Membership, Message, Room, User
from parlour.storage.users import escape_like


def direct_key(user_a: str, user_b: str) -> str:
    low, high = sorted((user_a, user_b))
    return f"{low}:{high}"


async def current_membership(
    session: AsyncSession, room_id: str, user_id: str
) -> Membership | None:
    return await session.scalar(
        select(Membership).where(
            Membership.room_id == room_id,
            Membership.user_id == user_id,
            Membership.end_event_id.is_(None),
        )
    )


# Built once: every room read and write checks access with it.
_ROOM_WITH_MEMBERSHIP = (
    select(Room, Membership)
    .join(Membership, Membership.room_id == Room.id)
    .where(
        Room.id == bindparam("room_id"),
        Room.org_id == bindparam("org_id"),
        Membership.user_id == bindparam("user_id"),
        Membership.end_event_id.is_(None),
    )
)


async def room_with_membership(
    session: AsyncSession, org_id: str, room_id: str, user_id: str
) -> tuple[Room, Membership] | None:
    """The room of `org_id` and `user_id`'s current membership of it, in one query."""
    row = (
        await session.execute(
            _ROOM_WITH_MEMBERSHIP, {"room_id": room_id, "org_id": org_id, "user_id": user_id}
        )
    ).first()
    return None if row is None else (row[0], row[1])


async def member_ids(session: AsyncSession, room_id: str) -> list[str]:
    rows = await session.scalars(
        select(Membership.user_id).where(
            Membership.room_id == room_id, Membership.end_event_id.is_(None)
        )
    )
    return list(rows)


async def memberships_of_rooms(
    session: AsyncSession, room_ids: Iterable[str]
) -> dict[str, list[Membership]]:
    ids = list(set(room_ids))
    result: dict[str, list[Membership]] = defaultdict(list)
    if not ids:
        return result
    rows = await session.scalars(
        select(Membership)
        .where(Membership.room_id.in_(ids), Membership.end_event_id.is_(None))
        .order_by(Membership.id)
    )
    for membership in rows:
        result[membership.room_id].append(membership)
    return result


async def direct_room(session: AsyncSession, user_a: str, user_b: str) -> Room | None:
    return await session.scalar(select(Room).where(Room.direct_key == direct_key(user_a, user_b)))


# The most rooms a room list shows (the ORM search and the hot list alike).
ROOM_LIST_LIMIT = 500


async def rooms_of_user(
    session: AsyncSession, user_id: str, query: str = "", limit: int = ROOM_LIST_LIMIT
) -> list[tuple[Room, Membership]]:
    """My rooms, most recent activity first; `query` matches the room or a member's name."""
    stmt = (
        select(Room, Membership)
        .join(Membership, Membership.room_id == Room.id)
        .where(Membership.user_id == user_id, Membership.end_event_id.is_(None))
    )
    needle = query.strip().lower()
    if needle:
        pattern = f"%{escape_like(needle)}%"
        other = Membership.__table__.alias("other")
        member_match = (
            select(other.c.room_id)
            .join(User, User.id == other.c.user_id)
            .where(
                other.c.room_id == Room.id,
                other.c.end_event_id.is_(None),
                other.c.user_id != user_id,
                or_(
                    func.lower(User.full_name).like(pattern, escape="\\"),
                    User.email.like(pattern, escape="\\"),
                ),
            )
            .exists()
        )
        stmt = stmt.where(
            or_(
                (Room.type != "direct") & func.lower(Room.name).like(pattern, escape="\\"),
                member_match,
            )
        )
    stmt = stmt.order_by(Room.last_activity_at.desc(), Room.id).limit(limit)
    return [(row[0], row[1]) for row in await session.execute(stmt)]


async def direct_rooms_with(session: AsyncSession, user_id: str) -> dict[str, str]:
    """For each user I have a direct room with: that room's id."""
    mine = Membership.__table__.alias("mine")
    theirs = Membership.__table__.alias("theirs")
    rows = await session.execute(
        select(theirs.c.user_id, Room.id)
        .join(mine, mine.c.room_id == Room.id)
        .join(theirs, theirs.c.room_id == Room.id)
        .where(
            Room.type == "direct",
            mine.c.user_id == user_id,
            mine.c.end_event_id.is_(None),
            theirs.c.user_id != user_id,
        )
    )
    return {row[0]: row[1] for row in rows}


async def presence_audiences(
    session: AsyncSession, user_ids: Iterable[str], *, max_room_members: int
) -> dict[str, set[str]]:
    """For each user, who shares a room of at most `max_room_members` members with them.

    Three queries whatever the number of users: their rooms, those rooms' sizes, the members of
    the small ones. Presence in larger rooms would cost members² frames as people come and go.
    """
    wanted = list(set(user_ids))
    audiences: dict[str, set[str]] = {user_id: set() for user_id in wanted}
    if not wanted:
        return audiences
    current = Membership.end_event_id.is_(None)
    rooms_of: dict[str, list[str]] = defaultdict(list)
    for user_id, room_id in await session.execute(
        select(Membership.user_id, Membership.room_id).where(
            Membership.user_id.in_(wanted), current
        )
    ):
        rooms_of[user_id].append(room_id)
    room_ids = {room_id for rooms in rooms_of.values() for room_id in rooms}
    if not room_ids:
        return audiences
    small = [
        room_id
        for room_id, members in await session.execute(
            select(Membership.room_id, func.count())
            .where(Membership.room_id.in_(room_ids), current)
            .group_by(Membership.room_id)
        )
        if members <= max_room_members
    ]
    members_of: dict[str, list[str]] = defaultdict(list)
    if small:
        for room_id, member_id in await session.execute(
            select(Membership.room_id, Membership.user_id).where(
                Membership.room_id.in_(small), current
            )
        ):
            members_of[room_id].append(member_id)
    for user_id, rooms in rooms_of.items():
        for room_id in rooms:
            audiences[user_id].update(members_of.get(room_id, ()))
        audiences[user_id].discard(user_id)
    return audiences


async def rooms_at_position_of_users(
    session: AsyncSession, user_ids: Iterable[str], position: int
) -> dict[str, set[str]]:
    """`rooms_at_position` for many users in one query."""
    rooms: dict[str, set[str]] = defaultdict(set)
    wanted = list(set(user_ids))
    if not wanted:
        return rooms
    rows = await session.execute(
        select(Membership.user_id, Membership.room_id).where(
            Membership.user_id.in_(wanted),
            Membership.start_event_id <= position,
            or_(Membership.end_event_id.is_(None), Membership.end_event_id > position),
        )
    )
    for user_id, room_id in rows:
        rooms[user_id].add(room_id)
    return rooms


async def channel_by_name_key(session: AsyncSession, org_id: str, name_key: str) -> Room | None:
    return await session.scalar(
        select(Room).where(Room.org_id == org_id, Room.name_key == name_key)
    )


async def channel_in_org(session: AsyncSession, org_id: str, room_id: str) -> Room | None:
    return await session.scalar(
        select(Room).where(Room.id == room_id, Room.org_id == org_id, Room.type == "channel")
    )


async def channels_of_org(
    session: AsyncSession, org_id: str, user_id: str, query: str = "", limit: int = ROOM_LIST_LIMIT
) -> list[tuple[Room, int, bool]]:
    """Every channel of the organization, by name: (channel, members, whether I am one)."""
    current = Membership.end_event_id.is_(None)
    member_count = (
        select(func.count()).where(Membership.room_id == Room.id, current).scalar_subquery()
    )
    joined = (
        select(Membership.id)
        .where(Membership.room_id == Room.id, Membership.user_id == user_id, current)
        .exists()
    )
    stmt = select(Room, member_count, joined).where(Room.org_id == org_id, Room.type == "channel")
    needle = query.strip().lower()
    if needle:
        pattern = f"%{escape_like(needle)}%"
        stmt = stmt.where(
            or_(
                func.lower(Room.name).like(pattern, escape="\\"),
                func.lower(func.coalesce(Room.topic, "")).like(pattern, escape="\\"),
            )
        )
    rows = await session.execute(stmt.order_by(Room.name_key, Room.id).limit(limit))
    return [(room, int(count), bool(mine)) for room, count, mine in rows]


async def member_count(session: AsyncSession, room_id: str) -> int:
    count = await session.scalar(
        select(func.count())
        .select_from(Membership)
        .where(Membership.room_id == room_id, Membership.end_event_id.is_(None))
    )
    return int(count or 0)


async def read_pointers(session: AsyncSession, room_id: str) -> dict[str, str | None]:
    """Each current member's last read message id (null before they read anything), in the order
    they joined."""
    rows = await session.execute(
        select(Membership.user_id, Message.id)
        .select_from(Membership)
        .outerjoin(Message, Message.seq == Membership.last_read_seq)
        .where(Membership.room_id == room_id, Membership.end_event_id.is_(None))
        .order_by(Membership.id)
    )
    return {user_id: message_id for user_id, message_id in rows}
