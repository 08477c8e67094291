"""The outbound address guard decides before any socket opens: every refusal here is proven at
the guard, with sockets made to fail if anything tried to connect."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from parlour.outbound import (
    CachedResolver,
    OutboundRefused,
    check_url,
    parse_networks,
    pinned_url,
)

PUBLIC_V4 = "93.184.216.34"
PUBLIC_V6 = "2606:2800:220:1:248:1893:25c8:1946"


@pytest.fixture(autouse=True)
def no_sockets(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any connection attempt fails the test: the guard must decide without one."""

    def refuse(*_args: Any, **_kwargs: Any) -> None:
        raise AssertionError("the guard opened a connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def resolver(*addresses: str) -> Any:
    async def resolve(host: str, port: int) -> list[str]:
        return list(addresses)

    return resolve


@pytest.mark.parametrize(
    "url",
    [
        "https://10.0.0.1/push",
        "https://10.255.255.255/",
        "https://172.16.0.1/",
        "https://172.31.255.254/",
        "https://192.168.1.1/",
        "https://169.254.169.254/latest/meta-data/",
        "https://127.0.0.1/",
        "https://127.0.0.2:8443/",
        "https://0.0.0.0/",
        "https://100.64.0.1/",
        "https://224.0.0.1/",
        "https://240.0.0.1/",
        "https://255.255.255.255/",
        "https://[::1]/",
        "https://[fc00::1]/",
        "https://[fd12:3456::1]/",
        "https://[fe80::1]/",
        "https://[ff02::1]/",
        "https://[::ffff:10.0.0.1]/",
        "https://[::ffff:127.0.0.1]/",
        "https://[::ffff:169.254.169.254]/",
        "https://[64:ff9b::a00:1]/",
        "https://[2002:a00:1::]/",
        "https://[::]/",
    ],
)
async def test_private_and_special_addresses_are_refused(url: str) -> None:
    with pytest.raises(OutboundRefused):
        await check_url(url, resolve=resolver())


@pytest.mark.parametrize(
    "answers",
    [
        ("10.0.0.7",),
        ("192.168.0.10",),
        ("169.254.169.254",),
        ("fd00::5",),
        ("::ffff:172.16.0.9",),
        (PUBLIC_V4, "10.0.0.7"),  # one private answer among public ones is enough to refuse
    ],
)
async def test_a_name_that_resolves_to_a_private_address_is_refused(answers: tuple[str]) -> None:
    with pytest.raises(OutboundRefused):
        await check_url("https://push.example.test/x", resolve=resolver(*answers))


@pytest.mark.parametrize(
    "url",
    [
        "http://push.example.test/x",  # plain http to the public internet
        "ftp://push.example.test/x",
        "https://user:secret@push.example.test/x",
        "https:///no-host",
        "not a url",
        "https://push.example.test:99999/",
    ],
)
async def test_other_schemes_credentials_and_malformed_urls_are_refused(url: str) -> None:
    with pytest.raises(OutboundRefused):
        await check_url(url, resolve=resolver(PUBLIC_V4))


async def test_a_name_that_does_not_resolve_is_refused() -> None:
    async def fail(host: str, port: int) -> list[str]:
        raise socket.gaierror("no such name")

    with pytest.raises(OutboundRefused):
        await check_url("https://nowhere.example.test/", resolve=fail)


async def test_public_https_passes_and_is_pinned_to_the_checked_address() -> None:
    checked = await check_url("https://push.example.test/w/1?a=b", resolve=resolver(PUBLIC_V4))
    assert (checked.host, checked.port, checked.address) == ("push.example.test", 443, PUBLIC_V4)
    assert pinned_url(checked) == f"https://{PUBLIC_V4}:443/w/1?a=b"
    six = await check_url("https://push.example.test/", resolve=resolver(PUBLIC_V6))
    assert pinned_url(six) == f"https://[{PUBLIC_V6}]:443/"


async def test_allowed_networks_pass_plain_http_and_only_them() -> None:
    allowed = parse_networks(["127.0.0.1/32", "fd00:1::/64"])
    checked = await check_url("http://127.0.0.1:8123/push", allowed)
    assert (checked.scheme, checked.address) == ("http", "127.0.0.1")
    assert (await check_url("http://[fd00:1::5]:80/", allowed)).address == "fd00:1::5"
    for refused in ("http://127.0.0.2:8123/push", "https://[::1]/", "http://10.0.0.1/"):
        with pytest.raises(OutboundRefused):
            await check_url(refused, allowed)
    # A name answering an allowed and a private address is refused too.
    with pytest.raises(OutboundRefused):
        await check_url("http://mixed.test/", allowed, resolve=resolver("127.0.0.1", "10.0.0.1"))


async def test_a_cached_resolver_asks_once_per_name_and_its_answers_are_still_checked() -> None:
    asked: list[str] = []
    answers = {"push.example": [PUBLIC_V4], "inside.example": ["10.0.0.7"]}

    async def resolve(host: str, port: int) -> list[str]:
        asked.append(host)
        return answers[host]

    cached = CachedResolver(60.0, resolve)
    for _ in range(3):
        checked = await check_url("https://push.example/send/1", resolve=cached)
        assert checked.address == PUBLIC_V4
    assert asked == ["push.example"]
    for _ in range(2):  # a remembered private answer is refused every time, like a fresh one
        with pytest.raises(OutboundRefused):
            await check_url("https://inside.example/x", resolve=cached)
    assert asked == ["push.example", "inside.example"]

    expired = CachedResolver(0.0, resolve)  # nothing is remembered past its time
    await expired("push.example", 443)
    await expired("push.example", 443)
    assert asked[-2:] == ["push.example", "push.example"]


async def test_the_host_header_names_the_host_brackets_ipv6_and_drops_the_scheme_port() -> None:
    async def resolve(host: str, port: int) -> list[str]:
        return [PUBLIC_V4]

    cases = {
        "https://push.example/x": "push.example",
        "https://push.example:8443/x": "push.example:8443",
        "http://127.0.0.2/x": "127.0.0.2",
        "http://127.0.0.2:443/x": "127.0.0.2:443",  # 443 is https's, not http's
        "http://[::1]:8080/x": "[::1]:8080",
    }
    for url, host in cases.items():
        allowed = parse_networks(["127.0.0.0/8", "::1/128"])
        assert (await check_url(url, allowed, resolve)).host_header == host, url
