"""Reactions, pins and saved messages: small writes to a message any member of its room may make.

Each write is O(1) statements whatever the room's size (the message, a row, the event); a repeat
(reacting twice, pinning a pinned message) changes nothing and sends no event. Reactions hold the
message's row (FOR UPDATE on PostgreSQL, where processes write at once): its `has_reactions` flag
and the chips' places are computed from what was read.
"""

from __future__ import annotations

from parlour.actions.checks import check_room_access
from parlour.actions.context import Actor
from parlour.actions.messages import clamp_limit, message_in_my_room
from parlour.actions.present import messages_out
from parlour.domain.emoji_names import reaction_key
from parlour.errors import InvalidInput
from parlour.events import stream
from parlour.events.types import (
    MessagePinned,
    MessageUnpinned,
    ReactionAdded,
    ReactionRemoved,
    SavedUpdated,
)
from parlour.schemas import MessageOut
from parlour.services import Services
from parlour.storage import reactions as reaction_queries
from parlour.storage.models import Message
from parlour.storage.writer import WriteContext


def _live(message: Message) -> None:
    if message.deleted:
        raise InvalidInput("The message was deleted.", code="message_deleted")


async def do_react(services: Services, actor: Actor, message_id: str, raw_emoji: str) -> None:
    emoji = reaction_key(raw_emoji)  # refused before any read: a bad emoji reads nothing
    limit = services.limits.reactions_per_message

    async def job(ctx: WriteContext) -> None:
        message, room, _ = await message_in_my_room(ctx, actor, message_id, for_update=True)
        _live(message)
        session = ctx.session
        if await reaction_queries.has_reaction(session, message.seq, emoji, actor.user_id):
            return
        in_use = await reaction_queries.chips(session, message.seq)
        if emoji not in in_use and len(in_use) >= limit:
            raise InvalidInput(
                f"A message has at most {limit} different reactions.",
                code="too_many_reactions",
                details={"limit": limit},
            )
        await reaction_queries.add(session, message, emoji, actor.user_id, ctx.clock.now(), in_use)
        event = ReactionAdded(
            room_id=room.id, message_id=message.id, emoji=emoji, user_id=actor.user_id
        )
        await stream.append(ctx, org_id=actor.org_id, event=event, room_id=room.id)

    await services.writer.run(job)


async def do_unreact(services: Services, actor: Actor, message_id: str, raw_emoji: str) -> None:
    emoji = reaction_key(raw_emoji)

    async def job(ctx: WriteContext) -> None:
        message, room, _ = await message_in_my_room(ctx, actor, message_id, for_update=True)
        if await reaction_queries.remove(ctx.session, message, emoji, actor.user_id):
            event = ReactionRemoved(
                room_id=room.id, message_id=message.id, emoji=emoji, user_id=actor.user_id
            )
            await stream.append(ctx, org_id=actor.org_id, event=event, room_id=room.id)

    await services.writer.run(job)


async def do_pin(services: Services, actor: Actor, message_id: str) -> None:
    limit = services.limits.pins_per_room

    async def job(ctx: WriteContext) -> None:
        message, room, _ = await message_in_my_room(ctx, actor, message_id)
        _live(message)
        if message.pinned_at is not None:
            return
        if await reaction_queries.pin_count(ctx.session, room.id) >= limit:
            raise InvalidInput(
                f"A room has at most {limit} pinned messages; unpin one first.",
                code="too_many_pins",
                details={"limit": limit},
            )
        message.pinned_at = ctx.clock.now()
        message.pinned_by = actor.user_id
        await ctx.session.flush()
        event = MessagePinned(room_id=room.id, message_id=message.id, user_id=actor.user_id)
        await stream.append(ctx, org_id=actor.org_id, event=event, room_id=room.id)

    await services.writer.run(job)


async def do_unpin(services: Services, actor: Actor, message_id: str) -> None:
    async def job(ctx: WriteContext) -> None:
        message, room, _ = await message_in_my_room(ctx, actor, message_id)
        if message.pinned_at is None:
            return
        message.pinned_at = message.pinned_by = None
        await ctx.session.flush()
        event = MessageUnpinned(room_id=room.id, message_id=message.id, user_id=actor.user_id)
        await stream.append(ctx, org_id=actor.org_id, event=event, room_id=room.id)

    await services.writer.run(job)


async def room_pins(services: Services, actor: Actor, room_id: str) -> list[MessageOut]:
    """A room's pinned messages, newest pin first."""
    async with services.db.read_session() as session:
        await check_room_access(session, actor, room_id)
        pinned = await reaction_queries.pins_of_room(
            session, room_id, services.limits.pins_per_room
        )
        return await messages_out(session, pinned, services.presence)


async def do_save(services: Services, actor: Actor, message_id: str, *, saved: bool) -> None:
    """Save or unsave: private, so the event goes to my own devices only."""

    async def job(ctx: WriteContext) -> None:
        message, _, _ = await message_in_my_room(ctx, actor, message_id)
        session = ctx.session
        if saved:
            _live(message)
            if await reaction_queries.is_saved(session, actor.user_id, message.seq):
                return
            await reaction_queries.save(session, actor.user_id, message.seq, ctx.clock.now())
        elif not await reaction_queries.unsave(session, actor.user_id, message.seq):
            return
        event = SavedUpdated(message_id=message.id, saved=saved)
        await stream.append(ctx, org_id=actor.org_id, event=event, user_id=actor.user_id)

    await services.writer.run(job)


async def saved_messages(
    services: Services, actor: Actor, limit: int | None = None
) -> list[MessageOut]:
    """My saved messages, newest save first, in rooms I am still a member of."""
    async with services.db.read_session() as session:
        rows = await reaction_queries.saved_of_user(
            session, actor.user_id, clamp_limit(services, limit)
        )
        return await messages_out(session, rows, services.presence)
