"""The per-process auth cache: what it saves, and that the stream keeps it exact.

A second "process" runs here, in the test: the app on the test server's own database, with a
statement counter on its engines. Changes made through the real server reach it only through the
stream, which its hub reads when told to (`hub.catch_up()`), so every step is deterministic.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any
from unittest import mock

import httpx
import orjson
import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from parlour.actions.auth import Authenticated
from parlour.actions.auth_cache import AuthCache
from parlour.actions.context import Actor
from parlour.app import create_app
from parlour.config import Settings
from parlour.events import stream
from parlour.events.types import EncodedMessage
from parlour.runtime import Runtime
from parlour.storage.models import User
from tests.support import PASSWORD, Org, ServerProcess

API = "/api/v1"


@dataclass
class Local:
    runtime: Runtime
    http: httpx.AsyncClient


@pytest.fixture
async def local(server: ServerProcess) -> AsyncIterator[Local]:
    """This process as a second server: its hub never polls on its own (catch_up is explicit),
    housekeeping stays quiet after its first pass and the notifier and webhooks are stopped."""
    settings = Settings(
        data_dir=server.data_dir,
        database_url=server.settings().database_url,
        stream_poll_seconds=3600.0,
        housekeeping_seconds=3600.0,
    )
    app = create_app(settings, migrate=False)
    async with app.router.lifespan_context(app):
        runtime = app.state.runtime
        assert isinstance(runtime, Runtime)
        # Its first pass could still be running beside a counted request: stopped, not idle.
        await runtime.notifier.stop()
        await runtime.webhooks.stop()  # its poll reads on its own schedule too
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://local.test") as client:
            yield Local(runtime, client)


@contextlib.contextmanager
def counting_statements(local: Local) -> Iterator[list[str]]:
    """Every statement any of the process's engines runs (reader, writer, slow reader)."""
    statements: list[str] = []
    engines = {
        id(value.sync_engine): value.sync_engine
        for value in vars(local.runtime.services.db).values()
        if isinstance(value, AsyncEngine)
    }

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    for engine in engines.values():
        event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        for engine in engines.values():
            event.remove(engine, "before_cursor_execute", count)


def queries(statements: list[str]) -> list[str]:
    """Without the transaction control statements some drivers send as text."""
    return [s for s in statements if s.split()[0].upper() not in {"BEGIN", "COMMIT", "ROLLBACK"}]


def bearer(org: Org, index: int) -> dict[str, str]:
    token = org[index].client.token
    assert token is not None
    return {"Authorization": f"Bearer {token}"}


async def test_a_warm_users_me_runs_no_statement(local: Local, org: Org) -> None:
    headers = bearer(org, 1)
    with counting_statements(local) as cold:
        first = await local.http.get(f"{API}/users/me", headers=headers)
    with counting_statements(local) as warm:
        second = await local.http.get(f"{API}/users/me", headers=headers)
    assert first.status_code == second.status_code == 200
    assert second.content == first.content
    assert orjson.loads(first.content)["id"] == org[1].user_id
    # Cold: the session lookup only (the user comes with it); warm: nothing at all.
    assert len(queries(cold)) == 1, cold
    assert warm == []


async def test_a_fresh_login_needs_no_lookup(local: Local, org: Org) -> None:
    login = await local.http.post(
        f"{API}/auth/login", json={"email": org[3].email, "password": PASSWORD}
    )
    assert login.status_code == 200, login.text
    headers = {"Authorization": f"Bearer {login.json()['token']}"}
    with counting_statements(local) as statements:
        me = await local.http.get(f"{API}/users/me", headers=headers)
    assert me.status_code == 200
    assert me.json()["id"] == org[3].user_id
    assert statements == []


async def test_a_change_made_by_another_process_reaches_the_cached_profile(
    local: Local, org: Org
) -> None:
    headers = bearer(org, 1)
    before = orjson.loads((await local.http.get(f"{API}/users/me", headers=headers)).content)
    assert before["is_admin"] is False
    await org[1].client.update_me(full_name="Bea Renamed", status="busy")
    async with httpx.AsyncClient(base_url=org[0].client.base_url) as admin:
        promoted = await admin.patch(
            f"{API}/users/{org[1].user_id}", headers=bearer(org, 0), json={"is_admin": True}
        )
    assert promoted.status_code == 200, promoted.text
    await local.runtime.realtime.hub.catch_up()
    after = orjson.loads((await local.http.get(f"{API}/users/me", headers=headers)).content)
    assert (after["full_name"], after["chosen_status"], after["is_admin"]) == (
        "Bea Renamed",
        "busy",
        True,
    )
    # The cached actor is an admin now too: an admin-only route answers.
    created = await local.http.post(
        f"{API}/users",
        headers=headers,
        json={
            "email": f"new.{org.org_id.lower()}@example.test",
            "full_name": "New Person",
            "password": "a good password",
            "is_admin": False,
        },
    )
    assert created.status_code == 201, created.text


async def test_a_change_made_here_is_seen_here_at_once(local: Local, org: Org) -> None:
    headers = bearer(org, 2)
    assert (await local.http.get(f"{API}/users/me", headers=headers)).status_code == 200
    changed = await local.http.patch(
        f"{API}/users/me", headers=headers, json={"full_name": "Cal Changed"}
    )
    assert changed.status_code == 200
    me = orjson.loads((await local.http.get(f"{API}/users/me", headers=headers)).content)
    assert me["full_name"] == "Cal Changed"
    out = await local.http.post(f"{API}/auth/logout", headers=headers)
    assert out.status_code == 204
    assert (await local.http.get(f"{API}/users/me", headers=headers)).status_code == 401


async def test_logout_and_deactivation_elsewhere_are_refused_here(local: Local, org: Org) -> None:
    bea, cal = bearer(org, 1), bearer(org, 2)
    for headers in (bea, cal):
        assert (await local.http.get(f"{API}/users/me", headers=headers)).status_code == 200
    await org[1].client.logout()
    await org[0].client.deactivate_user(org[2].user_id)
    await local.runtime.realtime.hub.catch_up()
    assert (await local.http.get(f"{API}/users/me", headers=bea)).status_code == 401
    assert (await local.http.get(f"{API}/users/me", headers=cal)).status_code == 401
    # Their neighbours' entries stand: one revocation does not log out the organization.
    assert (await local.http.get(f"{API}/users/me", headers=bearer(org, 3))).status_code == 200


async def test_a_sends_answer_is_the_events_encoding(local: Local, org: Org) -> None:
    headers = bearer(org, 0)
    room = await org[0].client.create_group("Encoded once", [org[1].user_id])
    await local.http.get(f"{API}/users/me", headers=headers)  # warm
    async with local.runtime.services.db.read_session() as session:
        position = await stream.current_position(session)
    encode = mock.patch.object(
        EncodedMessage, "model_dump_json", autospec=True, side_effect=EncodedMessage.model_dump_json
    )
    with counting_statements(local) as statements, encode as encodings:
        sent = await local.http.post(
            f"{API}/rooms/{room.id}/messages",
            headers=headers,
            json={"content": "héllo **there**", "client_id": "once-1"},
        )
    assert sent.status_code == 201, sent.text
    assert encodings.call_count == 1  # for the event; the answer reuses that text
    events = await stream.fetch_after(local.runtime.services.db.hot, position, 10)
    created = [e for e in events if e.type == "message.created"]
    assert [e.payload for e in created] == ['{"message":' + sent.text + "}"]
    # No session lookup for the warm token: only the send's own batch ran.
    assert not any("token_hash" in statement for statement in statements)
    print(f"REST send, warm token: {len(queries(statements))} statements, {statements}")


# -- the cache itself --------------------------------------------------------------------------


def _auth(user_id: str, session_id: str) -> Authenticated:
    actor = Actor(user_id=user_id, org_id="o", is_admin=False, session_id=session_id)
    return Authenticated(actor=actor, csrf_token="c", user=User(id=user_id))


def test_a_fill_that_began_before_a_revocation_is_not_kept() -> None:
    cache = AuthCache()
    cache.follow()
    generation = cache.generation  # the lookup starts, reads the session as still valid...
    cache.drop_sessions("u1", only=None, keep=None)  # ...the revocation is applied...
    cache.put("h1", _auth("u1", "s1"), generation)  # ...and the stale fill arrives
    assert cache.get("h1") is None
    cache.put("h1", _auth("u1", "s1"), cache.generation)
    assert cache.get("h1") is not None


def test_revocation_follows_only_and_keep() -> None:
    cache = AuthCache()
    cache.follow()
    for n in range(3):
        cache.put(f"h{n}", _auth("u1", f"s{n}"), cache.generation)
    cache.put("other", _auth("u2", "s9"), cache.generation)
    cache.drop_sessions("u1", only="s0", keep=None)
    assert [cache.get(f"h{n}") is None for n in range(3)] == [True, False, False]
    cache.drop_sessions("u1", only=None, keep="s2")
    assert [cache.get(f"h{n}") is None for n in range(3)] == [True, True, False]
    cache.drop_user("u1")
    assert cache.get("h2") is None
    assert cache.get("other") is not None


def test_the_cache_is_bounded_and_ages_and_serves_only_while_followed() -> None:
    now = [0.0]
    cache = AuthCache(max_entries=2, max_age_seconds=10, monotonic=lambda: now[0])
    cache.put("h0", _auth("u0", "s0"), cache.generation)
    assert cache.get("h0") is None
    assert len(cache) == 0
    cache.follow()
    for n in range(3):
        cache.put(f"h{n}", _auth(f"u{n}", f"s{n}"), cache.generation)
    assert len(cache) == 2
    assert cache.get("h0") is None
    now[0] = 11
    assert cache.get("h2") is None  # too old
    cache.put("h3", _auth("u3", "s3"), cache.generation)
    cache.unfollow()
    assert cache.get("h3") is None
    assert len(cache) == 0
