"""SQLite statements on the event loop's own thread, for SQLAlchemy's async engine.

SQLAlchemy drives SQLite asynchronously through an adapter (`dialects/sqlite/aiosqlite.py`) over
an aiosqlite-shaped module: `connect()`, and a Connection and Cursor whose methods are coroutines.
aiosqlite runs each of them on a worker thread, so every statement, BEGIN and ROLLBACK costs a
queue put, a thread wake-up and a wake-up of the loop, and under load they convoy. A SQLite read
on a local file takes tens of microseconds: the hop costs more than the query.

This module has the same shape but calls the stdlib connection inline: its coroutines complete
without suspending. Above it nothing changes (AsyncSession, `read_session()`, the Writer).

Only what can WAIT leaves the loop, one hop each:
- opening a connection (rare: the pools keep them);
- on a connection opened with `waits_off_loop=True` (the writer's engine passes it through
  `connect_args`), `BEGIN IMMEDIATE`/`BEGIN EXCLUSIVE`, which wait up to busy_timeout while
  another process (`parlour serve --workers N`) holds the write lock, and COMMIT, whose fsync
  (`synchronous=FULL`) is the durability we promise. One of each per writer batch. Writers of
  several processes queue on an flock beside the database (`<db>.writer-lock`) before BEGIN.
Readers in WAL mode never wait for the writer; their statements stay inline. Long scans (search)
must not use this engine: `Database.slow_read_session` keeps aiosqlite's threads for them.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import sqlite3
import sys
from collections.abc import Callable, Iterable
from functools import partial
from typing import TYPE_CHECKING, Any, Literal, Self, TypeVar, cast

from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util.concurrency import await_

if TYPE_CHECKING:
    from sqlalchemy.connectors.asyncio import AsyncIODBAPIConnection

T = TypeVar("T")
IsolationLevel = Literal["DEFERRED", "EXCLUSIVE", "IMMEDIATE"] | None

# What SQLAlchemy's adapter reads off the module it drives (the stdlib's own classes, so that
# errors are exactly those of the pysqlite dialect underneath).
DatabaseError = sqlite3.DatabaseError
Error = sqlite3.Error
IntegrityError = sqlite3.IntegrityError
NotSupportedError = sqlite3.NotSupportedError
OperationalError = sqlite3.OperationalError
ProgrammingError = sqlite3.ProgrammingError
sqlite_version = sqlite3.sqlite_version
sqlite_version_info = sqlite3.sqlite_version_info

# Statements that take the write lock and so may wait for another process's transaction.
_LOCKING_BEGINS = ("BEGIN IMMEDIATE", "BEGIN EXCLUSIVE")


async def _off_loop(function: Callable[..., T], *args: Any) -> T:
    """`function(*args)` on a worker thread; a cancelled caller still waits for it to finish,
    so that nothing else touches the connection while the thread is using it."""
    work = asyncio.ensure_future(asyncio.to_thread(function, *args))
    try:
        return await asyncio.shield(work)
    except asyncio.CancelledError:
        await asyncio.wait({work})
        raise


class Cursor:
    """aiosqlite's Cursor, inline."""

    def __init__(self, connection: Connection, cursor: sqlite3.Cursor) -> None:
        self._connection = connection
        self._cursor = cursor

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        self._cursor.close()

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value

    async def execute(self, sql: str, parameters: Any = ()) -> Self:
        if self._connection.waits_off_loop and sql.lstrip().upper().startswith(_LOCKING_BEGINS):
            await _off_loop(self._connection.begin_locked, self._cursor, sql, parameters)
        else:
            self._cursor.execute(sql, parameters)
        return self

    async def executemany(self, sql: str, parameters: Iterable[Any]) -> Self:
        self._cursor.executemany(sql, parameters)
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(self._cursor.arraysize if size is None else size)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()


class Connection:
    """aiosqlite's Connection, inline; see the module's docstring for what leaves the loop."""

    def __init__(
        self, connection: sqlite3.Connection, *, waits_off_loop: bool, lock_path: str | None = None
    ) -> None:
        self._conn: sqlite3.Connection | None = connection
        self.waits_off_loop = waits_off_loop
        # The writers' queue across processes (`--workers`): SQLite's busy handler retries a
        # locked BEGIN IMMEDIATE by sleeping (up to 100 ms a try), so two busy writers hand the
        # lock over in sleeps, not when it is free. An flock on a file beside the database
        # wakes the next writer the moment the last one commits (and dies with its process).
        self._lock_fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600) if lock_path else None
        self._locked = False

    def begin_locked(self, cursor: sqlite3.Cursor, sql: str, parameters: Any) -> None:
        """BEGIN IMMEDIATE behind the writers' file lock (on a worker thread: both may wait)."""
        if self._lock_fd is not None and not self._locked:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
            self._locked = True
        try:
            cursor.execute(sql, parameters)
        except BaseException:
            self._unlock()
            raise

    def _unlock(self) -> None:
        if self._lock_fd is not None and self._locked:
            self._locked = False
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    @property
    def _connection(self) -> sqlite3.Connection | None:
        # SQLAlchemy's adapter probes this (aiosqlite's name) to skip COMMIT/ROLLBACK once closed.
        return self._conn

    @property
    def _open(self) -> sqlite3.Connection:
        if self._conn is None:
            raise ProgrammingError("Cannot operate on a closed database.")
        return self._conn

    @property
    def stdlib(self) -> sqlite3.Connection:
        """The stdlib connection, for statements that skip SQLAlchemy (storage.write_driver)."""
        return self._open

    @property
    def isolation_level(self) -> IsolationLevel:
        return self._open.isolation_level

    @isolation_level.setter
    def isolation_level(self, value: IsolationLevel) -> None:
        self._open.isolation_level = value

    def cursor(self) -> Cursor:
        return Cursor(self, self._open.cursor())

    async def execute(self, sql: str, parameters: Any = ()) -> Cursor:
        return await self.cursor().execute(sql, parameters)

    async def commit(self) -> None:
        connection = self._open
        if self.waits_off_loop and connection.in_transaction:
            await _off_loop(connection.commit)
        else:
            connection.commit()
        self._unlock()  # a failed COMMIT keeps the lock until its ROLLBACK

    async def rollback(self) -> None:
        try:
            self._open.rollback()
        finally:
            self._unlock()

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._open.create_function(*args, **kwargs)

    async def set_trace_callback(self, handler: Callable[[str], object] | None) -> None:
        self._open.set_trace_callback(handler)

    async def close(self) -> None:
        self.stop()

    def stop(self) -> None:
        """Close now (aiosqlite's name; SQLAlchemy calls it to terminate a connection)."""
        connection, self._conn = self._conn, None
        if connection is not None:
            connection.close()
        self._unlock()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None


async def connect(database: str, *, waits_off_loop: bool = False, **kwargs: Any) -> Connection:
    """Open `database` (sqlite3.connect's arguments) on a thread: opening may touch the disk.

    Statements run on the loop thread from then on (and BEGIN/COMMIT of a `waits_off_loop`
    connection on worker threads, one at a time), hence check_same_thread off.
    """
    kwargs["check_same_thread"] = False
    connection = await asyncio.to_thread(partial(sqlite3.connect, database, **kwargs))
    on_disk = database not in ("", ":memory:") and not kwargs.get("uri")
    lock_path = f"{database}.writer-lock" if waits_off_loop and on_disk else None
    return Connection(connection, waits_off_loop=waits_off_loop, lock_path=lock_path)


class _InlineAdaptedConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()

    # SQLAlchemy's aiosqlite adapter sets isolation_level by queueing onto aiosqlite's thread;
    # here there is no thread to queue onto.
    @property
    def isolation_level(self) -> str | None:
        return cast(Connection, self._connection).isolation_level

    @isolation_level.setter
    def isolation_level(self, value: str | None) -> None:
        cast(Connection, self._connection).isolation_level = cast(IsolationLevel, value)


class InlineDBAPI(AsyncAdapt_aiosqlite_dbapi):
    """The DBAPI module to give `create_async_engine(..., module=...)` for inline SQLite."""

    def __init__(self) -> None:
        super().__init__(sys.modules[__name__], sqlite3)

    def connect(self, *args: Any, **kwargs: Any) -> _InlineAdaptedConnection:
        connection = await_(connect(*args, **kwargs))
        return _InlineAdaptedConnection(self, cast("AsyncIODBAPIConnection", connection))
