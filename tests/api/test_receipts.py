"""Read receipts (API.md, v1 additions): every member's read pointer, and `receipt.updated` to the
members of small rooms as pointers move."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from parlour.client import ParlourAPIError
from parlour.events.types import ReceiptUpdated, parse_frame
from tests.support import Org, OrgFactory, org_factory, start_server


async def test_receipts_follow_read_pointers_and_are_sealed(org: Org) -> None:
    ada, bea, cal = org[0], org[1], org[2]
    room = await ada.client.create_group("Receipts", [bea.user_id])
    first = await ada.client.send_message(room.id, "first")
    second = await ada.client.send_message(room.id, "second")
    receipts = await bea.client.receipts(room.id)
    assert receipts == {ada.user_id: None, bea.user_id: None}
    async with ada.client.events() as ada_stream, bea.client.events() as bea_stream:
        await bea.client.mark_read(room.id, second.id)
        seen = await ada_stream.wait_for(lambda e: e.type == "receipt.updated")
        frame = parse_frame(seen.data)
        assert isinstance(frame, ReceiptUpdated)
        assert (frame.room_id, frame.user_id, frame.message_id) == (
            room.id,
            bea.user_id,
            second.id,
        )
        mine = await bea_stream.wait_for(lambda e: e.type == "receipt.updated")  # my devices too
        assert mine.data["message_id"] == second.id
        await bea.client.mark_read(room.id, first.id)  # never back: no change, no receipt
        await ada.client.mark_read(room.id, second.id)
        next_one = await bea_stream.wait_for(lambda e: e.type == "receipt.updated")
        assert next_one.data["user_id"] == ada.user_id  # bea's backwards read sent nothing
    assert await ada.client.receipts(room.id) == {ada.user_id: second.id, bea.user_id: second.id}
    with pytest.raises(ParlourAPIError) as outsider:
        await cal.client.receipts(room.id)
    assert (outsider.value.status, outsider.value.code) == (404, "room_not_found")


@pytest.fixture(scope="module")
async def small_rooms_orgs() -> AsyncIterator[OrgFactory]:
    with start_server({"PARLOUR_PRESENCE_ROOM_MEMBERS": "2"}) as server:
        async with org_factory(server) as factory:
            yield factory


async def test_no_receipt_frames_in_big_rooms(small_rooms_orgs: OrgFactory) -> None:
    org = await small_rooms_orgs.create(["Ada Admin", "Bea Member", "Cal Member"])
    big = await org[0].client.create_group("Three is big here", [org[1].user_id, org[2].user_id])
    small = await org[0].client.create_group("Two is small", [org[1].user_id])
    in_big = await org[0].client.send_message(big.id, "in the big room")
    in_small = await org[0].client.send_message(small.id, "in the small room")
    async with org[0].client.events() as stream:
        await org[1].client.mark_read(big.id, in_big.id)
        await org[1].client.mark_read(small.id, in_small.id)
        first = await stream.wait_for(lambda e: e.type == "receipt.updated")
        assert first.data["room_id"] == small.id  # the big room's read sent none
    # The pointer moved all the same.
    assert (await org[0].client.receipts(big.id))[org[1].user_id] == in_big.id
