"""What the away-notification tests share: a real SMTP server (aiosmtpd) and a local HTTP server
that plays a Web Push service, both on loopback, and a Parlour server configured to use them
(`PARLOUR_OUTBOUND_ALLOW_NETWORKS` lets pushes reach 127.0.0.1 only).

Waiting is on what arrives (a queue with a timeout), never a sleep.
"""

from __future__ import annotations

import email
import email.policy
import queue
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from tests.support import (
    OrgFactory,
    ServerProcess,
    free_port,
    fresh_database,
    org_factory,
    start_server,
)

# Long enough for a test to read a message "in time" on a loaded machine, short enough to wait.
DELAY_SECONDS = 3.0
WAIT = 30.0  # seconds something owed may take to arrive; reaching it is a failure


@dataclass
class Mail:
    recipients: list[str]
    message: EmailMessage

    def part(self, kind: str) -> str:
        body = self.message.get_body(preferencelist=(kind,))
        assert body is not None, kind
        return str(body.get_content())


class SmtpSink:
    """An SMTP server on loopback that keeps what it is given, or refuses it for a while."""

    def __init__(self) -> None:
        self.port = free_port()
        self.received: queue.Queue[Mail] = queue.Queue()
        self._controller: Controller | None = None
        self._refusals = 0
        self._refused = threading.Event()

    def refuse_next(self, count: int) -> threading.Event:
        """Answer the next `count` messages with a temporary failure (as a server that is
        down for a while); the event is set once they were all refused."""
        self._refusals, self._refused = count, threading.Event()
        return self._refused

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self._refusals > 0:
            self._refusals -= 1
            if self._refusals == 0:
                self._refused.set()
            return "451 4.3.0 Try again later"
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.received.put(Mail(list(envelope.rcpt_tos), parsed))
        return "250 OK"

    def start(self) -> None:
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:  # pragma: no branch
            self._controller.stop()
            self._controller = None

    def next(self, timeout: float = WAIT) -> Mail:
        return self.received.get(timeout=timeout)

    def for_address(self, address: str, timeout: float = WAIT) -> Mail:
        """The next e-mail to `address`; others that arrive meanwhile are kept for later."""
        skipped: list[Mail] = []
        try:
            while True:
                mail = self.received.get(timeout=timeout)
                if address in mail.recipients:
                    return mail
                skipped.append(mail)
        finally:
            for mail in skipped:
                self.received.put(mail)


@dataclass
class Push:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class PushService:
    """Plays a Web Push service over real HTTP: records each post; answers 201, or 410 under
    /gone/ (a subscription the browser dropped)."""

    port: int = 0
    received: queue.Queue[Push] = field(default_factory=queue.Queue)

    def endpoint(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/push/{name}"

    def gone_endpoint(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/gone/{name}"

    def for_path(self, path: str, timeout: float = WAIT) -> Push:
        skipped: list[Push] = []
        try:
            while True:
                push = self.received.get(timeout=timeout)
                if push.path == path:
                    return push
                skipped.append(push)
        finally:
            for push in skipped:
                self.received.put(push)


@pytest.fixture(scope="module")
def push_service() -> Iterator[PushService]:
    service = PushService()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            service.received.put(Push(self.path, dict(self.headers.items()), body))
            self.send_response(410 if self.path.startswith("/gone/") else 201)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    class Server(ThreadingHTTPServer):
        request_queue_size = 128  # the default 5 drops connections that arrive together

    httpd = Server(("127.0.0.1", 0), Handler)
    service.port = int(httpd.server_address[1])
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield service
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpSink]:
    sink = SmtpSink()
    sink.start()
    try:
        yield sink
    finally:
        sink.stop()


@pytest.fixture(scope="module")
async def away_database() -> AsyncIterator[str]:
    """A database of the module's own: the notifier's stream position and outboxes are the
    database's, so another test server on a shared PostgreSQL database (configured without SMTP
    or the allowed network) would otherwise take this server's work."""
    async with fresh_database("away") as url:
        yield url


@pytest.fixture(scope="module")
def away_server(
    smtp: SmtpSink, push_service: PushService, away_database: str
) -> Iterator[ServerProcess]:
    port = free_port()
    env = {
        "PARLOUR_SMTP_URL": f"smtp://127.0.0.1:{smtp.port}",
        "PARLOUR_MAIL_FROM": "Parlour <chat@parlour.test>",
        "PARLOUR_EMAIL_DELAY_SECONDS": str(DELAY_SECONDS),
        "PARLOUR_NOTIFY_POLL_SECONDS": "0.1",
        "PARLOUR_OUTBOUND_ALLOW_NETWORKS": "127.0.0.1/32",
        "PARLOUR_VAPID_SUBJECT": "mailto:ops@parlour.test",
        # The links in e-mails lead back to this very server (the unsubscribe test follows one).
        "PARLOUR_PUBLIC_URL": f"http://127.0.0.1:{port}",
    }
    if away_database:
        env["PARLOUR_DATABASE_URL"] = away_database
    with start_server(env, port=port) as server:
        yield server


@pytest.fixture(scope="module")
async def away_orgs(away_server: ServerProcess) -> AsyncIterator[OrgFactory]:
    async with org_factory(away_server) as factory:
        yield factory
