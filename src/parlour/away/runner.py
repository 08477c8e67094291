"""The loops that reach people who are away, run by every server process beside the request
path: the consumer (stream → owed rows and pushes), digests (owed → outbox), the mailer
(outbox → SMTP) and the pusher (pushes → push services). Each is its own task, so a slow SMTP
server or push service holds up only its own work, and processes share the work safely (the
consumer by compare-and-set, digests inside the write order, outboxes by claims).

A failing pass is logged and retried at the next tick: nothing it had not committed is lost.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable

import aiohttp
from py_vapid import Vapid02

from parlour.away import consumer, digests, mailer, pusher, secrets
from parlour.ids import new_id
from parlour.leases import Lease
from parlour.outbound import client_session
from parlour.services import Services
from parlour.tasks import cancel_and_wait

log = logging.getLogger("parlour.notify")


def _log_decisions() -> None:
    """Every notification decision is an INFO line of `parlour.notify` on stderr (the server
    logs only warnings otherwise): how an operator learns why someone was or was not notified
    (docs/operations.md)."""
    if not log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False


class AwayNotifier:
    def __init__(self, services: Services) -> None:
        self._services = services
        # One process at a time reads the stream and writes digests (parlour/leases.py).
        owner = new_id()
        self._consumer_lease = Lease(services, "away.consumer", owner)
        self._digests_lease = Lease(services, "away.digests", owner)
        self._tasks: list[asyncio.Task[None]] = []
        self._http: aiohttp.ClientSession | None = None
        self._vapid: Vapid02 | None = None

    @property
    def email_on(self) -> bool:
        return bool(self._services.settings.smtp_url)

    def start(self) -> None:
        _log_decisions()
        services = self._services
        # The consumer drains what is there in one go, then waits a tick even after work: a
        # flood of messages is decided in a few large passes, not one small pass per commit
        # (each pass has fixed costs: the stream read, the lease, a write job).
        self._tasks.append(
            asyncio.create_task(self._loop("consumer", self._consume, pause_after_work=True))
        )
        if self.email_on:
            smtp = mailer.parse_smtp_url(services.settings.smtp_url)
            due = functools.partial(digests.send_due_digests, services, self._digests_lease)
            self._tasks.append(asyncio.create_task(self._loop("digests", due)))
            send = functools.partial(mailer.send_due_emails, services, smtp)
            self._tasks.append(asyncio.create_task(self._loop("mailer", send)))
        # Pushes are never followed across redirects; the guard decides each address.
        self._http = client_session(pusher.CONCURRENT)
        self._tasks.append(asyncio.create_task(self._loop("pusher", self._push)))

    async def _consume(self) -> int:
        read = total = 0
        while (
            read := await consumer.consume_once(
                self._services, self._consumer_lease, email_on=self.email_on
            )
        ) >= consumer.BATCH:
            total += read
        return total + read

    async def _push(self) -> int:
        assert self._http is not None
        if self._vapid is None:
            self._vapid = await secrets.vapid(self._services)
        return await pusher.send_due_pushes(self._services, self._vapid, self._http)

    async def _loop(
        self, name: str, once: Callable[[], Awaitable[int]], *, pause_after_work: bool = False
    ) -> None:
        poll = self._services.settings.notify_poll_seconds
        while True:
            done = 0
            try:
                done = await once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("notify %s pass failed; retrying", name)
            # Otherwise a pass that did work goes on at once: a backlog drains at full speed.
            if not done or pause_after_work:
                await asyncio.sleep(poll)

    async def stop(self) -> None:
        await cancel_and_wait(self._tasks)
        self._tasks.clear()
        for lease in (self._consumer_lease, self._digests_lease):
            try:
                await lease.release()
            except Exception:  # stopping anyway: the lease expires on its own
                log.warning("could not let go of a lease", exc_info=True)
        if self._http is not None:
            await self._http.close()
            self._http = None
