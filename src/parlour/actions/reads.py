"""Read pointers and unread counts (the toolbar counter)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import orjson

from parlour.actions.checks import check_room_access
from parlour.actions.context import Actor
from parlour.errors import NotFound
from parlour.events import stream
from parlour.events.types import ReceiptUpdated, UnreadUpdated
from parlour.services import Services
from parlour.storage import hot_messages
from parlour.storage import messages as message_queries
from parlour.storage import rooms as room_queries
from parlour.storage.messages import NOTHING_UNREAD, Unread
from parlour.storage.writer import WriteContext


async def emit_unread(ctx: WriteContext, org_id: str, user_id: str, room_id: str) -> None:
    """Tell `user_id` their counts for `room_id` and in total. Inside the change's transaction."""
    counts = await message_queries.unread_counts(ctx.session, user_id)
    await stream.append(ctx, org_id=org_id, event=_unread_event(room_id, counts), user_id=user_id)


def _unread_event(room_id: str, counts: Mapping[str, Unread]) -> UnreadUpdated:
    room = counts.get(room_id, NOTHING_UNREAD)
    return UnreadUpdated(
        room_id=room_id,
        unread_count=room.messages,
        total=message_queries.total_of(counts),
        mention_count=room.mentions,
    )


async def emit_unread_of_many(
    ctx: WriteContext, org_id: str, user_ids: Sequence[str], room_id: str
) -> None:
    """`emit_unread` for many users at once: one counting statement and one multi-row insert,
    however many they are (a deletion in a 1,000-member group must not cost 2,000 statements
    inside the global write order)."""
    if not user_ids:
        return
    counts = await message_queries.unread_counts_of_users(ctx.session, user_ids)
    await stream.append_many(
        ctx,
        [
            stream.NewEvent(
                org_id=org_id,
                event=_unread_event(room_id, counts.get(user_id, {})),
                user_id=user_id,
            )
            for user_id in user_ids
        ],
    )


async def do_mark_read(services: Services, actor: Actor, room_id: str, message_id: str) -> None:
    """Move my read pointer to `message_id`, never back; tell all my devices the new counts, and
    the members of a small room my receipt (after the commit: a receipt is never ahead of it)."""

    async def job(ctx: WriteContext) -> bool:
        room, mine = await check_room_access(ctx.session, actor, room_id)
        message = await message_queries.by_id(ctx.session, message_id)
        if message is None or message.room_id != room.id:
            raise NotFound("No such message in this room.", code="message_not_found")
        if message.seq <= mine.last_read_seq:
            return False
        mine.last_read_seq = message.seq
        await ctx.session.flush()
        await emit_unread(ctx, actor.org_id, actor.user_id, room.id)
        members = await room_queries.member_count(ctx.session, room.id)
        return members <= services.settings.presence_room_members

    if await services.writer.run(job):
        frame = ReceiptUpdated(room_id=room_id, user_id=actor.user_id, message_id=message_id)
        services.bus.signal({"kind": "receipt", "room_id": room_id, "frame": frame.to_json()})


async def receipts(services: Services, actor: Actor, room_id: str) -> dict[str, str | None]:
    """`GET /rooms/{id}/receipts`: every member's last read message (null: nothing read)."""
    async with services.db.read_session() as session:
        await check_room_access(session, actor, room_id)
        return await room_queries.read_pointers(session, room_id)


async def unread_json(services: Services, actor: Actor) -> bytes:
    """`GET /unread`: the JSON of UnreadOut, from a hot read (storage/hot_messages.py)."""
    counts = await hot_messages.unread_by_room(services.db.hot, actor.user_id)
    return orjson.dumps(
        {
            "total": message_queries.total_of(counts),
            "rooms": {room_id: unread.messages for room_id, unread in counts.items()},
            "mentions": {room_id: unread.mentions for room_id, unread in counts.items()},
        }
    )
