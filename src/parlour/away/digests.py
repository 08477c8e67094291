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
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from email.header import Header
from email.message import Message as Message_
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, make_msgid
from urllib.parse import quote

from sqlalchemy import and_, bindparam, delete, func, insert, or_, select

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


async def send_due_digests(services: Services) -> int:
    """Write the digests now due into the outbox, all in one job; how many were written."""
    now = services.clock.now()
    due = await due_people(services, now)
    if not due:
        return 0
    key = await unsubscribe_key(services)  # before the job: it may write, jobs cannot nest
    held = [uid for uid in due if services.presence.is_connected(uid)]
    for user_id in held:
        log.info("digest held user=%s reason=connected", user_id)
    ready = [uid for uid in due if uid not in set(held)]
    job = functools.partial(_digests, services, ready=ready, held=held, now=now, key=key)
    written = await services.writer.run(job)
    # Held people count as work done too, so the next pass looks at the rest of the due list.
    return len(due) if len(due) >= DUE_PER_PASS else written


async def _digests(
    services: Services,
    ctx: WriteContext,
    *,
    ready: list[str],
    held: list[str],
    now: datetime,
    key: bytes,
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
    if ready:
        for user_id, seq in await session.execute(
            select(OwedEmail.user_id, OwedEmail.message_seq).where(OwedEmail.user_id.in_(ready))
        ):
            owed.setdefault(user_id, []).append(seq)
        await session.execute(delete(OwedEmail).where(OwedEmail.user_id.in_(ready)))
    people = {
        user.id: user for user in await session.scalars(select(User).where(User.id.in_(list(owed))))
    }
    unread = await _still_unread(ctx, owed)
    outbox: list[dict[str, object]] = []
    for user_id, seqs in owed.items():
        user = people.get(user_id)
        prefs = (user.preferences or {}) if user else {}
        if user is None or not user.is_active or prefs.get("email_notifications") == "never":
            log.info("digest dropped user=%s reason=inactive_or_unsubscribed", user_id)
            continue
        lines = unread.get(user_id, [])
        if not lines:
            log.info("digest dropped user=%s reason=all_read owed=%d", user_id, len(seqs))
            continue
        if not prefs.get("message_preview", True):
            lines = [replace(line, text="") for line in lines]
        outbox_id = new_id()
        outbox.append(
            {
                "id": outbox_id,
                "user_id": user_id,
                "to_addr": user.email,
                "message": compose(services, user, lines, outbox_id, key).as_string(),
                "created_at": now,
                "attempts": 0,
                "next_attempt_at": now,
            }
        )
        state = state_of(user_id)
        state.last_sent_at, state.hold_until = now, None
        log.info("digest written user=%s messages=%d outbox=%s", user_id, len(lines), outbox_id)
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


async def _still_unread(ctx: WriteContext, owed: dict[str, list[int]]) -> dict[str, list[Line]]:
    """Of each person's owed messages, those still unread, in a room they are still in, oldest
    first."""
    if not owed:
        return {}
    wanted = {(uid, seq) for uid, seqs in owed.items() for seq in seqs}
    rows = await ctx.session.execute(
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


def compose(
    services: Services, user: User, lines: list[Line], outbox_id: str, key: bytes
) -> Message_:
    """The digest: a plain-text and an HTML part (everything in it escaped), links to the rooms,
    and a one-click unsubscribe (RFC 8058) that needs no login.

    Built with the compat32 MIME classes: the default policy's header registry parses every
    header it is given, which cost more than everything else a digest does."""
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
    message = MIMEMultipart("alternative")
    message["Subject"] = Header(subject, "utf-8").encode()
    message["From"] = settings.mail_from
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
