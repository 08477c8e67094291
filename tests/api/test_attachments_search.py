"""Attachments (upload, post, download by members only, safe serving) and message search."""

from __future__ import annotations

import httpx
import pytest

from parlour.client import ParlourAPIError
from tests.support import Org, OrgFactory

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


async def test_attachment_posted_and_downloadable_by_members_only(
    org: Org, orgs: OrgFactory
) -> None:
    ada, bea = org[0].client, org[1].client
    room = await ada.create_group("Files", [org[1].user_id])
    data = b"quarterly numbers\n" * 100
    uploaded = await ada.upload("report.txt", data, "text/plain")
    assert uploaded.size == len(data)
    assert uploaded.filename == "report.txt"

    sent = await ada.send_message(room.id, "see attached", attachment_ids=[uploaded.id])
    assert [a.id for a in sent.attachments] == [uploaded.id]
    listed = await bea.list_messages(room.id)
    assert [a.id for a in listed[0].attachments] == [uploaded.id]
    url = listed[0].attachments[0].url

    assert await bea.download(url) == data
    assert await ada.download(url) == data

    other = await orgs.create(["Oth Admin", "Oth Member"])
    for outsider in (org[2].client, org[3].client, other[0].client, other[1].client):
        with pytest.raises(ParlourAPIError) as error:
            await outsider.download(url)
        assert error.value.status == 404

    # A removed member loses access too.
    await ada.remove_member(room.id, org[1].user_id)
    with pytest.raises(ParlourAPIError) as removed:
        await bea.download(url)
    assert removed.value.status == 404


async def test_unposted_attachment_is_only_the_uploaders(org: Org) -> None:
    uploaded = await org[1].client.upload("draft.txt", b"not yet shared", "text/plain")
    with pytest.raises(ParlourAPIError) as error:
        await org[2].client.download(uploaded.url)
    assert error.value.status == 404


async def test_cannot_post_someone_elses_attachment(org: Org) -> None:
    theirs = await org[1].client.upload("private.txt", b"bea's secret", "text/plain")
    room = await org[2].client.create_group("Grab", [org[3].user_id])
    with pytest.raises(ParlourAPIError) as error:
        await org[2].client.send_message(room.id, "look", attachment_ids=[theirs.id])
    assert error.value.status == 404
    assert await org[2].client.list_messages(room.id) == []
    with pytest.raises(ParlourAPIError):
        await org[3].client.download(theirs.url)


async def test_html_upload_is_served_as_download_with_nosniff(org: Org, server_url: str) -> None:
    ada = org[0].client
    room = await ada.create_group("Html", [org[1].user_id])
    page = b"<html><script>alert(document.cookie)</script></html>"
    uploaded = await ada.upload("evil.html", page, "text/html")
    await ada.send_message(room.id, "page", attachment_ids=[uploaded.id])
    async with httpx.AsyncClient(base_url=server_url) as http:
        response = await http.get(
            uploaded.url, headers={"Authorization": f"Bearer {org[1].client.token}"}
        )
    assert response.status_code == 200
    assert response.content == page
    assert response.headers["content-disposition"].startswith("attachment")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "text/html" not in response.headers["content-type"]


async def test_image_upload_is_served_inline(org: Org, server_url: str) -> None:
    ada = org[0].client
    room = await ada.create_group("Pics", [org[1].user_id])
    uploaded = await ada.upload("cat.png", PNG, "image/png")
    await ada.send_message(room.id, "cat", attachment_ids=[uploaded.id])
    async with httpx.AsyncClient(base_url=server_url) as http:
        response = await http.get(
            uploaded.url, headers={"Authorization": f"Bearer {org[1].client.token}"}
        )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("image/png")
    assert response.headers["content-disposition"].startswith("inline")
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_download_needs_login(org: Org, server_url: str) -> None:
    uploaded = await org[0].client.upload("a.txt", b"a", "text/plain")
    async with httpx.AsyncClient(base_url=server_url) as http:
        response = await http.get(uploaded.url)
    assert response.status_code == 401


async def test_search_full_text_words_and_prefixes(org: Org) -> None:
    ada, bea = org[0].client, org[1].client
    room = await ada.create_group("Search", [org[1].user_id])
    deploy = await ada.send_message(room.id, "The deployment finished on Tuesday")
    lunch = await bea.send_message(room.id, "Lunch at the noodle place?")
    both = await ada.send_message(room.id, "Deployment lunch: noodles for everyone")

    assert [m.id for m in await bea.search_messages(q="deployment")] == [both.id, deploy.id]
    assert [m.id for m in await bea.search_messages(q="deploy")] == [both.id, deploy.id]
    assert [m.id for m in await bea.search_messages(q="noodle")] == [both.id, lunch.id]
    assert [m.id for m in await bea.search_messages(q="deployment noodles")] == [both.id]
    assert [m.id for m in await bea.search_messages(q="TUESDAY")] == [deploy.id]
    assert await bea.search_messages(q="nonexistentword") == []
    # Filters.
    assert [m.id for m in await bea.search_messages(q="lunch", author_id=org[1].user_id)] == [
        lunch.id
    ]
    assert [m.id for m in await bea.search_messages(room_id=room.id, limit=2)] == [
        both.id,
        lunch.id,
    ]
    assert [m.id for m in await bea.search_messages(room_id=room.id, before=lunch.id)] == [
        deploy.id
    ]


async def test_search_substring_fallback(org: Org) -> None:
    ada = org[0].client
    room = await ada.create_group("Substrings", [org[1].user_id])
    sent = await ada.send_message(room.id, "Parlour supports unbelievable things")
    cjk = await ada.send_message(room.id, "今日は会議があります")
    assert [m.id for m in await org[1].client.search_messages(q="believ")] == [sent.id]
    assert [m.id for m in await org[1].client.search_messages(q="会議")] == [cjk.id]
    assert [m.id for m in await org[1].client.search_messages(q="100%")] == []
    assert [m.id for m in await org[1].client.search_messages(q='"quoted" OR *')] == []


async def test_search_follows_edits_and_deletes(org: Org) -> None:
    ada = org[0].client
    room = await ada.create_group("Edits", [org[1].user_id])
    sent = await ada.send_message(room.id, "original wording")
    gone = await ada.send_message(room.id, "ephemeral wording")
    await ada.edit_message(sent.id, "revised phrasing")
    await ada.delete_message(gone.id)
    assert [m.id for m in await org[1].client.search_messages(q="revised")] == [sent.id]
    assert await org[1].client.search_messages(q="original") == []
    assert await org[1].client.search_messages(q="ephemeral") == []


async def test_search_only_my_rooms(org: Org, orgs: OrgFactory) -> None:
    ada = org[0].client
    shared = await ada.create_group("Shared", [org[1].user_id])
    private = await ada.create_group("Private", [org[2].user_id])
    left = await ada.create_group("Left", [org[1].user_id])
    mine = await ada.send_message(shared.id, "zebra crossing in shared")
    await ada.send_message(private.id, "zebra crossing in private")
    await ada.send_message(left.id, "zebra crossing in left")
    await org[1].client.leave(left.id)
    other = await orgs.create(["Far Admin", "Far Member"])
    far_room = await other[0].client.create_group("Far", [other[1].user_id])
    await other[0].client.send_message(far_room.id, "zebra crossing far away")

    assert [m.id for m in await org[1].client.search_messages(q="zebra")] == [mine.id]
    assert [m.id for m in await org[1].client.search_messages(q="ebra cross")] == [mine.id]
    assert await org[3].client.search_messages(q="zebra") == []
    assert len(await ada.search_messages(q="zebra")) == 3
    assert len(await other[1].client.search_messages(q="zebra")) == 1
    with pytest.raises(ParlourAPIError) as error:
        await org[1].client.search_messages(q="zebra", room_id=private.id)
    assert error.value.status == 404
