"""SQLite without per-statement thread hops, seen through the real app's REST API.

The app runs in process (httpx's ASGI transport, on the test's own event loop) on a fresh SQLite
file. A trace callback on every pooled connection records the thread each statement runs on:
reads run on the loop thread; the writer leaves it only for BEGIN IMMEDIATE and COMMIT (once
each per batch); a search runs on the slow reader's thread and does not hold up other requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util.concurrency import await_

from parlour.actions.users import do_create_org, do_create_user
from parlour.app import create_app
from parlour.client.rest import ParlourClient
from parlour.config import Settings
from parlour.services import Services
from parlour.storage.hot import SQLiteHotReader
from tests.support import PASSWORD

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("PARLOUR_TEST_DATABASE_URL")),
    reason="SQLite's engines: asyncpg has no worker threads to count",
)

# How long a blocked test function waits before giving up (only reached when the code is wrong).
GIVE_UP_SECONDS = 20.0


@dataclass
class Traced:
    """Statements as (engine, SQL, thread id), recorded while `recording` is on."""

    recording: bool = False
    statements: list[tuple[str, str, int]] = field(default_factory=list)

    @contextlib.contextmanager
    def record(self) -> Iterator[list[tuple[str, str, int]]]:
        self.statements.clear()
        self.recording = True
        try:
            yield self.statements
        finally:
            self.recording = False


@dataclass
class Running:
    services: Services
    client: ParlourClient
    traced: Traced


def _trace_on_checkout(engine: AsyncEngine, name: str, traced: Traced) -> None:
    def on_checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        def trace(statement: str) -> None:
            if traced.recording:
                traced.statements.append((name, statement, threading.get_ident()))

        # The driver's own coroutine (the inline shim's, or aiosqlite's: the test must be able
        # to see statements that run on aiosqlite's thread, too).
        await_(dbapi_connection.driver_connection.set_trace_callback(trace))

    event.listen(engine.sync_engine, "checkout", on_checkout)


def _trace_hot_reads(services: Services, traced: Traced) -> None:
    hot = services.db.hot
    assert isinstance(hot, SQLiteHotReader)

    def trace(statement: str) -> None:
        if traced.recording:
            traced.statements.append(("hot", statement, threading.get_ident()))

    hot.connection.set_trace_callback(trace)


@contextlib.asynccontextmanager
async def running_app() -> AsyncIterator[Running]:
    with tempfile.TemporaryDirectory(prefix="parlour-hops-") as tmp:
        app = create_app(Settings(data_dir=Path(tmp)))
        async with app.router.lifespan_context(app):
            services: Services = app.state.runtime.services
            # The notifier's consumer writes its stream position on its own schedule, from its
            # own task: its statements would be counted as the request's (tests/away tests it).
            await app.state.runtime.notifier.stop()
            # So does the outgoing webhooks' poll (tests/integrations tests it).
            await app.state.runtime.webhooks.stop()
            traced = Traced()
            _trace_on_checkout(services.db.reader, "reader", traced)
            _trace_on_checkout(services.db.writer, "writer", traced)
            _trace_hot_reads(services, traced)
            org_id = await do_create_org(services, "Hops")
            user = await do_create_user(
                services,
                org_id,
                email="hops@example.test",
                full_name="Hop Counter",
                password=PASSWORD,
                is_admin=True,
            )
            assert user.email == "hops@example.test"
            transport = httpx.ASGITransport(app=app)
            async with ParlourClient("http://127.0.0.1", transport=transport) as client:
                await client.login("hops@example.test", PASSWORD)
                yield Running(services, client, traced)


@pytest.fixture
async def running() -> AsyncIterator[Running]:
    async with running_app() as value:
        yield value


def _off_loop(statements: list[tuple[str, str, int]]) -> list[tuple[str, str]]:
    loop_thread = threading.get_ident()
    return [(engine, sql) for engine, sql, thread in statements if thread != loop_thread]


async def test_reads_run_every_statement_on_the_loop_thread(running: Running) -> None:
    client = running.client
    room = await client.create_group("Hops", [])
    for n in range(60):
        await client.send_message(room.id, f"message {n}")

    with running.traced.record() as statements:
        me = await client.me()
    assert me.email == "hops@example.test"
    assert _off_loop(statements) == []  # (the actor cache may leave it no statement at all)

    with running.traced.record() as statements:
        rooms = await client.list_rooms()
    assert [r.id for r in rooms] == [room.id]
    assert _off_loop(statements) == []
    assert any(sql.lstrip().upper().startswith("SELECT") for _, sql, _ in statements)

    with running.traced.record() as statements:
        page = await client.list_messages(room.id, limit=50)
    assert len(page) == 50
    assert _off_loop(statements) == []
    # The page is a hot read (storage/hot.py): its own connection, on the loop thread too.
    assert any(engine == "hot" and "messages" in sql for engine, sql, _ in statements)


async def test_a_send_leaves_the_loop_only_to_begin_and_commit(running: Running) -> None:
    client = running.client
    room = await client.create_group("Sends", [])
    await client.send_message(room.id, "warm-up")

    with running.traced.record() as statements:
        sent = await client.send_message(room.id, "counted")
    assert sent.content == "counted"
    writes = [sql for engine, sql, _ in statements if engine == "writer"]
    assert any(sql.lstrip().upper().startswith("INSERT") for sql in writes)
    # One batch: the write lock and the fsync on a thread, nothing else.
    assert _off_loop(statements) == [("writer", "BEGIN IMMEDIATE"), ("writer", "COMMIT")]
    # The coalesced send job declines a savepoint: two statements fewer per batch.
    assert not [sql for sql in writes if "SAVEPOINT" in sql.upper()]


async def test_a_blocked_search_does_not_hold_up_another_request(running: Running) -> None:
    """The search's own SQL function blocks (on its thread) until the other request is answered:
    had the search run on the loop thread, that answer could never come and the search would
    give up after GIVE_UP_SECONDS, failing the test."""
    client = running.client
    room = await client.create_group("Searching", [])
    await client.send_message(room.id, "needle in a haystack")
    entered = threading.Event()
    answered = threading.Event()
    waited: list[bool] = []

    def blocking_lower(value: str | None) -> str | None:
        if not entered.is_set():
            entered.set()
            waited.append(answered.wait(GIVE_UP_SECONDS))
        return None if value is None else value.lower()

    db = running.services.db
    for engine in {db.reader, db.slow_reader}:  # wherever the search happens to run
        _replace_function_on_checkout(engine, "lower", blocking_lower)

    # Not a word FTS knows ("eedl" is inside a token): the substring fallback calls lower().
    search = asyncio.create_task(client.search_messages(q="eedl"))
    assert await asyncio.to_thread(entered.wait, GIVE_UP_SECONDS), "the search never started"
    me = await client.me()  # answered while the search is still blocked
    assert me.email == "hops@example.test"
    answered.set()
    found = await search
    assert [m.content for m in found] == ["needle in a haystack"]
    assert waited == [True], "the search blocked the loop: the other request waited for it"


def _replace_function_on_checkout(
    engine: AsyncEngine, name: str, function: Callable[[str | None], str | None]
) -> None:
    def on_checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        # Where the connection runs its statements: inline, or on its aiosqlite thread.
        dbapi_connection.create_function(name, 1, function)

    event.listen(engine.sync_engine, "checkout", on_checkout)
