"""Avatars: upload, see, replace and remove mine; others of my organization see it, nobody else;
only real raster images, never over the limit; a refused upload changes nothing."""

from __future__ import annotations

import httpx
import pytest

from parlour.client import ParlourAPIError
from tests.support import Org, OrgFactory

# The smallest valid PNG (1x1, transparent) and a GIF header: what the type check reads.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5b0000000049454e44ae426082"
)
GIF = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;"


async def test_upload_show_replace_remove(org: Org, server_url: str) -> None:
    ada, bea = org[0], org[1]
    assert (await ada.client.me()).avatar_url is None
    me = await ada.client.set_avatar(PNG)
    assert me.avatar_url is not None
    assert me.avatar_url.startswith(f"/api/v1/users/{ada.user_id}/")
    # Others see it where they see me: a room's members and a page's authors.
    room = await ada.client.create_group("Faces", [bea.user_id])
    await ada.client.send_message(room.id, "look at me")
    seen = await bea.client.get_room(room.id)
    assert {u.id: u.avatar_url for u in seen.members}[ada.user_id] == me.avatar_url
    (message,) = await bea.client.list_messages(room.id)
    assert message.author.avatar_url == me.avatar_url
    assert {u.id: u.avatar_url for u in await bea.client.search_users("")}[ada.user_id] == (
        me.avatar_url
    )

    async with httpx.AsyncClient(base_url=server_url) as http:
        auth = {"Authorization": f"Bearer {bea.client.token}"}
        got = await http.get(me.avatar_url, headers=auth)
        assert (got.status_code, got.content) == (200, PNG)
        assert got.headers["content-type"] == "image/png"
        assert "immutable" in got.headers["cache-control"]
        assert got.headers["x-content-type-options"] == "nosniff"

        replaced = await ada.client.set_avatar(GIF, "image/png")  # the bytes decide the type
        assert replaced.avatar_url not in (None, me.avatar_url)
        assert replaced.avatar_url is not None
        new = await http.get(replaced.avatar_url, headers=auth)
        assert (new.status_code, new.headers["content-type"]) == (200, "image/gif")
        stale = await http.get(me.avatar_url, headers=auth)  # an old version is not kept
        assert "immutable" not in stale.headers["cache-control"]

        removed = await ada.client.remove_avatar()
        assert removed.avatar_url is None
        gone = await http.get(replaced.avatar_url, headers=auth)
        assert gone.status_code == 404
    assert (await ada.client.me()).avatar_url is None


async def test_refusals_change_nothing(org: Org, orgs: OrgFactory, server_url: str) -> None:
    ada = org[0]
    me = await ada.client.set_avatar(PNG)
    for data in (b"<svg xmlns='http://www.w3.org/2000/svg'/>", b"", b"not an image at all"):
        with pytest.raises(ParlourAPIError) as refused:
            await ada.client.set_avatar(data, "image/png")
        assert (refused.value.status, refused.value.code) == (422, "invalid_image")
    with pytest.raises(ParlourAPIError) as too_big:
        await ada.client.set_avatar(PNG + b"\0" * (600 * 1024))
    assert (too_big.value.status, too_big.value.code) == (413, "avatar_too_large")
    assert (await ada.client.me()).avatar_url == me.avatar_url

    # Another organization learns nothing of it.
    assert me.avatar_url is not None
    outsider = (await orgs.create(["Olga Outsider"]))[0]
    async with httpx.AsyncClient(base_url=server_url) as http:
        answer = await http.get(
            me.avatar_url, headers={"Authorization": f"Bearer {outsider.client.token}"}
        )
        assert answer.status_code == 404
        anonymous = await http.get(me.avatar_url)
        assert anonymous.status_code == 401


async def test_admins_list_deactivated_people_others_cannot(org: Org) -> None:
    ada, bea, cal = org[0], org[1], org[2]
    await ada.client.deactivate_user(cal.user_id)
    everyone = {u.id: u.is_active for u in await ada.client.search_users(include_inactive=True)}
    assert everyone[cal.user_id] is False
    assert everyone[bea.user_id] is True
    assert cal.user_id not in {u.id for u in await ada.client.search_users()}
    with pytest.raises(ParlourAPIError) as refused:
        await bea.client.search_users(include_inactive=True)
    assert refused.value.status == 403
