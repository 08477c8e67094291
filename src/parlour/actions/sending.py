"""Every send (text, attachments or both), stored many at a time: the one send path.

Sends are the hottest write. Concurrent sends are folded into one writer job (a Coalescer) that
checks, inserts and announces them with a fixed number of set-wise queries whatever their number:
earlier copies by client_id, the senders' memberships, the attachments they claim, one multi-row
insert of messages, one per room touched, one claiming the attachments, one multi-row insert of
events. Each send still gets its own answer; a send that
fails its checks is left out before anything is written, so it never needs a savepoint of its own.
The checks include the sender's session, read in the batch's own transaction: a socket whose
session was revoked a moment ago (its close not yet processed) cannot store anything.
"""

from __future__ import annotations

import html
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, insert, select, update

from parlour.actions import threads
from parlour.actions.context import Actor
from parlour.actions.present import attachment_out, messages_out, user_out
from parlour.actions.revocation import revoked_sessions, session_revoked
from parlour.clock import iso
from parlour.domain.markdown import render_message
from parlour.domain.mentions import MentionCandidate, find_mentions
from parlour.errors import NotFound
from parlour.events import stream
from parlour.events.types import EncodedMessage, MessageCreated
from parlour.ids import new_id
from parlour.schemas import MessageOut, UserOut
from parlour.services import Services
from parlour.storage.coalesce import Coalescer
from parlour.storage.models import Attachment, Membership, Message, Room, User
from parlour.storage.pairs import pair_in
from parlour.storage.writer import WriteContext


@dataclass(frozen=True, slots=True)
class SendRequest:
    actor: Actor
    room_id: str
    content: str
    client_id: str | None
    attachment_ids: tuple[str, ...] = ()
    reply_to: str | None = None  # the message replied to (its root, if it is a reply itself)
    # A system line (actions/system_lines.py): what happened; `content` says it in plain words.
    system: dict[str, Any] | None = None
    # What an incoming webhook's post calls itself (Slack's `username`), shown as its label.
    label: str | None = None


SendResult = tuple[MessageOut, bool]  # (message, created)


def sender_for(services: Services) -> Coalescer[SendRequest, SendResult]:
    """The services' send coalescer, made on first use."""
    if services.send_coalescer is None:

        async def handle(
            ctx: WriteContext, requests: Sequence[SendRequest]
        ) -> list[SendResult | BaseException]:
            return await store_sends(services, ctx, requests)

        services.send_coalescer = Coalescer(services.writer, handle)
    coalescer: Coalescer[SendRequest, SendResult] = services.send_coalescer
    return coalescer


async def store_sends(
    services: Services, ctx: WriteContext, requests: Sequence[SendRequest]
) -> list[SendResult | BaseException]:
    outcomes: list[SendResult | BaseException | None] = [None] * len(requests)
    revoked = await revoked_sessions(ctx.session, {r.actor.session_id for r in requests})
    earlier = await _earlier_copies(services, ctx, requests)
    fresh: list[int] = []
    first_of_key: dict[tuple[str, str], int] = {}
    for index, request in enumerate(requests):
        key = (request.actor.user_id, request.client_id) if request.client_id else None
        if request.actor.session_id in revoked:
            outcomes[index] = session_revoked()  # not even a retry's earlier copy
        elif key is not None and key in earlier:
            outcomes[index] = (earlier[key], False)
        elif key is not None and key in first_of_key:
            continue  # a retry inside this very batch: answered from the first copy below
        else:
            if key is not None:
                first_of_key[key] = index
            fresh.append(index)

    authors = await _members_sending(ctx, [requests[i] for i in fresh])
    allowed = []
    for index in fresh:
        request = requests[index]
        author = authors.get((request.room_id, request.actor.user_id, request.actor.org_id))
        if author is None:
            outcomes[index] = NotFound("No such room.", code="room_not_found")
        else:
            allowed.append(index)

    claimed = await _claim_attachments(ctx, requests, allowed)
    for index in allowed:
        if index not in claimed:
            outcomes[index] = NotFound(
                "Some attachments do not exist.", code="attachment_not_found"
            )
    allowed = [index for index in allowed if index in claimed]
    roots = await threads.thread_roots(
        ctx,
        {i: (requests[i].room_id, reply_to) for i in allowed if (reply_to := requests[i].reply_to)},
    )
    thread_of: dict[int, Message] = {}
    for index, root in roots.items():
        if isinstance(root, Message):
            thread_of[index] = root
        else:
            outcomes[index] = root
    allowed = [index for index in allowed if outcomes[index] is None]

    views = await insert_sends(services, ctx, requests, allowed, authors, claimed, thread_of)
    for index, view in zip(allowed, views, strict=True):
        outcomes[index] = (view, True)
    for index, request in enumerate(requests):
        if outcomes[index] is None:  # the in-batch retry: the first copy's outcome, not created
            first = outcomes[first_of_key[(request.actor.user_id, request.client_id or "")]]
            outcomes[index] = (first[0], False) if isinstance(first, tuple) else first
    answered = [outcome for outcome in outcomes if outcome is not None]
    assert len(answered) == len(requests), "every send in a batch gets its own answer"
    return answered


async def _earlier_copies(
    services: Services, ctx: WriteContext, requests: Sequence[SendRequest]
) -> dict[tuple[str, str], MessageOut]:
    """Messages already stored under a request's (sender, client_id): the send was a retry."""
    keys = {(r.actor.user_id, r.client_id) for r in requests if r.client_id}
    if not keys:
        return {}
    rows = list(
        await ctx.session.scalars(
            select(Message).where(pair_in(Message.author_id, Message.client_id, keys))
        )
    )
    views = await messages_out(ctx.session, rows, services.presence)
    return {(m.author_id, m.client_id or ""): view for m, view in zip(rows, views, strict=True)}


async def _members_sending(
    ctx: WriteContext, requests: Sequence[SendRequest]
) -> dict[tuple[str, str, str], User]:
    """(room, sender, org) → sender, for each sender who is now a member of that room."""
    pairs = {(r.room_id, r.actor.user_id) for r in requests}
    if not pairs:
        return {}
    rows = await ctx.session.execute(
        select(Membership.room_id, Room.org_id, User)
        .join(Room, Room.id == Membership.room_id)
        .join(User, User.id == Membership.user_id)
        .where(
            pair_in(Membership.room_id, Membership.user_id, pairs),
            Membership.end_event_id.is_(None),
            User.is_active.is_(True),
        )
    )
    return {(room_id, user.id, org_id): user for room_id, org_id, user in rows}


async def _claim_attachments(
    ctx: WriteContext, requests: Sequence[SendRequest], allowed: Sequence[int]
) -> dict[int, list[Attachment]]:
    """index → the attachments that send claims, in its order, for each send whose every
    attachment is its sender's own upload, of its organization, and not yet posted (nor claimed
    by an earlier send of this batch). A send missing any of them is left out of the result."""
    wanted = {aid for index in allowed for aid in requests[index].attachment_ids}
    rows: dict[str, Attachment] = {}
    if wanted:
        found = await ctx.session.scalars(
            select(Attachment).where(
                Attachment.id.in_(list(wanted)), Attachment.message_seq.is_(None)
            )
        )
        rows = {attachment.id: attachment for attachment in found}
    taken: set[str] = set()
    claimed: dict[int, list[Attachment]] = {}
    for index in allowed:
        request = requests[index]
        ids = list(dict.fromkeys(request.attachment_ids))
        mine = [rows.get(aid) for aid in ids]
        if all(
            a is not None
            and a.id not in taken
            and a.uploader_id == request.actor.user_id
            and a.org_id == request.actor.org_id
            for a in mine
        ):
            claimed[index] = [a for a in mine if a is not None]
            taken.update(ids)
    return claimed


async def mention_candidates(
    ctx: WriteContext, room_ids: set[str]
) -> dict[str, list[MentionCandidate]]:
    """Members of the rooms where a message has an `@`, the only ones worth the query."""
    candidates: dict[str, list[MentionCandidate]] = defaultdict(list)
    if not room_ids:
        return candidates
    rows = await ctx.session.execute(
        select(Membership.room_id, User.id, User.full_name, User.email)
        .join(User, User.id == Membership.user_id)
        .where(Membership.room_id.in_(list(room_ids)), Membership.end_event_id.is_(None))
    )
    for room_id, user_id, full_name, email in rows:
        candidates[room_id].append(MentionCandidate(user_id, full_name, email))
    return candidates


async def insert_sends(
    services: Services,
    ctx: WriteContext,
    requests: Sequence[SendRequest],
    allowed: Sequence[int],
    authors: dict[tuple[str, str, str], User],
    claimed: dict[int, list[Attachment]],
    thread_of: dict[int, Message],
) -> list[MessageOut]:
    if not allowed:
        return []
    now = ctx.clock.now()
    candidates = await mention_candidates(
        ctx, {requests[i].room_id for i in allowed if "@" in requests[i].content}
    )
    rows: list[dict[str, Any]] = []
    author_views: dict[str, UserOut] = {}
    for index in allowed:
        request = requests[index]
        mentions = (
            {} if request.system else find_mentions(request.content, candidates[request.room_id])
        )
        author = authors[(request.room_id, request.actor.user_id, request.actor.org_id)]
        if author.id not in author_views:  # once per sender, not once per message
            author_views[author.id] = user_out(author, services.presence)
        rows.append(
            {
                "id": new_id(),
                "room_id": request.room_id,
                "author_id": author.id,
                "content": request.content,
                # A system line is plain words (names are not Markdown).
                "html": (
                    html.escape(request.content)
                    if request.system
                    else render_message(request.content, mentions)
                ),
                "mentions": list(dict.fromkeys(mentions.values())),
                "client_id": request.client_id,
                "deleted": False,
                "created_at": now,
                "has_attachments": bool(claimed[index]),
                "reply_to": thread_of[index].id if index in thread_of else None,
                "system": request.system,
                "label": request.label,
            }
        )
    # RETURNING matched by message id rather than by row order: unordered, SQLAlchemy can send
    # one multi-row INSERT instead of one statement per message.
    # Core, not ORM: the ORM's bulk path would process every row's mapping state for nothing.
    messages = Message.metadata.tables["messages"]
    result = await ctx.session.execute(
        insert(messages).returning(messages.c.id, messages.c.seq), rows
    )
    seq_of = {message_id: seq for message_id, seq in result}
    last_seq: dict[str, int] = {}
    for row in rows:
        if row["reply_to"] is None:  # a reply is no room's last message (pages leave it out)
            last_seq[row["room_id"]] = max(seq_of[row["id"]], last_seq.get(row["room_id"], 0))
    # One executemany for every attachment claimed.
    attachments_table = Attachment.metadata.tables["attachments"]
    claims = [
        {"aid": attachment.id, "seq": seq_of[row["id"]]}
        for index, row in zip(allowed, rows, strict=True)
        for attachment in claimed[index]
    ]
    if claims:
        await ctx.session.execute(
            update(attachments_table)
            .where(attachments_table.c.id == bindparam("aid"))
            .values(message_seq=bindparam("seq")),
            claims,
        )
    # One executemany for every room touched.
    rooms = Room.metadata.tables["rooms"]
    if last_seq:
        await ctx.session.execute(
            update(rooms)
            .where(rooms.c.id == bindparam("room"))
            .values(last_message_seq=bindparam("seq"), last_activity_at=bindparam("at")),
            [{"room": room_id, "seq": seq, "at": now} for room_id, seq in last_seq.items()],
        )
    # The shape of present.message_out, built from the inserted rows: that helper wants an ORM
    # Message, and a transient one per message would cost what the Core insert saved.
    # Encoded once, when the event's payload is: the REST answer and the ack reuse the text.
    views: list[MessageOut] = [
        EncodedMessage(
            id=row["id"],
            room_id=row["room_id"],
            author=author_views[row["author_id"]],
            content=row["content"],
            html=row["html"],
            created_at=iso(now) or "",
            edited_at=None,
            deleted=False,
            client_id=row["client_id"],
            mentions=row["mentions"],
            attachments=[attachment_out(a) for a in claimed[index]],
            reactions=[],
            pinned=False,
            reply_to=row["reply_to"],
            thread=None,
            system=row["system"],
            label=row["label"],
        )
        for index, row in zip(allowed, rows, strict=True)
    ]
    await stream.append_many(
        ctx,
        [
            stream.NewEvent(
                org_id=requests[index].actor.org_id,
                event=MessageCreated(message=view),
                room_id=view.room_id,
            )
            for index, view in zip(allowed, views, strict=True)
        ],
    )
    await threads.after_replies(
        services,
        ctx,
        [
            threads.NewReply(
                thread_of[index],
                seq_of[row["id"]],
                row["author_id"],
                row["mentions"],
                requests[index].actor.org_id,
            )
            for index, row in zip(allowed, rows, strict=True)
            if index in thread_of
        ],
        now,
    )
    return views
