"""Link previews: which links of a message get one, and fetching one page's preview safely.

A link is a URL a user chose, so every request passes the outbound guard (parlour.outbound):
the name is resolved and checked, the connection goes to the checked address (the name is sent
as Host and SNI only), redirects are never followed blindly (each Location is checked again, at
most `MAX_REDIRECTS`), and the whole fetch stops at `timeout` seconds and `MAX_BYTES` read. Only
`text/html` is read, and only its <head>: parsing stops at </head> or <body>. An image URL is
kept only if it is https and its host passes the same check; the image itself is never fetched
(the browser fetches it, by URL, if the UI shows it).

Whatever goes wrong (a refusal, a timeout, a status, another content type) means "no preview",
never an error: a preview is a nicety beside a message that is already stored.
"""

from __future__ import annotations

import asyncio
import codecs
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import Message as HeaderParser
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import aiohttp

from parlour.domain.markdown import linked_urls
from parlour.outbound import (
    Checked,
    IPNetwork,
    OutboundRefused,
    Resolver,
    check_url,
    pinned_url,
)

log = logging.getLogger("parlour.previews")

LINKS_PER_MESSAGE = 3
MAX_URL_CHARS = 2048
MAX_REDIRECTS = 3
MAX_BYTES = 1024 * 1024
TITLE_CHARS = 200
DESCRIPTION_CHARS = 500
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
USER_AGENT = "Parlour-LinkPreview/1.0 (+https://github.com/parlour)"


def links_to_preview(content: str) -> list[str]:
    """The message's first `LINKS_PER_MESSAGE` distinct http(s) links (not in code)."""
    if "http" not in content.lower():  # most messages: no Markdown parse at all
        return []
    found: list[str] = []
    for url in linked_urls(content):
        if len(url) <= MAX_URL_CHARS and url not in found:
            found.append(url)
            if len(found) == LINKS_PER_MESSAGE:
                break
    return found


def clean_text(value: str | None, limit: int) -> str | None:
    """Stripped, whitespace collapsed, at most `limit` characters; None when empty."""
    if value is None:
        return None
    text = " ".join(value.split())
    if not text:
        return None
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text


class HeadParser(HTMLParser):
    """Collects OpenGraph tags, <title> and <meta name="description"> from a page's head;
    `done` once the head is over."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.meta: dict[str, str] = {}
        self.title: str | None = None
        self.done = False
        self._in_title = False
        self._title_parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.done:
            return
        if tag == "body":
            self._finish()
        elif tag == "title" and self.title is None:
            self._in_title = True
        elif tag == "meta":
            fields = {name.lower(): value or "" for name, value in attrs}
            key = (fields.get("property") or fields.get("name") or "").strip().lower()
            if key in {"og:title", "og:description", "og:image", "description"}:
                self.meta.setdefault(key, fields.get("content", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "title" and self._in_title:
            self._in_title = False
            self.title = "".join(self._title_parts)
        elif tag == "head":
            self._finish()

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self._title_parts.append(data)

    def _finish(self) -> None:
        if self._in_title:  # an unclosed <title>: what it had so far
            self._in_title = False
            self.title = "".join(self._title_parts)
        self.done = True


@dataclass(frozen=True, slots=True)
class PageHead:
    """What a page's head said, unchecked: the image URL is still as the page wrote it."""

    url: str  # where the page was finally read (after redirects), for relative image URLs
    title: str | None
    description: str | None
    image: str | None


def _charset(content_type: str, first_bytes: bytes) -> str:
    header = HeaderParser()
    header["content-type"] = content_type
    named = header.get_param("charset")
    candidates = [named if isinstance(named, str) else None]
    match = _META_CHARSET.search(first_bytes)
    candidates.append(match.group(1).decode("ascii") if match else None)
    for name in candidates:
        if name:
            try:
                return codecs.lookup(name).name
            except LookupError:
                continue
    return "utf-8"


def _decoder(content_type: str, first_bytes: bytes) -> codecs.IncrementalDecoder:
    return codecs.getincrementaldecoder(_charset(content_type, first_bytes[:1024]))(
        errors="replace"
    )


def _is_html(content_type: str) -> bool:
    return content_type.split(";", 1)[0].strip().lower() == "text/html"


async def _read_head(response: aiohttp.ClientResponse, final_url: str) -> PageHead | None:
    """Streams the body into the parser until the head is over; None past `MAX_BYTES`."""
    content_type = response.headers.get("content-type", "")
    parser = HeadParser()
    decoder: codecs.IncrementalDecoder | None = None
    pending = b""
    budget = MAX_BYTES
    async for received in response.content.iter_any():
        chunk = received[:budget]
        budget -= len(chunk)
        if decoder is None:
            pending += chunk
            if len(pending) < 1024 and budget > 0:
                continue  # the first KiB names the charset, if the header does not
            decoder = _decoder(content_type, pending)
            chunk, pending = pending, b""
        parser.feed(decoder.decode(chunk))
        if parser.done:
            break
        if budget <= 0:
            return None  # a head that does not end within the limit: no preview
    else:
        if decoder is None:
            decoder = _decoder(content_type, pending)
            parser.feed(decoder.decode(pending))
        parser.feed(decoder.decode(b"", final=True))
        parser.close()
    meta = parser.meta
    return PageHead(
        url=final_url,
        title=meta.get("og:title") or parser.title,
        description=meta.get("og:description") or meta.get("description"),
        image=meta.get("og:image") or None,
    )


async def _fetch_head(
    http: aiohttp.ClientSession,
    url: str,
    allowed: Sequence[IPNetwork],
    resolve: Resolver | None,
) -> PageHead | None:
    current = url
    for _ in range(MAX_REDIRECTS + 1):
        checked = await _check(current, allowed, resolve)  # OutboundRefused: no socket yet
        async with http.get(
            pinned_url(checked),
            headers=_headers(checked),
            server_hostname=checked.host if checked.scheme == "https" else None,
            allow_redirects=False,
        ) as response:
            if response.status in _REDIRECTS:
                location = response.headers.get("location")
                if not location:
                    return None
                current = urljoin(current, location)
                continue
            if response.status != 200 or not _is_html(response.headers.get("content-type", "")):
                return None
            encoding = response.headers.get("content-encoding", "identity").strip().lower()
            if encoding not in {"", "identity"}:
                return None  # asked for identity: a compressed body could inflate past the limit
            return await _read_head(response, current)
    return None  # too many redirects


async def _check(url: str, allowed: Sequence[IPNetwork], resolve: Resolver | None) -> Checked:
    """The guard, with the system's resolver unless a test gives its own."""
    if resolve is None:
        return await check_url(url, allowed)
    return await check_url(url, allowed, resolve)


def _headers(checked: Checked) -> dict[str, str]:
    return {
        "Host": checked.host_header,
        "Accept": "text/html",
        "Accept-Encoding": "identity",
        "User-Agent": USER_AGENT,
    }


async def image_url(
    image: str | None, page_url: str, allowed: Sequence[IPNetwork], resolve: Resolver | None
) -> str | None:
    """The page's image URL if it is https and its host passes the guard (it is not fetched)."""
    if not image:
        return None
    absolute = urljoin(page_url, image.strip())
    if len(absolute) > MAX_URL_CHARS or not absolute.lower().startswith("https://"):
        return None
    try:
        await _check(absolute, allowed, resolve)
    except OutboundRefused:
        return None
    return absolute


def preview_session() -> aiohttp.ClientSession:
    """The client page fetches go through: redirects are followed by hand (each Location passes
    the guard), bodies arrive as sent (asked for identity; nothing inflates past the limit), and
    no connection is kept: a pooled connection to one address must not serve another name."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(force_close=True),
        cookie_jar=aiohttp.DummyCookieJar(),
        trust_env=False,
        auto_decompress=False,
    )


async def fetch_preview(
    http: aiohttp.ClientSession,
    url: str,
    *,
    allowed: Sequence[IPNetwork] = (),
    seconds: float = 5.0,
    resolve: Resolver | None = None,
) -> dict[str, str | None] | None:
    """The preview of `url` ({"url", "title", "description", "image_url"}), or None."""
    try:
        async with asyncio.timeout(seconds):
            head = await _fetch_head(http, url, allowed, resolve)
            if head is None:
                return None
            image = await image_url(head.image, head.url, allowed, resolve)
    except OutboundRefused as refused:
        log.info("link preview refused url_host=%s: %s", _host(url), refused)
        return None
    except (TimeoutError, aiohttp.ClientError, UnicodeError, ValueError) as failed:
        log.info("link preview failed url_host=%s error=%s", _host(url), type(failed).__name__)
        return None
    title = clean_text(head.title, TITLE_CHARS)
    description = clean_text(head.description, DESCRIPTION_CHARS)
    if title is None and description is None:
        return None
    return {"url": url, "title": title, "description": description, "image_url": image}


def _host(url: str) -> str:
    """For logs: the host only (a URL's path and query may carry secrets)."""
    try:
        return urlsplit(url).hostname or "?"
    except ValueError:
        return "?"
