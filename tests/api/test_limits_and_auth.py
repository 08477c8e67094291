"""Limits (content, names, body size), CSRF, logout, login throttling, and org scoping of people."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import orjson
import pytest

from parlour.client import ParlourAPIError, ParlourClient
from tests.support import PASSWORD, Org, OrgFactory

API = "/api/v1"


async def test_content_over_limit_is_422_and_stores_nothing(org: Org) -> None:
    ada = org[0].client
    room = await ada.create_group("Limits", [org[1].user_id])
    at_limit = await ada.send_message(room.id, "y" * 10_000)
    assert len(at_limit.content) == 10_000
    with pytest.raises(ParlourAPIError) as too_long:
        await ada.send_message(room.id, "x" * 10_001, client_id="too-long-1")
    assert too_long.value.status == 422
    assert too_long.value.code == "content_too_long"
    with pytest.raises(ParlourAPIError) as edit:
        await ada.edit_message(at_limit.id, "z" * 10_001)
    assert edit.value.status == 422
    assert edit.value.code == "content_too_long"

    listed = await ada.list_messages(room.id)
    assert [m.id for m in listed] == [at_limit.id]
    assert listed[0].content == "y" * 10_000
    assert listed[0].edited_at is None
    assert len(await ada.message_history(at_limit.id)) == 1
    assert (await org[1].client.unread()).total == 1
    # The client_id of the refused send was not consumed: a valid retry creates the message.
    retry = await ada.send_message(room.id, "short now", client_id="too-long-1")
    assert retry.content == "short now"


async def test_group_name_limit(org: Org) -> None:
    ada = org[0].client
    ok = await ada.create_group("n" * 200, [org[1].user_id])
    assert ok.name == "n" * 200
    with pytest.raises(ParlourAPIError) as create:
        await ada.create_group("n" * 201, [org[1].user_id])
    assert create.value.status == 422
    with pytest.raises(ParlourAPIError) as rename:
        await ada.rename_room(ok.id, "r" * 201)
    assert rename.value.status == 422
    with pytest.raises(ParlourAPIError) as empty:
        await ada.create_group("   ", [org[1].user_id])
    assert empty.value.status in (400, 422)
    rooms = await ada.list_rooms()
    assert [r.name for r in rooms] == ["n" * 200]


async def test_large_body_sent_whole_gets_413_not_a_reset(org: Org, server_url: str) -> None:
    ada = org[0].client
    room = await ada.create_group("Big", [org[1].user_id])
    assert ada.token is not None
    body = orjson.dumps({"content": "a" * (8 * 1024 * 1024)})
    async with httpx.AsyncClient(base_url=server_url) as http:
        response = await http.post(
            f"{API}/rooms/{room.id}/messages",
            content=body,
            headers={"Authorization": f"Bearer {ada.token}", "Content-Type": "application/json"},
        )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "body_too_large"
    assert await ada.list_messages(room.id) == []


async def test_declared_body_over_one_megabyte_is_413(org: Org, server_url: str) -> None:
    room = await org[0].client.create_group("Declared", [org[1].user_id])
    url = httpx.URL(server_url)
    reader, writer = await asyncio.open_connection(url.host, url.port)
    try:
        head = (
            f"POST {API}/rooms/{room.id}/messages HTTP/1.1\r\n"
            f"Host: {url.host}:{url.port}\r\n"
            f"Authorization: Bearer {org[0].client.token}\r\n"
            "Content-Type: application/json\r\n"
            f"Content-Length: {1024 * 1024 + 1}\r\n\r\n"
        )
        writer.write(head.encode() + b'{"content": "')
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), timeout=10)
    finally:
        writer.close()
    status_line = answer.split(b"\r\n", 1)[0]
    assert status_line.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"body_too_large" in answer
    assert await org[0].client.list_messages(room.id) == []


async def test_body_over_limit_without_content_length_is_413(org: Org, server_url: str) -> None:
    ada = org[0].client
    room = await ada.create_group("Chunked", [org[1].user_id])
    payload = orjson.dumps({"content": "a" * (2 * 1024 * 1024)})

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(payload), 64 * 1024):
            yield payload[start : start + 64 * 1024]

    async with httpx.AsyncClient(base_url=server_url) as http:
        response = await http.post(
            f"{API}/rooms/{room.id}/messages",
            content=chunks(),
            headers={"Authorization": f"Bearer {ada.token}", "Content-Type": "application/json"},
        )
    assert response.status_code == 413
    assert await ada.list_messages(room.id) == []


async def _cookie_login(http: httpx.AsyncClient, email: str) -> dict[str, str]:
    response = await http.post(f"{API}/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200
    data = response.json()
    assert http.cookies.get("parlour_session")
    assert http.cookies.get("parlour_csrf") == data["csrf_token"]
    set_cookie = " ".join(response.headers.get_list("set-cookie")).lower()
    assert "httponly" in set_cookie
    assert "samesite=lax" in set_cookie
    return {"csrf": data["csrf_token"]}


async def test_csrf_required_for_cookie_writes(org: Org, server_url: str) -> None:
    async with httpx.AsyncClient(base_url=server_url) as http:
        tokens = await _cookie_login(http, org[0].email)
        # Reads by cookie need no CSRF header.
        me = await http.get(f"{API}/users/me")
        assert me.status_code == 200
        assert me.json()["id"] == org[0].user_id

        body = {"type": "group", "name": "Cookie room", "member_ids": [org[1].user_id]}
        missing = await http.post(f"{API}/rooms", json=body)
        assert missing.status_code == 403
        assert missing.json()["error"]["code"] == "csrf_failed"
        wrong = await http.post(f"{API}/rooms", json=body, headers={"X-CSRF-Token": "guess"})
        assert wrong.status_code == 403
        assert wrong.json()["error"]["code"] == "csrf_failed"
        assert await org[1].client.list_rooms() == [], "a refused write stores nothing"

        created = await http.post(
            f"{API}/rooms", json=body, headers={"X-CSRF-Token": tokens["csrf"]}
        )
        assert created.status_code == 201
        room_id = created.json()["id"]
        sent = await http.post(f"{API}/rooms/{room_id}/messages", json={"content": "by cookie"})
        assert sent.status_code == 403
        assert sent.json()["error"]["code"] == "csrf_failed"
        sent = await http.post(
            f"{API}/rooms/{room_id}/messages",
            json={"content": "by cookie"},
            headers={"X-CSRF-Token": tokens["csrf"]},
        )
        assert sent.status_code == 201
    assert [m.content for m in await org[1].client.list_messages(room_id)] == ["by cookie"]


async def test_bearer_needs_no_csrf(org: Org) -> None:
    # The SDK sends only a bearer token, never the CSRF header.
    room = await org[0].client.create_group("Bearer", [org[1].user_id])
    assert room.name == "Bearer"


async def test_logout_revokes_token_and_cookie(org: Org, orgs: OrgFactory, server_url: str) -> None:
    member = await orgs.add_user(org, "Lou Logout")
    token = member.client.token
    assert token is not None
    async with httpx.AsyncClient(base_url=server_url) as http:
        tokens = await _cookie_login(http, member.email)
        cookies = dict(http.cookies)
        out = await http.post(f"{API}/auth/logout", headers={"X-CSRF-Token": tokens["csrf"]})
        assert out.status_code == 204
    async with httpx.AsyncClient(base_url=server_url, cookies=cookies) as again:
        assert (await again.get(f"{API}/users/me")).status_code == 401
    # The bearer session is separate and still alive, until it logs out too.
    assert (await member.client.me()).id == member.user_id
    await member.client.logout()
    reuse = ParlourClient(server_url, token)
    try:
        with pytest.raises(ParlourAPIError) as error:
            await reuse.me()
        assert error.value.status == 401
    finally:
        await reuse.aclose()


async def test_password_change_revokes_other_sessions(
    org: Org, orgs: OrgFactory, server_url: str
) -> None:
    member = await orgs.add_user(org, "Pat Password")
    other = ParlourClient(server_url)
    try:
        await other.login(member.email, PASSWORD)
        await member.client.change_password(PASSWORD, "a brand new passphrase")
        with pytest.raises(ParlourAPIError) as error:
            await other.me()
        assert error.value.status == 401
        with pytest.raises(ParlourAPIError) as old:
            await other.login(member.email, PASSWORD)
        assert old.value.status == 401
        await other.login(member.email, "a brand new passphrase")
        assert (await other.me()).id == member.user_id
    finally:
        await other.aclose()


async def test_login_brute_force_is_rate_limited(
    org: Org, orgs: OrgFactory, server_url: str
) -> None:
    victim = await orgs.add_user(org, "Vic Victim", login=False)
    async with httpx.AsyncClient(base_url=server_url) as http:
        for attempt in range(5):
            wrong = await http.post(
                f"{API}/auth/login", json={"email": victim.email, "password": f"guess {attempt}"}
            )
            assert wrong.status_code == 401, attempt
        blocked = await http.post(
            f"{API}/auth/login", json={"email": victim.email, "password": "guess 6"}
        )
        assert blocked.status_code == 429
        assert int(blocked.headers["Retry-After"]) >= 1
        assert blocked.json()["error"]["code"]
        # Even the right password is refused while the account is locked: no oracle.
        right = await http.post(
            f"{API}/auth/login", json={"email": victim.email.upper(), "password": PASSWORD}
        )
        assert right.status_code == 429
        # Other accounts are not affected.
        other = await http.post(
            f"{API}/auth/login", json={"email": org[1].email, "password": PASSWORD}
        )
        assert other.status_code == 200


async def test_user_search_is_scoped_to_my_org(org: Org, orgs: OrgFactory) -> None:
    other = await orgs.create(["Zed Admin", "Bea Lookalike"])
    found = await org[0].client.search_users("bea")
    assert [u.id for u in found] == [org[1].user_id]
    assert all(u.id != other[1].user_id for u in await org[0].client.search_users(""))
    by_email = await org[0].client.search_users(other[1].email)
    assert by_email == []
    mine = await other[1].client.search_users("member")
    assert mine == []
    # Substring of a name, case-insensitive.
    assert {u.id for u in await org[0].client.search_users("MEMB")} == {
        org[1].user_id,
        org[2].user_id,
        org[3].user_id,
    }


async def test_user_search_hides_deactivated(org: Org) -> None:
    await org[0].client.deactivate_user(org[3].user_id)
    found = await org[1].client.search_users("member")
    assert {u.id for u in found} == {org[1].user_id, org[2].user_id}


async def test_cannot_open_rooms_with_other_org_users(org: Org, orgs: OrgFactory) -> None:
    other = await orgs.create(["Xi Admin", "Yo Other"])
    with pytest.raises(ParlourAPIError) as direct:
        await org[1].client.create_direct(other[1].user_id)
    assert direct.value.status in (400, 404, 422)
    with pytest.raises(ParlourAPIError) as group:
        await org[1].client.create_group("Across", [other[1].user_id])
    assert group.value.status in (400, 404, 422)
    assert await org[1].client.list_rooms() == []
    assert await other[1].client.list_rooms() == []


async def test_chat_profile_report(org: Org, orgs: OrgFactory) -> None:
    other = await orgs.create(["Oz Admin", "Oli Other"])
    direct = await org[0].client.create_direct(org[2].user_id)
    await org[0].client.deactivate_user(org[3].user_id)

    report = await org[0].client.chat_profiles()
    by_user = {p.user.id: p for p in report}
    assert set(by_user) == {org[1].user_id, org[2].user_id}, "active, my org, not me"
    assert other[1].user_id not in by_user
    assert by_user[org[2].user_id].direct_room_id == direct.id
    assert by_user[org[1].user_id].direct_room_id is None
    assert by_user[org[1].user_id].user.full_name == "Bea Member"
    assert by_user[org[1].user_id].status in ("online", "away", "busy", "offline")

    theirs = {p.user.id: p for p in await org[2].client.chat_profiles()}
    assert theirs[org[0].user_id].direct_room_id == direct.id
    assert theirs[org[1].user_id].direct_room_id is None


async def test_a_wrong_method_says_which_methods_are_allowed(server_url: str) -> None:
    async with httpx.AsyncClient(base_url=server_url) as http:
        response = await http.put("/api/v1/unread")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET"
    assert response.json()["error"]["code"] == "method_not_allowed"
