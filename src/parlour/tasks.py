"""Stopping the background tasks a process runs beside its requests."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from typing import Any


async def cancel_and_wait(tasks: Iterable[asyncio.Task[Any]]) -> None:
    """Cancel every task, then wait until each has ended: a stopped component leaves nothing of
    its own running (a write half done, a socket held). A task that had failed already said so in
    its own log line (every background loop logs its failures), so its exception ends here."""
    stopping = list(tasks)
    for task in stopping:
        task.cancel()
    for task in stopping:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
