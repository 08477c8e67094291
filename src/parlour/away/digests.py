"""Digests: what someone away is still owed after the delay becomes one e-mail.

A person's digest falls due once their oldest owed message is `PARLOUR_EMAIL_DELAY_SECONDS` old
and their last digest at least as long ago. If they are connected then, it is held (they may
read it in the app) and looked at again a little later. The digest job, in one transaction,
keeps only what is still unread (a message read in time is never e-mailed), deletes every owed
row of the person, writes the e-mail into the outbox and notes when it went: a crash before
the commit leaves everything owed, after it the outbox has it (mailer.py sends it).
"""

from __future__ import annotations

import asyncio
import functools
import html
import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from email.header import Header
from email.message import Message as Message_
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import Compat32
from email.utils import format_datetime, formataddr, make_msgid, parseaddr
from secrets import token_hex
from urllib.parse import quote

from sqlalchemy import and_, bindparam, delete, func, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from parlour.away.consumer import Person, people_by_id, preview
from parlour.away.secrets import unsubscribe_key, unsubscribe_token
from parlour.ids import new_id
from parlour.leases import Lease
from parlour.services import Services
from parlour.storage.models import (
    EmailOutbox,
    EmailState,
    Membership,
    Message,
    OwedEmail,
    Room,
    User,
)
from parlour.storage.writer import WriteContext

log = logging.getLogger("parlour.notify")

DUE_PER_PASS = 100


@dataclass(frozen=True, slots=True)
class Line:
    """One message of a digest."""

    room_id: str
    room_name: str
    sender: str
    text: str  # empty when the person turned message previews off


async def due_people(services: Services, now: datetime) -> list[str]:
    """People whose digest is due: oldest owed message and last digest both a delay ago."""
    cutoff = now - timedelta(seconds=services.settings.email_delay_seconds)
    async with services.db.read_session() as session:
        rows = await session.execute(
            select(OwedEmail.user_id)
            .outerjoin(EmailState, EmailState.user_id == OwedEmail.user_id)
            .where(
                or_(EmailState.last_sent_at.is_(None), EmailState.last_sent_at <= cutoff),
                or_(EmailState.hold_until.is_(None), EmailState.hold_until <= now),
            )
            .group_by(OwedEmail.user_id)
            .having(func.min(OwedEmail.owed_at) <= cutoff)
            .order_by(func.min(OwedEmail.owed_at))
            .limit(DUE_PER_PASS)
        )
        return [row[0] for row in rows]


@dataclass(frozen=True, slots=True)
class _Draft:
    """A digest composed before the write order, and what it was composed from: used as it is
    when the job finds the same owed rows and the same unread messages, composed again there
    otherwise (a message arrived or was read in between)."""

    owed: tuple[int, ...]
    unread: tuple[Line, ...]
    outbox_id: str
    message: str


async def send_due_digests(services: Services, lease: Lease) -> int:
    """Write the digests now due into the outbox, all in one job; how many were written.

    Composing an e-mail costs more than the rest of a digest together: it is done first,
    outside the write order (sends never wait behind it), from what is owed and unread then;
    the job re-reads both inside the write order and keeps a draft only if nothing changed."""
    now = services.clock.now()
    due = await due_people(services, now)
    if not due or not await lease.hold():
        return 0
    key = await unsubscribe_key(services)  # before the job: it may write, jobs cannot nest
    held = [uid for uid in due if services.presence.is_connected(uid)]
    for user_id in held:
        log.info("digest held user=%s reason=connected", user_id)
    ready = [uid for uid in due if uid not in set(held)]
    drafts: dict[str, _Draft] = {}
    if ready:
        async with services.db.read_session() as session:
            owed, readers, unread = await _owed_and_unread(session, ready)
        for user_id, seqs in owed.items():
            reader, lines = readers.get(user_id), unread.get(user_id, [])
            if reader is not None and reader.active and reader.wants_email and lines:
                drafts[user_id] = _draft(services, reader, seqs, lines, key)
                await asyncio.sleep(0)  # a hundred e-mails are not one long stretch of the loop
    job = functools.partial(
        _digests, services, ready=ready, held=held, now=now, key=key, drafts=drafts
    )
    written = await services.writer.run(job)
    # Held people count as work done too, so the next pass looks at the rest of the due list.
    return len(due) if len(due) >= DUE_PER_PASS else written


def _draft(
    services: Services, reader: Person, owed: list[int], lines: list[Line], key: bytes
) -> _Draft:
    if not reader.message_preview:
        lines = [replace(line, text="") for line in lines]
    outbox_id = new_id()
    message = written(compose(services, reader, lines, outbox_id, key))
    return _Draft(tuple(sorted(owed)), tuple(lines), outbox_id, message)


async def _owed_and_unread(
    session: AsyncSession, user_ids: list[str]
) -> tuple[dict[str, list[int]], dict[str, Person], dict[str, list[Line]]]:
    """Each person's owed message numbers, who they are, and which owed messages are unread."""
    owed: dict[str, list[int]] = {}
    for user_id, seq in await session.execute(
        select(OwedEmail.user_id, OwedEmail.message_seq).where(OwedEmail.user_id.in_(user_ids))
    ):
        owed.setdefault(user_id, []).append(seq)
    readers = await people_by_id(session, set(owed))
    return owed, readers, await _still_unread(session, owed)


async def _digests(
    services: Services,
    ctx: WriteContext,
    *,
    ready: list[str],
    held: list[str],
    now: datetime,
    key: bytes,
    drafts: dict[str, _Draft],
) -> int:
    """The digest job of a pass, set-wise (a statement per step, whatever the number of people),
    re-checked inside the write order: another process may have sent one a moment ago."""
    delay = timedelta(seconds=services.settings.email_delay_seconds)
    session = ctx.session
    states = {
        state.user_id: state
        for state in await session.scalars(
            select(EmailState).where(EmailState.user_id.in_(ready + held))
        )
    }

    def state_of(user_id: str) -> EmailState:
        if user_id not in states:
            states[user_id] = EmailState(user_id=user_id)
            session.add(states[user_id])
        return states[user_id]

    for user_id in held:  # connected: looked at again after another delay
        state_of(user_id).hold_until = now + max(delay, timedelta(seconds=1))
    cutoff = now - delay

    def may_send(user_id: str) -> bool:
        last = states[user_id].last_sent_at if user_id in states else None
        return last is None or last <= cutoff

    ready = [uid for uid in ready if may_send(uid)]
    owed: dict[str, list[int]] = {}
    readers: dict[str, Person] = {}
    unread: dict[str, list[Line]] = {}
    if ready:
        owed, readers, unread = await _owed_and_unread(session, ready)
        await session.execute(delete(OwedEmail).where(OwedEmail.user_id.in_(ready)))
    outbox: list[dict[str, object]] = []
    for user_id, seqs in owed.items():
        reader = readers.get(user_id)
        if reader is None or not reader.active or not reader.wants_email:
            log.info("digest dropped user=%s reason=inactive_or_unsubscribed", user_id)
            continue
        lines = unread.get(user_id, [])
        if not lines:
            log.info("digest dropped user=%s reason=all_read owed=%d", user_id, len(seqs))
            continue
        draft = drafts.get(user_id)
        shown = lines if reader.message_preview else [replace(x, text="") for x in lines]
        if draft is None or draft.owed != tuple(sorted(seqs)) or draft.unread != tuple(shown):
            draft = _draft(services, reader, seqs, lines, key)  # changed since: composed anew
        outbox.append(
            {
                "id": draft.outbox_id,
                "user_id": user_id,
                "to_addr": reader.email,
                "message": draft.message,
                "created_at": now,
                "attempts": 0,
                "next_attempt_at": now,
            }
        )
        state = state_of(user_id)
        state.last_sent_at, state.hold_until = now, None
        log.info(
            "digest written user=%s messages=%d outbox=%s", user_id, len(lines), draft.outbox_id
        )
    if outbox:
        await session.execute(insert(EmailOutbox.metadata.tables["email_outbox"]), outbox)
    await session.flush()
    return len(outbox)


_AUTHOR = User.metadata.tables["users"].alias("author")
# Built once: what of the owed messages is still unread by whom (owed rows are matched after).
_STILL_UNREAD = (
    select(
        Membership.user_id,
        Message.seq,
        Message.room_id,
        Room.type,
        Room.name,
        _AUTHOR.c.full_name,
        Message.content,
    )
    .join(Room, Room.id == Message.room_id)
    .join(_AUTHOR, _AUTHOR.c.id == Message.author_id)
    .join(
        Membership,
        and_(Membership.room_id == Message.room_id, Membership.end_event_id.is_(None)),
    )
    .where(
        Membership.user_id.in_(bindparam("users", expanding=True)),
        Message.seq.in_(bindparam("seqs", expanding=True)),
        Message.seq > Membership.last_read_seq,
        Message.deleted.is_(False),
    )
    .order_by(Message.seq)
)


async def _still_unread(session: AsyncSession, owed: dict[str, list[int]]) -> dict[str, list[Line]]:
    """Of each person's owed messages, those still unread, in a room they are still in, oldest
    first."""
    if not owed:
        return {}
    wanted = {(uid, seq) for uid, seqs in owed.items() for seq in seqs}
    rows = await session.execute(
        _STILL_UNREAD,
        {"users": list(owed), "seqs": sorted({seq for seqs in owed.values() for seq in seqs})},
    )
    found: dict[str, list[Line]] = {}
    for user_id, seq, room_id, room_type, name, sender, content in rows:
        if (user_id, seq) not in wanted:
            continue
        shown = (
            sender if room_type == "direct" else (f"#{name}" if room_type == "channel" else name)
        )
        found.setdefault(user_id, []).append(Line(room_id, shown, sender, preview(content)))
    return found


class _Headers(Compat32):
    """compat32, except that a header already a short line of plain ASCII is written as it is:
    every header a digest has but the subject (encoded by `compose`) and perhaps the sender's
    name. Folding each through `email.header.Header` cost more than the rest of writing the
    e-mail out; anything else still is."""

    def fold(self, name: str, value: str) -> str:
        if (
            isinstance(value, str)
            and value.isascii()
            and "\r" not in value
            and "\n" not in value
            and len(name) + len(value) < 990  # RFC 5322's 998-character line limit
        ):
            return f"{name}: {value}{self.linesep}"
        return super().fold(name, value)


_WRITTEN = _Headers()


def written(message: Message_) -> str:
    """The e-mail as the outbox keeps it and SMTP gets it."""
    return message.as_string(policy=_WRITTEN)


def compose(
    services: Services, user: Person, lines: list[Line], outbox_id: str, key: bytes
) -> Message_:
    """The digest: a plain-text and an HTML part (everything in it escaped), links to the rooms,
    and a one-click unsubscribe (RFC 8058) that needs no login.

    Built with the compat32 MIME classes: the default policy's header registry parses every
    header it is given, which cost more than everything else a digest does."""
    settings = services.settings
    base = settings.public_url.rstrip("/")
    token = unsubscribe_token(key, user.user_id)
    unsubscribe = f"{base}/api/v1/email/unsubscribe?u={quote(user.user_id)}&t={quote(token)}"
    count = len(lines)
    subject = (
        f"{lines[0].sender}: {lines[0].text or 'a new message'}"[:120]
        if count == 1
        else f"{count} unread messages in Parlour"
    )
    text = [f"Hello {user.full_name},", "", "These messages are waiting for you in Parlour:", ""]
    items = []
    for line in lines:
        link = f"{base}/#/room/{line.room_id}"
        said = f": {line.text}" if line.text else ""
        where = "" if line.room_name == line.sender else f" in {line.room_name}"
        text.append(f"- {line.sender}{where}{said}\n  {link}")
        items.append(
            f"<li><strong>{html.escape(line.sender)}</strong>{html.escape(where)}"
            f'{html.escape(said)} <a href="{html.escape(link, quote=True)}">Open</a></li>'
        )
    text += ["", f"Stop these e-mails: {unsubscribe}"]
    page = (
        "<!doctype html><html><body>"
        f"<p>Hello {html.escape(user.full_name)},</p>"
        "<p>These messages are waiting for you in Parlour:</p>"
        f"<ul>{''.join(items)}</ul>"
        f'<p><a href="{html.escape(unsubscribe, quote=True)}">Stop these e-mails</a></p>'
        "</body></html>"
    )
    # A boundary of our own: the generator would otherwise make one and compile a regular
    # expression per e-mail to prove it absent from the text (a third of writing it out).
    message = MIMEMultipart("alternative", boundary=f"=_parlour_{token_hex(16)}")
    # Encoded only when it must be: plain ASCII that could not be read as an encoded word
    # (preview() already made it one line).
    plain = subject.isascii() and "=?" not in subject
    message["Subject"] = subject if plain else Header(subject, "utf-8").encode()
    # Only a display name is encoded: a whole header encoded would hide the address.
    message["From"] = formataddr(parseaddr(settings.mail_from), charset="utf-8")
    message["To"] = user.email
    message["Date"] = format_datetime(services.clock.now())
    # One id per outbox row: a digest sent twice (a crash after SMTP took it, mailer.py) is
    # recognizably the same message.
    message["Message-ID"] = make_msgid(idstring=outbox_id, domain="parlour")
    message["List-Unsubscribe"] = f"<{unsubscribe}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message["Auto-Submitted"] = "auto-generated"
    message.attach(MIMEText("\n".join(text), "plain", "utf-8"))
    message.attach(MIMEText(page, "html", "utf-8"))
    return message
