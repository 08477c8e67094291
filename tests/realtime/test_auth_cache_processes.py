"""Two server processes on one database, without Redis: a token refused on one after a logout
or a deactivation on the other, within a second, although the other had it cached.

Nothing but the stream tells the second process (its hub polls every 0.5 s here).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from tests.support import Org, ServerProcess, org_factory, start_beside, start_server

API = "/api/v1"
# The contract: logout and deactivation refuse the token within a second in every process.
REFUSED_WITHIN = 1.0


@pytest.fixture(scope="module")
def two_processes() -> Iterator[tuple[ServerProcess, ServerProcess]]:
    with start_server() as first, start_beside(first) as second:
        yield first, second


async def status_of_me(http: httpx.AsyncClient, token: str) -> int:
    response = await http.get(f"{API}/users/me", headers={"Authorization": f"Bearer {token}"})
    return response.status_code


async def seconds_until_refused(http: httpx.AsyncClient, token: str) -> float:
    """Ask until the token is refused; how long that took (the deadline is the assertion)."""
    start = time.monotonic()
    while await status_of_me(http, token) != 401:
        elapsed = time.monotonic() - start
        assert elapsed < REFUSED_WITHIN + 1, "still accepted long after"
    return time.monotonic() - start


def token_of(org: Org, index: int) -> str:
    token = org[index].client.token
    assert token is not None
    return token


async def test_logout_and_deactivation_on_one_process_are_refused_on_the_other(
    two_processes: tuple[ServerProcess, ServerProcess],
) -> None:
    first, second = two_processes
    async with org_factory(first) as orgs:
        org = await orgs.create(["Ann Admin", "Ben Member", "Cy Member", "Di Member"])
        ben, cy, di = (token_of(org, index) for index in (1, 2, 3))
        async with httpx.AsyncClient(base_url=second.base_url) as on_second:
            for token in (ben, cy, di):
                # Twice: the second request is answered from the second process's cache.
                assert await status_of_me(on_second, token) == 200
                assert await status_of_me(on_second, token) == 200

            await org[1].client.logout()  # on the first process
            assert await seconds_until_refused(on_second, ben) < REFUSED_WITHIN

            await org[0].client.deactivate_user(org[2].user_id)  # on the first process
            assert await seconds_until_refused(on_second, cy) < REFUSED_WITHIN

            # The others' entries stand.
            assert await status_of_me(on_second, di) == 200
