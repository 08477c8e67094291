"""Reactions, pins and saves: each write is a fixed handful of statements, whatever the room's
size; reads of a message's reactions are one index range."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from parlour.storage.models import Membership, Message, Reaction, SavedMessage

ReactionView = dict[str, Any]


def group_reactions(rows: Iterable[Sequence[Any]]) -> dict[int, list[ReactionView]]:
    """(message_seq, emoji, user_id) rows ordered by chip, then by when they were made → each
    message's `reactions` as the contract shows them: each emoji once, in order of first use."""
    grouped: dict[int, dict[str, list[str]]] = {}
    for seq, emoji, user_id in rows:
        grouped.setdefault(seq, {}).setdefault(emoji, []).append(user_id)
    return {
        seq: [
            {"emoji": emoji, "count": len(users), "user_ids": users}
            for emoji, users in by_emoji.items()
        ]
        for seq, by_emoji in grouped.items()
    }


async def reactions_for(
    session: AsyncSession, seqs: Iterable[int]
) -> dict[int, list[ReactionView]]:
    wanted = sorted(set(seqs))
    if not wanted:
        return {}
    rows = await session.execute(
        select(Reaction.message_seq, Reaction.emoji, Reaction.user_id)
        .where(Reaction.message_seq.in_(wanted))
        .order_by(Reaction.message_seq, Reaction.chip, Reaction.id)
    )
    return group_reactions(rows)


async def has_reaction(session: AsyncSession, seq: int, emoji: str, user_id: str) -> bool:
    found = await session.scalar(
        select(Reaction.id).where(
            Reaction.message_seq == seq, Reaction.emoji == emoji, Reaction.user_id == user_id
        )
    )
    return found is not None


async def chips(session: AsyncSession, seq: int) -> dict[str, int]:
    """The message's emoji in use and their places (at most the limit's worth of emoji)."""
    rows = await session.execute(
        select(Reaction.emoji, Reaction.chip).where(Reaction.message_seq == seq).distinct()
    )
    return {emoji: chip for emoji, chip in rows}


async def add(
    session: AsyncSession,
    message: Message,
    emoji: str,
    user_id: str,
    now: datetime,
    in_use: dict[str, int],
) -> None:
    """`in_use` is `chips(...)`: a new emoji goes after every chip; a known one joins its chip."""
    chip = in_use.get(emoji, max(in_use.values(), default=0) + 1)
    session.add(
        Reaction(
            message_seq=message.seq,
            room_id=message.room_id,
            user_id=user_id,
            emoji=emoji,
            chip=chip,
            created_at=now,
        )
    )
    if not message.has_reactions:
        message.has_reactions = True
    await session.flush()


async def remove(session: AsyncSession, message: Message, emoji: str, user_id: str) -> bool:
    """Whether there was such a reaction; the message's flag drops with its last reaction."""
    result = await session.execute(
        delete(Reaction).where(
            Reaction.message_seq == message.seq,
            Reaction.emoji == emoji,
            Reaction.user_id == user_id,
        )
    )
    if not getattr(result, "rowcount", 0):
        return False
    left = await session.scalar(select(exists().where(Reaction.message_seq == message.seq)))
    if not left:
        message.has_reactions = False
    await session.flush()
    return True


async def clear(session: AsyncSession, message: Message) -> None:
    """A deleted message keeps no reactions (its content is gone; so is what answered it)."""
    if message.has_reactions:
        await session.execute(delete(Reaction).where(Reaction.message_seq == message.seq))
        message.has_reactions = False


async def pins_of_room(session: AsyncSession, room_id: str, limit: int) -> Sequence[Message]:
    rows = await session.scalars(
        select(Message)
        .where(Message.room_id == room_id, Message.pinned_at.is_not(None))
        .order_by(Message.pinned_at.desc(), Message.seq.desc())
        .limit(limit)
    )
    return list(rows)


async def pin_count(session: AsyncSession, room_id: str) -> int:
    count = await session.scalar(
        select(func.count())
        .select_from(Message)
        .where(Message.room_id == room_id, Message.pinned_at.is_not(None))
    )
    return int(count or 0)


async def is_saved(session: AsyncSession, user_id: str, seq: int) -> bool:
    found = await session.scalar(
        select(SavedMessage.id).where(
            SavedMessage.user_id == user_id, SavedMessage.message_seq == seq
        )
    )
    return found is not None


async def save(session: AsyncSession, user_id: str, seq: int, now: datetime) -> None:
    session.add(SavedMessage(user_id=user_id, message_seq=seq, saved_at=now))
    await session.flush()


async def unsave(session: AsyncSession, user_id: str, seq: int) -> bool:
    result = await session.execute(
        delete(SavedMessage).where(SavedMessage.user_id == user_id, SavedMessage.message_seq == seq)
    )
    return bool(getattr(result, "rowcount", 0))


async def saved_of_user(session: AsyncSession, user_id: str, limit: int) -> Sequence[Message]:
    """My saves, newest first, of messages in rooms I am still a member of."""
    rows = await session.scalars(
        select(Message)
        .join(SavedMessage, SavedMessage.message_seq == Message.seq)
        .join(
            Membership,
            (Membership.room_id == Message.room_id)
            & (Membership.user_id == user_id)
            & Membership.end_event_id.is_(None),
        )
        .where(SavedMessage.user_id == user_id)
        .order_by(SavedMessage.id.desc())
        .limit(limit)
    )
    return list(rows)
