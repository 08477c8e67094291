"""Login throttling: attempts are counted before the password is checked, addresses come from
trusted proxies only, and the account's owner keeps logging in from a known device.

Clients connect from their own loopback addresses (the whole 127.0.0.0/8 is loopback on Linux),
so each test has its own real peer address, and a fresh one per run: on PostgreSQL the failures
table is shared with every other server of the test run.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from pydantic import ValidationError

from parlour.actions.login_throttle import address_key
from parlour.config import Settings
from parlour.ids import new_id
from tests.support import (
    PASSWORD,
    Member,
    Org,
    OrgFactory,
    ServerProcess,
    org_factory,
    start_server,
)

LOGIN = "/api/v1/auth/login"
PER_ACCOUNT = 5  # the defaults of Limits: the server below runs with them
PER_ADDRESS = 20


def loopback() -> str:
    """A loopback address of its own (never 127.0.0.1, which the rest of the suite uses)."""
    return f"127.{random.randint(1, 254)}.{random.randint(1, 254)}.{random.randint(2, 254)}"


def forwarded() -> str:
    """A client address as a proxy would report it; only ever a header value, never dialled."""
    return f"198.18.{random.randint(0, 255)}.{random.randint(1, 254)}"


PROXY = loopback()


@pytest.fixture(scope="module")
def throttled_server() -> Iterator[ServerProcess]:
    with start_server(
        {
            "PARLOUR_LIMIT_LOGIN_FAILURES_PER_IP": str(PER_ADDRESS),
            "PARLOUR_LIMIT_LOGIN_FAILURES_PER_ACCOUNT": str(PER_ACCOUNT),
            "PARLOUR_TRUSTED_PROXIES": PROXY,
        }
    ) as process:
        yield process


@pytest.fixture(scope="module")
async def throttled_orgs(throttled_server: ServerProcess) -> AsyncIterator[OrgFactory]:
    async with org_factory(throttled_server) as factory:
        yield factory


@pytest.fixture
async def victim_org(throttled_orgs: OrgFactory) -> Org:
    return await throttled_orgs.create(["Ann Admin", "Vic Victim"], login=False)


def client_from(server: ServerProcess, address: str) -> httpx.AsyncClient:
    transport = httpx.AsyncHTTPTransport(local_address=address)
    return httpx.AsyncClient(base_url=server.base_url, transport=transport, timeout=60)


async def login(
    http: httpx.AsyncClient, email: str, password: str, *, via: str | None = None
) -> httpx.Response:
    headers = {"X-Forwarded-For": via} if via is not None else {}
    return await http.post(LOGIN, json={"email": email, "password": password}, headers=headers)


def statuses(responses: list[httpx.Response]) -> Counter[int]:
    return Counter(response.status_code for response in responses)


async def test_parallel_logins_for_one_account_check_at_most_the_limit(
    throttled_server: ServerProcess, victim_org: Org
) -> None:
    victim = victim_org[1]
    async with client_from(throttled_server, loopback()) as http:
        answers = await asyncio.gather(
            *(login(http, victim.email, f"guess {n}") for n in range(40))
        )
    # Every 401 is a password that was checked: no more than the account's limit.
    assert statuses(answers) == {401: PER_ACCOUNT, 429: 40 - PER_ACCOUNT}
    limited = next(answer for answer in answers if answer.status_code == 429)
    assert limited.json()["error"]["code"] == "login_rate_limited"
    assert 1 <= int(limited.headers["Retry-After"]) <= 301


async def test_parallel_logins_from_one_address_check_at_most_the_limit(
    throttled_server: ServerProcess,
) -> None:
    emails = [f"nobody.{new_id().lower()}@example.test" for _ in range(100)]
    async with client_from(throttled_server, loopback()) as http:
        answers = await asyncio.gather(*(login(http, email, "guess") for email in emails))
        assert statuses(answers) == {401: PER_ADDRESS, 429: 100 - PER_ADDRESS}
    # Another address is not affected.
    async with client_from(throttled_server, loopback()) as other:
        assert (await login(other, emails[0], "guess")).status_code == 401


async def test_forged_forwarded_for_from_an_untrusted_peer_is_ignored(
    throttled_server: ServerProcess,
) -> None:
    # 127.0.0.1 is the peer uvicorn believes by default; here it is not a configured proxy. A
    # fresh header per request must not make each attempt look like a new client.
    async with client_from(throttled_server, "127.0.0.1") as http:
        answers = [
            await login(http, f"spray.{new_id().lower()}@example.test", "guess", via=forwarded())
            for _ in range(PER_ADDRESS + 5)
        ]
    counts = statuses(answers)
    # Exactly PER_ADDRESS on a fresh database; fewer if other tests failed from 127.0.0.1 too.
    assert counts[401] <= PER_ADDRESS
    assert counts[429] >= 5
    assert counts[401] + counts[429] == PER_ADDRESS + 5


async def test_forwarded_for_from_a_trusted_proxy_is_believed(
    throttled_server: ServerProcess,
) -> None:
    guesser, bystander = forwarded(), forwarded()
    async with client_from(throttled_server, PROXY) as proxy:
        answers = [
            await login(proxy, f"spray.{new_id().lower()}@example.test", "guess", via=guesser)
            for _ in range(PER_ADDRESS + 1)
        ]
        assert statuses(answers) == {401: PER_ADDRESS, 429: 1}
        # Everyone else behind the same proxy still gets to try.
        other = await login(proxy, "someone@example.test", "guess", via=bystander)
        assert other.status_code == 401
        # A chain: the proxy appends the address it saw; the right-most untrusted one counts,
        # whatever the client wrote to the left of it.
        chained = await login(proxy, "x@example.test", "guess", via=f"{forwarded()}, {guesser}")
        assert chained.status_code == 429


async def _device_login(server: ServerProcess, member: Member) -> httpx.AsyncClient:
    """A browser that has logged in to `member`'s account once (and so holds a device cookie)."""
    http = client_from(server, loopback())
    try:
        first = await login(http, member.email, PASSWORD)
        assert first.status_code == 200
        cookies = first.headers.get_list("set-cookie")
        devices = [line for line in cookies if line.startswith("parlour_device=")]
        assert len(devices) == 1
        # Script cannot read it; only the login route receives it.
        assert "HttpOnly" in devices[0]
        assert "Path=/api/v1/auth/login" in devices[0]
    except BaseException:
        await http.aclose()
        raise
    return http


async def test_the_owner_logs_in_from_a_known_device_while_a_guesser_is_throttled(
    throttled_server: ServerProcess, victim_org: Org
) -> None:
    victim = victim_org[1]
    owner = await _device_login(throttled_server, victim)
    try:
        async with (
            client_from(throttled_server, loopback()) as guesser,
            client_from(throttled_server, loopback()) as new_browser,
        ):
            for attempt in range(PER_ACCOUNT):
                assert (await login(guesser, victim.email, f"guess {attempt}")).status_code == 401
            assert (await login(guesser, victim.email, "guess again")).status_code == 429
            # Not even the right password from an unknown device: no oracle for the guesser.
            assert (await login(new_browser, victim.email, PASSWORD)).status_code == 429
            # The owner's browser is throttled on its own account of failures only.
            assert (await login(owner, victim.email, PASSWORD)).status_code == 200
            # And its own typos are counted (per device), then forgiven by a success.
            for attempt in range(PER_ACCOUNT - 1):
                assert (await login(owner, victim.email, f"typo {attempt}")).status_code == 401
            assert (await login(owner, victim.email, PASSWORD)).status_code == 200
            for attempt in range(PER_ACCOUNT):
                assert (await login(owner, victim.email, f"typo {attempt}")).status_code == 401
            assert (await login(owner, victim.email, PASSWORD)).status_code == 429
    finally:
        await owner.aclose()


async def test_a_device_cookie_counts_only_for_its_own_account(
    throttled_server: ServerProcess, victim_org: Org
) -> None:
    admin, victim = victim_org[0], victim_org[1]
    mine = await _device_login(throttled_server, admin)
    try:
        async with client_from(throttled_server, loopback()) as guesser:
            for attempt in range(PER_ACCOUNT):
                assert (await login(guesser, victim.email, f"guess {attempt}")).status_code == 401
        # A cookie earned on my own account is no key to the victim's lock.
        assert (await login(mine, victim.email, PASSWORD)).status_code == 429
        assert (await login(mine, admin.email, PASSWORD)).status_code == 200
    finally:
        await mine.aclose()


async def test_password_change_spends_the_login_budget(
    throttled_server: ServerProcess, victim_org: Org
) -> None:
    victim = victim_org[1]
    async with client_from(throttled_server, loopback()) as http:
        token = (await login(http, victim.email, PASSWORD)).json()["token"]
        http.cookies.clear()

        async def change(current: str) -> httpx.Response:
            return await http.post(
                "/api/v1/users/me/password",
                json={"current_password": current, "new_password": "a brand new passphrase"},
                headers={"Authorization": f"Bearer {token}"},
            )

        # In parallel too: at most the limit of current passwords are checked.
        answers = await asyncio.gather(*(change(f"guess {n}") for n in range(20)))
        assert statuses(answers) == {422: PER_ACCOUNT, 429: 20 - PER_ACCOUNT}
        assert {a.json()["error"]["code"] for a in answers} == {
            "wrong_password",
            "login_rate_limited",
        }
        # The right one is refused too while throttled, and nothing changed.
        assert (await change(PASSWORD)).status_code == 429
        # It is the account's login budget: unknown devices cannot log in either.
        assert (await login(http, victim.email, PASSWORD)).status_code == 429
        assert (
            await http.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})
        ).status_code == 200


def test_trusted_proxies_are_addresses_or_networks() -> None:
    settings = Settings(trusted_proxies="10.0.0.10, 10.1.0.0/16,::1")
    assert settings.trusted_proxies == ["10.0.0.10/32", "10.1.0.0/16", "::1/128"]
    # uvicorn would quietly take a typo for a host name and trust nobody (or the wrong peer).
    with pytest.raises(ValidationError):
        Settings(trusted_proxies="10.0.0.300")
    with pytest.raises(ValidationError):
        Settings(trusted_proxies="*")


def test_an_ipv6_client_is_one_address_per_64() -> None:
    # One host usually holds a whole /64: counting each address would give it 2**64 budgets.
    assert address_key("2001:db8:1:2:aaaa::1") == address_key("2001:db8:1:2:bbbb::2")
    assert address_key("2001:db8:1:2::1") != address_key("2001:db8:1:3::1")
    assert address_key("::ffff:192.0.2.7") == address_key("192.0.2.7") == "ip:192.0.2.7"
