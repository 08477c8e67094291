"""Ids from clients: one check for REST and the socket, and anchors that reveal nothing.

Our ids have one shape (parlour.ids: URL-safe base64). Anything else is refused with 422
`invalid_id` before a query sees it, over REST (path and query) and the socket alike; a
well-formed id of nothing, or of something I may not see, is 404. A search or page anchor in
another organization's room answered 200 where an unknown id answered 404, telling that it exists.
"""

from __future__ import annotations

from urllib.parse import quote

import httpx
import pytest

from parlour.client import ParlourAPIError, ParlourClient
from parlour.ids import new_id
from tests.support import Org, OrgFactory

MALFORMED = ["ab.cd", "a b", "é", "x" * 33, "\x00", "room\x00id", "a+b", "%"]


async def answer(client: ParlourClient, path: str) -> tuple[int, str, object]:
    async with httpx.AsyncClient(
        base_url=client.base_url, headers={"Authorization": f"Bearer {client.token}"}
    ) as http:
        response = await http.get(path)
    error = response.json()["error"]
    return response.status_code, error["code"], error["details"].get("field")


async def test_malformed_ids_get_the_same_422_over_rest_and_the_socket(org: Org) -> None:
    bea = org[1].client
    room = await org[0].client.create_group("Ids", [org[1].user_id])
    for bad in MALFORMED:
        escaped = quote(bad, safe="")
        assert await answer(bea, f"/api/v1/rooms/{escaped}") == (422, "invalid_id", "room_id")
        assert await answer(bea, f"/api/v1/messages/{escaped}/history") == (
            422,
            "invalid_id",
            "message_id",
        )
        for name in ("before", "after"):
            assert await answer(bea, f"/api/v1/rooms/{room.id}/messages?{name}={escaped}") == (
                422,
                "invalid_id",
                name,
            )
        assert await answer(bea, f"/api/v1/messages?author_id={escaped}") == (
            422,
            "invalid_id",
            "author_id",
        )
    # Well-formed but unknown: the usual 404.
    assert (await answer(bea, f"/api/v1/rooms/{new_id()}"))[:2] == (404, "room_not_found")

    async with bea.events() as stream:
        for bad in MALFORMED:
            await stream.typing(bad)
            error = await stream.wait_for("error", timeout=10)
            assert error.data["error"]["code"] == "invalid_id", bad
            assert error.data["error"]["details"] == {"field": "room_id"}
            await stream.read(room.id, bad)
            error = await stream.wait_for("error", timeout=10)
            assert error.data["error"]["details"] == {"field": "message_id"}, bad


async def test_an_anchor_i_cannot_see_is_as_unknown_as_a_made_up_one(
    orgs: OrgFactory, org: Org
) -> None:
    ada, bea = org[0].client, org[1].client
    room = await ada.create_group("Mine", [org[1].user_id])
    first = await ada.send_message(room.id, "one")
    second = await ada.send_message(room.id, "two")
    private = await ada.create_group("Private", [org[2].user_id])
    hidden = await ada.send_message(private.id, "not for bea")
    left = await ada.create_group("Left", [org[1].user_id])
    gone = await ada.send_message(left.id, "before bea left")
    await ada.remove_member(left.id, org[1].user_id)
    other = await orgs.create(["Oth Admin", "Oth Member"])
    theirs_room = await other[0].client.create_group("Theirs", [other[1].user_id])
    theirs = await other[0].client.send_message(theirs_room.id, "another organization")

    for anchor in (theirs.id, hidden.id, gone.id, new_id()):
        with pytest.raises(ParlourAPIError) as searched:
            await bea.search_messages(before=anchor)
        assert (searched.value.status, searched.value.code) == (404, "message_not_found")
        for paged in (
            bea.list_messages(room.id, before=anchor),
            bea.list_messages(room.id, after=anchor),
        ):
            with pytest.raises(ParlourAPIError) as page:
                await paged
            assert (page.value.status, page.value.code) == (404, "message_not_found")

    # An anchor I can see still works.
    assert [m.id for m in await bea.search_messages(before=second.id)] == [first.id]
    assert [m.id for m in await bea.list_messages(room.id, before=second.id)] == [first.id]
