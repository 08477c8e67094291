"""A member's own settings of a room: the notification level (API.md, v1 additions)."""

from __future__ import annotations

from parlour.actions.checks import check_room_access
from parlour.actions.context import Actor
from parlour.actions.reads import emit_unread
from parlour.actions.rooms import get_room
from parlour.domain.notify import NotifyLevel, effective
from parlour.events import stream
from parlour.events.types import NotifyUpdated
from parlour.schemas import RoomOut
from parlour.services import Services
from parlour.storage.writer import WriteContext


async def do_set_notify(
    services: Services, actor: Actor, room_id: str, level: NotifyLevel
) -> RoomOut:
    """Set my level; my devices hear it, and my new total (a room at "none" leaves it)."""

    async def job(ctx: WriteContext) -> None:
        room, mine = await check_room_access(ctx.session, actor, room_id)
        before = effective(room.type, mine.notify)
        mine.notify = level
        await ctx.session.flush()
        if before == level:
            return  # made explicit, unchanged in effect: nothing to tell
        event = NotifyUpdated(room_id=room.id, notify=level)
        await stream.append(ctx, org_id=actor.org_id, event=event, user_id=actor.user_id)
        await emit_unread(ctx, actor.org_id, actor.user_id, room.id)

    await services.writer.run(job)
    return await get_room(services, actor, room_id)
