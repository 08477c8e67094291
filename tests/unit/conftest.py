"""Fixtures of the writer's unit tests: a migrated database of its own and a started Writer."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from parlour.clock import FakeClock
from parlour.storage.engine import Database
from parlour.storage.writer import Writer
from tests.unit.clocked import migrated_database


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def db() -> AsyncIterator[Database]:
    async with migrated_database() as database:
        yield database


@pytest.fixture
async def writer(db: Database, clock: FakeClock) -> AsyncIterator[Writer]:
    writer = Writer(db, clock, on_commit=lambda event_id: None)
    writer.start()
    try:
        yield writer
    finally:
        await writer.stop()
