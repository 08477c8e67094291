"""Driver statements inside the writer's transaction, for the hottest writes (sends).

`storage.hot` took the hottest reads out of SQLAlchemy; this does the same for the send batch.
Measured in-process (a batch of 16 sends on SQLite, no HTTP), SQLAlchemy's statement building,
compilation-cache lookups, ORM execute path and result processing were most of the batch's
~7 ms of CPU, against well under a millisecond of SQLite's own work.

The statements run on the very connection of the batch's transaction (and savepoint, when the
job has one), so they commit, roll back and keep the cursor order with everything else the
batch does: SQLite's stdlib connection inline on the loop (as `sqlite_inline` runs every
statement), asyncpg's connection on PostgreSQL (asyncpg prepares each statement once per
connection). What differs in the bound values (SQLite's timestamps are text as SQLAlchemy writes
them) is `WriteDriver.timestamp`'s job; JSON is bound as its text on both.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Protocol

from parlour.clock import iso
from parlour.storage.hot import HotQuery, Row, marks, sqlite_iso
from parlour.storage.sqlite_inline import Connection as InlineConnection


class WriteDriver(Protocol):
    async def fetch(self, query: HotQuery, *args: Any) -> Sequence[Row]: ...

    async def execute_many(self, query: HotQuery, rows: Sequence[Sequence[Any]]) -> None: ...

    def timestamp(self, value: datetime) -> Any:
        """`value` (aware, UTC) as this database's driver binds a timestamp column."""
        ...

    def iso(self, value: Any) -> str | None:
        """A timestamp column's value as the contract's ISO 8601 UTC text (`...Z`)."""
        ...


class SQLiteWriteDriver:
    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    async def fetch(self, query: HotQuery, *args: Any) -> Sequence[Row]:
        return self._connection.execute(query.sqlite, args).fetchall()

    async def execute_many(self, query: HotQuery, rows: Sequence[Sequence[Any]]) -> None:
        self._connection.executemany(query.sqlite, rows)

    def timestamp(self, value: datetime) -> Any:
        # SQLAlchemy's SQLite DATETIME storage format (text that sorts as time does).
        utc = value.astimezone(UTC)
        return (
            f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d} "
            f"{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}.{utc.microsecond:06d}"
        )

    def iso(self, value: Any) -> str | None:
        return sqlite_iso(value)


class PostgresWriteDriver:
    def __init__(self, connection: Any) -> None:
        self._connection = connection

    async def fetch(self, query: HotQuery, *args: Any) -> Sequence[Row]:
        rows: Sequence[Row] = await self._connection.fetch(query.postgresql, *args)
        return rows

    async def execute_many(self, query: HotQuery, rows: Sequence[Sequence[Any]]) -> None:
        await self._connection.executemany(query.postgresql, rows)

    def timestamp(self, value: datetime) -> Any:
        return value

    def iso(self, value: Any) -> str | None:
        assert value is None or isinstance(value, datetime)
        return iso(value)


def driver_of(connection: Any) -> WriteDriver:
    """The write driver for a pooled connection's driver-level connection, which must be inside
    a transaction (the writer's: the driver's statements are part of its batch)."""
    if isinstance(connection, InlineConnection):
        stdlib = connection.stdlib
        assert stdlib.in_transaction, "driver statements run inside the writer's transaction"
        return SQLiteWriteDriver(stdlib)
    # asyncpg (SQLAlchemy's adapter started the transaction with the batch's first statement,
    # the stream lock).
    assert connection.is_in_transaction(), "driver statements run inside the writer's transaction"
    return PostgresWriteDriver(connection)


@lru_cache(maxsize=256)
def insert_rows(table: str, columns: tuple[str, ...], count: int, returning: str) -> HotQuery:
    """A multi-row INSERT of `count` rows (one statement, one round trip), RETURNING columns."""
    row = f"({marks(len(columns))})"
    return HotQuery(
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES "  # noqa: S608  # nosec B608
        f"{', '.join([row] * count)} RETURNING {returning}"
    )
