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

import contextlib
import functools
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parseaddr
from urllib.parse import unquote, urlsplit

import aiosmtplib
from sqlalchemy import bindparam, or_, select, update

from parlour.services import Services
from parlour.storage.models import EmailOutbox
from parlour.storage.writer import WriteContext

log = logging.getLogger("parlour.notify")

CLAIM = timedelta(seconds=60)
MAX_BACKOFF = timedelta(minutes=10)
PER_PASS = 100
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


_TABLE = EmailOutbox.metadata.tables["email_outbox"]
_MARK_SENT = (
    update(_TABLE)
    .where(_TABLE.c.id == bindparam("oid"))
    .values(sent_at=bindparam("at"), claimed_until=None)
)
_MARK_FAILED = (
    update(_TABLE)
    .where(_TABLE.c.id == bindparam("oid"))
    .values(
        attempts=bindparam("tries"),
        next_attempt_at=bindparam("next"),
        claimed_until=None,
        last_error=bindparam("error"),
    )
)


async def _mark(
    ctx: WriteContext, *, sent: list[dict[str, object]], failed: list[dict[str, object]]
) -> None:
    """One executemany each for the sent and the failed of a pass."""
    if sent:
        await ctx.session.execute(_MARK_SENT, sent)
    if failed:
        await ctx.session.execute(_MARK_FAILED, failed)


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
    """Send what is due over one SMTP connection; how many went."""
    now = services.clock.now()
    claimed = await _claim(services, now)
    if not claimed:
        return 0
    sent = 0
    sender = parseaddr(services.settings.mail_from)[1] or services.settings.mail_from
    client = aiosmtplib.SMTP(
        hostname=smtp.hostname,
        port=smtp.port,
        username=smtp.username,
        password=smtp.password,
        use_tls=smtp.implicit_tls,
        timeout=SMTP_TIMEOUT,
    )
    connection_error: str | None = None
    try:
        await client.connect()
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        connection_error = f"{type(exc).__name__}: {exc}"[:500]
    sent_rows: list[dict[str, object]] = []
    failed_rows: list[dict[str, object]] = []
    try:
        for outbox_id, to_addr, message, attempts in claimed:
            error = connection_error
            if error is None:
                try:
                    await client.sendmail(sender, [to_addr], message)
                except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
                    error = f"{type(exc).__name__}: {exc}"[:500]
                    if not client.is_connected:  # the rest cannot go over this connection
                        connection_error = error
            done = services.clock.now()
            if error is None:
                sent += 1
                log.info("email sent outbox=%s to=%s", outbox_id, to_addr)
                sent_rows.append({"oid": outbox_id, "at": done})
            else:
                log.warning(
                    "email failed outbox=%s attempt=%d error=%s", outbox_id, attempts + 1, error
                )
                failed_rows.append(
                    {
                        "oid": outbox_id,
                        "tries": attempts + 1,
                        "next": done + backoff(attempts + 1),
                        "error": error,
                    }
                )
    finally:
        if client.is_connected:
            with contextlib.suppress(aiosmtplib.SMTPException, OSError, TimeoutError):
                await client.quit()
        # Marked together, in one job; a crash before this resends (module docstring).
        mark = functools.partial(_mark, sent=sent_rows, failed=failed_rows)
        await services.writer.run(mark)
    return sent
