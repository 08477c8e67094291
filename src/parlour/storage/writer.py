"""The group-commit writer: every change goes through here.

Concurrent writes queue up while a commit is in flight; the next transaction takes all of them at
once, each in its own SAVEPOINT (one failing job rolls back alone). One fsync then covers a whole
batch, which is what lets "acknowledged means durable" coexist with thousands of sends a second.

A job that checks everything before it writes (the coalesced send job) can run without a
savepoint (`run(job, savepoint=False)`), saving two statements. Should it fail all the same, the
batch's transaction holds its partial work: the whole batch rolls back, that job gets its error
and the others run again in the next batch (jobs only act through their WriteContext, so running
one again is safe).

Serializing writes is also what keeps the event stream's cursor honest (ARCHITECTURE.md,
"cursor order vs commit order"): ids are handed out in commit order, so once id N is visible every
id below N is visible or was rolled back for good. Within a process the writer task is the only
writer; across processes on PostgreSQL a transaction-scoped advisory lock does the same.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from parlour.clock import Clock
from parlour.errors import ParlourError, Unavailable
from parlour.storage.engine import Database, is_connection_error
from parlour.storage.write_driver import WriteDriver, driver_of

log = logging.getLogger(__name__)

T = TypeVar("T")

# Any constant works: it only has to be the same in every process on the database.
STREAM_LOCK_KEY = 0x7061726C6F7572  # "parlour"


@dataclass
class WriteContext:
    """What a write job gets: the batch's session (inside its own savepoint unless the job
    declined one) and the clock."""

    session: AsyncSession
    clock: Clock
    after_commit: list[Callable[[], None]] = field(default_factory=list)
    last_event_id: int = 0
    _driver: WriteDriver | None = None

    async def driver(self) -> WriteDriver:
        """Driver statements on this job's connection (storage.write_driver), after the ORM's
        pending changes: a driver statement may refer to a row the job added a moment ago."""
        session = self.session
        if session.new or session.dirty or session.deleted:
            await session.flush()
        if self._driver is None:
            connection = await session.connection()
            raw = await connection.get_raw_connection()
            self._driver = driver_of(raw.driver_connection)
        return self._driver


Job = Callable[[WriteContext], Awaitable[T]]


@dataclass
class _Pending:
    job: Job[Any]
    future: asyncio.Future[Any]
    savepoint: bool


class _Spoiled(Exception):
    """A job without a savepoint failed: the transaction holds its partial work."""

    def __init__(self, pending: _Pending, error: Exception) -> None:
        super().__init__(f"a job without a savepoint failed: {error!r}")
        self.pending = pending
        self.error = error


class Writer:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        on_commit: Callable[[int], None],
        *,
        max_batch: int = 500,
    ) -> None:
        self._db = db
        self._clock = clock
        self._on_commit = on_commit
        self._max_batch = max_batch
        self._queue: list[_Pending] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.batches = 0
        self.jobs = 0

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="parlour-writer")

    async def stop(self) -> None:
        if self._task is not None:
            # Let queued jobs finish: they may already be promised to clients.
            while self._queue:
                self._wake.set()
                await asyncio.sleep(0)
                if self._task.done():
                    break
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def run(self, job: Job[T], *, savepoint: bool = True) -> T:
        """Run `job` inside the next batch transaction; returns once it is committed.

        `savepoint=False` is for a job that raises only when something unforeseen happens (it
        returns its refusals instead): it then costs its whole batch a retry (module docstring).
        """
        if self._task is None:
            raise RuntimeError("writer not started")
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.append(_Pending(job, future, savepoint))
        self._wake.set()
        return await future

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                batch = self._queue[: self._max_batch]
                del self._queue[: self._max_batch]
                try:
                    await self._commit(batch)
                except Exception:
                    # Never let one bad batch kill the writer: every later write would hang.
                    log.exception("writer batch failed outside its transaction")
                    failure = Unavailable("The change could not be stored. Retry.")
                    for pending in batch:
                        if not pending.future.done():
                            pending.future.set_exception(failure)

    async def _commit(self, batch: list[_Pending]) -> None:
        outcomes: list[tuple[_Pending, Any, BaseException | None, WriteContext]] = []
        try:
            async with self._db.write_session() as session, session.begin():
                if not self._db.is_sqlite:
                    await session.execute(
                        text("SELECT pg_advisory_xact_lock(:key)"), {"key": STREAM_LOCK_KEY}
                    )
                for pending in batch:
                    ctx = WriteContext(session=session, clock=self._clock)
                    if not pending.savepoint:
                        outcomes.append((pending, await self._bare(pending, ctx), None, ctx))
                        continue
                    try:
                        async with session.begin_nested():
                            result = await pending.job(ctx)
                        outcomes.append((pending, result, None, ctx))
                    except ParlourError as error:
                        outcomes.append((pending, None, error, ctx))
                    except Exception as error:
                        log.exception("write job failed")
                        outcomes.append((pending, None, error, ctx))
        except _Spoiled as spoiled:
            # Rolled back: the failed job gets its own error, the others go first in the queue.
            self._settle_failed(spoiled.pending, spoiled.error)
            self._queue[:0] = [p for p in batch if p is not spoiled.pending and not p.future.done()]
            return
        except Exception as batch_error:
            # Nothing of this batch is stored; every job that had not failed on its own gets a
            # retryable error (clients retry sends with the same client_id, so no duplicates).
            log.warning("batch commit failed: %s", batch_error)
            # A connection lost during COMMIT leaves the outcome unknown: say so. Sends are safe
            # to retry with their client_id whichever way it went.
            failure = Unavailable(
                "The database is unavailable; the change may not be stored. Retry."
            )
            # The cause tells callers (the coalescer) a lost connection from a refused change.
            failure.__cause__ = batch_error
            if is_connection_error(batch_error):
                # Drop every pooled connection: the next batch starts on a fresh one (PostgreSQL
                # restarted, failed over) instead of finding the dead ones one at a time.
                with contextlib.suppress(Exception):
                    await self._db.writer.dispose()
            for pending in batch:
                if not pending.future.done():
                    own = next((o[2] for o in outcomes if o[0] is pending), None)
                    pending.future.set_exception(own if isinstance(own, ParlourError) else failure)
            return
        self.batches += 1
        self.jobs += len(batch)
        last_event_id = 0
        for pending, result, job_error, ctx in outcomes:
            last_event_id = max(last_event_id, ctx.last_event_id)
            if job_error is None:
                # Committed: its consequences happen even if the caller stopped waiting.
                for callback in ctx.after_commit:
                    callback()
            if pending.future.done():
                continue
            if job_error is None:
                pending.future.set_result(result)
            else:
                self._settle_failed(pending, job_error)
        if last_event_id:
            self._on_commit(last_event_id)

    @staticmethod
    async def _bare(pending: _Pending, ctx: WriteContext) -> Any:
        """Run a job that declined a savepoint; its failure spoils the batch (unless the
        connection is lost: that fails the batch anyway, for every job alike)."""
        try:
            return await pending.job(ctx)
        except Exception as error:
            if is_connection_error(error):
                raise
            if not isinstance(error, ParlourError):
                log.exception("write job failed")
            raise _Spoiled(pending, error) from error

    @staticmethod
    def _settle_failed(pending: _Pending, error: BaseException) -> None:
        if pending.future.done():
            return
        if isinstance(error, ParlourError):
            pending.future.set_exception(error)
        else:
            failure = Unavailable("The change could not be stored.")
            failure.__cause__ = error
            pending.future.set_exception(failure)
