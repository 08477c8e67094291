"""Fold many small writes of one kind into a single writer job.

The writer already commits concurrent jobs together, but each job still pays its own queries. A
coalescer goes one step further for hot, uniform writes (sends): requests that arrive while its
job waits in the writer's queue join that job, which handles them all with a handful of set-wise
queries. Each request still gets its own outcome: a result, or the error that concerns it alone.

A request the database refuses (a constraint, a value it cannot store) fails the set-wise
statement it shares with the others, so the whole folded job fails. The coalescer then runs each
of that job's requests again as a job of its own: the refused one is answered alone with its
error, and the rest are stored. Only a lost connection is shared by all: alone they would fail
the same way, and retrying them is the client's call (sends carry a client_id).

The folded job runs without a savepoint of its own: the handler answers each request's refusal
instead of raising, so it raises only for what no check foresaw, and then the writer rolls the
whole batch back (storage/writer.py). A request run alone keeps its savepoint: it is the one the
database may refuse again, and it must fail without taking its batch with it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from parlour.storage.engine import is_connection_error
from parlour.storage.writer import WriteContext, Writer

Request = TypeVar("Request")
Result = TypeVar("Result")

# The handler returns, per request and in request order, a result or that request's own error.
Handler = Callable[[WriteContext, Sequence[Request]], Awaitable[Sequence[Result | BaseException]]]


class Coalescer(Generic[Request, Result]):
    def __init__(self, writer: Writer, handle: Handler[Request, Result]) -> None:
        self._writer = writer
        self._handle = handle
        self._waiting: list[tuple[Request, asyncio.Future[Result]]] = []
        self._queued = False
        self._flushes: set[asyncio.Task[None]] = set()

    async def submit(self, request: Request) -> Result:
        """Returns once the write that carries `request` is committed (or raises its error)."""
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._waiting.append((request, future))
        if not self._queued:
            self._queued = True
            task = asyncio.create_task(self._flush())
            self._flushes.add(task)
            task.add_done_callback(self._flushes.discard)
        return await future

    def _take(self) -> list[tuple[Request, asyncio.Future[Result]]]:
        # Requests arriving from now on wait for the next job: this one is already running.
        taken, self._waiting, self._queued = self._waiting, [], False
        return taken

    async def _flush(self) -> None:
        taken: list[tuple[Request, asyncio.Future[Result]]] = []

        async def job(ctx: WriteContext) -> Sequence[Result | BaseException]:
            # Take once: the writer runs the job again when another job spoiled its batch.
            if not taken:
                taken.extend(self._take())
            return await self._handle(ctx, [request for request, _ in taken])

        try:
            outcomes = await self._writer.run(job, savepoint=False)
        except BaseException as error:
            if len(taken) > 1 and isinstance(error, Exception) and not is_connection_error(error):
                # One request may have spoiled the job for all: try each on its own.
                await asyncio.gather(*(self._alone(request, future) for request, future in taken))
                return
            # The connection failed (or the job never ran): every request shares the error.
            for _, future in taken or self._take():
                if not future.done():
                    future.set_exception(error)
            if not isinstance(error, Exception):
                raise
            return
        for (_, future), outcome in zip(taken, outcomes, strict=True):
            _settle(future, outcome)

    async def _alone(self, request: Request, future: asyncio.Future[Result]) -> None:
        """Run one request as a job of its own; its outcome, whatever it is, is its answer."""

        async def job(ctx: WriteContext) -> Result | BaseException:
            (outcome,) = await self._handle(ctx, [request])
            return outcome

        try:
            outcome = await self._writer.run(job)
        except BaseException as error:
            if not future.done():
                future.set_exception(error)
            if not isinstance(error, Exception):
                raise
            return
        _settle(future, outcome)


def _settle(future: asyncio.Future[Result], outcome: Result | BaseException) -> None:
    if future.done():  # the caller stopped waiting; the write stands regardless
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)
