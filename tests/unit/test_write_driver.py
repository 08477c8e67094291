"""Driver statements inside the writer's transaction (storage/write_driver.py), on both databases.

They skip SQLAlchemy, so nothing but their connection ties them to the batch: these tests show
they commit and roll back with the job that made them, see what the job added through the ORM a
moment before, and store timestamps the ORM reads back as the same instant.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from parlour.clock import FakeClock
from parlour.errors import Conflict
from parlour.ids import new_id
from parlour.storage.engine import Database
from parlour.storage.hot import HotQuery
from parlour.storage.models import Organization
from parlour.storage.write_driver import insert_rows
from parlour.storage.writer import WriteContext, Writer

_NAMED = HotQuery("SELECT id FROM organizations WHERE name = ?")


async def _org_named(db: Database, name: str) -> Organization | None:
    async with db.read_session() as session:
        found: Organization | None = await session.scalar(
            select(Organization).where(Organization.name == name)
        )
        return found


async def _insert_org(ctx: WriteContext, name: str) -> str:
    driver = await ctx.driver()
    query = insert_rows("organizations", ("id", "name", "created_at"), 1, "id")
    org_id = new_id()
    rows = await driver.fetch(query, org_id, name, driver.timestamp(ctx.clock.now()))
    assert [row[0] for row in rows] == [org_id]
    return org_id


async def test_a_driver_insert_commits_with_its_batch_and_reads_back_through_the_orm(
    db: Database, writer: Writer, clock: FakeClock
) -> None:
    clock.advance(0.123456)  # a fraction of a second the text form must keep
    name = f"driver {new_id()}"
    org_id = await writer.run(lambda ctx: _insert_org(ctx, name))
    stored = await _org_named(db, name)
    assert stored is not None
    assert stored.id == org_id
    assert stored.created_at == clock.now(), "the same instant as the ORM would have stored"


async def test_a_driver_insert_rolls_back_with_the_job_that_made_it(
    db: Database, writer: Writer
) -> None:
    refused_name, kept_name = f"refused {new_id()}", f"kept {new_id()}"

    async def refused(ctx: WriteContext) -> None:
        await _insert_org(ctx, refused_name)
        raise Conflict("refused on purpose", code="test_refused")

    async def kept(ctx: WriteContext) -> str:
        return await _insert_org(ctx, kept_name)

    with pytest.raises(Conflict):
        await writer.run(refused)
    await writer.run(kept)
    assert await _org_named(db, refused_name) is None, "undone with the job's savepoint"
    assert await _org_named(db, kept_name) is not None


async def test_a_driver_statement_sees_what_the_job_added_through_the_orm(
    writer: Writer, clock: FakeClock
) -> None:
    name = f"pending {new_id()}"

    async def job(ctx: WriteContext) -> list[str]:
        ctx.session.add(Organization(id=new_id(), name=name, created_at=clock.now()))
        driver = await ctx.driver()  # flushes the ORM's pending rows first
        return [row[0] for row in await driver.fetch(_NAMED, name)]

    assert len(await writer.run(job)) == 1
