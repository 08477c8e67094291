"""Nothing grows forever: housekeeping's rules, on start-up, periodically, and several at once.

The stream tests run real server processes on a database of their own; the other rules run the
housekeeping in-process with a FakeClock against a real database (SQLite file or PostgreSQL).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import Select, func, insert, select, update

from parlour.actions import housekeeping
from parlour.actions.attachments import do_upload, open_download
from parlour.actions.auth import authenticate, do_logout
from parlour.actions.housekeeping import Housekeeper, run_housekeeping
from parlour.actions.messages import (
    do_delete_message,
    do_edit_message,
    do_send_message,
    message_history,
)
from parlour.actions.replay import next_replay_page
from parlour.actions.rooms import do_create_group, do_remove_member
from parlour.client import Event as ClientEvent
from parlour.clock import FakeClock
from parlour.config import Settings
from parlour.errors import NotFound, NotLoggedIn
from parlour.events import stream
from parlour.ids import new_id
from parlour.services import Services, close_services
from parlour.storage.models import (
    Attachment,
    Event,
    LoginFailure,
    Membership,
    Message,
    MessageVersion,
    Session,
)
from parlour.storage.writer import WriteContext
from tests.realtime.retention_support import (
    chunks,
    new_org,
    new_session,
    now_clock,
    start_services,
    write,
)
from tests.support import fresh_database, org_factory, start_server

DAY = 24 * 3600.0


@pytest.fixture
async def database_url() -> AsyncIterator[str]:
    async with fresh_database() as url:
        yield url


@pytest.fixture
async def clock() -> FakeClock:
    return now_clock()


@pytest.fixture
async def services(database_url: str, tmp_path: Path, clock: FakeClock) -> AsyncIterator[Services]:
    opened = await start_services(database_url, tmp_path / "data", clock)
    try:
        yield opened
    finally:
        await close_services(opened)


RULES = {
    "events",
    "ended_memberships",
    "login_failures",
    "versions_of_deleted_messages",
    "unclaimed_attachments",
    "attachments_of_deleted_messages",
    "revoked_sessions",
    "orphan_files",
}


async def count(services: Services, stmt: Select[Any]) -> int:
    async with services.db.read_session() as session:
        return int(await session.scalar(stmt) or 0)


async def add_events(services: Services, how_many: int) -> list[int]:
    """Appends `how_many` user events now (by the services' clock); returns their ids."""
    ids: list[int] = []

    async def add(ctx: WriteContext) -> None:
        for index in range(how_many):
            result = await ctx.session.execute(
                insert(Event)
                .values(
                    org_id="o",
                    user_id="u",
                    type="test.event",
                    payload=f'{{"n":{index}}}',
                    created_at=ctx.clock.now(),
                )
                .returning(Event.id)
            )
            ids.append(int(result.scalar_one()))

    await write(services, add)
    return ids


def message_is(
    *, content: str | None = None, id: str | None = None
) -> Callable[[ClientEvent], bool]:
    def match(event: ClientEvent) -> bool:
        if event.type != "message.created":
            return False
        message = event.data["message"]
        return bool(message["content"] == content if content is not None else message["id"] == id)

    return match


# -- the event stream, over real sockets --------------------------------------------------------


async def test_start_up_prunes_old_events_and_cursors_resume_or_resync(database_url: str) -> None:
    env = {"PARLOUR_DATABASE_URL": database_url} if database_url else {}
    with start_server(env) as server:
        async with org_factory(server) as factory:
            assert factory.services is not None
            epoch = factory.services.epoch
            org = await factory.create(["Ada Admin", "Bea Member"])
            ada, bea = org[0].client, org[1].client
            room = await ada.create_group("Retention", [org[1].user_id])
            cursors: dict[str, str] = {}
            kept: list[str] = []
            async with bea.events() as feed:
                for text in ["old 1", "old 2", "old 3"]:
                    await ada.send_message(room.id, text)
                    event = await feed.wait_for(message_is(content=text), timeout=5)
                    assert event.cursor is not None
                    cursors[text] = event.cursor
                last_old = stream.decode_cursor(epoch, cursors["old 3"])
                assert last_old is not None

                # Everything up to "old 3" becomes 30 days old; what follows is fresh.
                async def age(ctx: WriteContext) -> None:
                    await ctx.session.execute(
                        update(Event)
                        .where(Event.id <= last_old)
                        .values(created_at=ctx.clock.now() - timedelta(days=30))
                    )

                await write(factory.services, age)
                for index in range(1, 5):
                    sent = await ada.send_message(room.id, f"recent {index}")
                    kept.append(sent.id)
                    event = await feed.wait_for(message_is(id=sent.id), timeout=5)
                    assert event.cursor is not None
                    cursors[f"recent {index}"] = event.cursor

            server.stop()
            server.start()  # start-up runs a housekeeping pass before it serves

            async with factory.services.db.read_session() as session:
                assert await session.scalar(select(func.count()).where(Event.id <= last_old)) == 0
                assert await session.scalar(select(func.count()).where(Event.id > last_old))
                assert await stream.pruned_before(session) == last_old + 1

            # A cursor inside the pruned range: hello, then resync_required, then live events.
            async with bea.events(since=cursors["old 1"]) as resumed:
                frames = [await anext(resumed), await anext(resumed)]
                assert [f.type for f in frames] == ["hello", "resync_required"]
                sent = await ada.send_message(room.id, "live after resync")
                live = await resumed.wait_for("message.created", timeout=5)
                assert live.data["message"]["id"] == sent.id
            kept.append(sent.id)

            # The last pruned event and a cursor well within retention resume exactly.
            for since, skip in [(cursors["old 3"], 0), (cursors["recent 1"], 1)]:
                expected = kept[skip:]
                async with bea.events(since=since) as resumed:
                    hello = await anext(resumed)
                    assert hello.type == "hello"
                    assert hello.cursor == since
                    seen: list[str] = []
                    while len(seen) < len(expected):
                        event = await resumed.wait_for("message.created", timeout=5)
                        seen.append(event.data["message"]["id"])
                    assert seen == expected, "in order, no gap"
                    marker = await ada.send_message(room.id, f"marker after {since}")
                    after = await resumed.wait_for("message.created", timeout=5)
                    assert after.data["message"]["id"] == marker.id, "no duplicate"
                    kept.append(marker.id)


# -- each other rule, in-process with a fake clock -----------------------------------------------


async def test_events_go_in_chunks_but_the_newest_always_stays(
    services: Services, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(housekeeping, "CHUNK", 3)
    ids = await add_events(services, 10)
    clock.advance(8 * DAY)
    removed = await run_housekeeping(services)
    assert removed["events"] == 9
    assert await count(services, select(func.min(Event.id))) == ids[-1]
    assert await count(services, select(func.count()).select_from(Event)) == 1
    async with services.db.read_session() as session:
        assert await stream.pruned_before(session) == ids[-1]
    # A second pass finds nothing more to do.
    assert (await run_housekeeping(services))["events"] == 0


async def test_a_replay_that_housekeeping_overtakes_asks_for_a_resync(
    services: Services, clock: FakeClock
) -> None:
    """A replay pages through the stream; if a prune removes events it still owes between two
    pages, the next page is not silently short: the socket is told to resync."""
    ids = await add_events(services, 6)
    head = ids[-1]
    assert await next_replay_page(services, "u", ids[0], head) is not None
    clock.advance(8 * DAY)
    await run_housekeeping(services)
    assert await next_replay_page(services, "u", ids[0], head) is None
    # Paging on from just below the newest (kept) event is still exact.
    page = await next_replay_page(services, "u", head - 1, head)
    assert page is not None
    assert [event.id for event in page] == [head]


async def test_old_login_failures_go_recent_ones_stay(services: Services, clock: FakeClock) -> None:
    window = services.limits.login_window_seconds

    async def fail(ctx: WriteContext, key: str) -> None:
        ctx.session.add(LoginFailure(key=key, at=ctx.clock.now()))

    await write(services, lambda ctx: fail(ctx, "account:old@example.test"))
    clock.advance(window - 10)
    await write(services, lambda ctx: fail(ctx, "account:recent@example.test"))
    clock.advance(20)  # the first is now past the window, the second still inside it
    removed = await run_housekeeping(services)
    assert removed["login_failures"] == 1
    async with services.db.read_session() as session:
        keys = list(await session.scalars(select(LoginFailure.key)))
    assert keys == ["account:recent@example.test"]


async def test_deleted_messages_keep_no_edit_history(services: Services) -> None:
    ada, bea = await new_org(services, ["Ada", "Bea"])
    room = await do_create_group(services, ada, "History", [bea.user_id])
    kept, _ = await do_send_message(services, ada, room.id, "kept v1")
    gone, _ = await do_send_message(services, ada, room.id, "gone v1")
    for message in (kept, gone):
        await do_edit_message(services, ada, message.id, message.content.replace("v1", "v2"))

    await do_delete_message(services, ada, gone.id)
    # At delete time, in the delete's own transaction: nobody can read the old versions.
    assert [v.content for v in await message_history(services, bea, gone.id)] == [""]
    assert [v.content for v in await message_history(services, bea, kept.id)] == [
        "kept v1",
        "kept v2",
    ]

    # Versions of messages deleted before that (older databases) go at the next pass.
    async def old_version(ctx: WriteContext) -> None:
        seq = await ctx.session.scalar(select(Message.seq).where(Message.id == gone.id))
        assert seq is not None
        ctx.session.add(
            MessageVersion(
                message_seq=seq, content="left over", html="", created_at=ctx.clock.now()
            )
        )

    await write(services, old_version)
    assert (await run_housekeeping(services))["versions_of_deleted_messages"] == 1
    assert await count(services, select(func.count()).select_from(MessageVersion)) == 1


async def test_attachments_no_message_claims_go_after_a_day(
    services: Services, clock: FakeClock
) -> None:
    ada, bea = await new_org(services, ["Ada", "Bea"])
    room = await do_create_group(services, ada, "Files", [bea.user_id])
    directory = services.settings.resolved_attachments_dir()

    async def upload(name: str) -> str:
        return (await do_upload(services, ada, name, "text/plain", chunks(b"data"))).id

    claimed, unclaimed, of_deleted = [await upload(n) for n in ("a.txt", "b.txt", "c.txt")]
    await do_send_message(services, ada, room.id, "posted", attachment_ids=[claimed])
    doomed, _ = await do_send_message(
        services, ada, room.id, "to delete", attachment_ids=[of_deleted]
    )
    await do_delete_message(services, ada, doomed.id)
    # A crash between writing a file and storing its row leaves a file nobody points to.
    leftover = directory / new_id()
    leftover.write_bytes(b"x")
    then = clock.now().timestamp()
    os.utime(leftover, (then, then))  # file times follow the fake clock, not the real one
    # Not a name an upload gets: left alone, whatever its age (a directory shared by mistake).
    (directory / "notes.txt").write_bytes(b"mine")
    clock.advance(DAY + 60)
    fresh = await upload("d.txt")
    in_progress = new_id()
    fresh_orphan = directory / in_progress
    fresh_orphan.write_bytes(b"y")
    now = clock.now().timestamp()
    os.utime(fresh_orphan, (now, now))  # modified "now" by the fake clock

    async with services.db.read_session() as session:
        rows = await session.execute(select(Attachment.id, Attachment.storage_name))
        storage = {row.id: row.storage_name for row in rows}
    removed = await run_housekeeping(services)
    assert removed["unclaimed_attachments"] == 1
    assert removed["attachments_of_deleted_messages"] == 1
    assert removed["orphan_files"] == 1

    async with services.db.read_session() as session:
        left = set(await session.scalars(select(Attachment.id)))
    assert left == {claimed, fresh}
    on_disk = {path.name for path in directory.iterdir()}
    assert on_disk == {storage[claimed], storage[fresh], in_progress, "notes.txt"}
    # The claimed attachment still downloads; the unclaimed one is gone for its uploader too.
    assert (await open_download(services, bea, claimed)).path.read_bytes() == b"data"
    with pytest.raises(NotFound):
        await open_download(services, ada, unclaimed)


async def test_old_revoked_sessions_go_and_never_authenticate(
    services: Services, clock: FakeClock
) -> None:
    (ada,) = await new_org(services, ["Ada"])
    live, live_token = await new_session(services, ada.user_id, ada.org_id)
    old, old_token = await new_session(services, ada.user_id, ada.org_id)
    recent, recent_token = await new_session(services, ada.user_id, ada.org_id)
    await do_logout(services, old)
    clock.advance(housekeeping.REVOKED_SESSION_AGE.total_seconds() + 60)
    await do_logout(services, recent)

    removed = await run_housekeeping(services)
    assert removed["revoked_sessions"] == 1
    async with services.db.read_session() as session:
        ids = set(await session.scalars(select(Session.id)))
    assert old.session_id not in ids
    assert {live.session_id, recent.session_id} <= ids
    assert (await authenticate(services, live_token)).actor.session_id == live.session_id
    for token in (old_token, recent_token):
        with pytest.raises(NotLoggedIn):
            await authenticate(services, token)


async def test_membership_spans_that_ended_before_the_kept_stream_go(
    services: Services, clock: FakeClock
) -> None:
    ada, bea, cal = await new_org(services, ["Ada", "Bea", "Cal"])
    room = await do_create_group(services, ada, "Spans", [bea.user_id, cal.user_id])
    await do_remove_member(services, ada, room.id, bea.user_id)
    clock.advance(services.settings.event_retention_days * DAY + 60)
    await do_send_message(services, ada, room.id, "fresh")  # the kept stream starts here

    removed = await run_housekeeping(services)
    assert removed["ended_memberships"] == 1
    async with services.db.read_session() as session:
        spans = set(
            (await session.execute(select(Membership.user_id, Membership.end_event_id))).all()
        )
    assert spans == {(ada.user_id, None), (cal.user_id, None)}


# -- running it ----------------------------------------------------------------------------------


async def test_two_housekeepers_at_once_both_succeed(
    services: Services,
    database_url: str,
    tmp_path: Path,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Two processes' passes over the same rows: each chunk is taken by one of them."""
    monkeypatch.setattr(housekeeping, "CHUNK", 50)

    async def seed(ctx: WriteContext) -> None:
        now = ctx.clock.now()
        await ctx.session.execute(
            insert(Event),
            [
                {"org_id": "o", "user_id": "u", "type": "t", "payload": "{}", "created_at": now}
                for _ in range(1_000)
            ],
        )
        await ctx.session.execute(
            insert(LoginFailure), [{"key": f"ip:{n}", "at": now} for n in range(1_000)]
        )

    await write(services, seed)
    clock.advance(30 * DAY)
    other = await start_services(database_url, tmp_path / "data", clock, migrate=False)
    try:
        with caplog.at_level(logging.WARNING):
            first, second = await asyncio.gather(
                run_housekeeping(services), run_housekeeping(other)
            )
    finally:
        await close_services(other)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert set(first) == set(second) == RULES, "a rule failed (it is only logged)"
    assert first["events"] + second["events"] == 999
    assert first["login_failures"] + second["login_failures"] == 1_000
    assert await count(services, select(func.count()).select_from(Event)) == 1
    assert await count(services, select(func.count()).select_from(LoginFailure)) == 0


async def test_the_housekeeper_runs_again_and_again(services: Services, clock: FakeClock) -> None:
    keeper = Housekeeper(services, interval=0.01)
    keeper.start()
    try:
        for round_ in range(2):

            async def fail(ctx: WriteContext, key: str = f"ip:{round_}") -> None:
                ctx.session.add(LoginFailure(key=key, at=ctx.clock.now()))

            await write(services, fail)
            clock.advance(services.limits.login_window_seconds + 1)
            # The next pass starts after the failure aged: wait for one that removes it.
            async with asyncio.timeout(10):
                while await count(services, select(func.count()).select_from(LoginFailure)):
                    keeper.pass_done.clear()
                    await keeper.pass_done.wait()
        assert keeper.passes >= 2
    finally:
        await keeper.stop()


def test_retention_below_the_contracts_seven_days_is_refused() -> None:
    with pytest.raises(ValidationError):
        Settings(event_retention_days=6)
    assert Settings(event_retention_days=7).event_retention_days == 7
