"""Rooms: create direct and group rooms, rename, add and remove members, list and fetch.
(Channels, the rooms anyone of the organization may join, are in actions/channels.py.)

History policy: a room's whole history is visible to its current members (a new member of a
group sees what was said before they joined, as in most team chats). A removed member loses the
room entirely: history, posting, editing and events, at once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from parlour.actions.checks import (
    check_group_admin,
    check_member_count,
    check_name,
    check_room_access,
    check_topic,
)
from parlour.actions.context import Actor
from parlour.actions.present import room_views_for, rooms_out, shared_room_view
from parlour.actions.system_lines import post_system_line
from parlour.domain import notify
from parlour.errors import Conflict, InvalidInput, NotFound
from parlour.events import stream
from parlour.events.types import (
    DurableEvent,
    RoomCreated,
    RoomMemberAdded,
    RoomMemberRemoved,
    RoomUpdated,
    RoomView,
)
from parlour.ids import new_id
from parlour.schemas import RoomOut, SharedRoomOut
from parlour.services import Services
from parlour.storage import messages as message_queries
from parlour.storage import rooms as room_queries
from parlour.storage import users as user_queries
from parlour.storage.messages import NOTHING_UNREAD
from parlour.storage.models import Membership, Message, Room
from parlour.storage.writer import WriteContext


async def active_members(ctx: WriteContext, actor: Actor, user_ids: Sequence[str]) -> list[str]:
    """The given users, all active in my organization; anyone else is "not found"."""
    wanted = list(dict.fromkeys(user_ids))
    found = await user_queries.many_in_org(ctx.session, actor.org_id, wanted)
    active = {user.id for user in found if user.is_active}
    missing = [uid for uid in wanted if uid not in active]
    if missing:
        raise NotFound(
            "Some users do not exist or are not active.",
            code="user_not_found",
            details={"user_ids": missing},
        )
    return wanted


@dataclass(frozen=True)
class Announced:
    """What `emit_room_event` appended, with the views it built: the write job's own answer is
    made from them instead of being rebuilt in a second session after the commit."""

    event_ids: dict[str, int]  # recipient → the event they receive
    shared: SharedRoomOut | None = None  # a group's one view
    views: dict[str, RoomOut] | None = None  # a direct room's view of each member


async def emit_room_event(
    services: Services,
    ctx: WriteContext,
    actor: Actor,
    room: Room,
    event_for: Callable[[RoomView], DurableEvent],
    recipients: Sequence[str],
) -> Announced:
    """Announce a change of `room` to `recipients`; returns the event id each one receives.

    `event_for` builds the event around one view of the room (the shared one, or a member's).

    A group gets one room-wide event with the view all members share, whatever its size (a
    change to a 1,000-member group is one row, not a thousand copies of its member list). The
    room-wide event reaches every current member, so `recipients` must be exactly them. A
    direct room is named after the other person, so each of its two members gets their own.
    """
    if room.type != "direct":
        view = await shared_room_view(ctx.session, room, services.presence)
        event_id = await stream.append(
            ctx, org_id=actor.org_id, event=event_for(view), room_id=room.id
        )
        return Announced(dict.fromkeys(recipients, event_id), shared=view)
    views = await room_views_for(ctx.session, room, recipients, services.presence)
    event_ids: dict[str, int] = {}
    for user_id in recipients:
        event_ids[user_id] = await stream.append(
            ctx, org_id=actor.org_id, event=event_for(views[user_id]), user_id=user_id
        )
    return Announced(event_ids, views=views)


async def room_for_actor(
    ctx: WriteContext, actor: Actor, room: Room, mine: Membership, announced: Announced
) -> RoomOut:
    """The actor's view of a room they just changed, from the views the change announced: what
    `get_room` would answer after the commit, without its second session."""
    if announced.views is not None and actor.user_id in announced.views:
        return announced.views[actor.user_id]
    assert announced.shared is not None, "a group's change announces its shared view"
    unread = (
        await message_queries.unread_counts(ctx.session, actor.user_id, [room.id])
        if room.last_message_seq
        else {}
    )
    counts = unread.get(room.id, NOTHING_UNREAD)
    read = (
        (await message_queries.by_seqs(ctx.session, [mine.last_read_seq])).get(mine.last_read_seq)
        if mine.last_read_seq
        else None
    )
    return RoomOut(
        **dict(announced.shared),
        unread_count=counts.messages,
        last_read_message_id=read.id if read else None,
        notify=notify.effective(room.type, mine.notify),
        mention_count=counts.mentions,
    )


async def _last_seq(ctx: WriteContext, room_id: str) -> int:
    return int(
        await ctx.session.scalar(
            select(func.coalesce(func.max(Message.seq), 0)).where(Message.room_id == room_id)
        )
        or 0
    )


async def do_open_direct(
    services: Services, actor: Actor, other_user_id: str
) -> tuple[RoomOut, bool]:
    """The one direct room of this pair, created if needed. Returns (room, created)."""

    async def job(ctx: WriteContext) -> tuple[str, RoomOut | None]:
        if other_user_id == actor.user_id:
            raise InvalidInput("A direct chat needs another person.", code="direct_with_self")
        await active_members(ctx, actor, [other_user_id])
        existing = await room_queries.direct_room(ctx.session, actor.user_id, other_user_id)
        if existing is not None:
            return existing.id, None
        now = ctx.clock.now()
        room = Room(
            id=new_id(),
            org_id=actor.org_id,
            type="direct",
            name="",
            direct_key=room_queries.direct_key(actor.user_id, other_user_id),
            created_at=now,
            last_activity_at=now,
        )
        try:
            # Its own savepoint: on PostgreSQL another process may win the race for this pair.
            async with ctx.session.begin_nested():
                ctx.session.add(room)
                await ctx.session.flush()
        except IntegrityError:
            winner = await room_queries.direct_room(ctx.session, actor.user_id, other_user_id)
            if winner is None:
                raise
            return winner.id, None
        announced, added = await add_memberships(
            services, ctx, actor, room, [actor.user_id, other_user_id], set()
        )
        return room.id, await room_for_actor(ctx, actor, room, added[actor.user_id], announced)

    room_id, created = await services.writer.run(job)
    if created is not None:
        return created, True
    return await get_room(services, actor, room_id), False


async def add_memberships(
    services: Services,
    ctx: WriteContext,
    actor: Actor,
    room: Room,
    user_ids: Sequence[str],
    admins: set[str],
    *,
    event_type: type[RoomCreated | RoomMemberAdded] = RoomCreated,
) -> tuple[Announced, dict[str, Membership]]:
    now = ctx.clock.now()
    last_seq = await _last_seq(ctx, room.id)
    added = []
    for user_id in user_ids:
        membership = Membership(
            room_id=room.id,
            user_id=user_id,
            is_admin=user_id in admins,
            start_event_id=0,
            last_read_seq=last_seq,
            joined_at=now,
        )
        ctx.session.add(membership)
        added.append(membership)
    await ctx.session.flush()
    new = list(user_ids)
    if event_type is RoomCreated:
        recipients = new
    else:
        recipients = await room_queries.member_ids(ctx.session, room.id)

    def event_for(view: RoomView) -> DurableEvent:
        if event_type is RoomCreated:
            return RoomCreated(room=view)
        return RoomMemberAdded(room=view, user_ids=new)

    announced = await emit_room_event(services, ctx, actor, room, event_for, recipients)
    for membership in added:
        # Room events from this member's notice on are theirs; none before it.
        membership.start_event_id = announced.event_ids[membership.user_id] - 1
    await ctx.session.flush()
    return announced, {membership.user_id: membership for membership in added}


async def do_create_group(
    services: Services, actor: Actor, name: str | None, member_ids: Sequence[str]
) -> RoomOut:
    return await create_shared_room(services, actor, "group", name, None, member_ids)


async def create_shared_room(
    services: Services,
    actor: Actor,
    room_type: str,
    name: str | None,
    topic: str | None,
    member_ids: Sequence[str],
) -> RoomOut:
    """A new group or channel: the creator is member and admin. A channel's name is claimed
    (unique in the organization) and it may have a topic."""
    limits = services.limits
    clean_name = check_name(name, limits, field="name")
    clean_topic = None if topic is None else check_topic(topic)
    everyone = list(dict.fromkeys([actor.user_id, *member_ids]))
    check_member_count(limits, len(everyone))

    async def job(ctx: WriteContext) -> RoomOut:
        await active_members(ctx, actor, everyone)
        now = ctx.clock.now()
        room = Room(
            id=new_id(),
            org_id=actor.org_id,
            type=room_type,
            name=clean_name,
            topic=clean_topic,
            created_at=now,
            last_activity_at=now,
        )
        ctx.session.add(room)
        if room_type == "channel":
            await claim_channel_name(ctx, actor, room, clean_name)
        else:
            await ctx.session.flush()
        announced, added = await add_memberships(
            services, ctx, actor, room, everyone, {actor.user_id}
        )
        return await room_for_actor(ctx, actor, room, added[actor.user_id], announced)

    return await services.writer.run(job)


async def do_update_room(
    services: Services,
    actor: Actor,
    room_id: str,
    name: str | None = None,
    topic: str | None = None,
) -> RoomOut:
    """Rename (group and channel admins) and/or set a channel's topic (any of its members).
    Neither: the room as it is (an empty PATCH changes nothing)."""
    if name is None and topic is None:
        return await get_room(services, actor, room_id)
    clean_name = None if name is None else check_name(name, services.limits, field="name")
    clean_topic = None if topic is None else check_topic(topic)

    async def job(ctx: WriteContext) -> RoomOut:
        room, mine = await check_room_access(ctx.session, actor, room_id)
        if clean_name is not None:
            check_group_admin(room, mine)
        if topic is not None and room.type != "channel":
            raise InvalidInput("Only channels have a topic.", code="not_a_channel")
        renamed = clean_name is not None and clean_name != room.name
        if clean_name is not None and room.type == "channel":
            await claim_channel_name(ctx, actor, room, clean_name)
        elif clean_name is not None:
            room.name = clean_name
        new_topic = topic is not None and clean_topic != room.topic
        if topic is not None:
            room.topic = clean_topic
        await ctx.session.flush()
        members = await room_queries.member_ids(ctx.session, room.id)
        announced = await emit_room_event(
            services, ctx, actor, room, lambda view: RoomUpdated(room=view), members
        )
        if renamed:
            await post_system_line(services, ctx, actor, room, "renamed", name=room.name)
        if new_topic:
            await post_system_line(services, ctx, actor, room, "topic", topic=room.topic)
        return await room_for_actor(ctx, actor, room, mine, announced)

    return await services.writer.run(job)


async def claim_channel_name(ctx: WriteContext, actor: Actor, room: Room, name: str) -> None:
    """Give the channel `name`: 409 `name_taken` when another channel of the organization has it
    (compared case-insensitively; the unique index decides a race between two processes)."""
    key = name.casefold()
    taken = await room_queries.channel_by_name_key(ctx.session, actor.org_id, key)
    if taken is not None and taken.id != room.id:
        raise Conflict(f"There is already a channel named {taken.name!r}.", code="name_taken")
    room.name, room.name_key = name, key
    try:
        async with ctx.session.begin_nested():
            await ctx.session.flush()
    except IntegrityError:
        raise Conflict("There is already a channel of that name.", code="name_taken") from None


async def do_add_members(
    services: Services, actor: Actor, room_id: str, user_ids: Sequence[str]
) -> RoomOut:
    if not user_ids:
        raise InvalidInput("Choose at least one person to add.", code="members_required")

    async def job(ctx: WriteContext) -> RoomOut | None:
        room, mine = await check_room_access(ctx.session, actor, room_id)
        if room.type != "channel":  # a channel is open to all: any member may bring people in
            check_group_admin(room, mine)
        await active_members(ctx, actor, user_ids)
        current = set(await room_queries.member_ids(ctx.session, room.id))
        new = [uid for uid in dict.fromkeys(user_ids) if uid not in current]
        check_member_count(services.limits, len(current) + len(new))
        if not new:
            return None  # nothing changed, nothing announced: read it as any request would
        announced, _ = await add_memberships(
            services, ctx, actor, room, new, set(), event_type=RoomMemberAdded
        )
        await post_system_line(services, ctx, actor, room, "added", new)
        return await room_for_actor(ctx, actor, room, mine, announced)

    changed = await services.writer.run(job)
    return changed if changed is not None else await get_room(services, actor, room_id)


async def do_remove_member(services: Services, actor: Actor, room_id: str, user_id: str) -> None:
    """Group admins remove anyone; anyone may remove themselves (leave)."""

    async def job(ctx: WriteContext) -> None:
        room, mine = await check_room_access(ctx.session, actor, room_id)
        if user_id != actor.user_id:
            check_group_admin(room, mine)
        elif room.type == "direct":
            raise Conflict("You cannot leave a direct chat.", code="not_a_group")
        target = await room_queries.current_membership(ctx.session, room.id, user_id)
        if target is None:
            raise NotFound("That person is not a member of this room.", code="member_not_found")
        target.end_event_id = -1  # leaves the current set before the views are built
        await ctx.session.flush()
        if target.is_admin:
            await _keep_an_admin(ctx, room.id)
        # Only groups and channels lose members (checked above): one room-wide event. The
        # removed member's span ends just before it, so they hear of it by a notice of their
        # own, and replay keeps it that way. One event object: its payload is encoded once.
        notice = RoomMemberRemoved(
            room=await shared_room_view(ctx.session, room, services.presence), user_id=user_id
        )
        room_wide = await stream.append(ctx, org_id=actor.org_id, event=notice, room_id=room.id)
        await stream.append(ctx, org_id=actor.org_id, event=notice, user_id=user_id)
        target.end_event_id = room_wide
        await ctx.session.flush()
        if user_id == actor.user_id:
            await post_system_line(services, ctx, actor, room, "left")
        else:
            await post_system_line(services, ctx, actor, room, "removed", [user_id])

    await services.writer.run(job)


async def _keep_an_admin(ctx: WriteContext, room_id: str) -> None:
    """A group whose last admin leaves hands admin to its longest-standing member."""
    memberships = await room_queries.memberships_of_rooms(ctx.session, [room_id])
    current = memberships.get(room_id, [])
    if current and not any(m.is_admin for m in current):
        current[0].is_admin = True


async def list_rooms(services: Services, actor: Actor, query: str = "") -> list[RoomOut]:
    async with services.db.read_session() as session:
        rows = await room_queries.rooms_of_user(session, actor.user_id, query)
        return await rooms_out(session, actor.user_id, rows, services.presence)


async def get_room(services: Services, actor: Actor, room_id: str) -> RoomOut:
    async with services.db.read_session() as session:
        room, mine = await check_room_access(session, actor, room_id)
        (view,) = await rooms_out(session, actor.user_id, [(room, mine)], services.presence)
        return view
