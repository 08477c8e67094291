"""Posts written pushes to their push services: encrypted for the subscription (RFC 8291,
aes128gcm, by http-ece), signed with the server's VAPID key (RFC 8292, by py-vapid).

A push endpoint is a URL a browser (so a user) chose: it passes the outbound address guard
before anything is sent, and the request goes to the address the guard checked. A 404 or 410
means the subscription is gone: it is deleted with its pending pushes. Other failures are
retried with backoff for up to `GIVE_UP_AFTER`; a push service that is slow or down delays its
own pushes only (each post has a timeout, posts run concurrently, beside the request path).
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import time
from collections.abc import Sequence
from datetime import datetime, timedelta

import aiohttp
import http_ece
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid02
from sqlalchemy import bindparam, delete, or_, select, update

from parlour.outbound import (
    CachedResolver,
    IPNetwork,
    OutboundRefused,
    check_url,
    finish,
    parse_networks,
    pinned_url,
)
from parlour.services import Services
from parlour.storage.models import PushOutbox, PushSubscription
from parlour.storage.writer import WriteContext

log = logging.getLogger("parlour.notify")

CLAIM = timedelta(seconds=60)
GIVE_UP_AFTER = timedelta(hours=24)
MAX_BACKOFF = timedelta(minutes=10)
PER_PASS = 200
CONCURRENT = 8
POST_TIMEOUT = 5.0
# How long a push service keeps a push for a device that is offline (RFC 8030 TTL).
TTL_SECONDS = 24 * 3600


_OUTBOX = PushOutbox.metadata.tables["push_outbox"]
_DELETE_PUSH = delete(_OUTBOX).where(_OUTBOX.c.id == bindparam("pid"))
_RETRY_PUSH = (
    update(_OUTBOX)
    .where(_OUTBOX.c.id == bindparam("pid"))
    .values(attempts=bindparam("tries"), next_attempt_at=bindparam("next"), claimed_until=None)
)

# Push services are few and their names stable: looked up once a minute, not once per push.
_RESOLVE = CachedResolver(60.0)


def backoff(attempts: int) -> timedelta:
    return min(timedelta(seconds=2**attempts), MAX_BACKOFF)


def b64url_decode(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def encrypt(payload: bytes, p256dh: str, auth: str) -> bytes:
    """The aes128gcm body for one subscription: a fresh sender key and salt every time."""
    sender = ec.generate_private_key(ec.SECP256R1())
    encrypted: bytes = http_ece.encrypt(
        payload,
        salt=os.urandom(16),
        private_key=sender,
        dh=b64url_decode(p256dh),
        auth_secret=b64url_decode(auth),
        version="aes128gcm",
    )
    return encrypted


# A VAPID token is valid for its push service (the audience) until it expires: one signature
# serves every push to that service for an hour (a push service sees tokens up to 24 h old).
_TOKEN_LIFE = 3600
_signed: dict[tuple[int, str, str], tuple[float, dict[str, str]]] = {}


def vapid_headers(key: Vapid02, endpoint_origin: str, subject: str) -> dict[str, str]:
    now = time.time()
    cache_key = (id(key), endpoint_origin, subject)
    cached = _signed.get(cache_key)
    if cached is not None and cached[0] > now + 60:
        return cached[1]
    expires = int(now) + _TOKEN_LIFE + 60
    headers: dict[str, str] = key.sign({"aud": endpoint_origin, "exp": expires, "sub": subject})
    if len(_signed) > 1000:  # many push services: keep the table small
        _signed.clear()
    _signed[cache_key] = (float(expires), headers)
    return headers


async def _claim(services: Services, now: datetime) -> list[tuple[int, str, str, int, datetime]]:
    # Looked for outside the write order first: an idle pass writes nothing.
    async with services.db.read_session() as session:
        if (
            await session.scalar(
                select(PushOutbox.id).where(PushOutbox.next_attempt_at <= now).limit(1)
            )
            is None
        ):
            return []

    async def job(ctx: WriteContext) -> list[tuple[int, str, str, int, datetime]]:
        rows = list(
            await ctx.session.execute(
                select(
                    PushOutbox.id,
                    PushOutbox.subscription_id,
                    PushOutbox.payload,
                    PushOutbox.attempts,
                    PushOutbox.created_at,
                )
                .where(
                    PushOutbox.next_attempt_at <= now,
                    or_(PushOutbox.claimed_until.is_(None), PushOutbox.claimed_until < now),
                )
                .order_by(PushOutbox.id)
                .limit(PER_PASS)
            )
        )
        if rows:
            await ctx.session.execute(
                update(PushOutbox)
                .where(PushOutbox.id.in_([row[0] for row in rows]))
                .values(claimed_until=now + CLAIM)
            )
        return [(row[0], row[1], row[2], row[3], row[4]) for row in rows]

    return await services.writer.run(job)


async def send_due_pushes(services: Services, key: Vapid02, http: aiohttp.ClientSession) -> int:
    """Post what is due, concurrently; how many the push services took."""
    now = services.clock.now()
    claimed = await _claim(services, now)
    if not claimed:
        return 0
    ids = list({row[1] for row in claimed})
    async with services.db.read_session() as session:
        subscriptions = {
            s.id: s
            for s in await session.scalars(
                select(PushSubscription).where(PushSubscription.id.in_(ids))
            )
        }
    # At most CONCURRENT posts at a time: a flood must not open hundreds of connections at once.
    gate = asyncio.Semaphore(CONCURRENT)
    allowed = parse_networks(services.settings.outbound_allow_networks)

    async def post(subscription: PushSubscription | None, payload: str) -> str:
        async with gate:
            return await _post(services, key, http, allowed, subscription, payload)

    results = await asyncio.gather(
        *(post(subscriptions.get(sub_id), payload) for _, sub_id, payload, _, _ in claimed),
        return_exceptions=True,
    )
    outcomes: list[str] = []
    for result in results:
        if isinstance(result, BaseException):  # a bug or a bad key: logged, retried later
            log.error("push failed unexpectedly", exc_info=result)
            outcomes.append("retry")
        else:
            outcomes.append(result)
    done = services.clock.now()
    gone = {row[1] for row, outcome in zip(claimed, outcomes, strict=True) if outcome == "gone"}

    finished: list[dict[str, object]] = []
    retried: list[dict[str, object]] = []
    for (push_id, _, _, attempts, created), outcome in zip(claimed, outcomes, strict=True):
        if outcome in {"sent", "gone", "refused"} or done - created > GIVE_UP_AFTER:
            finished.append({"pid": push_id})
        else:
            retried.append(
                {"pid": push_id, "tries": attempts + 1, "next": done + backoff(attempts + 1)}
            )

    async def job(ctx: WriteContext) -> None:
        # One executemany each: a flood's pass marks 200 pushes in two statements, not 200.
        if finished:
            await ctx.session.execute(_DELETE_PUSH, finished)
        if retried:
            await ctx.session.execute(_RETRY_PUSH, retried)
        if gone:
            await ctx.session.execute(
                delete(PushOutbox).where(PushOutbox.subscription_id.in_(list(gone)))
            )
            await ctx.session.execute(
                delete(PushSubscription).where(PushSubscription.id.in_(list(gone)))
            )

    await services.writer.run(job)
    return sum(1 for outcome in outcomes if outcome == "sent")


async def _post(
    services: Services,
    key: Vapid02,
    http: aiohttp.ClientSession,
    allowed: Sequence[IPNetwork],
    subscription: PushSubscription | None,
    payload: str,
) -> str:
    """ "sent", "gone" (404/410: the subscription ended), "refused" (the guard), or "retry"."""
    if subscription is None:
        return "gone"
    settings = services.settings
    try:
        checked = await check_url(subscription.endpoint, allowed, _RESOLVE)
    except OutboundRefused as refused:
        log.warning("push refused subscription=%s: %s", subscription.id, refused)
        return "refused"
    origin = f"{checked.scheme}://{checked.host_header}"
    headers = {
        "Host": checked.host_header,
        "TTL": str(TTL_SECONDS),
        "Content-Encoding": "aes128gcm",
        "Content-Type": "application/octet-stream",
        "Urgency": "high",
        **vapid_headers(key, origin, settings.vapid_subject),
    }
    body = encrypt(payload.encode(), subscription.p256dh, subscription.auth)
    try:
        async with http.post(
            pinned_url(checked),
            data=body,
            headers=headers,
            server_hostname=checked.host if checked.scheme == "https" else None,
            allow_redirects=False,
            timeout=aiohttp.ClientTimeout(total=POST_TIMEOUT),
        ) as response:
            status = response.status
            await finish(response)
    except (aiohttp.ClientError, TimeoutError) as exc:
        log.warning("push failed subscription=%s error=%s", subscription.id, type(exc).__name__)
        return "retry"
    if status in (404, 410):
        log.info("push subscription gone subscription=%s", subscription.id)
        return "gone"
    if 200 <= status < 300:
        log.info("push sent subscription=%s status=%d", subscription.id, status)
        return "sent"
    log.warning("push failed subscription=%s status=%d", subscription.id, status)
    return "retry"
