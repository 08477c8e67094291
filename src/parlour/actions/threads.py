"""Replies (threads): the part of a send batch that is about threads (the thread page is in
actions/thread_page.py).

A reply names a message of the same room (a reply to a reply attaches to its root). The root keeps
its thread's summary on its row (count, last reply, who replied), so a page of the room shows it
without reading replies; room pages leave replies out. A reply counts as unread only for the
thread's followers (the root's author, everyone who replied, everyone mentioned in a reply): they
hear their new counts by `unread.updated`, and everyone in the room gets the root's new summary as
`message.updated`.

Decisions (docs/conversations.md): a reply to a message of another room, or to one that does not
exist, is 404 `message_not_found`; a reply to a deleted root is 422 `message_deleted` (its earlier
replies stay readable).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from parlour.actions.present import messages_out
from parlour.actions.reads import emit_unread_of_many
from parlour.errors import InvalidInput, NotFound, ParlourError
from parlour.events import stream
from parlour.events.types import MessageUpdated
from parlour.services import Services
from parlour.storage.models import Membership, Message, ThreadFollower
from parlour.storage.writer import WriteContext


def _not_in_room() -> NotFound:
    return NotFound("No such message in this room.", code="message_not_found")


async def thread_roots(
    ctx: WriteContext, wanted: Mapping[int, tuple[str, str]]
) -> dict[int, Message | ParlourError]:
    """index → the root each reply attaches to, or why it cannot; `wanted` is index → (room id,
    the message replied to). Two statements at most, whatever the number of replies."""
    if not wanted:
        return {}  # the usual batch: no replies, no statement
    # FOR UPDATE (PostgreSQL, where processes write at once): a root's count and participants
    # are computed from what is read here. In seq order, so two batches lock in the same order.
    ids = {message_id for _, message_id in wanted.values()}
    found = {
        m.id: m
        for m in await ctx.session.scalars(
            select(Message).where(Message.id.in_(ids)).order_by(Message.seq).with_for_update()
        )
    }
    deeper = {m.reply_to for m in found.values() if m.reply_to and m.reply_to not in found}
    if deeper:
        rows = await ctx.session.scalars(
            select(Message).where(Message.id.in_(deeper)).order_by(Message.seq).with_for_update()
        )
        found.update({m.id: m for m in rows})
    roots: dict[int, Message | ParlourError] = {}
    for index, (room_id, message_id) in wanted.items():
        message = found.get(message_id)
        root = found.get(message.reply_to) if message and message.reply_to else message
        if root is None or message is None or message.room_id != room_id:
            roots[index] = _not_in_room()
        elif root.deleted:
            roots[index] = InvalidInput(
                "The message this replies to was deleted.", code="message_deleted"
            )
        else:
            roots[index] = root
    return roots


@dataclass(frozen=True, slots=True)
class NewReply:
    root: Message
    seq: int
    author_id: str
    mentions: Sequence[str]
    org_id: str


async def after_replies(
    services: Services, ctx: WriteContext, replies: Sequence[NewReply], now: datetime
) -> None:
    """Inside the send batch, after its messages and their events: the roots' summaries, the
    followers, the roots' `message.updated` and the followers' counts."""
    if not replies:
        return
    roots: dict[str, Message] = {}
    org_of: dict[str, str] = {}
    authors_of: dict[str, set[str]] = {}
    followers: dict[tuple[str, str], int] = {}  # (root, user) → from which reply on
    for reply in replies:
        root = roots.setdefault(reply.root.id, reply.root)
        org_of[root.id] = reply.org_id
        authors_of.setdefault(root.id, set()).add(reply.author_id)
        root.reply_count = (root.reply_count or 0) + 1
        root.last_reply_at = now
        people = list(root.thread_participants or [])
        if reply.author_id not in people:
            root.thread_participants = [*people, reply.author_id]
        followers.setdefault((root.id, root.author_id), root.seq)
        for user_id in (reply.author_id, *reply.mentions):
            followers.setdefault((root.id, user_id), reply.seq)
    await ctx.session.flush()
    await follow(services, ctx, followers)
    views = await messages_out(ctx.session, list(roots.values()), services.presence)
    for root, view in zip(roots.values(), views, strict=True):
        org_id = org_of[root.id]
        await stream.append(
            ctx, org_id=org_id, event=MessageUpdated(message=view), room_id=root.room_id
        )
        told = await _followers_of(ctx, root)
        await emit_unread_of_many(
            ctx, org_id, [uid for uid in told if uid not in authors_of[root.id]], root.room_id
        )


async def follow(
    services: Services, ctx: WriteContext, followers: dict[tuple[str, str], int]
) -> None:
    """Add followers, once each (the first `since_seq` stays), whoever else adds the same ones at
    the same moment."""
    rows = [
        {"root_id": root_id, "user_id": user_id, "since_seq": since}
        for (root_id, user_id), since in sorted(followers.items())
    ]
    table = ThreadFollower.__table__
    dialect = postgresql if services.dialect == "postgresql" else sqlite
    statement = dialect.insert(table).on_conflict_do_nothing(index_elements=["root_id", "user_id"])
    await ctx.session.execute(statement, rows)


async def _followers_of(ctx: WriteContext, root: Message) -> list[str]:
    """The thread's followers who are still members of its room (one who left hears nothing)."""
    rows = await ctx.session.scalars(
        select(ThreadFollower.user_id)
        .join(
            Membership,
            (Membership.user_id == ThreadFollower.user_id)
            & (Membership.room_id == root.room_id)
            & Membership.end_event_id.is_(None),
        )
        .where(ThreadFollower.root_id == root.id)
        .order_by(ThreadFollower.id)
    )
    return list(rows)
