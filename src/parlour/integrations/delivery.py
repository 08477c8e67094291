"""Delivers outgoing webhooks, beside the request path in every server process.

Each webhook is delivered by one process at a time: a pass begins by taking the webhook's lease
(a compare-and-set UPDATE that succeeds only when the lease is free, expired or already ours),
renews it with every delivery and lets it go when caught up or when the receiver fails. The
webhook's `position` is its durable cursor in the event stream (the stream is the queue): it
moves, by compare-and-set, past an event only once the receiver answered 2xx for it, so
delivery is in stream order and at least once across crashes and restarts; the receiver
dedupes by `cursor`. It is recorded every CHECKPOINT_EVERY deliveries or CHECKPOINT_SECONDS
and when a pass ends, not per event: a crash re-delivers at most those.

One event per POST: the simplest order to reason about for a receiver, and a failure names the
event it failed on. A failure (no answer in time, a refused connection, any status but 2xx,
a redirect too: none is followed) waits an exponential backoff (`webhook_retry_seconds`, doubled
per failure up to `webhook_retry_max_seconds`) before the same event is tried again. Every
webhook is delivered by its own task, so a slow or dead receiver holds up only its own webhook,
never another or the sockets.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import ipaddress
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import aiohttp
from sqlalchemy import or_, select, update

from parlour import __version__
from parlour.config import Settings
from parlour.events import stream
from parlour.ids import new_id
from parlour.integrations.outgoing import (
    SIGNATURE_HEADER,
    WEBHOOK_HEADER,
    matching_events,
    signature,
)
from parlour.outbound import (
    OutboundRefused,
    check_url,
    client_session,
    finish,
    parse_networks,
    pinned_url,
)
from parlour.services import Services
from parlour.storage.models import Event, OutgoingWebhook
from parlour.storage.writer import WriteContext
from parlour.tasks import cancel_and_wait

log = logging.getLogger("parlour.webhooks")

# Webhooks delivered at once by one process (each pass posts one event at a time).
CONNECTIONS = 32
# A POST gets this long in all (connecting, sending, the answer): well inside the lease, so a
# lease can only lapse while its holder is stuck, not while it waits for a receiver.
POST_TIMEOUT = 5.0
LEASE_SECONDS = 30.0
BATCH = 100
# A pass records its position (and renews its lease) after this many deliveries or seconds,
# and when it ends: not a write per event.
CHECKPOINT_EVERY = 25
CHECKPOINT_SECONDS = 5.0
ERROR_CHARS = 300


@dataclass(frozen=True, slots=True)
class Webhook:
    """A webhook as a pass reads it once it holds the lease."""

    id: str
    org_id: str
    url: str
    secret: str
    events: list[str]
    room_ids: list[str] | None
    position: int
    attempts: int


@dataclass(frozen=True, slots=True)
class Outcome:
    status: int | None
    error: str | None

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def backoff_seconds(settings: Settings, attempts: int) -> float:
    """The wait after the `attempts`-th failure in a row (1: the first)."""
    exponent = min(max(attempts - 1, 0), 30)
    return float(
        min(settings.webhook_retry_max_seconds, settings.webhook_retry_seconds * 2**exponent)
    )


async def due_webhook_ids(services: Services) -> list[str]:
    """Webhooks with events past their position, not waiting out a backoff, lease not held."""
    now = services.clock.now()
    async with services.db.read_session() as session:
        head = await stream.current_position(session)
        rows = await session.scalars(
            select(OutgoingWebhook.id).where(
                OutgoingWebhook.deleted_at.is_(None),
                OutgoingWebhook.position < head,
                or_(
                    OutgoingWebhook.next_attempt_at.is_(None),
                    OutgoingWebhook.next_attempt_at <= now,
                ),
                or_(OutgoingWebhook.lease_until.is_(None), OutgoingWebhook.lease_until < now),
            )
        )
        return list(rows)


async def take_lease(services: Services, webhook_id: str, owner: str) -> bool:
    """Hold the webhook's lease for LEASE_SECONDS, if it is free, expired or ours already."""

    async def job(ctx: WriteContext) -> bool:
        now = ctx.clock.now()
        taken = await ctx.session.execute(
            update(OutgoingWebhook)
            .where(
                OutgoingWebhook.id == webhook_id,
                OutgoingWebhook.deleted_at.is_(None),
                or_(
                    OutgoingWebhook.lease_owner.is_(None),
                    OutgoingWebhook.lease_until < now,
                    OutgoingWebhook.lease_owner == owner,
                ),
            )
            .values(lease_owner=owner, lease_until=now + timedelta(seconds=LEASE_SECONDS))
        )
        return bool(taken.rowcount == 1)  # type: ignore[attr-defined]

    return await services.writer.run(job)


async def release_leases(services: Services, owner: str) -> None:
    """Let go of every lease `owner` holds (a process stopping): another takes over at once."""

    async def job(ctx: WriteContext) -> None:
        await ctx.session.execute(
            update(OutgoingWebhook)
            .where(OutgoingWebhook.lease_owner == owner)
            .values(lease_owner=None, lease_until=None)
        )

    await services.writer.run(job)


async def record_attempt(
    services: Services,
    webhook: Webhook,
    owner: str,
    *,
    position: int,
    outcome: Outcome | None,
    release: bool,
) -> bool:
    """Move the position from `webhook.position` to `position` (compare-and-set: only while
    this process holds the lease and the webhook is not deleted) and record the attempt;
    False: the lease was lost or the webhook deleted, so the pass ends."""

    async def job(ctx: WriteContext) -> bool:
        now = ctx.clock.now()
        values: dict[str, Any] = {"position": position}
        if release:
            values.update(lease_owner=None, lease_until=None)
        else:
            values["lease_until"] = now + timedelta(seconds=LEASE_SECONDS)
        if outcome is not None:
            values.update(
                last_status=outcome.status, last_error=outcome.error, last_delivery_at=now
            )
            if outcome.delivered:
                values.update(attempts=0, next_attempt_at=None)
            else:
                attempts = webhook.attempts + 1
                wait = backoff_seconds(services.settings, attempts)
                values.update(attempts=attempts, next_attempt_at=now + timedelta(seconds=wait))
        moved = await ctx.session.execute(
            update(OutgoingWebhook)
            .where(
                OutgoingWebhook.id == webhook.id,
                OutgoingWebhook.lease_owner == owner,
                OutgoingWebhook.position == webhook.position,
                OutgoingWebhook.deleted_at.is_(None),
            )
            .values(**values)
        )
        return bool(moved.rowcount == 1)  # type: ignore[attr-defined]

    return await services.writer.run(job)


async def _load(services: Services, webhook_id: str) -> Webhook | None:
    async with services.db.read_session() as session:
        row = await session.get(OutgoingWebhook, webhook_id)
        if row is None or row.deleted_at is not None:
            return None
        return Webhook(
            row.id,
            row.org_id,
            row.url,
            row.secret,
            list(row.events),
            None if row.room_ids is None else list(row.room_ids),
            int(row.position),
            int(row.attempts),
        )


async def _post(
    services: Services, http: aiohttp.ClientSession, webhook: Webhook, body: bytes
) -> Outcome:
    url = webhook.url
    headers = {
        "Content-Type": "application/json",
        "User-Agent": f"Parlour-Webhook/{__version__}",
        SIGNATURE_HEADER: signature(webhook.secret, body),
        WEBHOOK_HEADER: webhook.id,
    }
    server_hostname: str | None = None
    networks = parse_networks(services.settings.webhook_networks)
    if networks:
        # Confined by the operator: every address the name stands for must be in a network,
        # decided before any socket opens, and the connection goes to the address checked.
        try:
            checked = await check_url(url, networks)
            if not any(ipaddress.ip_address(checked.address) in net for net in networks):
                raise OutboundRefused(f"{checked.host!r} is outside PARLOUR_WEBHOOK_NETWORKS.")
        except OutboundRefused as refused:
            return Outcome(None, f"refused: {refused}"[:ERROR_CHARS])
        headers["Host"] = checked.host_header
        url = pinned_url(checked)
        server_hostname = checked.host if checked.scheme == "https" else None
    try:
        async with http.post(
            url,
            data=body,
            headers=headers,
            server_hostname=server_hostname,
            allow_redirects=False,
            timeout=aiohttp.ClientTimeout(total=POST_TIMEOUT),
        ) as response:
            status, reason = response.status, response.reason or ""
            await finish(response)
    except TimeoutError:
        return Outcome(None, f"no answer within {POST_TIMEOUT:g} s")
    except (aiohttp.ClientError, ValueError) as exc:
        return Outcome(None, f"{type(exc).__name__}: {exc}"[:ERROR_CHARS])
    if 200 <= status < 300:
        return Outcome(status, None)
    return Outcome(status, f"HTTP {status} {reason}".strip())


async def deliver_once(
    services: Services, http: aiohttp.ClientSession, webhook_id: str, owner: str
) -> int:
    """One pass over one webhook: take its lease, deliver what is waiting in order until caught
    up or a delivery fails, let go. The number of events delivered."""
    if not await take_lease(services, webhook_id, owner):
        return 0
    webhook = await _load(services, webhook_id)
    if webhook is None:
        return 0
    delivered = 0
    # Delivered but not yet recorded: a crash re-delivers these (at least once), and the
    # writer is spared a transaction per event.
    unrecorded = webhook.position
    last: Outcome | None = None
    loop = asyncio.get_running_loop()
    checkpoint_due = loop.time() + CHECKPOINT_SECONDS
    while True:
        async with services.db.read_session() as session:
            head = await stream.current_position(session)
            rows = (
                await session.execute(
                    matching_events(webhook.org_id, webhook.events, webhook.room_ids)
                    .where(Event.id > unrecorded, Event.id <= head)
                    .order_by(Event.id)
                    .limit(BATCH)
                )
            ).all()
        for row in rows:
            event = stream.StoredEvent(
                row.id, row.org_id, row.room_id, row.user_id, row.type, row.payload
            )
            outcome = last = await _post(services, http, webhook, event.frame(services.epoch))
            if not outcome.delivered:
                log.warning(
                    "webhook %s: event %d not delivered (%s); retrying later",
                    webhook.id,
                    event.id,
                    outcome.error,
                )
                # What was delivered before it is recorded with the failure (at least once).
                await record_attempt(
                    services,
                    webhook,
                    owner,
                    position=unrecorded,
                    outcome=outcome,
                    release=True,
                )
                return delivered
            delivered += 1
            unrecorded = event.id
            if delivered % CHECKPOINT_EVERY == 0 or loop.time() >= checkpoint_due:
                if not await record_attempt(
                    services, webhook, owner, position=event.id, outcome=outcome, release=False
                ):
                    return delivered  # deleted, or the lease lapsed and another process has it
                webhook = _moved(webhook, event.id)
                checkpoint_due = loop.time() + CHECKPOINT_SECONDS
        if len(rows) < BATCH:
            # Caught up with the head: past the events it does not receive too, and let go.
            await record_attempt(
                services,
                webhook,
                owner,
                position=max(head, unrecorded),
                outcome=last,
                release=True,
            )
            return delivered


def _moved(webhook: Webhook, position: int) -> Webhook:
    """As recorded after a success: at `position`, no failures in a row."""
    return dataclasses.replace(webhook, position=position, attempts=0)


class WebhookDeliverer:
    """Runs beside the request path: every `webhook_poll_seconds` it starts a pass for each due
    webhook that has none running in this process, each pass its own task."""

    def __init__(self, services: Services) -> None:
        self._services = services
        # This process's name on the leases it holds (new at every start: a crashed process's
        # leases are nobody's and lapse).
        self.owner = new_id()
        self._loop_task: asyncio.Task[None] | None = None
        self._passes: dict[str, asyncio.Task[int]] = {}
        self._http: aiohttp.ClientSession | None = None

    def start(self) -> None:
        # No redirects followed (a 3xx is a failed delivery) and no proxy from the environment.
        self._http = client_session(CONNECTIONS)
        self._loop_task = asyncio.create_task(self._loop())

    async def _loop(self) -> None:
        poll = self._services.settings.webhook_poll_seconds
        while True:
            try:
                for webhook_id in await due_webhook_ids(self._services):
                    if webhook_id not in self._passes:
                        self._start_pass(webhook_id)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("webhook pass scheduling failed; retrying")
            await asyncio.sleep(poll)

    def _start_pass(self, webhook_id: str) -> None:
        assert self._http is not None
        task = asyncio.create_task(deliver_once(self._services, self._http, webhook_id, self.owner))
        self._passes[webhook_id] = task
        task.add_done_callback(lambda done: self._finished(webhook_id, done))

    def _finished(self, webhook_id: str, task: asyncio.Task[int]) -> None:
        if self._passes.get(webhook_id) is task:
            del self._passes[webhook_id]
        if not task.cancelled() and task.exception() is not None:
            log.error("webhook %s pass failed", webhook_id, exc_info=task.exception())

    async def stop(self) -> None:
        # A pass that failed was logged when it ended (`_finished`).
        await cancel_and_wait(t for t in (self._loop_task, *self._passes.values()) if t is not None)
        self._loop_task = None
        self._passes.clear()
        with contextlib.suppress(Exception):
            # Let another process take over now instead of when the leases lapse.
            await release_leases(self._services, self.owner)
        if self._http is not None:
            await self._http.close()
            self._http = None
