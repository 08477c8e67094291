"""The outbound address guard: every request the server makes to an address a user chose (a push
endpoint, a link to preview) passes here first (API.md, "Integrations").

A URL passes when it is https (or its addresses are all in an allowed network, where plain http
is taken too) and its host resolves only to public unicast addresses: loopback, private,
link-local, multicast, reserved, unspecified, shared (CGNAT), documentation and IPv4-mapped or
-translated forms of them are refused, IPv4 and IPv6 alike. The caller then connects to the
address that was checked (`Checked.address`), never resolving the name a second time: a name
that answers a public address to the check and a private one to the connection (DNS
rebinding) gets nowhere. Everything is decided before any socket opens.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp

from parlour.errors import InvalidInput

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
# host, port -> the addresses the name stands for (the event loop's getaddrinfo by default).
Resolver = Callable[[str, int], Awaitable[list[str]]]

# Refused beyond what `ipaddress` flags: shared address space (RFC 6598) and the NAT64 prefix
# (its addresses stand for IPv4 ones, checked through `_embedded`).
_ALSO_REFUSED = (ipaddress.ip_network("100.64.0.0/10"), ipaddress.ip_network("64:ff9b::/96"))


class OutboundRefused(InvalidInput):
    code = "outbound_refused"


@dataclass(frozen=True, slots=True)
class Checked:
    """A URL that passed: connect to `address` (a checked IP), send `host` as Host and SNI."""

    url: str
    scheme: str
    host: str
    port: int
    address: str
    path: str  # path and query, as the request line sends them

    @property
    def host_header(self) -> str:
        """The Host header (and the origin's authority): the name, an IPv6 literal bracketed,
        with the port unless it is the scheme's own."""
        name = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return name if self.port == default else f"{name}:{self.port}"


def _embedded(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one stands for (mapped ::ffff:a.b.c.d, NAT64, 6to4), if any."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _ALSO_REFUSED[1]:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_public(address: IPAddress) -> bool:
    """A global unicast address, and so is any IPv4 address it embeds."""
    inner = _embedded(address)
    if inner is not None and not is_public(inner):
        return False
    return not (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or getattr(address, "is_site_local", False)  # IPv6 fec0::/10
        or any(
            address in network for network in _ALSO_REFUSED if network.version == address.version
        )
        or not address.is_global
    )


def parse_networks(values: Sequence[str]) -> list[IPNetwork]:
    return [ipaddress.ip_network(value.strip(), strict=False) for value in values if value.strip()]


async def _getaddrinfo(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    return [str(info[4][0]) for info in infos]


class CachedResolver:
    """A resolver that remembers each name's addresses for `seconds`: pushes go to a handful of
    push services, each push a lookup on a worker thread otherwise. Safe for the guard: what it
    returns is checked like a fresh answer, and the connection goes to the checked address."""

    def __init__(self, seconds: float, resolve: Resolver = _getaddrinfo, size: int = 256) -> None:
        self._seconds = seconds
        self._resolve = resolve
        self._size = size
        self._known: dict[tuple[str, int], tuple[float, list[str]]] = {}

    async def __call__(self, host: str, port: int) -> list[str]:
        now = time.monotonic()
        known = self._known.get((host, port))
        if known is not None and known[0] > now:
            return known[1]
        addresses = await self._resolve(host, port)
        if len(self._known) >= self._size:
            self._known.clear()  # many names: start again rather than grow
        self._known[(host, port)] = (now + self._seconds, addresses)
        return addresses


async def check_url(
    url: str,
    allowed: Sequence[IPNetwork] = (),
    resolve: Resolver = _getaddrinfo,
) -> Checked:
    """The URL as it may be fetched, or OutboundRefused saying why; opens no socket."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise OutboundRefused("That is not a valid URL.") from None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    if scheme not in {"https", "http"} or not host or parts.username or parts.password:
        raise OutboundRefused("Only http(s) URLs with a host and no credentials are fetched.")
    port = port or (443 if scheme == "https" else 80)
    try:
        literal: IPAddress | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        candidates = [str(literal)]
    else:
        try:
            candidates = await resolve(host, port)
        except OSError:
            raise OutboundRefused(f"The name {host!r} does not resolve.") from None
    addresses = [ipaddress.ip_address(a.split("%", 1)[0]) for a in candidates]
    if not addresses:
        raise OutboundRefused(f"The name {host!r} does not resolve.")
    in_allowed = [any(a in network for network in allowed) for a in addresses]
    if all(in_allowed):
        chosen = addresses[0]  # an allowed network (an intranet, a test server): http too
    elif scheme != "https":
        raise OutboundRefused("Only https URLs are fetched.")
    elif not all(allow or is_public(a) for a, allow in zip(addresses, in_allowed, strict=True)):
        # Every address, not just the first: a name answering a public and a private address
        # would otherwise reach the private one on a retry.
        raise OutboundRefused(f"{host!r} is not a public address.")
    else:
        chosen = addresses[0]
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Checked(url, scheme, host, port, str(chosen), path)


def pinned_url(checked: Checked) -> str:
    """The URL with the checked address in place of the name (IPv6 bracketed)."""
    address = ipaddress.ip_address(checked.address)
    shown = f"[{address}]" if address.version == 6 else str(address)
    return f"{checked.scheme}://{shown}:{checked.port}{checked.path}"


# The most of an answer read from a push service or a webhook receiver: their status is what
# counts, and the other end is a URL somebody chose.
ANSWER_LIMIT = 64 * 1024


def client_session(connections: int) -> aiohttp.ClientSession:
    """The HTTP client for posts to user-chosen URLs (pushes, webhooks): aiohttp, about a sixth
    of httpx's CPU per post (~0.2 ms against ~1.2 ms, measured against a local server). No proxy
    from the environment, no cookies kept, bodies not decompressed, at most `connections` open;
    callers pass `allow_redirects=False` and, for a pinned address, `server_hostname`."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=connections),
        cookie_jar=aiohttp.DummyCookieJar(),
        trust_env=False,
        auto_decompress=False,
    )


async def finish(response: aiohttp.ClientResponse) -> None:
    """Read a short answer to its end (the connection then serves the next post); close on a
    long or unsized one, unread."""
    length = response.content_length
    if length is not None and length <= ANSWER_LIMIT:
        await response.read()
    else:
        response.close()
