"""The hot reads (storage/hot.py) and their fast lane (api/fast_lane.py), over the real server.

A page is built as JSON straight from driver rows, not from the contract's pydantic models: its
bytes must be exactly what the models would have made, for every kind of message. And the lane
must answer only what it may: everything unusual gets FastAPI's answer, as before.
"""

from __future__ import annotations

import asyncio

import httpx
from pydantic import TypeAdapter

from parlour.schemas import MessageOut, RoomOut
from tests.support import PASSWORD, Org

API = "/api/v1"
PAGE = TypeAdapter(list[MessageOut])
ROOMS = TypeAdapter(list[RoomOut])


async def test_a_page_is_byte_for_byte_what_the_models_make(org: Org, server_url: str) -> None:
    ada, bea = org[0], org[1]
    room = await ada.client.create_group("Every kind", [bea.user_id])
    await ada.client.send_message(room.id, "plain <b>&</b> “quotes” and 👋 émoji")
    await ada.client.send_message(room.id, f"hello @{bea.full_name}, **bold**")
    uploaded = await ada.client.upload("notes.txt", b"some notes", "text/plain")
    await ada.client.send_message(room.id, "", attachment_ids=[uploaded.id])
    edited = await bea.client.send_message(room.id, "first version", client_id="edit-me")
    await bea.client.edit_message(edited.id, "second version")
    gone = await bea.client.send_message(room.id, "soon deleted")
    await bea.client.delete_message(gone.id)

    async with httpx.AsyncClient(base_url=server_url) as http:
        response = await http.get(
            f"{API}/rooms/{room.id}/messages",
            headers={"Authorization": f"Bearer {ada.client.token}"},
        )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    page = PAGE.validate_json(response.content)
    assert response.content == PAGE.dump_json(page)
    assert [m.content for m in page] == [
        "plain <b>&</b> “quotes” and 👋 émoji",
        f"hello @{bea.full_name}, **bold**",
        "",
        "second version",
        "",
    ]
    assert page[1].mentions == [bea.user_id]
    assert [a.id for a in page[2].attachments] == [uploaded.id]
    assert page[3].edited_at is not None
    assert page[3].client_id == "edit-me"
    assert page[4].deleted
    assert (page[4].html, page[4].attachments) == ("", [])
    assert {m.author.id for m in page} == {ada.user_id, bea.user_id}


async def test_cookie_readers_and_new_tokens_get_the_same_page(org: Org, server_url: str) -> None:
    ada = org[0]
    room = await ada.client.create_group("Ways in", [])
    for n in range(3):
        await ada.client.send_message(room.id, f"m{n}")
    path = f"{API}/rooms/{room.id}/messages?limit=2"
    async with httpx.AsyncClient(base_url=server_url) as http:
        by_bearer = await http.get(path, headers={"Authorization": f"Bearer {ada.client.token}"})
        # A new session: its first request cannot be in the process's auth cache.
        login = await http.post(
            f"{API}/auth/login", json={"email": ada.email, "password": PASSWORD}
        )
        assert login.status_code == 200
        first_by_cookie = await http.get(path)
        again_by_cookie = await http.get(path)
    assert by_bearer.status_code == first_by_cookie.status_code == 200
    assert by_bearer.content == first_by_cookie.content == again_by_cookie.content
    assert [m.content for m in PAGE.validate_json(by_bearer.content)] == ["m1", "m2"]


async def test_unusual_page_requests_get_fastapis_answers(org: Org, server_url: str) -> None:
    ada, outsider = org[0], org[2]
    room = await ada.client.create_group("Strict", [])
    await ada.client.send_message(room.id, "only one")
    base = f"{API}/rooms/{room.id}/messages"
    token = {"Authorization": f"Bearer {ada.client.token}"}
    async with httpx.AsyncClient(base_url=server_url) as http:
        assert (await http.get(base, headers=token)).status_code == 200  # the token is cached
        cases = {
            f"{base}?limit=0": (422, "invalid_input"),
            f"{base}?limit=%2B1": (422, "invalid_query"),
            f"{base}?limit=1&limit=2": (422, "invalid_query"),
            f"{base}?before=no*such": (422, "invalid_id"),
            f"{base}?before=nosuchmessage": (404, "message_not_found"),
            f"{API}/rooms/nosuchroom/messages": (404, "room_not_found"),
        }
        for url, (status, code) in cases.items():
            response = await http.get(url, headers=token)
            assert (response.status_code, response.json()["error"]["code"]) == (status, code), url
        strangers = await http.get(
            base, headers={"Authorization": f"Bearer {outsider.client.token}"}
        )
        assert strangers.status_code == 404
        assert strangers.json()["error"]["code"] == "room_not_found"
        nobody = await http.get(base, headers={"Authorization": "Bearer not-a-token"})
        assert nobody.status_code == 401


async def test_posts_in_the_lane_and_out_of_it_answer_alike(org: Org, server_url: str) -> None:
    ada, outsider = org[0], org[2]
    room = await ada.client.create_group("Posting", [])
    url = f"{API}/rooms/{room.id}/messages"
    token = {"Authorization": f"Bearer {ada.client.token}"}
    async with httpx.AsyncClient(base_url=server_url) as http:
        first = await http.post(url, headers=token, json={"content": "hi", "client_id": "p-1"})
        retry = await http.post(url, headers=token, json={"content": "other", "client_id": "p-1"})
        assert (first.status_code, retry.status_code) == (201, 200)
        assert first.content == retry.content, "a retry gets the first message, byte for byte"
        # Bodies the lane does not take are replayed to FastAPI, which judges them as before.
        refused = {
            "unknown field": {"content": "x", "colour": "red"},
            "not a string": {"content": 5},
            "NUL": {"content": "a\x00b"},
            "blank client id": {"content": "x", "client_id": "  "},
        }
        for why, body in refused.items():
            response = await http.post(url, headers=token, json=body)
            assert response.status_code == 422, why
            assert response.json()["error"]["code"] == "invalid_input", why
        oversize = await http.post(
            url,
            headers={**token, "Content-Type": "application/json"},
            content=b'{"content":"' + b"x" * 2_000_000 + b'"}',
        )
        assert oversize.status_code == 413
        stranger = await http.post(
            url,
            headers={"Authorization": f"Bearer {outsider.client.token}"},
            json={"content": "let me in"},
        )
        assert stranger.status_code == 404
        assert stranger.json()["error"]["code"] == "room_not_found"
    stored = await ada.client.list_messages(room.id)
    assert [m.content for m in stored] == ["hi"], "nothing refused was stored"


async def test_rest_sends_are_throttled_per_person(org: Org, server_url: str) -> None:
    """The lane takes the same send bucket as FastAPI's route and as the socket (defaults: a
    burst of 60, then 20 a second)."""
    ada = org[0]
    room = await ada.client.create_group("Throttled", [])
    url = f"{API}/rooms/{room.id}/messages"
    token = {"Authorization": f"Bearer {ada.client.token}"}
    gate = asyncio.Semaphore(16)
    loop = asyncio.get_running_loop()

    async with httpx.AsyncClient(
        base_url=server_url, limits=httpx.Limits(max_connections=16)
    ) as http:

        async def post(n: int) -> httpx.Response:
            async with gate:
                return await http.post(url, headers=token, json={"content": f"n{n}"})

        started = loop.time()
        answers = await asyncio.gather(*(post(n) for n in range(200)))
        elapsed = loop.time() - started
    accepted = [a for a in answers if a.status_code == 201]
    refused = [a for a in answers if a.status_code != 201]
    assert len(accepted) <= 60 + 20 * elapsed + 1
    assert all(a.status_code == 429 for a in refused)
    assert all(int(a.headers["Retry-After"]) >= 1 for a in refused)
    assert {a.json()["error"]["code"] for a in refused} == {"rate_limited"}
    stored = await ada.client.list_messages(room.id, limit=200)
    assert len(stored) == len(accepted), "a refused send stores nothing"


async def test_a_room_list_is_byte_for_byte_what_the_models_make(org: Org, server_url: str) -> None:
    ada, bea, cal = org[0], org[1], org[2]
    direct = await ada.client.create_direct(bea.user_id)
    quiet = await ada.client.create_group("Quiet", [cal.user_id])
    busy = await bea.client.create_group("Busy", [ada.user_id, cal.user_id])
    await bea.client.send_message(direct.id, "to Ada")
    read_up_to = await bea.client.send_message(busy.id, f"hi @{ada.full_name}")
    await cal.client.send_message(busy.id, "unread for Ada")
    gone = await cal.client.send_message(busy.id, "deleted last")
    await cal.client.delete_message(gone.id)
    await ada.client.mark_read(busy.id, read_up_to.id)

    async with httpx.AsyncClient(base_url=server_url) as http:
        response = await http.get(
            f"{API}/rooms", headers={"Authorization": f"Bearer {ada.client.token}"}
        )
    assert response.status_code == 200
    rooms = ROOMS.validate_json(response.content)
    assert response.content == ROOMS.dump_json(rooms)
    by_id = {room.id: room for room in rooms}
    assert [room.id for room in rooms] == [busy.id, direct.id, quiet.id], "latest activity first"
    assert by_id[direct.id].name == bea.full_name
    assert by_id[direct.id].unread_count == 1
    assert by_id[busy.id].unread_count == 1, "Cal's live message after my read pointer"
    assert by_id[busy.id].last_read_message_id == read_up_to.id
    assert by_id[busy.id].admins == [bea.user_id]
    assert [m.id for m in by_id[busy.id].members] == [bea.user_id, ada.user_id, cal.user_id]
    last = by_id[busy.id].last_message
    assert last is not None
    assert (last.id, last.deleted, last.content) == (gone.id, True, "")
    assert by_id[quiet.id].last_message is None
    assert by_id[quiet.id].last_read_message_id is None
