"""Leases (parlour/leases.py) against a real database on a FakeClock: one holder at a time, kept
while renewed, taken over once let go or expired, and nothing written to learn it is held."""

from __future__ import annotations

from types import SimpleNamespace
from typing import cast

from sqlalchemy import select

from parlour import leases
from parlour.clock import FakeClock
from parlour.ids import new_id
from parlour.leases import Lease
from parlour.services import Services
from parlour.storage.engine import Database
from parlour.storage.models import Lease as LeaseRow
from parlour.storage.writer import Job, Writer


class CountingWriter:
    """The writer, counting the jobs it is given."""

    def __init__(self, writer: Writer) -> None:
        self.writer = writer
        self.jobs = 0

    async def run(self, job: Job[object]) -> object:
        self.jobs += 1
        return await self.writer.run(job)


def services(db: Database, writer: CountingWriter, clock: FakeClock) -> Services:
    return cast(Services, SimpleNamespace(db=db, writer=writer, clock=clock))


async def holder(db: Database, name: str) -> str | None:
    async with db.read_session() as session:
        return await session.scalar(select(LeaseRow.owner).where(LeaseRow.name == name))


async def test_one_process_at_a_time_until_let_go(
    db: Database, writer: Writer, clock: FakeClock
) -> None:
    counting = CountingWriter(writer)
    shared = services(db, counting, clock)
    name = f"test.{new_id()}"
    first, second = Lease(shared, name, "first"), Lease(shared, name, "second")

    assert await first.hold()
    assert await holder(db, name) == "first"
    assert not await second.hold()
    jobs = counting.jobs
    assert not await second.hold()  # still held: found out by reading, not by writing
    assert await first.hold()  # well inside its life: no renewal written either
    assert counting.jobs == jobs

    await first.release()
    assert await holder(db, name) is None
    assert await second.hold()
    assert await holder(db, name) == "second"
    assert not await first.hold()


async def test_renewed_while_held_and_taken_over_once_expired(
    db: Database, writer: Writer, clock: FakeClock
) -> None:
    shared = services(db, CountingWriter(writer), clock)
    name = f"test.{new_id()}"
    first, second = Lease(shared, name, "first"), Lease(shared, name, "second")
    assert await first.hold()
    for _ in range(4):  # renewed past half its life, again and again: never lapses
        clock.advance(leases.SECONDS * 0.6)
        assert await first.hold()
        assert not await second.hold()
    # The holder stops renewing (it died): once the lease has expired another takes it.
    clock.advance(leases.SECONDS * 0.9)
    assert not await second.hold()
    clock.advance(leases.SECONDS * 0.2)
    assert await second.hold()
    assert await holder(db, name) == "second"
    assert not await first.hold()  # the old holder learns it lost the lease
