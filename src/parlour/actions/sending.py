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
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import bindparam, select, update

from parlour.actions import threads
from parlour.actions.context import Actor
from parlour.actions.present import attachment_out, avatar_url, messages_out
from parlour.actions.revocation import session_revoked
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
from parlour.storage.hot import HotQuery, statement
from parlour.storage.models import Attachment, Membership, Message, User
from parlour.storage.pairs import grouped, pairs_statement
from parlour.storage.write_driver import WriteDriver, insert_rows
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
    driver = await ctx.driver()
    revoked = await _revoked(driver, {r.actor.session_id for r in requests})
    earlier = await _earlier_copies(services, ctx, driver, requests)
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

    authors = await _members_sending(services, driver, [requests[i] for i in fresh])
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


_REVOKED = "SELECT id FROM sessions WHERE revoked_at IS NOT NULL AND id IN ({})"


async def _revoked(driver: WriteDriver, session_ids: Collection[str]) -> set[str]:
    """Those of the senders' sessions revoked by now (read in the batch's own transaction)."""
    ids = sorted(session_ids)
    if not ids:
        return set()
    return {row[0] for row in await driver.fetch(statement(_REVOKED, len(ids)), *ids)}


async def _earlier_copies(
    services: Services, ctx: WriteContext, driver: WriteDriver, requests: Sequence[SendRequest]
) -> dict[tuple[str, str], MessageOut]:
    """Messages already stored under a request's (sender, client_id): the send was a retry."""
    groups = grouped((r.actor.user_id, r.client_id) for r in requests if r.client_id)
    if not groups:
        return {}
    query, args = pairs_statement(
        "SELECT seq FROM messages WHERE {where}", "author_id = ? AND client_id IN ({})", groups
    )
    seqs = [row[0] for row in await driver.fetch(query, *args)]
    if not seqs:
        return {}  # the usual batch: no retries
    rows = list(await ctx.session.scalars(select(Message).where(Message.seq.in_(seqs))))
    views = await messages_out(ctx.session, rows, services.presence)
    return {(m.author_id, m.client_id or ""): view for m, view in zip(rows, views, strict=True)}


_MEMBERS_SENDING = """SELECT ms.room_id, r.org_id, u.id, u.email, u.full_name, u.status,
    u.is_admin, u.is_active, u.last_seen_at, u.avatar_version, u.is_bot
FROM memberships ms JOIN rooms r ON r.id = ms.room_id JOIN users u ON u.id = ms.user_id
WHERE ms.end_event_id IS NULL AND u.is_active = true AND ({where})"""


async def _members_sending(
    services: Services, driver: WriteDriver, requests: Sequence[SendRequest]
) -> dict[tuple[str, str, str], UserOut]:
    """(room, sender, org) → how the sender is shown, for each sender who is now a member of
    that room."""
    groups = grouped((r.room_id, r.actor.user_id) for r in requests)
    if not groups:
        return {}
    query, args = pairs_statement(_MEMBERS_SENDING, "ms.room_id = ? AND ms.user_id IN ({})", groups)
    found: dict[tuple[str, str, str], UserOut] = {}
    for room_id, org_id, user_id, *shown in await driver.fetch(query, *args):
        email, full_name, status, is_admin, is_active, last_seen_at, avatar, is_bot = shown
        found[(room_id, user_id, org_id)] = UserOut(
            id=user_id,
            email=email,
            full_name=full_name,
            status=services.presence.status(user_id, status),  # an active user (the query)
            is_admin=bool(is_admin),
            is_active=bool(is_active),
            last_seen_at=driver.iso(last_seen_at),
            avatar_url=avatar_url(user_id, avatar),
            is_bot=bool(is_bot),
        )
    return found


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


@dataclass(frozen=True, slots=True)
class _NewMessage:
    id: str
    room_id: str
    author: UserOut
    content: str
    html: str
    mentions: list[str]
    client_id: str | None
    has_attachments: bool
    reply_to: str | None
    system: dict[str, Any] | None
    label: str | None

    def values(self, stored_at: Any) -> tuple[Any, ...]:
        """The row's values in `_MESSAGE_COLUMNS` order (JSON as its text on both databases,
        `null` included, as SQLAlchemy's JSON type writes it)."""
        return (
            self.id,
            self.room_id,
            self.author.id,
            self.content,
            self.html,
            orjson.dumps(self.mentions).decode(),
            self.client_id,
            False,
            stored_at,
            self.has_attachments,
            self.reply_to,
            orjson.dumps(self.system).decode(),
            self.label,
        )


_MESSAGE_COLUMNS = (
    "id", "room_id", "author_id", "content", "html", "mentions", "client_id", "deleted",
    "created_at", "has_attachments", "reply_to", "system", "label",
)  # fmt: skip
# Well under both drivers' limits on bound values (SQLite 32,766; PostgreSQL 32,767).
_ROWS_PER_INSERT = 500
_ROOM_MOVED_ON = HotQuery(
    "UPDATE rooms SET last_message_seq = ?, last_activity_at = ? WHERE id = ?"
)


async def insert_sends(
    services: Services,
    ctx: WriteContext,
    requests: Sequence[SendRequest],
    allowed: Sequence[int],
    authors: dict[tuple[str, str, str], UserOut],
    claimed: dict[int, list[Attachment]],
    thread_of: dict[int, Message],
) -> list[MessageOut]:
    """Store the `allowed` sends (checked already), with one statement per table whatever their
    number, and append their events; their views, in `allowed`'s order."""
    if not allowed:
        return []
    now = ctx.clock.now()
    candidates = await mention_candidates(
        ctx, {requests[i].room_id for i in allowed if "@" in requests[i].content}
    )
    driver = await ctx.driver()
    stored_at = driver.timestamp(now)
    rows: list[_NewMessage] = []
    for index in allowed:
        request = requests[index]
        mentions = (
            {} if request.system else find_mentions(request.content, candidates[request.room_id])
        )
        rows.append(
            _NewMessage(
                id=new_id(),
                room_id=request.room_id,
                author=authors[(request.room_id, request.actor.user_id, request.actor.org_id)],
                content=request.content,
                # A system line is plain words (names are not Markdown).
                html=(
                    html.escape(request.content)
                    if request.system
                    else render_message(request.content, mentions)
                ),
                mentions=list(dict.fromkeys(mentions.values())),
                client_id=request.client_id,
                has_attachments=bool(claimed[index]),
                reply_to=thread_of[index].id if index in thread_of else None,
                system=request.system,
                label=request.label,
            )
        )
    seq_of: dict[str, int] = {}
    for start in range(0, len(rows), _ROWS_PER_INSERT):
        chunk = rows[start : start + _ROWS_PER_INSERT]
        # RETURNING matched by message id: a multi-row INSERT promises no order of its rows.
        query = insert_rows("messages", _MESSAGE_COLUMNS, len(chunk), "id, seq")
        values = [value for row in chunk for value in row.values(stored_at)]
        seq_of.update((message_id, seq) for message_id, seq in await driver.fetch(query, *values))
    last_seq: dict[str, int] = {}
    for row in rows:
        if row.reply_to is None:  # a reply is no room's last message (pages leave it out)
            last_seq[row.room_id] = max(seq_of[row.id], last_seq.get(row.room_id, 0))
    # One executemany for every attachment claimed (few sends carry any: Core is enough).
    attachments_table = Attachment.metadata.tables["attachments"]
    claims = [
        {"aid": attachment.id, "seq": seq_of[row.id]}
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
    if last_seq:
        await driver.execute_many(
            _ROOM_MOVED_ON, [(seq, stored_at, room_id) for room_id, seq in last_seq.items()]
        )
    # The shape of present.message_out, built from the inserted rows: that helper wants an ORM
    # Message, and a transient one per message would cost what the driver insert saved.
    # Encoded once, when the event's payload is: the REST answer and the ack reuse the text.
    created_at = iso(now) or ""
    views: list[MessageOut] = [
        EncodedMessage(
            id=row.id,
            room_id=row.room_id,
            author=row.author,
            content=row.content,
            html=row.html,
            created_at=created_at,
            edited_at=None,
            deleted=False,
            client_id=row.client_id,
            mentions=row.mentions,
            attachments=[attachment_out(a) for a in claimed[index]],
            reactions=[],
            pinned=False,
            reply_to=row.reply_to,
            thread=None,
            system=row.system,
            label=row.label,
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
                seq_of[row.id],
                row.author.id,
                row.mentions,
                requests[index].actor.org_id,
            )
            for index, row in zip(allowed, rows, strict=True)
            if index in thread_of
        ],
        now,
    )
    return views
