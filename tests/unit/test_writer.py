"""The group-commit writer against a real database, on a FakeClock.

Jobs that arrive together commit in one transaction; a job that fails rolls back alone and gets
its own error; every stored timestamp comes from the writer's clock.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from parlour.clock import FakeClock
from parlour.errors import Conflict, ParlourError, Unavailable
from parlour.ids import new_id
from parlour.storage.engine import Database
from parlour.storage.models import Organization
from parlour.storage.writer import Job, WriteContext, Writer


def add_org(name: str, sessions: list[AsyncSession] | None = None) -> Job[str]:
    """A job that stores an organization called `name` (and notes the session it ran in)."""

    async def job(ctx: WriteContext) -> str:
        if sessions is not None:
            sessions.append(ctx.session)
        org_id = new_id()
        await ctx.session.execute(
            insert(Organization).values(id=org_id, name=name, created_at=ctx.clock.now())
        )
        return org_id

    return job


async def stored(db: Database, *names: str) -> set[str]:
    """Which of `names` are stored organizations."""
    async with db.read_session() as session:
        found = await session.scalars(select(Organization.name).where(Organization.name.in_(names)))
        return set(found)


async def test_jobs_that_arrive_together_commit_in_one_transaction(
    db: Database, writer: Writer
) -> None:
    names = [f"together {new_id()}" for _ in range(5)]
    sessions: list[AsyncSession] = []
    batches = writer.batches
    ids = await asyncio.gather(*(writer.run(add_org(name, sessions)) for name in names))
    assert len(set(ids)) == len(names)
    assert writer.batches == batches + 1, "one commit for all five"
    assert len({id(session) for session in sessions}) == 1, "one transaction's session"
    assert await stored(db, *names) == set(names)


async def test_a_failing_job_rolls_back_alone_with_its_own_error(
    db: Database, writer: Writer
) -> None:
    tag = new_id()
    good = [f"kept {tag} {i}" for i in range(2)]

    def failing(name: str, error: Exception) -> Job[str]:
        async def job(ctx: WriteContext) -> str:
            await add_org(name)(ctx)  # written, then undone with the job's savepoint
            raise error

        return job

    refused = Conflict("refused on purpose", code="test_refused")
    batches = writer.batches
    outcomes = await asyncio.gather(
        writer.run(add_org(good[0])),
        writer.run(failing(f"refused {tag}", refused)),
        writer.run(failing(f"crashed {tag}", RuntimeError("a bug"))),
        writer.run(add_org(good[1])),
        return_exceptions=True,
    )
    assert writer.batches == batches + 1, "the failures did not split or abort the batch"
    assert isinstance(outcomes[0], str)
    assert outcomes[1] is refused, "a ParlourError reaches its caller as raised"
    assert isinstance(outcomes[2], Unavailable), "a bug is answered as a retryable 503"
    assert isinstance(outcomes[3], str)
    assert await stored(db, *good, f"refused {tag}", f"crashed {tag}") == set(good)


async def test_a_statement_the_database_refuses_fails_only_its_job(
    db: Database, writer: Writer
) -> None:
    taken = f"taken {new_id()}"
    await writer.run(add_org(taken))
    fresh = f"fresh {new_id()}"
    outcomes = await asyncio.gather(
        writer.run(add_org(taken)),  # organization names are unique
        writer.run(add_org(fresh)),
        return_exceptions=True,
    )
    assert isinstance(outcomes[0], ParlourError), "answered in the error family, not a crash"
    assert isinstance(outcomes[1], str)
    assert await stored(db, fresh) == {fresh}


async def test_stored_times_come_from_the_writer_clock(
    db: Database, writer: Writer, clock: FakeClock
) -> None:
    clock.advance(timedelta(days=400).total_seconds())
    name = f"clocked {new_id()}"
    org_id = await writer.run(add_org(name))
    async with db.read_session() as session:
        created = await session.scalar(
            select(Organization.created_at).where(Organization.id == org_id)
        )
    assert created == clock.now()


async def test_after_commit_callbacks_run_only_for_jobs_that_committed(writer: Writer) -> None:
    ran: list[str] = []

    def noting(label: str, fail: bool) -> Job[None]:
        async def job(ctx: WriteContext) -> None:
            ctx.after_commit.append(lambda: ran.append(label))
            if fail:
                raise Conflict("no", code="test_refused")

        return job

    await asyncio.gather(
        writer.run(noting("committed", fail=False)),
        writer.run(noting("rolled back", fail=True)),
        return_exceptions=True,
    )
    assert ran == ["committed"]
