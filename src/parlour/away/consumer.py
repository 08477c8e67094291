"""Reads new messages off the durable stream and records who is owed what: a row per owed
e-mail (sent later as a digest, if still unread) and a push per subscription of someone with
no open socket.

The stream is the queue: the consumer's position moves in the same transaction that stores
what the events caused, by compare-and-set, so every event is handled exactly once whatever
the processes (each runs this; a loser's transaction rolls back and it reads on from the new
position) and whatever the crashes. Reading and deciding happen outside the write order; the
writer job only inserts and moves the position, so sends wait behind it for microseconds.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import orjson
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from parlour.away.owed import NewMessage, Recipient, reason_owed
from parlour.errors import Conflict
from parlour.events import stream
from parlour.leases import Lease
from parlour.schemas import Preferences
from parlour.services import Services
from parlour.storage.hot import HotQuery, statement
from parlour.storage.models import (
    Membership,
    PushSubscription,
    Room,
    StreamConsumer,
    ThreadFollower,
    User,
)
from parlour.storage.writer import WriteContext

log = logging.getLogger("parlour.notify")

CONSUMER = "away"
BATCH = 500
PREVIEW_CHARS = 200
# Live delivery shares the event loop: deciding yields to it every this many messages.
YIELD_EVERY = 50


class _Overtaken(Conflict):
    """Another process handled these events first: this job rolls back (a refusal, as the
    writer sees it, not a failure)."""


@dataclass(frozen=True, slots=True)
class Person:
    """Someone who may be owed a notification, as the consumer and the digests read them."""

    user_id: str
    full_name: str
    email: str
    active: bool
    wants_email: bool
    message_preview: bool
    # Bots (docs/integrations.md) are owed neither e-mail nor pushes.
    is_bot: bool = False


async def _position(session: AsyncSession) -> int | None:
    value = await session.scalar(
        select(StreamConsumer.position).where(StreamConsumer.name == CONSUMER)
    )
    return None if value is None else int(value)


async def _start(services: Services) -> None:
    """Begin at the stream's end: what was said before notifications existed is owed nothing."""

    async def job(ctx: WriteContext) -> None:
        if await _position(ctx.session) is None:
            ctx.session.add(
                StreamConsumer(name=CONSUMER, position=await stream.current_position(ctx.session))
            )
            await ctx.session.flush()

    await services.writer.run(job)


def preview(content: str) -> str:
    """The text a notification shows: one line, cut at PREVIEW_CHARS."""
    text = " ".join(content.split())
    return text if len(text) <= PREVIEW_CHARS else text[: PREVIEW_CHARS - 1] + "…"


async def consume_once(services: Services, lease: Lease, *, email_on: bool) -> int:
    """Handle the next batch of events; the number read (0: caught up, or another process
    holds the lease and reads them)."""
    async with services.db.read_session() as session:
        position = await _position(session)
        if position is None:
            await _start(services)
            return 0
        events = await stream.fetch_after(services.db.hot, position, BATCH)
        if not events:
            return 0
    if not await lease.hold():
        return 0
    async with services.db.read_session() as session:
        ids = [
            orjson.loads(e.payload)["message"]["id"] for e in events if e.type == "message.created"
        ]
        emails, pushes = await _decide(services, session, ids, email_on=email_on)
    new_position = events[-1].id

    async def job(ctx: WriteContext) -> None:
        # Driver statements (storage/write_driver.py): a flood's pass writes a row per owed
        # e-mail and per push, inside the write order that sends wait on.
        driver = await ctx.driver()
        if not await driver.fetch(_MOVE, new_position, CONSUMER, position):
            raise _Overtaken("Another process handled these events.")
        now = driver.timestamp(ctx.clock.now())
        if emails:
            await driver.execute_many(
                _OWE,
                [
                    (user_id, room_id, seq, driver.timestamp(at))
                    for user_id, room_id, seq, at in emails
                ],
            )
        if pushes:
            await driver.execute_many(
                _PUSH, [(subscription_id, payload, now, now) for subscription_id, payload in pushes]
            )

    try:
        await services.writer.run(job)
    except _Overtaken:
        return len(events)
    return len(events)


_Owed = tuple[str, str, int, datetime]  # user, room, message seq, when it was owed
_Push = tuple[str, str]  # subscription, payload

_MOVE = HotQuery(
    "UPDATE stream_consumers SET position = ? WHERE name = ? AND position = ? RETURNING name"
)
_OWE = HotQuery(
    "INSERT INTO owed_emails (user_id, room_id, message_seq, owed_at) VALUES (?, ?, ?, ?)"
)
_PUSH = HotQuery(
    "INSERT INTO push_outbox (subscription_id, payload, created_at, next_attempt_at, attempts)"
    " VALUES (?, ?, ?, ?, 0)"
)

# A pass reads every new message: a driver statement (storage/hot.py), not the ORM. JSON columns
# come back as their text on both databases.
_MESSAGES = """SELECT seq, id, room_id, author_id, content, mentions, reply_to, system, deleted
FROM messages WHERE id IN ({}) ORDER BY seq"""


async def _decide(
    services: Services, session: AsyncSession, message_ids: Sequence[str], *, email_on: bool
) -> tuple[list[_Owed], list[_Push]]:
    """The owed e-mail rows and push rows for these new messages."""
    if not message_ids:
        return [], []
    ids = sorted(set(message_ids))
    messages = [
        NewMessage(
            seq,
            message_id,
            room_id,
            author_id,
            content,
            orjson.loads(mentions) if mentions else [],
            reply_to,
            system not in (None, "null"),  # JSON text; `null` is what a person wrote
            bool(deleted),
        )
        for seq, message_id, room_id, author_id, content, mentions, reply_to, system, deleted in (
            await services.db.hot.fetch(statement(_MESSAGES, len(ids)), *ids)
        )
    ]
    messages = [m for m in messages if not m.system and not m.deleted]
    if not messages:
        return [], []
    room_ids = list({m.room_id for m in messages})
    rooms = {
        row.id: (row.type, row.name)
        for row in await session.execute(
            select(Room.id, Room.type, Room.name).where(Room.id.in_(room_ids))
        )
    }
    members: dict[str, list[tuple[str, str | None]]] = defaultdict(list)
    for row in await session.execute(
        select(Membership.room_id, Membership.user_id, Membership.notify).where(
            Membership.room_id.in_(room_ids), Membership.end_event_id.is_(None)
        )
    ):
        members[row.room_id].append((row.user_id, row.notify))
    roots = list({m.reply_to for m in messages if m.reply_to})
    followers: dict[str, dict[str, int]] = defaultdict(dict)
    if roots:
        for root_id, follower_id, since_seq in await session.execute(
            select(ThreadFollower.root_id, ThreadFollower.user_id, ThreadFollower.since_seq).where(
                ThreadFollower.root_id.in_(roots)
            )
        ):
            followers[root_id][follower_id] = since_seq
    people = await people_by_id(session, {uid for ms in members.values() for uid, _ in ms})
    authors = await people_by_id(session, {m.author_id for m in messages})
    subscriptions: dict[str, list[str]] = defaultdict(list)
    for subscriber_id, subscription_id in await session.execute(
        select(PushSubscription.user_id, PushSubscription.id).where(
            PushSubscription.user_id.in_(list(people))
        )
    ):
        subscriptions[subscriber_id].append(subscription_id)

    now = services.clock.now()
    emails: list[_Owed] = []
    pushes: list[_Push] = []
    for index, message in enumerate(messages):
        if index and index % YIELD_EVERY == 0:
            await asyncio.sleep(0)  # a batch's decisions are not one long stretch of the loop
        room_type, room_name = rooms[message.room_id]
        roster = members[message.room_id]
        author = authors.get(message.author_id)
        for user_id, level in roster:
            person = people.get(user_id)
            if person is None or person.is_bot:
                continue
            since = followers.get(message.reply_to or "", {}).get(user_id)
            recipient = Recipient(
                user_id, level, person.active, since is not None and since <= message.seq
            )
            reason = reason_owed(message, room_type, len(roster), recipient)
            if reason is None:
                continue
            email = email_on and person.wants_email
            connected = services.presence.is_connected(user_id)
            devices = [] if connected else subscriptions.get(user_id, [])
            log.info(
                "owed user=%s message=%s reason=%s email=%s push=%d%s",
                user_id,
                message.id,
                reason,
                "queued" if email else ("off" if not email_on else "declined"),
                len(devices),
                " (connected: no push)" if connected else "",
            )
            if email:
                emails.append((user_id, message.room_id, message.seq, now))
            if devices:
                sender = author.full_name if author else "Someone"
                title = sender if room_type == "direct" else f"{sender} in {room_name}"
                body = preview(message.content) if person.message_preview else ""
                payload = orjson.dumps(
                    {
                        "room_id": message.room_id,
                        "message_id": message.id,
                        "title": title,
                        "body": body,
                    }
                ).decode()
                pushes.extend((subscription_id, payload) for subscription_id in devices)
    return emails, pushes


async def people_by_id(session: AsyncSession, user_ids: set[str]) -> dict[str, Person]:
    if not user_ids:
        return {}
    found = {}
    for row in await session.execute(
        select(
            User.id, User.full_name, User.email, User.is_active, User.preferences, User.is_bot
        ).where(User.id.in_(list(user_ids)))
    ):
        # Stored preferences hold what the person changed: the rest are the schema's defaults.
        prefs = Preferences.model_validate(row.preferences or {})
        found[row.id] = Person(
            row.id,
            row.full_name,
            row.email,
            row.is_active,
            prefs.email_notifications != "never",
            prefs.message_preview,
            bool(row.is_bot),
        )
    return found


async def backlog(session: AsyncSession) -> int:
    """Events not yet read by the consumer (for operators: docs/operations.md)."""
    position = await _position(session)
    if position is None:
        return 0
    newest = await stream.current_position(session)
    return max(0, newest - position)
