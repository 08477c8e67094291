"""The preview fetcher against a real page server on 127.0.0.2, the only network allowed here.

Every test runs with sockets watched: a connection to any address but the page server's fails
the test, so each refusal is proven at the guard, before a socket opens. Names resolve through
fake resolvers only; nothing here reaches a private or public address.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

import parlour.outbound
from parlour.integrations import previews
from parlour.integrations.previews import (
    clean_text,
    fetch_preview,
    links_to_preview,
    preview_session,
)
from parlour.outbound import Checked, OutboundRefused, parse_networks
from tests.previews.conftest import PAGE_HOST, LocalListener, PageServer

ALLOWED = parse_networks([f"{PAGE_HOST}/32"])
PUBLIC_V4 = "93.184.216.34"  # only ever an answer of a fake resolver: never connected to


@pytest.fixture
def connections(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The addresses sockets connect to; any but the page server's fails the test."""
    seen: list[str] = []
    original = socket.socket.connect

    def connect(self: socket.socket, address: Any) -> None:
        host = str(address[0]) if isinstance(address, tuple) else str(address)
        seen.append(host)
        if host != PAGE_HOST:
            raise AssertionError(f"a socket was opened to {host}")
        original(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect)
    return seen


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with preview_session() as client:  # the server's own client
        yield client


def resolver(answers: dict[str, str]) -> Any:
    async def resolve(host: str, port: int) -> list[str]:
        return [answers[host]]

    return resolve


async def test_open_graph_tags_and_their_fallbacks(
    pages: PageServer, http: aiohttp.ClientSession, connections: list[str]
) -> None:
    preview = await fetch_preview(http, pages.url("/og/direct"), allowed=ALLOWED)
    assert preview == {
        "url": pages.url("/og/direct"),
        "title": "Title direct",
        "description": "A page about direct",  # stripped, whitespace collapsed
        "image_url": None,
    }
    plain = await fetch_preview(http, pages.url("/plain/direct"), allowed=ALLOWED)
    assert plain == {
        "url": pages.url("/plain/direct"),
        "title": "Plain & simple",
        "description": "Described plainly",
        "image_url": None,
    }
    assert set(connections) == {PAGE_HOST}


async def test_what_gives_no_preview(
    pages: PageServer, http: aiohttp.ClientSession, connections: list[str]
) -> None:
    for path in ("/text/x", "/big/x", "/missing/x", "/hop/4/x"):
        assert await fetch_preview(http, pages.url(path), allowed=ALLOWED) is None, path
    # Three redirects are followed (each checked), a fourth is not.
    hopped = await fetch_preview(http, pages.url("/hop/3/hops"), allowed=ALLOWED)
    assert hopped is not None
    assert hopped["title"] == "Title hops"
    assert pages.count("/og/hops") == 1
    # Not on the allow-list, the same page is refused (plain http to a loopback address).
    assert await fetch_preview(http, pages.url("/og/refused")) is None
    assert pages.count("/og/refused") == 0


async def test_a_slow_page_gives_up_at_the_timeout(
    pages: PageServer, http: aiohttp.ClientSession, connections: list[str]
) -> None:
    assert (
        await fetch_preview(http, pages.url("/slow/direct"), allowed=ALLOWED, seconds=0.5) is None
    )
    assert pages.count("/slow/direct") == 1


async def test_a_redirect_to_a_loopback_address_is_refused_before_any_socket_opens(
    pages: PageServer,
    local_listener: LocalListener,
    http: aiohttp.ClientSession,
    connections: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    decisions: list[tuple[str, str]] = []
    check = parlour.outbound.check_url

    async def watched(url: str, *args: Any) -> Checked:
        try:
            checked = await check(url, *args)
        except OutboundRefused as refused:
            decisions.append((url, refused.code))
            raise
        decisions.append((url, "passed"))
        return checked

    monkeypatch.setattr(previews, "check_url", watched)
    assert await fetch_preview(http, pages.url("/to-local/x"), allowed=ALLOWED) is None
    local = f"http://127.0.0.1:{local_listener.port}/og/local"
    assert decisions == [(pages.url("/to-local/x"), "passed"), (local, "outbound_refused")]
    assert set(connections) == {PAGE_HOST}  # the refused address was never connected to
    assert local_listener.accepted == 0


@pytest.mark.parametrize(
    ("image", "kept"),
    [
        ("https://img.public.test/a.png", True),
        ("https://img.private.test/a.png", False),  # resolves to 10.0.0.1
        ("https://img.mapped.test/a.png", False),  # resolves to ::ffff:192.168.0.1
        ("http://img.public.test/a.png", False),  # not https
        ("/a.png", False),  # relative to an http page: not https
        ("javascript:alert(1)", False),
    ],
)
async def test_an_image_url_is_kept_only_if_https_and_its_host_passes_the_guard(
    pages: PageServer,
    http: aiohttp.ClientSession,
    connections: list[str],
    image: str,
    kept: bool,
) -> None:
    resolve = resolver(
        {
            "img.public.test": PUBLIC_V4,
            "img.private.test": "10.0.0.1",
            "img.mapped.test": "::ffff:192.168.0.1",
        }
    )
    url = pages.url(f"/og/image?image={image}")
    preview = await fetch_preview(http, url, allowed=ALLOWED, resolve=resolve)
    assert preview is not None
    assert preview["image_url"] == (image if kept else None)
    assert set(connections) == {PAGE_HOST}  # images are checked, never fetched


@pytest.mark.parametrize(
    "answer", ["10.0.0.1", "172.16.5.4", "192.168.1.1", "169.254.169.254", "fd00::1", "::1"]
)
async def test_a_name_resolving_to_a_private_address_is_refused_without_a_socket(
    http: aiohttp.ClientSession, connections: list[str], answer: str
) -> None:
    resolve = resolver({"intranet.test": answer})
    for url in ("https://intranet.test/", "http://intranet.test/"):
        assert await fetch_preview(http, url, allowed=ALLOWED, resolve=resolve) is None
    assert connections == []


def test_links_are_found_in_the_text_not_in_code() -> None:
    content = (
        "see https://a.test/x, [b](https://b.test/y) and `https://code.test/` then\n\n"
        "```\nhttps://fence.test/\n```\n\n(https://c.test/z) https://a.test/x https://d.test/"
    )
    assert links_to_preview(content) == ["https://a.test/x", "https://b.test/y", "https://c.test/z"]
    assert links_to_preview("no links, only http talk") == []
    assert links_to_preview("mailto:a@b.test ftp://files.test/") == []


def test_text_is_collapsed_and_capped() -> None:
    assert clean_text("  a \n\t b  ", 10) == "a b"
    assert clean_text("   ", 10) is None
    capped = clean_text("word " * 100, 200)
    assert capped is not None
    assert len(capped) == 200
    assert capped.endswith("…")
