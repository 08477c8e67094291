"""Message queries: pages by sequence, unread counts and search, all served from indexes."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import (
    ColumnElement,
    Text,
    and_,
    bindparam,
    case,
    cast,
    column,
    exists,
    func,
    literal,
    or_,
    select,
    table,
    text,
)
from sqlalchemy.ext.asyncio import AsyncSession

from parlour.domain import notify
from parlour.storage.models import Attachment, Membership, Message, Room, ThreadFollower
from parlour.storage.users import escape_like


async def by_id(
    session: AsyncSession, message_id: str, *, for_update: bool = False
) -> Message | None:
    """`for_update`: hold the row until the transaction ends (PostgreSQL; SQLite has one writer
    anyway), for changes computed from what was read (a flag, a count)."""
    statement = select(Message).where(Message.id == message_id)
    if for_update:
        statement = statement.with_for_update()
    return await session.scalar(statement)


async def by_seqs(session: AsyncSession, seqs: Iterable[int]) -> dict[int, Message]:
    wanted = [seq for seq in set(seqs) if seq]
    if not wanted:
        return {}
    rows = await session.scalars(select(Message).where(Message.seq.in_(wanted)))
    return {message.seq: message for message in rows}


async def by_client_id(session: AsyncSession, author_id: str, client_id: str) -> Message | None:
    return await session.scalar(
        select(Message).where(Message.author_id == author_id, Message.client_id == client_id)
    )


@dataclass(frozen=True, slots=True)
class MessageRow:
    """A message as a page shows it: plain columns, no ORM identity or change tracking.

    Pages are the hottest read; loading 50 ORM objects cost more than the query itself.
    """

    seq: int
    id: str
    room_id: str
    author_id: str
    content: str
    html: str
    mentions: list[str]
    client_id: str | None
    deleted: bool
    created_at: datetime
    edited_at: datetime | None
    has_reactions: bool
    pinned_at: datetime | None
    reply_to: str | None
    reply_count: int
    last_reply_at: datetime | None
    thread_participants: list[str] | None
    system: dict[str, Any] | None
    label: str | None
    previews: list[dict[str, Any]] | None


# The column order is MessageRow's field order: rows become MessageRow(*row).
_MESSAGE_COLUMNS = tuple(Message.__table__.c[f.name] for f in fields(MessageRow))


# The hot reads are built once: a statement made per request costs more in SQLAlchemy's
# construction and cache-key walk than SQLite spends answering it.
_ROWS_BY_SEQS = select(*_MESSAGE_COLUMNS).where(
    Message.__table__.c.seq.in_(bindparam("seqs", expanding=True))
)


async def rows_by_seqs(session: AsyncSession, seqs: Iterable[int]) -> dict[int, MessageRow]:
    """`by_seqs` for display only (room lists' last messages): plain rows, no ORM objects."""
    wanted = [seq for seq in set(seqs) if seq]
    if not wanted:
        return {}
    rows = await session.execute(_ROWS_BY_SEQS, {"seqs": wanted})
    return {row[0]: MessageRow(*row) for row in rows}


# A membership's unread messages: others' live messages after its read pointer (an index range).
_UNREAD_OF_MEMBERSHIP = and_(
    Message.room_id == Membership.room_id,
    Message.seq > Membership.last_read_seq,
    Message.author_id != Membership.user_id,
    Message.deleted.is_(False),
    # A reply counts only for the thread's followers (actions/threads.py).
    or_(
        Message.reply_to.is_(None),
        exists().where(
            ThreadFollower.root_id == Message.reply_to,
            ThreadFollower.user_id == Membership.user_id,
            ThreadFollower.since_seq <= Message.seq,
        ),
    ),
)


class Unread(NamedTuple):
    """A member's unread messages in one room, those that mention them, and whether the room
    counts in their total (not at notification level "none")."""

    messages: int
    mentions: int
    in_total: bool = True


NOTHING_UNREAD = Unread(0, 0)


def _mentions_member() -> ColumnElement[bool]:
    """The message's mentions name the membership's user. `mentions` is a JSON list of ids; an
    id is matched with its quotes, `_` escaped (LIKE's one-character wildcard; ids contain it)."""
    quoted = literal('%"') + func.replace(Membership.user_id, "_", "\\_") + literal('"%')
    return cast(Message.mentions, Text).like(quoted, escape="\\")


def _counted() -> tuple[ColumnElement[int], ColumnElement[int]]:
    mention = case((_mentions_member(), 1), else_=0)
    return func.count(Message.seq), func.coalesce(func.sum(mention), 0)


async def unread_counts(
    session: AsyncSession, user_id: str, room_ids: Iterable[str] | None = None
) -> dict[str, Unread]:
    """Unread messages per room: others' live messages after my read pointer (an index range)."""
    stmt = (
        select(Membership.room_id, *_counted(), Room.type, Membership.notify)
        .select_from(Membership)
        .join(Message, _UNREAD_OF_MEMBERSHIP)
        .join(Room, Room.id == Membership.room_id)
        .where(Membership.user_id == user_id, Membership.end_event_id.is_(None))
        .group_by(Membership.room_id, Room.type, Membership.notify)
    )
    if room_ids is not None:
        stmt = stmt.where(Membership.room_id.in_(list(room_ids)))
    return {
        room_id: Unread(int(count), int(mentions), notify.counts_in_total(room_type, level))
        for room_id, count, mentions, room_type, level in await session.execute(stmt)
    }


def total_of(counts: Mapping[str, Unread]) -> int:
    """The toolbar's number: unread in every room that is not at notification level "none"."""
    return sum(unread.messages for unread in counts.values() if unread.in_total)


async def unread_counts_of_users(
    session: AsyncSession, user_ids: Iterable[str]
) -> dict[str, dict[str, Unread]]:
    """user → room → unread, for several users in one statement (rooms with none are absent)."""
    users = list(set(user_ids))
    if not users:
        return {}
    stmt = (
        select(Membership.user_id, Membership.room_id, *_counted(), Room.type, Membership.notify)
        .select_from(Membership)
        .join(Message, _UNREAD_OF_MEMBERSHIP)
        .join(Room, Room.id == Membership.room_id)
        .where(Membership.user_id.in_(users), Membership.end_event_id.is_(None))
        .group_by(Membership.user_id, Membership.room_id, Room.type, Membership.notify)
    )
    counts: dict[str, dict[str, Unread]] = defaultdict(dict)
    for user_id, room_id, count, mentions, room_type, level in await session.execute(stmt):
        counts[user_id][room_id] = Unread(
            int(count), int(mentions), notify.counts_in_total(room_type, level)
        )
    return counts


async def attachments_for(
    session: AsyncSession, message_seqs: Iterable[int]
) -> dict[int, list[Attachment]]:
    seqs = list(set(message_seqs))
    result: dict[int, list[Attachment]] = defaultdict(list)
    if not seqs:
        return result
    rows = await session.scalars(
        select(Attachment).where(Attachment.message_seq.in_(seqs)).order_by(Attachment.created_at)
    )
    for attachment in rows:
        if attachment.message_seq is not None:
            result[attachment.message_seq].append(attachment)
    return result


_WORD = re.compile(r"\w+", re.UNICODE)


def _fts_query(query: str) -> str | None:
    """An FTS5 query of prefix terms, or None where the index cannot help (CJK, no words)."""
    words = _WORD.findall(query)
    if not words or any(not word.isascii() for word in words):
        return None
    return " ".join(f'"{word}"*' for word in words)


# The SQLite full-text index (migration 0001, prefix indexes from 0002); not an ORM model.
_FTS = table("messages_fts", column("rowid"))


async def search(
    session: AsyncSession,
    *,
    user_id: str,
    query: str,
    room_id: str | None,
    author_id: str | None,
    before_seq: int | None,
    limit: int,
    dialect: str,
) -> list[Message]:
    """Messages in rooms I am in now, newest first.

    Full text through FTS5 (SQLite) or a tsvector index (PostgreSQL); where the index finds nothing
    (partial words inside a token, CJK), a substring match keeps search useful.
    """
    mine = and_(
        Membership.room_id == Message.room_id,
        Membership.user_id == user_id,
        Membership.end_event_id.is_(None),
    )
    conditions: list[ColumnElement[bool]] = [Message.deleted.is_(False)]
    if room_id is not None:
        conditions.append(Message.room_id == room_id)
    if author_id is not None:
        conditions.append(Message.author_id == author_id)
    if before_seq is not None:
        conditions.append(Message.seq < before_seq)
    base = select(Message).join(Membership, mine).where(*conditions)
    newest_first = base.order_by(Message.seq.desc()).limit(limit)
    needle = query.strip()
    if not needle:
        return list(await session.scalars(newest_first))
    found: list[Message] = []
    if dialect == "sqlite":
        fts = _fts_query(needle)
        if fts is not None:
            # The index drives: it yields matches newest first and the walk stops at `limit`,
            # instead of collecting every match of a common word before sorting.
            driven = (
                select(Message)
                .select_from(_FTS)
                .join(Message, Message.seq == _FTS.c.rowid)
                .join(Membership, mine)
                .where(text("messages_fts MATCH :q").bindparams(q=fts), *conditions)
                .order_by(_FTS.c.rowid.desc())
                .limit(limit)
            )
            if before_seq is not None:
                driven = driven.where(_FTS.c.rowid < before_seq)
            found = list(await session.scalars(driven))
    else:
        words = _WORD.findall(needle)
        if words:
            # Each word as a prefix: "parl" finds "parlour". \w+ words need no quoting.
            tsquery = func.to_tsquery("simple", " & ".join(f"{word}:*" for word in words))
            found = list(
                await session.scalars(
                    newest_first.where(
                        func.to_tsvector("simple", Message.content).op("@@")(tsquery)
                    )
                )
            )
    if found:
        return found
    pattern = f"%{escape_like(needle.lower())}%"
    return list(
        await session.scalars(
            newest_first.where(func.lower(Message.content).like(pattern, escape="\\"))
        )
    )


async def unread_by_member(session: AsyncSession, room_id: str) -> dict[str, Unread]:
    """Each current member's unread count in one room, in one grouped query."""
    stmt = (
        select(Membership.user_id, *_counted())
        .select_from(Membership)
        .join(Message, _UNREAD_OF_MEMBERSHIP)
        .where(Membership.room_id == room_id, Membership.end_event_id.is_(None))
        .group_by(Membership.user_id)
    )
    return {
        user_id: Unread(int(count), int(mentions))
        for user_id, count, mentions in await session.execute(stmt)
    }
