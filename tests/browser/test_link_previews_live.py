"""Link previews end to end in the browser: a person types a link in the composer, the server's
fetcher reads the page from a real page server on 127.0.0.2 (the only network this module's
server may fetch from: `PARLOUR_OUTBOUND_ALLOW_NETWORKS=127.0.0.2/32`), and the card arrives
live (`message.updated` over the socket) in the sender's room and in another person's.

The page's picture is http, so the server leaves it out (only https pictures are kept): the card
is text only. The page server counts what it is asked: the same link sent again is answered from
the server's cache, never fetched twice. All traffic is on loopback.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from playwright.sync_api import Locator, expect

from tests.browser.conftest import demo_server
from tests.browser.helpers import (
    Person,
    call,
    make_group,
    message,
    open_room,
    send,
    shoot,
    unique,
)

pytestmark = pytest.mark.browser

PAGE_HOST = "127.0.0.2"
PAGE_PATH = "/releases/2.0"
TITLE = "Release 2.0 & what changed"
DESCRIPTION = "Faster sync, bots and webhooks, and a new look."
# The fetch is quick (a page on loopback), but it runs beside the send on a machine that may be
# busy: the card gets longer than expect()'s default to arrive. Reaching it is a failure.
PREVIEW_WITHIN_MS = 20_000


class PageServer:
    """An HTTP server on 127.0.0.2 serving one page with OpenGraph tags; counts requests per
    path (under a lock: the server answers each request in its own thread)."""

    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()
        self.lock = threading.Lock()
        pages = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with pages.lock:
                    pages.hits[self.path] += 1
                if self.path != PAGE_PATH:
                    self.send_error(404)
                    return
                body = pages.html().encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet

        self.server = ThreadingHTTPServer((PAGE_HOST, 0), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str = PAGE_PATH) -> str:
        return f"http://{PAGE_HOST}:{self.port}{path}"

    def html(self) -> str:
        # The picture is http: the server keeps only https ones, so image_url comes back null.
        return (
            "<!doctype html><html><head><meta charset='utf-8'><title>Fallback title</title>"
            '<meta property="og:title" content="Release 2.0 &amp; what changed">'
            f'<meta property="og:description" content="{DESCRIPTION}">'
            f'<meta property="og:image" content="{self.url("/cover.png")}">'
            "</head><body><p>The notes.</p></body></html>"
        )

    def count(self, path: str = PAGE_PATH) -> int:
        with self.lock:
            return self.hits[path]

    def total(self) -> int:
        with self.lock:
            return sum(self.hits.values())

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture(scope="module")
def page_server() -> Iterator[PageServer]:
    pages = PageServer()
    try:
        yield pages
    finally:
        pages.close()


@pytest.fixture(scope="module")
def base_url(page_server: PageServer) -> Iterator[str]:
    """This module's own server (overrides the shared one, which never fetches links): previews
    on, and only the page server's address allowed through the outbound guard."""
    with demo_server(
        {
            "PARLOUR_LINK_PREVIEWS": "true",
            "PARLOUR_OUTBOUND_ALLOW_NETWORKS": f"{PAGE_HOST}/32",
            "PARLOUR_LINK_PREVIEW_TIMEOUT_SECONDS": "5",
        }
    ) as url:
        yield url


def expect_card(item: Locator, link: str) -> None:
    """The message's preview card: the page's title as a safe link to it, its description as
    text, and no picture (the page's was http)."""
    card = item.locator(".link-card")
    title = card.get_by_role("link", name=TITLE, exact=True)
    expect(title).to_be_visible(timeout=PREVIEW_WITHIN_MS)
    expect(card).to_have_count(1)
    expect(title).to_have_attribute("href", link)
    expect(title).to_have_attribute("rel", "noopener noreferrer nofollow")
    expect(card.locator(".link-desc")).to_have_text(DESCRIPTION)
    expect(card.locator("img")).to_have_count(0)
    expect(card).not_to_have_class(re.compile(r"\bhas-image\b"))


def test_a_link_typed_in_the_composer_gets_its_card_live_for_everyone(
    person: Person, page_server: PageServer
) -> None:
    ada = person("ada")
    grace = person("grace")
    room = make_group(ada, ["grace"], "Releases")
    box = open_room(ada, room)
    watcher = open_room(grace, room)
    link = page_server.url()
    assert page_server.count() == 0

    text = unique("The notes are out:")
    send(box, f"{text} {link}")
    sent = message(box, text)
    expect(sent).to_be_visible()
    # The card arrives after the send, without a reload: in the sender's room and in Grace's.
    expect_card(sent, link)
    expect_card(message(watcher, text), link)
    assert page_server.count() == 1

    # The server stored what the cards show: the http picture was left out.
    listed = call(ada, "GET", f"/rooms/{room.id}/messages").json()
    [stored] = [m for m in listed if text in m["content"]]
    assert stored["previews"] == [
        {"url": link, "title": TITLE, "description": DESCRIPTION, "image_url": None}
    ]

    # Grace sends the same link: its card comes from the server's cache, not from the page.
    again = unique("Worth a read")
    send(watcher, f"{again} {link}")
    expect_card(message(watcher, again), link)
    expect_card(message(box, again), link)
    assert page_server.count() == 1
    assert page_server.total() == 1  # nothing else was asked of it (no picture)
    grace.mouse.move(0, 0)
    shoot(grace, "link-preview-live")  # for a look (not kept in docs)
