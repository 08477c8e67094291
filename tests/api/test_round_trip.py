"""The README's round trip over the real API: direct room, send, list, edit, unread, read."""

from __future__ import annotations

import httpx
import pytest

from parlour.client import ParlourAPIError
from tests.support import Org


async def test_direct_room_send_edit_unread(org: Org) -> None:
    ada, bea = org[0].client, org[1].client
    room = await ada.create_direct(org[1].user_id)
    again = await bea.create_direct(org[0].user_id)
    assert again.id == room.id, "exactly one direct room per pair, whoever opens it"
    assert room.name == org[1].full_name
    assert again.name == org[0].full_name

    sent = await ada.send_message(room.id, "Hello **Bea**", client_id="c-1")
    assert sent.html.strip() == "<p>Hello <strong>Bea</strong></p>"
    retry = await ada.send_message(room.id, "something else", client_id="c-1")
    assert retry.id == sent.id
    assert retry.content == "Hello **Bea**"

    unread = await bea.unread()
    assert unread.total == 1
    assert unread.rooms == {room.id: 1}
    assert (await ada.unread()).total == 0, "my own messages never count as unread"

    edited = await ada.edit_message(sent.id, "Hello Bea!")
    assert edited.edited_at is not None
    history = await bea.message_history(sent.id)
    assert [v.content for v in history] == ["Hello **Bea**", "Hello Bea!"]
    with pytest.raises(ParlourAPIError) as not_author:
        await bea.edit_message(sent.id, "hijack")
    assert not_author.value.status == 403

    listed = await bea.list_messages(room.id)
    assert [m.id for m in listed] == [sent.id]
    assert listed[0].content == "Hello Bea!"

    await bea.mark_read(room.id, sent.id)
    assert (await bea.unread()).total == 0
    rooms = await bea.list_rooms()
    assert rooms[0].id == room.id
    assert rooms[0].unread_count == 0
    assert rooms[0].last_read_message_id == sent.id


async def test_pagination_both_ways(org: Org) -> None:
    ada = org[0].client
    room = await ada.create_group("Paging", [org[1].user_id])
    ids = [(await ada.send_message(room.id, f"m{i}")).id for i in range(7)]
    newest = await ada.list_messages(room.id, limit=3)
    assert [m.id for m in newest] == ids[-3:]
    older = await ada.list_messages(room.id, before=newest[0].id, limit=3)
    assert [m.id for m in older] == ids[1:4]
    after = await ada.list_messages(room.id, after=ids[1], limit=2)
    assert [m.id for m in after] == ids[2:4]


async def test_errors_are_json_with_codes(org: Org, server_url: str) -> None:
    async with httpx.AsyncClient(base_url=server_url) as http:
        response = await http.get("/api/v1/rooms")
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "not_authenticated"
        bad = await http.post(
            "/api/v1/auth/login", json={"email": "nobody@x.test", "password": "x"}
        )
        wrong = await http.post(
            "/api/v1/auth/login", json={"email": org[0].email, "password": "wrong password"}
        )
        assert bad.status_code == wrong.status_code == 401
        assert bad.json() == wrong.json()


async def test_content_limit_stores_nothing(org: Org) -> None:
    ada = org[0].client
    room = await ada.create_group("Limits", [org[1].user_id])
    with pytest.raises(ParlourAPIError) as too_long:
        await ada.send_message(room.id, "x" * 10_001)
    assert too_long.value.status == 422
    assert too_long.value.code == "content_too_long"
    assert await ada.list_messages(room.id) == []
