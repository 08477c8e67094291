"""A member's room list as `storage.hot` statements: three, whatever the number of rooms."""

from __future__ import annotations

from collections.abc import Sequence

from parlour.storage.hot import HotQuery, HotReader, Row
from parlour.storage.hot_messages import FOLLOWED, MENTIONS_MEMBER, MESSAGE_COLUMNS

_MINE = "ms.user_id = ? AND ms.end_event_id IS NULL"
# Of my unread messages in the room (others' live ones after my read pointer): `what`.
_UNREAD = f"""(SELECT {{what}} FROM messages m WHERE m.room_id = r.id AND m.seq > ms.last_read_seq
        AND m.author_id != ms.user_id AND m.deleted = false AND {FOLLOWED})"""  # noqa: S608  # nosec B608

# The statements below are assembled from this module's constants only (never from a value: values
# are bound), hence their `nosec B608`.

# My rooms, most recent activity first, with my read pointer's message id and my unread count
# (others' live messages after the pointer: an index range per room, as unread_counts).
ROOMS = HotQuery(
    f"""SELECT r.id, r.type, r.name, r.created_at,
    (SELECT rm.id FROM messages rm WHERE rm.seq = ms.last_read_seq),
    {_UNREAD.format(what="count(*)")},
    r.topic, ms.notify,
    {_UNREAD.format(what=f"coalesce(sum(CASE WHEN {MENTIONS_MEMBER} THEN 1 ELSE 0 END), 0)")}
FROM memberships ms JOIN rooms r ON r.id = ms.room_id
WHERE {_MINE}
ORDER BY r.last_activity_at DESC, r.id
LIMIT ?"""  # noqa: S608  # nosec B608
)

# The current members of my rooms, in the order they joined, as UserOut's columns.
MEMBERS = HotQuery(
    f"""SELECT o.room_id, o.is_admin,
    u.id, u.email, u.full_name, u.status, u.is_admin, u.is_active, u.last_seen_at,
    u.avatar_version, u.is_bot
FROM memberships ms
JOIN memberships o ON o.room_id = ms.room_id AND o.end_event_id IS NULL
JOIN users u ON u.id = o.user_id
WHERE {_MINE}
ORDER BY o.id"""  # noqa: S608  # nosec B608
)

# The last message of each of my rooms.
LAST_MESSAGES = HotQuery(
    f"""SELECT {MESSAGE_COLUMNS}
FROM memberships ms JOIN rooms r ON r.id = ms.room_id
JOIN messages m ON m.seq = r.last_message_seq
JOIN users u ON u.id = m.author_id
WHERE {_MINE}"""  # noqa: S608  # nosec B608
)


async def rooms(hot: HotReader, user_id: str, limit: int) -> Sequence[Row]:
    return await hot.fetch(ROOMS, user_id, limit)


async def members(hot: HotReader, user_id: str) -> Sequence[Row]:
    return await hot.fetch(MEMBERS, user_id)


async def last_messages(hot: HotReader, user_id: str) -> Sequence[Row]:
    return await hot.fetch(LAST_MESSAGES, user_id)
