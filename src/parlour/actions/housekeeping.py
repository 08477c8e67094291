"""Housekeeping: nothing Parlour stores grows forever (docs/operations.md, "What Parlour keeps").

Every process runs a pass on start-up and then every `PARLOUR_HOUSEKEEPING_SECONDS`. Each rule
deletes in bounded chunks, one writer job per chunk (rows are found beforehand, outside the write
order): the writer serializes jobs (on PostgreSQL across processes too, by its advisory lock), so
passes running at once in several processes share the work, and sends queue behind one chunk at
most, never behind a whole pass.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from parlour.services import Services
from parlour.storage import retention
from parlour.storage.writer import WriteContext

log = logging.getLogger(__name__)
K = TypeVar("K")
R = TypeVar("R")

CHUNK = 2_000
# An upload is for a message being written: a day is far more than composing takes.
UNCLAIMED_ATTACHMENT_AGE = timedelta(days=1)
# Kept a while for whoever investigates an incident in the database; a deleted row would
# authenticate no more than a revoked one does.
REVOKED_SESSION_AGE = timedelta(days=30)
# A file with no attachment row is what an upload interrupted by a crash leaves behind; an
# upload in progress has no row yet either, but a recent modification time.
ORPHAN_FILE_AGE = timedelta(days=1)
# Only names do_upload gives files (parlour.ids.new_id) are ever removed as orphans: a directory
# configured by mistake to hold other files too loses none of them.
_STORAGE_NAME = re.compile(r"[A-Za-z0-9_-]{16}")


async def _repeat(
    services: Services,
    find: Callable[[AsyncSession], Awaitable[list[K]]],
    remove: Callable[[WriteContext, list[K]], Awaitable[R]],
    size: Callable[[R], int],
    after: Callable[[R], Awaitable[None]] | None = None,
) -> int:
    """Find a chunk outside the write order, remove it in one writer job, until a short chunk.

    Several processes may find the same rows: `remove` re-checks the rule and deletes by key,
    so each row goes once. A full chunk of which nothing could be removed ends the pass too,
    so no row the rule finds but cannot remove keeps it going for ever.
    """
    total = 0
    while True:
        # Finding may scan a whole table (versions of deleted messages): off the loop.
        async with services.db.slow_read_session() as session:
            keys = await find(session)
        if not keys:
            return total

        async def job(ctx: WriteContext, keys: list[K] = keys) -> R:
            return await remove(ctx, keys)

        result = await services.writer.run(job)
        if after is not None:
            await after(result)  # committed by now
        removed = size(result)
        total += removed
        if len(keys) < CHUNK or removed == 0:
            return total


async def _rows(
    services: Services,
    find: Callable[[AsyncSession], Awaitable[list[K]]],
    remove: Callable[[WriteContext, list[K]], Awaitable[int]],
) -> int:
    return await _repeat(services, find, remove, size=int)


async def _rows_and_files(
    services: Services,
    find: Callable[[AsyncSession], Awaitable[list[str]]],
    remove: Callable[[WriteContext, list[str]], Awaitable[list[str]]],
) -> int:
    """Attachment rows, and each chunk's files once the chunk's deletion is committed.

    A failed job leaves rows and files as they were. A crash between the commit and the unlink
    leaves files without rows, which `_orphan_files` removes a day later.
    """
    directory = services.settings.resolved_attachments_dir()

    async def unlink(names: list[str]) -> None:
        await asyncio.to_thread(_unlink, directory, names)

    return await _repeat(services, find, remove, size=len, after=unlink)


def _unlink(directory: Path, names: list[str]) -> None:
    for name in names:
        (directory / name).unlink(missing_ok=True)


def _old_files(directory: Path, cutoff: float) -> list[str]:
    """Files in `directory` named like uploads and last modified before `cutoff` (POSIX time)."""
    if not directory.is_dir():
        return []
    names = []
    with os.scandir(directory) as entries:
        for entry in entries:
            if (
                _STORAGE_NAME.fullmatch(entry.name)
                and entry.is_file(follow_symlinks=False)
                and entry.stat().st_mtime < cutoff
            ):
                names.append(entry.name)
    return names


async def _orphan_files(services: Services, now: datetime) -> int:
    directory = services.settings.resolved_attachments_dir()
    old = await asyncio.to_thread(_old_files, directory, (now - ORPHAN_FILE_AGE).timestamp())
    removed = 0
    for start in range(0, len(old), CHUNK):
        names = old[start : start + CHUNK]
        async with services.db.read_session() as session:
            known = await retention.known_storage_names(session, names)
        orphans = [name for name in names if name not in known]
        await asyncio.to_thread(_unlink, directory, orphans)
        removed += len(orphans)
    return removed


async def run_housekeeping(services: Services) -> dict[str, int]:
    """One pass of every rule; how many rows (or files) each removed.

    A rule that fails is logged and the others still run: a database hiccup must not stop the
    process, and the next pass retries.
    """
    now = services.clock.now()
    events_cutoff = now - timedelta(days=services.settings.event_retention_days)
    failures_cutoff = now - timedelta(seconds=services.limits.login_window_seconds)

    async def events(ctx: WriteContext) -> int:
        return await retention.prune_events(ctx, events_cutoff, CHUNK)

    async def events_in_chunks() -> int:
        # Events are found by primary key, so finding and deleting share one writer job.
        total = 0
        while (removed := await services.writer.run(events)) == CHUNK:
            total += removed
        return total + removed

    unclaimed_cutoff = now - UNCLAIMED_ATTACHMENT_AGE
    sessions_cutoff = now - REVOKED_SESSION_AGE
    rules: dict[str, Callable[[], Awaitable[int]]] = {
        "events": events_in_chunks,
        # After events: spans are judged against where the kept stream now starts.
        "ended_memberships": lambda: _rows(
            services,
            lambda s: retention.ended_memberships(s, CHUNK),
            retention.delete_memberships,
        ),
        "login_failures": lambda: _rows(
            services,
            lambda s: retention.old_login_failures(s, failures_cutoff, CHUNK),
            lambda ctx, ids: retention.delete_login_failures(ctx, ids, failures_cutoff),
        ),
        "versions_of_deleted_messages": lambda: _rows(
            services,
            lambda s: retention.versions_of_deleted(s, CHUNK),
            retention.delete_versions,
        ),
        "unclaimed_attachments": lambda: _rows_and_files(
            services,
            lambda s: retention.unclaimed_attachments(s, unclaimed_cutoff, CHUNK),
            lambda ctx, ids: retention.delete_unclaimed_attachments(ctx, ids, unclaimed_cutoff),
        ),
        "attachments_of_deleted_messages": lambda: _rows_and_files(
            services,
            lambda s: retention.attachments_of_deleted(s, CHUNK),
            retention.delete_attachments_of_deleted,
        ),
        "revoked_sessions": lambda: _rows(
            services,
            lambda s: retention.revoked_sessions(s, sessions_cutoff, CHUNK),
            lambda ctx, ids: retention.delete_sessions(ctx, ids, sessions_cutoff),
        ),
        "orphan_files": lambda: _orphan_files(services, now),
    }
    removed: dict[str, int] = {}
    for name, rule in rules.items():
        try:
            removed[name] = await rule()
        except Exception:
            log.exception("housekeeping rule %s failed; the next pass retries", name)
    if any(removed.values()):
        log.info("housekeeping removed %s", {k: v for k, v in removed.items() if v})
    return removed


class Housekeeper:
    """Runs `run_housekeeping` every `interval` seconds until stopped."""

    def __init__(self, services: Services, interval: float) -> None:
        self._services = services
        self._interval = interval
        self._task: asyncio.Task[None] | None = None
        self.passes = 0
        # Set after every pass: lets a test wait for the next one instead of sleeping.
        self.pass_done = asyncio.Event()

    async def run_once(self) -> dict[str, int]:
        removed = await run_housekeeping(self._services)
        self.passes += 1
        self.pass_done.set()
        return removed

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="parlour-housekeeping")

    async def stop(self) -> None:
        """Cancel the loop; must run before the writer stops (a pass is writer jobs)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            await self.run_once()
