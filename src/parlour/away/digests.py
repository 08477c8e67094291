"""Digests: what someone away is still owed after the delay becomes one e-mail.

A person's digest falls due once their oldest owed message is `PARLOUR_EMAIL_DELAY_SECONDS` old
and their last digest at least as long ago. If they are connected then, it is held (they may
read it in the app) and looked at again a little later. The digest job, in one transaction,
keeps only what is still unread (a message read in time is never e-mailed), deletes every owed
row of the person, writes the e-mail into the outbox and notes when it went: a crash before
the commit leaves everything owed, after it the outbox has it (mailer.py sends it).
"""

from __future__ import annotations

import functools
import html
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from urllib.parse import quote

from sqlalchemy import and_, delete, func, or_, select

from parlour.away.consumer import preview
from parlour.away.secrets import unsubscribe_key, unsubscribe_token
from parlour.ids import new_id
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
# A person connected when their digest fell due is looked at again after this.
HOLD = timedelta(seconds=30)


@dataclass(frozen=True, slots=True)
class Line:
    """One message of a digest."""

    room_id: str
    room_name: str
    sender: str
    text: str  # empty when the person turned message previews off
    created_at: datetime


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


async def send_due_digests(services: Services) -> int:
    """Write the digests now due into the outbox; how many were written."""
    now = services.clock.now()
    written = 0
    due = await due_people(services, now)
    if not due:
        return 0
    key = await unsubscribe_key(services)  # before any job: it may write, jobs cannot nest
    for user_id in due:
        if services.presence.is_connected(user_id):
            await services.writer.run(functools.partial(_hold, user_id=user_id, now=now))
            log.info("digest held user=%s reason=connected", user_id)
            continue
        job = functools.partial(_digest, services, user_id=user_id, now=now, key=key)
        if await services.writer.run(job):
            written += 1
    return written


async def _state(ctx: WriteContext, user_id: str) -> EmailState:
    state = await ctx.session.get(EmailState, user_id)
    if state is None:
        state = EmailState(user_id=user_id)
        ctx.session.add(state)
    return state


async def _hold(ctx: WriteContext, *, user_id: str, now: datetime) -> None:
    (await _state(ctx, user_id)).hold_until = now + HOLD
    await ctx.session.flush()


async def _digest(
    services: Services, ctx: WriteContext, *, user_id: str, now: datetime, key: bytes
) -> bool:
    """The digest job of one person (re-checked inside the write order: another process may
    have sent it a moment ago)."""
    delay = timedelta(seconds=services.settings.email_delay_seconds)
    state = await _state(ctx, user_id)
    if state.last_sent_at is not None and state.last_sent_at > now - delay:
        return False
    owed = list(
        await ctx.session.execute(select(OwedEmail.message_seq).where(OwedEmail.user_id == user_id))
    )
    if not owed:
        return False
    seqs = [row[0] for row in owed]
    await ctx.session.execute(delete(OwedEmail).where(OwedEmail.user_id == user_id))
    user = await ctx.session.get(User, user_id)
    prefs = (user.preferences or {}) if user else {}
    if user is None or not user.is_active or prefs.get("email_notifications") == "never":
        log.info("digest dropped user=%s reason=inactive_or_unsubscribed", user_id)
        await ctx.session.flush()
        return False
    lines = await _still_unread(ctx, user_id, seqs, bool(prefs.get("message_preview", True)))
    if not lines:
        log.info("digest dropped user=%s reason=all_read owed=%d", user_id, len(seqs))
        await ctx.session.flush()
        return False
    outbox_id = new_id()
    message = compose(services, user, lines, outbox_id, key)
    ctx.session.add(
        EmailOutbox(
            id=outbox_id,
            user_id=user_id,
            to_addr=user.email,
            message=message.as_string(),
            created_at=now,
            attempts=0,
            next_attempt_at=now,
        )
    )
    state.last_sent_at, state.hold_until = now, None
    await ctx.session.flush()
    log.info("digest written user=%s messages=%d outbox=%s", user_id, len(lines), outbox_id)
    return True


async def _still_unread(
    ctx: WriteContext, user_id: str, seqs: list[int], with_text: bool
) -> list[Line]:
    """The owed messages still unread by the person, in a room they are still in, oldest first."""
    author = User.__table__.alias("author")
    rows = await ctx.session.execute(
        select(Message.room_id, Room.type, Room.name, author.c.full_name, Message.content)
        .add_columns(Message.created_at)
        .join(Room, Room.id == Message.room_id)
        .join(author, author.c.id == Message.author_id)
        .join(
            Membership,
            and_(
                Membership.room_id == Message.room_id,
                Membership.user_id == user_id,
                Membership.end_event_id.is_(None),
            ),
        )
        .where(
            Message.seq.in_(seqs),
            Message.seq > Membership.last_read_seq,
            Message.deleted.is_(False),
        )
        .order_by(Message.seq)
    )
    return [
        Line(
            room_id,
            sender if room_type == "direct" else (f"#{name}" if room_type == "channel" else name),
            sender,
            preview(content) if with_text else "",
            created_at,
        )
        for room_id, room_type, name, sender, content, created_at in rows
    ]


def compose(
    services: Services, user: User, lines: list[Line], outbox_id: str, key: bytes
) -> EmailMessage:
    """The digest: a plain-text and an HTML part (everything in it escaped), links to the rooms,
    and a one-click unsubscribe (RFC 8058) that needs no login."""
    settings = services.settings
    base = settings.public_url.rstrip("/")
    token = unsubscribe_token(key, user.id)
    unsubscribe = f"{base}/api/v1/email/unsubscribe?u={quote(user.id)}&t={quote(token)}"
    count = len(lines)
    subject = (
        f"{lines[0].sender}: {lines[0].text or 'a new message'}"[:120]
        if count == 1
        else f"{count} unread messages in Parlour"
    )
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = settings.mail_from
    message["To"] = user.email
    message["Date"] = format_datetime(services.clock.now())
    # One id per outbox row: a digest sent twice (a crash after SMTP took it, mailer.py) is
    # recognizably the same message.
    message["Message-ID"] = make_msgid(idstring=outbox_id, domain="parlour")
    message["List-Unsubscribe"] = f"<{unsubscribe}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message["Auto-Submitted"] = "auto-generated"

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
    message.set_content("\n".join(text))
    message.add_alternative(
        "<!doctype html><html><body>"
        f"<p>Hello {html.escape(user.full_name)},</p>"
        "<p>These messages are waiting for you in Parlour:</p>"
        f"<ul>{''.join(items)}</ul>"
        f'<p><a href="{html.escape(unsubscribe, quote=True)}">Stop these e-mails</a></p>'
        "</body></html>",
        subtype="html",
    )
    return message
