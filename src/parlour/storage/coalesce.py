"""Fold many small writes of one kind into a single writer job.

The writer already commits concurrent jobs together, but each job still pays its own queries. A
coalescer goes one step further for hot, uniform writes (sends): requests that arrive while its
job waits in the writer's queue join that job, which handles them all with a handful of set-wise
queries. Each request still gets its own outcome: a result, or the error that concerns it alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

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
            taken.extend(self._take())
            return await self._handle(ctx, [request for request, _ in taken])

        try:
            outcomes = await self._writer.run(job)
        except BaseException as error:
            # The whole job failed (or never ran): every request in it shares the error.
            for _, future in taken or self._take():
                if not future.done():
                    future.set_exception(error)
            if not isinstance(error, Exception):
                raise
            return
        for (_, future), outcome in zip(taken, outcomes, strict=True):
            if future.done():  # the caller stopped waiting; the write stands regardless
                continue
            if isinstance(outcome, BaseException):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)
