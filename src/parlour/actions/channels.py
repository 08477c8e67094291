"""Channels: named rooms that anyone of the organization can find and join (API.md, v1
additions). Their whole history is readable once joined; a new member starts with nothing unread.

Decisions where the contract is silent (docs/conversations.md): names are unique per organization
regardless of case; any member may set the topic and bring people in; only channel admins rename
and remove others; the last admin leaving hands admin on, as for groups.
"""

from __future__ import annotations

from collections.abc import Sequence

from parlour.actions.checks import (
    check_member_count,
    check_room_access,
)
from parlour.actions.context import Actor
from parlour.actions.rooms import add_memberships, create_shared_room, get_room, room_for_actor
from parlour.actions.system_lines import post_system_line
from parlour.errors import NotFound
from parlour.events.types import RoomMemberAdded
from parlour.schemas import ChannelOut, RoomOut
from parlour.services import Services
from parlour.storage import rooms as room_queries
from parlour.storage.writer import WriteContext


async def do_create_channel(
    services: Services,
    actor: Actor,
    name: str,
    topic: str | None = None,
    member_ids: Sequence[str] = (),
) -> RoomOut:
    return await create_shared_room(services, actor, "channel", name, topic, member_ids)


async def do_join(services: Services, actor: Actor, room_id: str) -> RoomOut:
    """Join a channel of my organization (200 with the room; joining twice changes nothing).
    A group or direct room answers 404 to a non-member, as every other room endpoint does."""

    async def job(ctx: WriteContext) -> RoomOut | None:
        current = await room_queries.current_membership(ctx.session, room_id, actor.user_id)
        if current is not None:
            await check_room_access(ctx.session, actor, room_id)  # my organization's, still
            return None
        channel = await room_queries.channel_in_org(ctx.session, actor.org_id, room_id)
        if channel is None:
            raise NotFound("No such room.", code="room_not_found")
        members = await room_queries.member_ids(ctx.session, channel.id)
        check_member_count(services.limits, len(members) + 1)
        announced, added = await add_memberships(
            services, ctx, actor, channel, [actor.user_id], set(), event_type=RoomMemberAdded
        )
        await post_system_line(services, ctx, actor, channel, "joined")
        return await room_for_actor(ctx, actor, channel, added[actor.user_id], announced)

    joined = await services.writer.run(job)
    return joined if joined is not None else await get_room(services, actor, room_id)


async def list_channels(services: Services, actor: Actor, query: str = "") -> list[ChannelOut]:
    """Every channel of my organization, joined or not, by name; `query` matches name or topic."""
    async with services.db.read_session() as session:
        rows = await room_queries.channels_of_org(session, actor.org_id, actor.user_id, query)
        return [
            ChannelOut(
                id=room.id, name=room.name, topic=room.topic, member_count=count, joined=joined
            )
            for room, count, joined in rows
        ]
