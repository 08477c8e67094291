"""Hands written digests to SMTP, and keeps trying while SMTP is down.

Each process claims a few due rows for a minute (so two processes never send the same row at
once), sends them, and marks each sent or failed (retried with exponential backoff, up to
`MAX_BACKOFF` apart). What this risks, by design: a crash after the SMTP server took a message
and before it was marked sent makes it go again once the claim expires — a repeated e-mail
(with the same Message-ID), never a lost one. Losing one would be worse: the person would never
learn a message waits for them. SMTP being slow or down delays e-mails only: this runs beside
the request path, on its own task, with a timeout on every exchange.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parseaddr
from urllib.parse import unquote, urlsplit

import aiosmtplib
from sqlalchemy import or_, select, update

from parlour.services import Services
from parlour.storage.models import EmailOutbox
from parlour.storage.writer import WriteContext

log = logging.getLogger("parlour.notify")

CLAIM = timedelta(seconds=60)
MAX_BACKOFF = timedelta(minutes=10)
PER_PASS = 20
SMTP_TIMEOUT = 10.0


@dataclass(frozen=True, slots=True)
class SmtpServer:
    hostname: str
    port: int
    username: str | None
    password: str | None
    implicit_tls: bool


def parse_smtp_url(url: str) -> SmtpServer:
    """`smtp://[user:pass@]host:port` (STARTTLS when offered) or `smtps://...` (TLS at once)."""
    parts = urlsplit(url)
    if parts.scheme not in {"smtp", "smtps"} or not parts.hostname:
        raise ValueError("PARLOUR_SMTP_URL is smtp://[user:pass@]host:port or smtps://...")
    tls = parts.scheme == "smtps"
    return SmtpServer(
        parts.hostname,
        parts.port or (465 if tls else 25),
        unquote(parts.username) if parts.username else None,
        unquote(parts.password) if parts.password else None,
        tls,
    )


async def _mark(ctx: WriteContext, *, outbox_id: str, change: dict[str, object]) -> None:
    await ctx.session.execute(
        update(EmailOutbox).where(EmailOutbox.id == outbox_id).values(**change)
    )


def backoff(attempts: int) -> timedelta:
    return min(timedelta(seconds=2**attempts), MAX_BACKOFF)


async def _claim(services: Services, now: datetime) -> list[tuple[str, str, str, int]]:
    # Looked for outside the write order first: an idle pass writes nothing.
    async with services.db.read_session() as session:
        due = select(EmailOutbox.id).where(
            EmailOutbox.sent_at.is_(None), EmailOutbox.next_attempt_at <= now
        )
        if await session.scalar(due.limit(1)) is None:
            return []

    async def job(ctx: WriteContext) -> list[tuple[str, str, str, int]]:
        rows = list(
            await ctx.session.execute(
                select(
                    EmailOutbox.id, EmailOutbox.to_addr, EmailOutbox.message, EmailOutbox.attempts
                )
                .where(
                    EmailOutbox.sent_at.is_(None),
                    EmailOutbox.next_attempt_at <= now,
                    or_(EmailOutbox.claimed_until.is_(None), EmailOutbox.claimed_until < now),
                )
                .order_by(EmailOutbox.next_attempt_at)
                .limit(PER_PASS)
            )
        )
        if rows:
            await ctx.session.execute(
                update(EmailOutbox)
                .where(EmailOutbox.id.in_([row[0] for row in rows]))
                .values(claimed_until=now + CLAIM)
            )
        return [(row[0], row[1], row[2], row[3]) for row in rows]

    return await services.writer.run(job)


async def send_due_emails(services: Services, smtp: SmtpServer) -> int:
    """Send what is due; how many went."""
    now = services.clock.now()
    claimed = await _claim(services, now)
    sent = 0
    sender = parseaddr(services.settings.mail_from)[1] or services.settings.mail_from
    for outbox_id, to_addr, message, attempts in claimed:
        error: str | None = None
        try:
            await aiosmtplib.send(
                message,
                sender=sender,
                recipients=[to_addr],
                hostname=smtp.hostname,
                port=smtp.port,
                username=smtp.username,
                password=smtp.password,
                use_tls=smtp.implicit_tls,
                timeout=SMTP_TIMEOUT,
            )
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
        done = services.clock.now()
        if error is None:
            sent += 1
            log.info("email sent outbox=%s to=%s", outbox_id, to_addr)
            values: dict[str, object] = {"sent_at": done, "claimed_until": None}
        else:
            log.warning(
                "email failed outbox=%s attempt=%d error=%s", outbox_id, attempts + 1, error
            )
            values = {
                "attempts": attempts + 1,
                "next_attempt_at": done + backoff(attempts + 1),
                "claimed_until": None,
                "last_error": error,
            }

        async def mark(
            ctx: WriteContext, oid: str = outbox_id, change: dict[str, object] = values
        ) -> None:
            await ctx.session.execute(
                update(EmailOutbox).where(EmailOutbox.id == oid).values(**change)
            )

        await services.writer.run(mark)
    return sent
