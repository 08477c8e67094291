"""Engines for both databases, with one code path above them.

SQLite: WAL (readers never block the writer), foreign keys on, `synchronous=FULL` by default so a
commit is on disk before we acknowledge it. pysqlite's own transaction handling is switched off so
that SAVEPOINTs work (SQLAlchemy's documented recipe) and the writer can `BEGIN IMMEDIATE`.
The reader and the writer run their statements on the event loop thread (`sqlite_inline`); only
the writer's BEGIN IMMEDIATE and COMMIT, which can wait, and the slow reader's long scans run on
threads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.ext.asyncio import AsyncSession as AsyncSession
from sqlalchemy.pool import ConnectionPoolEntry

from parlour.storage.hot import HotReader, open_hot_reader
from parlour.storage.sqlite_inline import InlineDBAPI


def is_connection_error(error: BaseException) -> bool:
    """Whether `error` means "the database is unreachable or restarting", not a bug.

    Such a failure changed nothing that was acknowledged, so the edge answers it with a retryable
    503 instead of a 500; the pools reconnect on their own (pre-ping, invalidation on disconnect).
    The driver's own exception is looked for along the chain: SQLAlchemy's asyncpg adapter wraps
    "the database system is starting up" or "terminating connection due to administrator
    command" in a plain DBAPIError.
    """
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if _is_connection_error_here(current):
            return True
        orig = getattr(current, "orig", None)
        current = (
            orig
            if isinstance(orig, BaseException) and id(orig) not in seen
            else (current.__cause__ or current.__context__)
        )
    return False


def _is_connection_error_here(error: BaseException) -> bool:
    if isinstance(error, sa_exc.DBAPIError):
        if error.connection_invalidated:
            return True
        # OperationalError covers refused/terminated connections and SQLite's "database is
        # locked"; InterfaceError a connection closed underneath the driver.
        if isinstance(error, sa_exc.OperationalError | sa_exc.InterfaceError):
            return True
    if isinstance(error, sa_exc.TimeoutError | sa_exc.DisconnectionError):
        return True  # the pool could not hand out a working connection in time
    if isinstance(error, sa_exc.PendingRollbackError):
        return True  # a transaction whose connection died underneath it
    if isinstance(error, OSError | ConnectionError):
        return True  # refused or reset before the driver could wrap it
    # asyncpg's own classes (matched by name: the driver is optional).
    cls = type(error)
    return cls.__module__.startswith("asyncpg") and any(
        base.__name__ in _ASYNCPG_UNAVAILABLE for base in cls.__mro__
    )


_ASYNCPG_UNAVAILABLE = frozenset(
    {
        # "the database system is starting up / shutting down", admin or crash shutdown
        "OperatorInterventionError",
        "CannotConnectNowError",
        "AdminShutdownError",
        "CrashShutdownError",
        # connection lost, refused, or exhausted
        "PostgresConnectionError",
        "ConnectionDoesNotExistError",
        "ConnectionFailureError",
        "ClientCannotConnectError",
        "TooManyConnectionsError",
        "InterfaceError",
    }
)


@dataclass(frozen=True)
class Database:
    """The read engine (many connections), the write engine (the group-commit writer's) and the
    slow read engine, for queries whose cost has no bound (search over every message).

    On SQLite the reader runs statements on the loop thread, which a long scan would stall for
    everyone: the slow reader keeps aiosqlite's worker threads. On PostgreSQL it is the reader.
    """

    url: str
    reader: AsyncEngine
    writer: AsyncEngine
    slow_reader: AsyncEngine
    read_session: async_sessionmaker[AsyncSession]
    write_session: async_sessionmaker[AsyncSession]
    slow_read_session: async_sessionmaker[AsyncSession]
    # The hottest reads, outside SQLAlchemy (storage/hot.py).
    hot: HotReader

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")

    async def dispose(self) -> None:
        await self.hot.close()
        await self.reader.dispose()
        if self.writer is not self.reader:
            await self.writer.dispose()
        if self.slow_reader is not self.reader:
            await self.slow_reader.dispose()


def _sqlite_engine(
    url: str, *, synchronous: str, begin: str, pool_size: int, inline: bool, waits_off_loop: bool
) -> AsyncEngine:
    if inline:
        # Statements on the loop thread; `waits_off_loop` sends BEGIN IMMEDIATE and COMMIT to a
        # thread (sqlite_inline's docstring).
        engine = create_async_engine(
            url,
            module=InlineDBAPI(),
            connect_args={"waits_off_loop": waits_off_loop},
            pool_size=pool_size,
            max_overflow=0,
            pool_timeout=30,
        )
    else:
        engine = create_async_engine(url, pool_size=pool_size, max_overflow=0, pool_timeout=30)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql(begin)

    return engine


def open_database(url: str, *, sqlite_synchronous: str = "FULL") -> Database:
    if url.startswith("sqlite"):
        reader = _sqlite_engine(
            url,
            synchronous=sqlite_synchronous,
            begin="BEGIN",
            pool_size=8,
            inline=True,
            waits_off_loop=False,
        )
        # IMMEDIATE takes the write lock at BEGIN, so a transaction never fails half-way
        # on a lock upgrade; it may wait for another process's writer (`--workers`), off the loop.
        writer = _sqlite_engine(
            url,
            synchronous=sqlite_synchronous,
            begin="BEGIN IMMEDIATE",
            pool_size=2,
            inline=True,
            waits_off_loop=True,
        )
        slow_reader = _sqlite_engine(
            url,
            synchronous=sqlite_synchronous,
            begin="BEGIN",
            pool_size=2,
            inline=False,
            waits_off_loop=False,
        )
    else:
        reader = create_async_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True)
        writer = slow_reader = reader
    return Database(
        url=url,
        reader=reader,
        writer=writer,
        slow_reader=slow_reader,
        read_session=async_sessionmaker(reader, expire_on_commit=False),
        write_session=async_sessionmaker(writer, expire_on_commit=False),
        slow_read_session=async_sessionmaker(slow_reader, expire_on_commit=False),
        hot=open_hot_reader(url),
    )
