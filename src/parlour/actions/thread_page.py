"""`GET /messages/{id}/thread`: a root's replies, oldest first, from hot reads."""

from __future__ import annotations

import orjson

from parlour.actions.context import Actor
from parlour.actions.messages import clamp_limit
from parlour.actions.pages import message_dicts
from parlour.errors import NotFound
from parlour.services import Services
from parlour.storage import hot_messages


async def thread_page_json(
    services: Services,
    actor: Actor,
    message_id: str,
    *,
    after: str | None = None,
    limit: int | None = None,
) -> bytes:
    """`GET /messages/{id}/thread`: the root's replies after `after`, oldest first. The id of a
    reply reads its root's thread."""
    hot = services.db.hot
    size = clamp_limit(services, limit)
    found = await hot.fetch(hot_messages.MESSAGE_PLACE, message_id)
    if not found:
        raise NotFound("No such message.", code="message_not_found")
    room_id, reply_to = found[0]
    if not await hot_messages.is_member(hot, actor.org_id, room_id, actor.user_id):
        raise NotFound("No such message.", code="message_not_found")
    root_id = reply_to or message_id
    floor = 0
    if after is not None:
        anchor = await hot.fetch(hot_messages.SEQ_IN_THREAD, after, root_id)
        if not anchor:
            raise NotFound("No such reply in this thread.", code="message_not_found")
        floor = int(anchor[0][0])
    rows = await hot.fetch(hot_messages.THREAD_PAGE, root_id, floor, size)
    return orjson.dumps(await message_dicts(hot, rows, services.presence))
