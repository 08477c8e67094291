"""Shared fixtures: a real `parlour serve` process on a real socket, and organizations to test in.

The database is SQLite in a fresh data dir unless PARLOUR_TEST_DATABASE_URL names a PostgreSQL
database (scripts/test runs the suite once each way). Each test makes its own organization, and
organizations are sealed from each other, so tests never see each other's data.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import pytest
from hypothesis import settings

from tests.support import Org, OrgFactory, ServerProcess, org_factory, start_server

# Every property-based test passes or fails the same way on every run (a verdict by the luck of a
# random seed teaches people to ignore the suite): derandomized, no example database. The long
# exploring runs (scripts/faults) set PARLOUR_EXPLORE=1 and a seed of their own.
if os.environ.get("PARLOUR_EXPLORE") != "1":
    settings.register_profile("parlour-deterministic", derandomize=True, database=None)
    settings.load_profile("parlour-deterministic")


@pytest.fixture(scope="session")
def server() -> Iterator[ServerProcess]:
    with start_server() as process:
        yield process


@pytest.fixture(scope="session")
async def orgs(server: ServerProcess) -> AsyncIterator[OrgFactory]:
    async with org_factory(server) as factory:
        yield factory


@pytest.fixture
async def org(orgs: OrgFactory) -> Org:
    """An organization with an admin and three members, all logged in."""
    return await orgs.create(["Admin Person", "Bea Member", "Cal Member", "Dee Member"])


@pytest.fixture
def server_url(server: ServerProcess) -> str:
    return server.base_url
