"""The hot reads (storage/hot.py) and their fast lane (api/fast_lane.py), over the real server.

A page is built as JSON straight from driver rows, not from the contract's pydantic models: its
bytes must be exactly what the models would have made, for every kind of message. And the lane
must answer only what it may: everything unusual gets FastAPI's answer, as before.
"""

from __future__ import annotations

import httpx
from pydantic import TypeAdapter

from parlour.schemas import MessageOut
from tests.support import PASSWORD, Org

API = "/api/v1"
PAGE = TypeAdapter(list[MessageOut])


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
