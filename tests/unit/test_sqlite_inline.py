"""Inline SQLite (storage/sqlite_inline.py) and the writer's savepoint-less jobs.

The inline engines run statements on the loop thread, so what can wait must not: the writer's
BEGIN IMMEDIATE waits for another process's write lock on a thread. A job that declines a
savepoint and fails costs its batch a retry, never another job's write.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import event, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.util.concurrency import await_

from parlour.errors import Conflict, Unavailable
from parlour.ids import new_id
from parlour.storage.engine import Database, is_connection_error
from parlour.storage.models import Organization
from parlour.storage.writer import Job, WriteContext, Writer
from tests.unit.test_writer import add_org, stored

GIVE_UP_SECONDS = 20.0

sqlite_only = pytest.mark.skipif(
    bool(os.environ.get("PARLOUR_TEST_DATABASE_URL")),
    reason="the inline SQLite engines",
)


@contextlib.contextmanager
def write_lock_held_elsewhere(db: Database) -> Iterator[sqlite3.Connection]:
    """Another process's writer, mid-transaction: a plain connection holding the write lock."""
    path = make_url(db.url).database
    assert path is not None
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        other.execute("BEGIN IMMEDIATE")
        yield other
    finally:
        if other.in_transaction:
            other.rollback()
        other.close()


@sqlite_only
async def test_waiting_for_the_write_lock_does_not_stall_the_loop(
    db: Database, writer: Writer
) -> None:
    """The writer waits (busy_timeout) for the lock another process holds; meanwhile the loop
    serves a read. Were BEGIN IMMEDIATE on the loop thread, that read could only run after the
    wait ends in "database is locked", and the job would fail."""
    waiting = threading.Event()

    def on_begin(statement: str) -> None:
        if statement == "BEGIN IMMEDIATE":
            waiting.set()

    @event.listens_for(db.writer.sync_engine, "checkout")
    def trace(dbapi_connection: object, _record: object, _proxy: object) -> None:
        driver = dbapi_connection.driver_connection  # type: ignore[attr-defined]
        await_(driver.set_trace_callback(on_begin))

    name = f"after the lock {new_id()}"
    with write_lock_held_elsewhere(db) as other:
        job = asyncio.create_task(writer.run(add_org(name)))
        assert await asyncio.to_thread(waiting.wait, GIVE_UP_SECONDS)
        async with db.read_session() as session:
            assert await session.scalar(text("SELECT 1")) == 1  # the loop is free
        assert not job.done(), "the writer is still waiting for the lock"
        other.commit()  # the other process finishes: the lock is free
        org_id = await job
    assert await stored(db, name) == {name}
    assert org_id


@sqlite_only
async def test_a_closed_inline_connection_is_a_connection_error(db: Database) -> None:
    async with db.reader.connect() as connection:
        raw = await connection.get_raw_connection()
        raw.driver_connection.stop()  # type: ignore[union-attr]
        with pytest.raises(DBAPIError, match="closed database") as failure:
            await connection.execute(text("SELECT 1"))
    assert is_connection_error(failure.value)


def bare_failing(name: str, error: Exception, runs: list[str]) -> Job[str]:
    """A job that writes, then fails, without a savepoint to undo the write."""

    async def job(ctx: WriteContext) -> str:
        runs.append(name)
        await add_org(name)(ctx)
        raise error

    return job


def counted(name: str, runs: list[str]) -> Job[str]:
    async def job(ctx: WriteContext) -> str:
        runs.append(name)
        return await add_org(name)(ctx)

    return job


async def test_a_failing_job_without_savepoint_costs_its_batch_a_retry_not_a_write(
    db: Database, writer: Writer
) -> None:
    tag = new_id()
    runs: list[str] = []
    refused = Conflict("refused on purpose", code="test_refused")
    batches = writer.batches
    outcomes = await asyncio.gather(
        writer.run(counted(f"before {tag}", runs)),
        writer.run(bare_failing(f"bare {tag}", refused, runs), savepoint=False),
        writer.run(counted(f"bare ok {tag}", runs), savepoint=False),
        writer.run(counted(f"after {tag}", runs)),
        return_exceptions=True,
    )
    assert outcomes[1] is refused
    assert isinstance(outcomes[0], str)
    assert isinstance(outcomes[2], str)
    assert isinstance(outcomes[3], str)
    kept = {f"before {tag}", f"bare ok {tag}", f"after {tag}"}
    assert await stored(db, *kept, f"bare {tag}") == kept, "the failed job's write is undone"
    # The spoiled batch ran the first two; the retry ran the other three, once each.
    spoiled = [f"before {tag}", f"bare {tag}"]
    retried = [f"before {tag}", f"bare ok {tag}", f"after {tag}"]
    assert runs == spoiled + retried
    assert writer.batches == batches + 1, "only the retry committed"


async def test_a_bug_in_a_job_without_savepoint_is_a_retryable_error(
    db: Database, writer: Writer
) -> None:
    name = f"crashed {new_id()}"
    with pytest.raises(Unavailable):
        await writer.run(bare_failing(name, RuntimeError("a bug"), []), savepoint=False)
    assert await stored(db, name) == set()
    # The writer goes on.
    kept = f"kept {new_id()}"
    await writer.run(add_org(kept), savepoint=False)
    async with db.read_session() as session:
        assert await session.scalar(select(Organization.name).where(Organization.name == kept))
