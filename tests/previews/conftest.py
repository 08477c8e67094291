"""What the link preview tests share: a page server on 127.0.0.2 (the only network the Parlour
server under test may fetch from: `PARLOUR_OUTBOUND_ALLOW_NETWORKS=127.0.0.2/32`), a listener on
127.0.0.1 that counts whoever connects to it (it must stay at zero: 127.0.0.1 is refused), and
the server.

The page server counts requests per path; its slow page waits on an event that teardown sets,
never on a sleep.
"""

from __future__ import annotations

import socket
import threading
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.support import OrgFactory, ServerProcess, fresh_database, org_factory, start_server

PAGE_HOST = "127.0.0.2"
TIMEOUT_SECONDS = 1.0  # the server's PARLOUR_LINK_PREVIEW_TIMEOUT_SECONDS


def og_page(title: str, description: str, image: str | None = None) -> bytes:
    image_tag = f'<meta property="og:image" content="{image}">' if image else ""
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>Fallback title</title>"
        f'<meta property="og:title" content="{title}">'
        f'<meta property="og:description" content="{description}">'
        f"{image_tag}</head><body><p>Body text</p></body></html>"
    ).encode()


@dataclass
class PageServer:
    port: int = 0
    hits: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)
    release: threading.Event = field(default_factory=threading.Event)
    local_port: int = 0  # the 127.0.0.1 listener that redirects point to

    def url(self, path: str) -> str:
        return f"http://{PAGE_HOST}:{self.port}{path}"

    def count(self, path: str) -> int:
        with self.lock:
            return self.hits[path]


class _Handler(BaseHTTPRequestHandler):
    pages: PageServer

    def do_GET(self) -> None:
        pages = self.pages
        with pages.lock:
            pages.hits[self.path] += 1
        kind = self.path.split("/")[1]
        if kind == "og":  # /og/<name>[?image=...]
            name, _, query = self.path.split("/", 2)[2].partition("?")
            image = query.removeprefix("image=") or None
            self._send(
                200,
                "text/html; charset=utf-8",
                og_page(f"Title {name}", "  A   page\n about " + name, image),
            )
        elif kind == "plain":  # no OpenGraph: <title> and <meta name="description">
            body = (
                b"<html><head><title> Plain &amp; simple </title>"
                b'<meta name="description" content="Described plainly"></head><body>x</body></html>'
            )
            self._send(200, "text/html", body)
        elif kind == "text":
            self._send(200, "text/plain", b"<title>not html</title>")
        elif kind == "big":  # a head that never ends within 1 MB
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(2 * 1024 * 1024 + 40))
            self.end_headers()
            try:
                self.wfile.write(b"<html><head><title>Too big</title>")
                padding = b"<!--" + b"x" * (64 * 1024 - 7) + b"-->"
                for _ in range(32):
                    self.wfile.write(padding)
            except OSError:
                return  # the fetcher stopped reading, as it should
        elif kind == "slow":
            pages.release.wait()  # set at teardown: past the fetcher's timeout by then
            self._send(200, "text/html", og_page("Slow", "too late"))
        elif kind == "to-local":  # a redirect to a loopback address outside the allow-list
            self.send_response(302)
            self.send_header("Location", f"http://127.0.0.1:{pages.local_port}/og/local")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif kind == "hop":  # /hop/<n>/<name>: n redirects, then the page <name>
            count, name = self.path.split("/")[2:4]
            target = f"/hop/{int(count) - 1}/{name}" if int(count) > 1 else f"/og/{name}"
            self.send_response(302)
            self.send_header("Location", target)
            self.send_header("Content-Length", "0")
            self.end_headers()
        else:
            self._send(404, "text/html", b"<html><head><title>Not found</title></head></html>")

    def _send(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except OSError:
            return

    def log_message(self, format: str, *args: Any) -> None:
        return


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


@dataclass
class LocalListener:
    """A socket on 127.0.0.1 that only counts connections: the guard must keep it at zero."""

    port: int = 0
    accepted: int = 0


@pytest.fixture(scope="module")
def local_listener() -> Iterator[LocalListener]:
    listener = LocalListener()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    listener.port = int(sock.getsockname()[1])

    def accept() -> None:
        while True:
            try:
                connection, _ = sock.accept()
            except OSError:
                return  # closed at teardown
            listener.accepted += 1
            connection.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener
    finally:
        sock.close()
        thread.join(timeout=5)


@pytest.fixture(scope="module")
def pages(local_listener: LocalListener) -> Iterator[PageServer]:
    service = PageServer(local_port=local_listener.port)
    handler = type("Handler", (_Handler,), {"pages": service})
    httpd = _Server((PAGE_HOST, 0), handler)
    service.port = int(httpd.server_address[1])
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield service
    finally:
        service.release.set()
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(scope="module")
async def previews_database() -> AsyncIterator[str]:
    async with fresh_database("previews") as url:
        yield url


@pytest.fixture(scope="module")
def previews_server(pages: PageServer, previews_database: str) -> Iterator[ServerProcess]:
    env = {
        "PARLOUR_LINK_PREVIEWS": "true",  # tests/support.py turns them off for other tests
        "PARLOUR_OUTBOUND_ALLOW_NETWORKS": f"{PAGE_HOST}/32",
        "PARLOUR_LINK_PREVIEW_TIMEOUT_SECONDS": str(TIMEOUT_SECONDS),
    }
    if previews_database:
        env["PARLOUR_DATABASE_URL"] = previews_database
    with start_server(env) as server:
        yield server


@pytest.fixture(scope="module")
async def previews_orgs(previews_server: ServerProcess) -> AsyncIterator[OrgFactory]:
    async with org_factory(previews_server) as factory:
        yield factory
