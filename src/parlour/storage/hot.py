"""The hottest reads as plain driver statements, outside SQLAlchemy.

A 50-message page spent about 80% of its server time in SQLAlchemy (statement compilation
caches, result processing, the Session's bookkeeping), not in the database: SQLite answers an
indexed page in tens of microseconds. The few reads every client makes all the time (a page, the
unread counts) go through this module instead: SQL text written once, run by the driver itself.

- SQLite: one stdlib connection of this process, used on the event loop thread (a thread hop
  would cost more than the query; these statements are index ranges with a LIMIT, never scans).
  The stdlib caches each statement's prepared form. `query_only`: it can never write.
- PostgreSQL: an asyncpg pool of its own; asyncpg prepares each statement once per connection,
  and a read is one round trip.

The SQL is the same for both: `?` placeholders, turned into `$1, $2, ...` for asyncpg. What
differs in the values (SQLite's text timestamps and 0/1 booleans) is evened out by
`HotReader.iso`, and `bool()` where read.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any, Protocol

from sqlalchemy.engine import make_url

from parlour.clock import iso

Row = Sequence[Any]


@dataclass(frozen=True)
class HotQuery:
    """One statement in both dialects' placeholder styles."""

    sqlite: str
    postgresql: str = field(init=False)

    def __post_init__(self) -> None:
        numbered = iter(range(1, 1000))
        object.__setattr__(
            self, "postgresql", re.sub(r"\?", lambda _: f"${next(numbered)}", self.sqlite)
        )


def marks(count: int) -> str:
    """`?, ?, ...`: `count` placeholders."""
    return ", ".join("?" * count)


@lru_cache(maxsize=256)
def statement(template: str, *counts: int) -> HotQuery:
    """`template` with each `{}` filled by that many placeholders, made once per shape: the
    drivers cache a statement's prepared form by its text."""
    return HotQuery(template.format(*(marks(count) for count in counts)))


class HotReader(Protocol):
    async def fetch(self, query: HotQuery, *args: Any) -> Sequence[Row]: ...

    def iso(self, value: Any) -> str | None:
        """A timestamp column's value as the contract's ISO 8601 UTC text (`...Z`)."""
        ...

    async def close(self) -> None: ...


def sqlite_iso(value: Any) -> str | None:
    """A timestamp as SQLAlchemy's SQLite DateTime stores it ("YYYY-MM-DD HH:MM:SS.ffffff",
    UTC), as the contract's ISO 8601 text."""
    if value is None:
        return None
    text = str(value)
    return f"{text[:10]}T{text[11:19]}.{text[20:23].ljust(3, '0')}Z"


class SQLiteHotReader:
    def __init__(self, path: str) -> None:
        self._path = path
        self._connection: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(
            self._path, isolation_level=None, check_same_thread=False, cached_statements=64
        )
        connection.execute("PRAGMA query_only=1")
        # A WAL reader waits only in rare moments (another process recovering the WAL index);
        # waiting here would hold the loop, so briefly.
        connection.execute("PRAGMA busy_timeout=100")
        return connection

    @property
    def connection(self) -> sqlite3.Connection:
        """This process's connection, opened on first use."""
        if self._connection is None:
            self._connection = self._connect()
        return self._connection

    async def fetch(self, query: HotQuery, *args: Any) -> Sequence[Row]:
        return self.connection.execute(query.sqlite, args).fetchall()

    def iso(self, value: Any) -> str | None:
        return sqlite_iso(value)

    async def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


class PostgresHotReader:
    def __init__(self, url: str) -> None:
        self._dsn = make_url(url).set(drivername="postgresql").render_as_string(False)
        self._pool: Any = None
        self._opening = asyncio.Lock()

    async def _pool_of_process(self) -> Any:
        if self._pool is None:
            async with self._opening:
                if self._pool is None:
                    import asyncpg  # type: ignore[import-untyped]  # the PostgreSQL extra

                    self._pool = await asyncpg.create_pool(self._dsn, min_size=1, max_size=10)
        return self._pool

    async def fetch(self, query: HotQuery, *args: Any) -> Sequence[Row]:
        pool = await self._pool_of_process()
        rows: Sequence[Row] = await pool.fetch(query.postgresql, *args)
        return rows

    def iso(self, value: Any) -> str | None:
        assert value is None or isinstance(value, datetime)
        return iso(value)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None


def open_hot_reader(url: str) -> HotReader:
    if url.startswith("sqlite"):
        database = make_url(url).database
        assert database, "an SQLite URL names its file"
        return SQLiteHotReader(database)
    return PostgresHotReader(url)
