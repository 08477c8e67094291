"""Outgoing webhooks against real receivers: HTTP servers on 127.0.0.1 that the tests start,
stop and restart, and real server processes on a database of this module's own.

Each delivery is checked as the receiver sees it: the body's HMAC against the secret, the
headers, the order (first occurrences, by cursor: duplicates are at-least-once's right, gaps
and reorderings are failures). Waiting is on what arrives (a queue with a deadline) or on the
list's state (polled with a deadline), never on a sleep; retries use a tiny backoff setting.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import importlib.util
import itertools
import json
import queue
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from parlour.client import OutgoingWebhook, ParlourAPIError
from parlour.config import Settings
from parlour.integrations import delivery
from parlour.integrations.outgoing import DELIVERABLE_TYPES, PRIVATE_TYPES, signature
from parlour.services import Services
from parlour.storage.models import OutgoingWebhook as OutgoingWebhookRow
from parlour.storage.writer import WriteContext
from tests.support import (
    Member,
    OrgFactory,
    ServerProcess,
    free_port,
    fresh_database,
    org_factory,
    start_beside,
    start_server,
)

WAIT = 30.0  # seconds a delivery may take to arrive on a loaded machine; reaching it fails
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "webhook_receiver.py"


@dataclass
class Delivery:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> dict[str, Any]:
        event: dict[str, Any] = json.loads(self.body)
        return event


@dataclass
class Sink:
    """A webhook receiver on loopback that records every POST and answers 204, or 500 while
    `failing` is set. Stoppable and restartable on the same port (a receiver that goes down)."""

    port: int = field(default_factory=free_port)
    received: queue.Queue[Delivery] = field(default_factory=queue.Queue)
    failing: threading.Event = field(default_factory=threading.Event)
    in_flight: int = 0
    most_in_flight: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _httpd: ThreadingHTTPServer | None = None

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> None:
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                with sink._lock:
                    sink.in_flight += 1
                    sink.most_in_flight = max(sink.most_in_flight, sink.in_flight)
                try:
                    body = self.rfile.read(int(self.headers["Content-Length"]))
                    sink.received.put(Delivery(self.path, dict(self.headers.items()), body))
                finally:
                    # Before answering: once answered, the next POST may come at once.
                    with sink._lock:
                        sink.in_flight -= 1
                self.send_response(500 if sink.failing.is_set() else 204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    async def next(self, timeout: float = WAIT) -> Delivery:
        return await asyncio.to_thread(self.received.get, timeout=timeout)


@pytest.fixture
def sink() -> Iterator[Sink]:
    receiver = Sink()
    receiver.start()
    try:
        yield receiver
    finally:
        receiver.stop()


@pytest.fixture(scope="module")
async def hooks_database() -> AsyncIterator[str]:
    """The module's own database: every process on a database delivers its webhooks, so
    another test server on a shared PostgreSQL database must not see these."""
    async with fresh_database("hooks") as url:
        yield url


@pytest.fixture(scope="module")
def hooks_server(hooks_database: str) -> Iterator[ServerProcess]:
    env = {
        "PARLOUR_WEBHOOK_POLL_SECONDS": "0.05",
        "PARLOUR_WEBHOOK_RETRY_SECONDS": "0.05",
        "PARLOUR_WEBHOOK_RETRY_MAX_SECONDS": "0.2",
    }
    if hooks_database:
        env["PARLOUR_DATABASE_URL"] = hooks_database
    with start_server(env) as server:
        yield server


@pytest.fixture(scope="module")
async def hooks_orgs(hooks_server: ServerProcess) -> AsyncIterator[OrgFactory]:
    async with org_factory(hooks_server) as factory:
        yield factory


def verified(delivery: Delivery, secret: str, webhook_id: str) -> dict[str, Any]:
    """The delivered event, once its signature and headers are what the contract says."""
    expected = "sha256=" + hmac.new(secret.encode(), delivery.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(delivery.headers["X-Parlour-Signature"], expected)
    assert delivery.headers["X-Parlour-Webhook"] == webhook_id
    assert delivery.headers["Content-Type"] == "application/json"
    return delivery.event


def first_occurrences(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each event once, by cursor, where it first came (at least once allows repeats)."""
    seen: set[str] = set()
    firsts = []
    for event in events:
        if event["cursor"] not in seen:
            seen.add(event["cursor"])
            firsts.append(event)
    return firsts


def cursor_number(event: dict[str, Any]) -> int:
    return int(event["cursor"].rpartition(".")[2])


async def wait_until(
    check: Callable[[], Awaitable[bool]], what: str, timeout: float = WAIT
) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        await asyncio.sleep(0.05)


async def listed(admin: Member, webhook_id: str) -> OutgoingWebhook:
    (found,) = [w for w in await admin.client.list_outgoing_webhooks() if w.id == webhook_id]
    return found


async def test_the_example_receiver_gets_its_rooms_events_in_order_signed(
    hooks_orgs: OrgFactory,
) -> None:
    org = await hooks_orgs.create(["Ada Admin", "Bea Member"])
    admin, bea = org[0], org[1]
    watched = await admin.client.create_group("Deploys", [bea.user_id])
    other = await admin.client.create_group("Lunch", [bea.user_id])

    spec = importlib.util.spec_from_file_location("webhook_receiver", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    example: Any = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    got: queue.Queue[tuple[dict[str, Any], dict[str, str]]] = queue.Queue()

    class Recording(example.Receiver):  # type: ignore[misc]
        def handle_event(self, event: dict[str, Any]) -> None:
            got.put((event, dict(self.headers.items())))

        def log_message(self, format: str, *args: Any) -> None:
            return

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Recording)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/parlour"
        hook = await admin.client.create_outgoing_webhook(
            url, ["message.created", "message.updated", "reaction.added"], [watched.id]
        )
        assert hook.secret
        assert hook.room_ids == [watched.id]
        Recording.secret = hook.secret.encode()

        first = await bea.client.send_message(watched.id, "build 1 passed")
        await bea.client.send_message(other.id, "pizza?")  # another room: not delivered
        second = await bea.client.send_message(watched.id, "build 2 failed")
        await bea.client.edit_message(first.id, "build 1 passed (flaky)")
        await admin.client.mark_read(watched.id, second.id)  # unread.updated: private
        await admin.client.react(second.id, "👀")
        await bea.client.send_message(other.id, "sushi then")
        last = await bea.client.send_message(watched.id, "build 3 passed")

        events: list[dict[str, Any]] = []
        while not any(
            e["type"] == "message.created" and e["message"]["id"] == last.id for e in events
        ):
            event, headers = await asyncio.to_thread(got.get, timeout=WAIT)
            assert headers["X-Parlour-Webhook"] == hook.id
            events.append(event)
        seen = [
            (e["type"], e["message"]["id"] if "message" in e else e["message_id"])
            for e in first_occurrences(events)
        ]
        assert seen == [
            ("message.created", first.id),
            ("message.created", second.id),
            ("message.updated", first.id),
            ("reaction.added", second.id),
            ("message.created", last.id),
        ]
        firsts = first_occurrences(events)
        assert [cursor_number(e) for e in firsts] == sorted(cursor_number(e) for e in firsts)
        assert firsts[2]["message"]["content"] == "build 1 passed (flaky)"
        assert firsts[3]["emoji"] == "👀"
        assert firsts[3]["user_id"] == admin.user_id

        # The example refuses what it cannot verify (and does not hand it on).
        forged = json.dumps({"type": "message.created", "cursor": "x.1"}).encode()
        async with httpx.AsyncClient() as http:
            refused = await http.post(
                url,
                content=forged,
                headers={"X-Parlour-Signature": signature("not the secret", forged)},
            )
        assert refused.status_code == 401
        assert got.empty()
        shown = await listed(admin, hook.id)
        assert shown.last_status == 204
        assert shown.last_error is None
        assert shown.last_delivery_at is not None
        assert shown.secret is None
    finally:
        httpd.shutdown()
        httpd.server_close()


async def test_a_receiver_that_was_down_gets_everything_afterwards_in_order(
    hooks_orgs: OrgFactory, sink: Sink
) -> None:
    org = await hooks_orgs.create(["Ada Admin", "Bea Member"])
    admin, bea = org[0], org[1]
    room = await admin.client.create_channel("Alerts", member_ids=[bea.user_id])
    hook = await admin.client.create_outgoing_webhook(sink.url(), ["message.created"])
    assert hook.secret is not None
    assert hook.room_ids is None

    sent = [await bea.client.send_message(room.id, "alert 0")]
    assert verified(await sink.next(), hook.secret, hook.id)["message"]["id"] == sent[0].id

    sink.stop()  # connections are refused from now on
    sent += [await bea.client.send_message(room.id, f"alert {n}") for n in range(1, 8)]

    async def refused() -> bool:
        shown = await listed(admin, hook.id)
        return shown.last_status is None and shown.last_error is not None

    await wait_until(refused, "the list shows the refused delivery")
    shown = await listed(admin, hook.id)
    assert shown.pending == 7
    assert "Connect" in (shown.last_error or "")

    sink.start()  # the same port again
    events: list[dict[str, Any]] = []
    while not any(e["message"]["id"] == sent[-1].id for e in events):
        events.append(verified(await sink.next(), hook.secret, hook.id))
    firsts = first_occurrences(events)
    assert [e["message"]["id"] for e in firsts] == [m.id for m in sent[1:]]

    async def caught_up() -> bool:
        shown = await listed(admin, hook.id)
        return shown.pending == 0 and shown.last_status == 204 and shown.last_error is None

    await wait_until(caught_up, "the list shows the webhook caught up")


async def test_a_failing_receiver_is_retried_until_it_answers_2xx(
    hooks_orgs: OrgFactory, sink: Sink
) -> None:
    org = await hooks_orgs.create(["Ada Admin", "Bea Member"])
    admin, bea = org[0], org[1]
    room = await admin.client.create_channel("Builds", member_ids=[bea.user_id])
    hook = await admin.client.create_outgoing_webhook(sink.url("/ci"), ["message.created"])
    assert hook.secret is not None
    sink.failing.set()
    first = await bea.client.send_message(room.id, "first")
    second = await bea.client.send_message(room.id, "second")

    # The same event, again and again, never the next one while it fails.
    for _ in range(3):
        delivery = verified(await sink.next(), hook.secret, hook.id)
        assert delivery["message"]["id"] == first.id

    async def failed() -> bool:
        shown = await listed(admin, hook.id)
        return shown.last_status == 500

    await wait_until(failed, "the list shows the 500")
    shown = await listed(admin, hook.id)
    assert shown.last_error == "HTTP 500 Internal Server Error"
    assert shown.pending == 2

    sink.failing.clear()
    events: list[dict[str, Any]] = []
    while not any(e["message"]["id"] == second.id for e in events):
        events.append(verified(await sink.next(), hook.secret, hook.id))
    firsts = first_occurrences(events)
    assert [e["message"]["id"] for e in firsts][-2:] == [first.id, second.id]
    assert all(e["message"]["id"] in (first.id, second.id) for e in events)


async def test_events_of_one_person_are_never_delivered(hooks_orgs: OrgFactory, sink: Sink) -> None:
    org = await hooks_orgs.create(["Ada Admin", "Bea Member", "Cy Member"])
    admin, bea, cy = org[0], org[1], org[2]
    for private in sorted(PRIVATE_TYPES):
        with pytest.raises(ParlourAPIError) as refused:
            await admin.client.create_outgoing_webhook(sink.url(), [private])
        assert refused.value.status == 422
    hook = await admin.client.create_outgoing_webhook(sink.url(), ["room.created"])
    assert hook.secret is not None
    # A direct room's creation goes to each of its two people (their own view), a group is not
    # the organization's (the webhook names no rooms): only the channel's is delivered.
    await bea.client.create_direct(cy.user_id)
    await bea.client.create_group("Private plans", [cy.user_id])
    channel = await bea.client.create_channel("Planning", member_ids=[cy.user_id])
    event = verified(await sink.next(), hook.secret, hook.id)
    assert (event["type"], event["room"]["id"]) == ("room.created", channel.id)


async def test_only_the_organizations_admins_manage_its_webhooks(
    hooks_orgs: OrgFactory, sink: Sink
) -> None:
    org = await hooks_orgs.create(["Ada Admin", "Bea Member"])
    admin, bea = org[0], org[1]
    stranger = (await hooks_orgs.create(["Zed Admin"]))[0]
    foreign_room = await stranger.client.create_group("Elsewhere", [])

    async def status_of(call: Awaitable[object]) -> tuple[int, str]:
        with pytest.raises(ParlourAPIError) as error:
            await call
        return error.value.status, error.value.code

    assert (await status_of(bea.client.create_outgoing_webhook(sink.url(), ["message.created"])))[
        0
    ] == 403
    assert (await status_of(bea.client.list_outgoing_webhooks()))[0] == 403
    for url in ("ftp://127.0.0.1/x", "http://", "http://127.0.0.1:99999/", "http://a b/", "x" * 10):
        assert (await status_of(admin.client.create_outgoing_webhook(url, ["message.created"])))[
            0
        ] == 422, url
    too_long = sink.url("/" + "a" * 2000)
    assert (await status_of(admin.client.create_outgoing_webhook(too_long, ["message.created"])))[
        0
    ] == 422
    assert (await status_of(admin.client.create_outgoing_webhook(sink.url(), [])))[0] == 422
    assert (await status_of(admin.client.create_outgoing_webhook(sink.url(), ["nope.nope"])))[
        0
    ] == 422
    assert await status_of(
        admin.client.create_outgoing_webhook(sink.url(), ["message.created"], [foreign_room.id])
    ) == (404, "room_not_found")
    # An admin's webhook cannot read a group (or a direct room) its admin is not in.
    their_group = await bea.client.create_group("Bea's own", [])
    their_direct = await bea.client.create_direct(admin.user_id)
    assert await status_of(
        admin.client.create_outgoing_webhook(sink.url(), ["message.created"], [their_group.id])
    ) == (404, "room_not_found")
    assert await admin.client.list_outgoing_webhooks() == []  # nothing was stored
    mine = await admin.client.create_outgoing_webhook(
        sink.url(), ["message.created"], [their_direct.id]
    )
    assert mine.room_ids == [their_direct.id]  # the admin is in that one
    await admin.client.delete_outgoing_webhook(mine.id)

    hook = await admin.client.create_outgoing_webhook(sink.url(), ["message.created"])
    assert [w.id for w in await admin.client.list_outgoing_webhooks()] == [hook.id]
    assert all(w.secret is None for w in await admin.client.list_outgoing_webhooks())
    assert await stranger.client.list_outgoing_webhooks() == []
    assert (await status_of(stranger.client.delete_outgoing_webhook(hook.id)))[0] == 404
    assert (await status_of(bea.client.delete_outgoing_webhook(hook.id)))[0] == 403
    assert [w.id for w in await admin.client.list_outgoing_webhooks()] == [hook.id]

    await admin.client.delete_outgoing_webhook(hook.id)
    assert await admin.client.list_outgoing_webhooks() == []
    assert (await status_of(admin.client.delete_outgoing_webhook(hook.id)))[0] == 404


async def test_two_processes_deliver_each_webhook_one_at_a_time_in_order(
    hooks_server: ServerProcess, hooks_orgs: OrgFactory, sink: Sink
) -> None:
    with start_beside(hooks_server):
        org = await hooks_orgs.create(["Ada Admin", "Bea Member"])
        admin, bea = org[0], org[1]
        room = await admin.client.create_channel("Busy", member_ids=[bea.user_id])
        hook = await admin.client.create_outgoing_webhook(sink.url(), ["message.created"])
        assert hook.secret is not None
        sent = [await bea.client.send_message(room.id, f"line {n}") for n in range(30)]
        events: list[dict[str, Any]] = []
        while not any(e["message"]["id"] == sent[-1].id for e in events):
            events.append(verified(await sink.next(), hook.secret, hook.id))
        assert [e["message"]["id"] for e in first_occurrences(events)] == [m.id for m in sent]
        assert sink.most_in_flight == 1


# -- the lease, directly ------------------------------------------------------------------------


async def test_the_lease_is_taken_by_one_owner_at_a_time(hooks_orgs: OrgFactory) -> None:
    services = hooks_orgs.services
    assert services is not None
    org = await hooks_orgs.create(["Ada Admin"])
    hook = await org[0].client.create_outgoing_webhook(
        "http://127.0.0.1:9/never", ["message.created"]
    )

    async def expire(ctx: WriteContext) -> None:
        await ctx.session.execute(
            update(OutgoingWebhookRow)
            .where(OutgoingWebhookRow.id == hook.id)
            .values(lease_until=ctx.clock.now() - timedelta(seconds=1))
        )

    assert await delivery.take_lease(services, hook.id, "first")
    assert not await delivery.take_lease(services, hook.id, "second")
    assert await delivery.take_lease(services, hook.id, "first")  # renewed by its holder
    position = await _position(services, hook.id)
    loaded = delivery.Webhook(hook.id, org.org_id, hook.url, "", [], None, position, 0)

    await services.writer.run(expire)  # the first owner stalled past its lease
    assert await delivery.take_lease(services, hook.id, "second")
    # The stalled owner's position write is refused: the new holder's order stands.
    assert not await delivery.record_attempt(
        services, loaded, "first", position=position + 1, outcome=None, release=True
    )
    assert await delivery.record_attempt(
        services, loaded, "second", position=position + 1, outcome=None, release=True
    )
    assert await _position(services, hook.id) == position + 1

    assert await delivery.take_lease(services, hook.id, "first")  # released: free again
    await delivery.release_leases(services, "first")
    await org[0].client.delete_outgoing_webhook(hook.id)
    assert not await delivery.take_lease(services, hook.id, "first")  # deleted: nobody's


async def _position(services: Services, webhook_id: str) -> int:
    async with services.db.read_session() as session:
        row = await session.get(OutgoingWebhookRow, webhook_id)
        assert row is not None
        return int(row.position)


def test_backoff_doubles_up_to_its_cap() -> None:
    settings = Settings(webhook_retry_seconds=1.0, webhook_retry_max_seconds=600.0)
    waits = [delivery.backoff_seconds(settings, attempts) for attempts in range(1, 13)]
    assert waits[:4] == [1.0, 2.0, 4.0, 8.0]
    assert waits[-1] == 600.0
    assert all(a <= b for a, b in itertools.pairwise(waits))


def test_every_room_event_type_can_be_subscribed_and_no_private_or_internal_one() -> None:
    assert "message.created" in DELIVERABLE_TYPES
    assert "reaction.added" in DELIVERABLE_TYPES
    assert not PRIVATE_TYPES & set(DELIVERABLE_TYPES)
    assert "session.revoked" not in DELIVERABLE_TYPES
    assert "user.changed" not in DELIVERABLE_TYPES


def test_the_documented_receiver_is_the_example_the_tests_run() -> None:
    docs = (EXAMPLE.parents[1] / "docs" / "integrations.md").read_text()
    section = docs[docs.index("## Outgoing webhooks") :]
    shown = section.split("```python\n", 1)[1].split("```", 1)[0]
    code = EXAMPLE.read_text().split('\n"""\n', 1)[1].lstrip("\n")
    assert shown == code
