"""The message reads every client makes all the time, as `storage.hot` statements."""

from __future__ import annotations

from collections.abc import Sequence

from parlour.domain import notify
from parlour.storage.hot import HotQuery, HotReader, Row
from parlour.storage.messages import Unread

# A bound that excludes nothing (sequences are positive and below it).
NO_BOUND = 2**62

# `actor_id` is a current member of the organization's room: the one membership rule.
_IS_MEMBER_NOW = """EXISTS (
    SELECT 1 FROM rooms r JOIN memberships ms ON ms.room_id = r.id
    WHERE r.id = ? AND r.org_id = ? AND ms.user_id = ? AND ms.end_event_id IS NULL)"""

IS_MEMBER = HotQuery(f"SELECT {_IS_MEMBER_NOW}")

# A message as the contract shows it, with its author; whether it has attachments (few: fetched
# apart). The column order is what `actions.pages.message_dicts` reads.
MESSAGE_COLUMNS = """m.seq, m.id, m.author_id, m.content, m.html, m.mentions, m.client_id,
    m.deleted, m.created_at, m.edited_at, m.has_attachments,
    u.email, u.full_name, u.status, u.is_admin, u.is_active, u.last_seen_at, m.room_id,
    m.has_reactions, m.pinned_at IS NOT NULL,
    m.reply_to, m.reply_count, m.last_reply_at, m.thread_participants,
    u.avatar_version, m.system, u.is_bot, m.label, m.previews"""

# Assembled from this module's constants only (values are bound), hence its `nosec B608`.
# A page: the membership check rides along, so that a member's page is one statement (one round
# trip on PostgreSQL); an empty answer is told apart from "not a member" by IS_MEMBER afterwards.
# A room's page leaves replies out (they are read by thread, THREAD_PAGE).
_PAGE = f"""SELECT {MESSAGE_COLUMNS}
FROM messages m JOIN users u ON u.id = m.author_id
WHERE m.room_id = ? AND m.seq > ? AND m.seq < ? AND m.reply_to IS NULL AND {_IS_MEMBER_NOW}
ORDER BY m.seq"""  # noqa: S608  # nosec B608
PAGE_NEWEST = HotQuery(_PAGE + " DESC LIMIT ?")
PAGE_OLDEST = HotQuery(_PAGE + " LIMIT ?")

# A thread's replies after a position, oldest first (the caller checked the root is readable).
THREAD_PAGE = HotQuery(
    f"""SELECT {MESSAGE_COLUMNS}
FROM messages m JOIN users u ON u.id = m.author_id
WHERE m.reply_to = ? AND m.seq > ?
ORDER BY m.seq LIMIT ?"""  # noqa: S608  # nosec B608
)

# Where a message is: its room, and its root when it is a reply.
MESSAGE_PLACE = HotQuery("SELECT room_id, reply_to FROM messages WHERE id = ?")
SEQ_IN_THREAD = HotQuery("SELECT seq FROM messages WHERE id = ? AND reply_to = ?")

SEQ_IN_ROOM = HotQuery("SELECT seq FROM messages WHERE id = ? AND room_id = ?")

ATTACHMENTS_OF_MESSAGE = HotQuery(
    "SELECT id, filename, content_type, size FROM attachments"
    " WHERE message_seq = ? ORDER BY created_at"
)

# Reactions by chip, then in the order they were made (storage.reactions.group_reactions): of one
# message, or of a stretch of one room's messages (a page's, in one index range). Assembled from
# this module's constants only, hence the `nosec B608`.
_REACTION_COLUMNS = "SELECT message_seq, emoji, user_id FROM reactions"
REACTIONS_OF_MESSAGE = HotQuery(
    f"{_REACTION_COLUMNS} WHERE message_seq = ? ORDER BY chip, id"  # nosec B608
)
REACTIONS_IN_RANGE = HotQuery(
    f"""{_REACTION_COLUMNS} WHERE room_id = ? AND message_seq >= ? AND message_seq <= ?
    ORDER BY message_seq, chip, id"""  # nosec B608
)

# Whether a message's mentions (a JSON list of ids) name the member `ms`: the id with its quotes,
# `_` escaped (LIKE's one-character wildcard; ids contain it). As storage.messages does.
MENTIONS_MEMBER = (
    """CAST(m.mentions AS TEXT) LIKE '%"' || replace(ms.user_id, '_', '\\_') || '"%' ESCAPE '\\'"""
)

# A reply counts as unread only for its thread's followers (actions/threads.py).
FOLLOWED = """(m.reply_to IS NULL OR EXISTS (SELECT 1 FROM thread_followers f
    WHERE f.root_id = m.reply_to AND f.user_id = ms.user_id AND f.since_seq <= m.seq))"""

# Per room, others' live messages after my read pointer, those that mention me, and what decides
# whether the room counts in my total (storage.messages.unread_counts).
UNREAD_BY_ROOM = HotQuery(
    f"""SELECT ms.room_id, count(m.seq), sum(CASE WHEN {MENTIONS_MEMBER} THEN 1 ELSE 0 END),
        r.type, ms.notify
    FROM memberships ms JOIN rooms r ON r.id = ms.room_id
    JOIN messages m ON m.room_id = ms.room_id AND m.seq > ms.last_read_seq
        AND m.author_id != ms.user_id AND m.deleted = false AND {FOLLOWED}
    WHERE ms.user_id = ? AND ms.end_event_id IS NULL
    GROUP BY ms.room_id, r.type, ms.notify"""  # noqa: S608  # nosec B608
)


async def unread_by_room(hot: HotReader, user_id: str) -> dict[str, Unread]:
    return {
        room_id: Unread(int(count), int(mentions or 0), notify.counts_in_total(room_type, level))
        for room_id, count, mentions, room_type, level in await hot.fetch(UNREAD_BY_ROOM, user_id)
    }


async def is_member(hot: HotReader, org_id: str, room_id: str, user_id: str) -> bool:
    rows = await hot.fetch(IS_MEMBER, room_id, org_id, user_id)
    return bool(rows[0][0])


async def seq_in_room(hot: HotReader, room_id: str, message_id: str) -> int | None:
    rows = await hot.fetch(SEQ_IN_ROOM, message_id, room_id)
    return int(rows[0][0]) if rows else None


async def page(
    hot: HotReader,
    org_id: str,
    room_id: str,
    member_id: str,
    *,
    floor: int,
    ceiling: int,
    limit: int,
    oldest_first: bool,
) -> Sequence[Row]:
    """Rows of PAGE_NEWEST/PAGE_OLDEST in seq order; empty also when `member_id` is no member."""
    query = PAGE_OLDEST if oldest_first else PAGE_NEWEST
    rows = await hot.fetch(query, room_id, floor, ceiling, room_id, org_id, member_id, limit)
    return rows if oldest_first else rows[::-1]


async def reactions_of(hot: HotReader, seqs: Sequence[int], room_ids: set[str]) -> Sequence[Row]:
    """Reaction rows of these messages: one range when they share a room (a page), else one
    statement per message (a room list's last messages)."""
    if len(room_ids) == 1 and len(seqs) > 1:
        (room_id,) = room_ids
        wanted = set(seqs)
        rows = await hot.fetch(REACTIONS_IN_RANGE, room_id, min(seqs), max(seqs))
        return [row for row in rows if row[0] in wanted]
    found: list[Row] = []
    for seq in seqs:
        found.extend(await hot.fetch(REACTIONS_OF_MESSAGE, seq))
    return found


async def attachments_of(hot: HotReader, seq: int) -> Sequence[Row]:
    return await hot.fetch(ATTACHMENTS_OF_MESSAGE, seq)
