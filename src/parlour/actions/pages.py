"""A room's message page, built as JSON straight from driver rows (`storage.hot_messages`).

The hottest read: no ORM objects and no pydantic models on the way. The JSON is the contract's
`MessageOut`, field for field and in the same order; tests compare it with the models' own.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from parlour.actions.context import Actor
from parlour.actions.messages import clamp_limit
from parlour.actions.present import avatar_url
from parlour.errors import NotFound
from parlour.events.presence import PresenceTracker
from parlour.services import Services
from parlour.storage import hot_messages
from parlour.storage.hot import HotReader, Row
from parlour.storage.reactions import group_reactions


async def _check_member(hot: HotReader, actor: Actor, room_id: str) -> None:
    if not await hot_messages.is_member(hot, actor.org_id, room_id, actor.user_id):
        raise NotFound("No such room.", code="room_not_found")


async def _anchor(hot: HotReader, room_id: str, message_id: str) -> int:
    seq = await hot_messages.seq_in_room(hot, room_id, message_id)
    if seq is None:
        raise NotFound("No such message in this room.", code="message_not_found")
    return seq


async def message_page_json(
    services: Services,
    actor: Actor,
    room_id: str,
    *,
    before: str | None = None,
    after: str | None = None,
    limit: int | None = None,
) -> bytes:
    """`GET /rooms/{id}/messages`: newest last; without `after`, the newest before `before`."""
    hot = services.db.hot
    size = clamp_limit(services, limit)
    floor, ceiling = 0, hot_messages.NO_BOUND
    if before is not None or after is not None:
        await _check_member(hot, actor, room_id)  # outsiders learn nothing of the anchors
        if before is not None:
            ceiling = await _anchor(hot, room_id, before)
        if after is not None:
            floor = await _anchor(hot, room_id, after)
    rows = await hot_messages.page(
        hot,
        actor.org_id,
        room_id,
        actor.user_id,
        floor=floor,
        ceiling=ceiling,
        limit=size,
        oldest_first=after is not None,
    )
    if not rows:
        await _check_member(hot, actor, room_id)  # an empty page, or no room of mine?
        return b"[]"
    return orjson.dumps(await message_dicts(hot, rows, services.presence))


def user_dict(hot: HotReader, presence: PresenceTracker, row: Row) -> dict[str, Any]:
    """UserOut from (id, email, full_name, chosen status, is_admin, is_active, last_seen_at,
    avatar_version, is_bot)."""
    user_id, email, full_name, chosen, is_admin, is_active, last_seen_at, avatar, is_bot = row
    return {
        "id": user_id,
        "email": email,
        "full_name": full_name,
        "status": presence.status(user_id, chosen) if is_active else "offline",
        "is_admin": bool(is_admin),
        "is_active": bool(is_active),
        "last_seen_at": hot.iso(last_seen_at),
        "avatar_url": avatar_url(user_id, avatar),
        "is_bot": bool(is_bot),
    }


async def message_dicts(
    hot: HotReader,
    rows: Sequence[Row],
    presence: PresenceTracker,
    authors: dict[str, dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """MessageOut of rows of `hot_messages.MESSAGE_COLUMNS`; `authors` holds UserOuts already
    made (by id), and gains those made here."""
    iso = hot.iso
    authors = {} if authors is None else authors
    reacted = [row for row in rows if row[18] and not row[7]]
    reactions = group_reactions(
        await hot_messages.reactions_of(hot, [row[0] for row in reacted], {r[17] for r in reacted})
        if reacted
        else ()
    )
    shown: list[dict[str, Any]] = []
    for row in rows:
        (seq, message_id, author_id, content, html, mentions, client_id, deleted) = row[:8]
        author = authors.get(author_id)
        if author is None:
            author = authors[author_id] = user_dict(
                hot, presence, (author_id, *row[11:17], row[24], row[26])
            )
        if deleted:
            content = html = ""
        shown.append(
            {
                "id": message_id,
                "room_id": row[17],
                "author": author,
                "content": content,
                "html": html,
                "created_at": iso(row[8]),
                "edited_at": iso(row[9]),
                "deleted": bool(deleted),
                "client_id": client_id,
                "mentions": [] if deleted or not mentions else orjson.loads(mentions),
                "attachments": (await _attachments(hot, seq) if row[10] and not deleted else []),
                "reactions": reactions.get(seq, []),
                "pinned": bool(row[19]),
                "reply_to": row[20],
                "thread": (
                    {
                        "reply_count": row[21],
                        "last_reply_at": iso(row[22]),
                        "participant_ids": orjson.loads(row[23]) if row[23] else [],
                    }
                    if row[21]
                    else None
                ),
                "system": orjson.loads(row[25]) if row[25] else None,
                "label": row[27],
                "previews": orjson.loads(row[28]) if row[28] and not deleted else [],
            }
        )
    return shown


async def _attachments(hot: HotReader, seq: int) -> list[dict[str, Any]]:
    return [
        {
            "id": attachment_id,
            "filename": filename,
            "content_type": content_type,
            "size": size,
            "url": f"/api/v1/attachments/{attachment_id}",
        }
        for attachment_id, filename, content_type, size in await hot_messages.attachments_of(
            hot, seq
        )
    ]
