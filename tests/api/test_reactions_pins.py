"""Reactions, pins and saved messages (API.md, v1 additions): what members see, what the limits
refuse (storing nothing), and that every change reaches the room's sockets as a durable event."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from parlour.client import ParlourAPIError, ParlourClient
from parlour.client.models import Message
from tests.support import Org, OrgFactory, org_factory, start_server


async def _message(client: ParlourClient, room_id: str, message_id: str) -> Message:
    (found,) = [m for m in await client.list_messages(room_id) if m.id == message_id]
    return found


async def _refused(call: object, status: int, code: str) -> None:
    assert callable(call)
    with pytest.raises(ParlourAPIError) as error:
        await call()
    assert (error.value.status, error.value.code) == (status, code)


async def test_reactions_group_by_emoji_in_order_of_first_use(org: Org) -> None:
    ada, bea, cal = org[0], org[1], org[2]
    room = await ada.client.create_group("Reactions", [bea.user_id, cal.user_id])
    sent = await ada.client.send_message(room.id, "ship it?")
    assert (sent.reactions, sent.pinned) == ([], False)

    await bea.client.react(sent.id, "👍")
    await cal.client.react(sent.id, "🎉")
    await cal.client.react(sent.id, ":+1:")  # the alias of 👍: the same reaction
    await bea.client.react(sent.id, "👍")  # again: idempotent
    await ada.client.react(sent.id, ":shipit:")  # a name of the team's own
    await ada.client.react(sent.id, "❤")  # unqualified: stored as ❤️

    seen = await _message(cal.client, room.id, sent.id)
    assert [(r.emoji, r.count, r.user_ids) for r in seen.reactions] == [
        ("👍", 2, [bea.user_id, cal.user_id]),
        ("🎉", 1, [cal.user_id]),
        (":shipit:", 1, [ada.user_id]),
        ("❤️", 1, [ada.user_id]),
    ]

    await bea.client.unreact(sent.id, "👍")
    await bea.client.unreact(sent.id, "👍")  # again: still 204
    await cal.client.unreact(sent.id, "🎉")
    seen = await _message(bea.client, room.id, sent.id)
    assert [(r.emoji, r.user_ids) for r in seen.reactions] == [
        ("👍", [cal.user_id]),
        (":shipit:", [ada.user_id]),
        ("❤️", [ada.user_id]),
    ]
    # A chip keeps its place when its first reactor leaves: 👍 (first used by bea) stays first.
    await ada.client.react(sent.id, "🎉")
    await bea.client.react(sent.id, "👍")
    await bea.client.unreact(sent.id, "👍")
    await cal.client.unreact(sent.id, "👍")  # the last one: the chip goes ...
    await cal.client.react(sent.id, "👍")  # ... and comes back last
    await ada.client.unreact(sent.id, "🎉")
    seen = await _message(bea.client, room.id, sent.id)
    assert [(r.emoji, r.user_ids) for r in seen.reactions] == [
        (":shipit:", [ada.user_id]),
        ("❤️", [ada.user_id]),
        ("👍", [cal.user_id]),
    ]
    # The same reactions through every read: the room list's last message, search, pins.
    (listed,) = [r for r in await bea.client.list_rooms() if r.id == room.id]
    assert listed.last_message is not None
    assert listed.last_message.reactions == seen.reactions
    (found,) = await bea.client.search_messages(q="ship", room_id=room.id)
    assert found.reactions == seen.reactions
    await ada.client.pin(sent.id)
    (pinned,) = await bea.client.pins(room.id)
    assert pinned.reactions == seen.reactions


@pytest.mark.parametrize(
    "emoji", ["a", "👍👍", "::", ":" + "x" * 31 + ":", ":Bad Name:", "<b>", " ", "👍a"]
)
async def test_invalid_emoji_is_refused_and_stores_nothing(org: Org, emoji: str) -> None:
    room = await org[0].client.create_group("Emoji", [org[1].user_id])
    sent = await org[0].client.send_message(room.id, "react to me")
    await _refused(lambda: org[1].client.react(sent.id, emoji), 422, "invalid_emoji")
    assert (await _message(org[0].client, room.id, sent.id)).reactions == []


async def test_at_most_twenty_distinct_reactions(org: Org) -> None:
    room = await org[0].client.create_group("Crowded", [org[1].user_id])
    sent = await org[0].client.send_message(room.id, "react away")
    twenty = [chr(0x1F600 + i) for i in range(20)]
    for emoji in twenty:
        await org[0].client.react(sent.id, emoji)
    await _refused(lambda: org[1].client.react(sent.id, "🚀"), 422, "too_many_reactions")
    await org[1].client.react(sent.id, twenty[0])  # joining an emoji in use is fine
    reactions = (await _message(org[1].client, room.id, sent.id)).reactions
    assert [r.emoji for r in reactions] == twenty
    assert reactions[0].user_ids == [org[0].user_id, org[1].user_id]


async def test_pins_newest_first_and_any_member_may_unpin(org: Org) -> None:
    ada, bea = org[0], org[1]
    room = await ada.client.create_group("Pins", [bea.user_id])
    first = await ada.client.send_message(room.id, "first")
    second = await bea.client.send_message(room.id, "second")
    await bea.client.pin(first.id)
    await ada.client.pin(second.id)
    await ada.client.pin(second.id)  # again: nothing changes
    assert [m.id for m in await bea.client.pins(room.id)] == [second.id, first.id]
    page = await bea.client.list_messages(room.id)
    assert [(m.id, m.pinned) for m in page] == [(first.id, True), (second.id, True)]

    await bea.client.unpin(second.id)  # pinned by ada, unpinned by bea
    assert [m.id for m in await ada.client.pins(room.id)] == [first.id]
    # A deleted message leaves the pins (and its reactions go with its content).
    await ada.client.react(first.id, "👀")
    await ada.client.delete_message(first.id)
    assert await ada.client.pins(room.id) == []
    gone = await _message(bea.client, room.id, first.id)
    assert (gone.deleted, gone.pinned, gone.reactions) == (True, False, [])
    await _refused(lambda: bea.client.pin(first.id), 422, "message_deleted")
    await _refused(lambda: bea.client.react(first.id, "👍"), 422, "message_deleted")
    await _refused(lambda: bea.client.save(first.id), 422, "message_deleted")


@pytest.fixture(scope="module")
async def few_pins_orgs() -> AsyncIterator[OrgFactory]:
    with start_server({"PARLOUR_LIMIT_PINS_PER_ROOM": "2"}) as server:
        async with org_factory(server) as factory:
            yield factory


async def test_pins_per_room_are_limited(few_pins_orgs: OrgFactory) -> None:
    org = await few_pins_orgs.create(["Ada Admin", "Bea Member"])
    room = await org[0].client.create_group("Many pins", [org[1].user_id])
    sent = [await org[0].client.send_message(room.id, f"pin {i}") for i in range(3)]
    await org[0].client.pin(sent[0].id)
    await org[1].client.pin(sent[1].id)
    with pytest.raises(ParlourAPIError) as error:
        await org[1].client.pin(sent[2].id)
    assert (error.value.status, error.value.code) == (422, "too_many_pins")
    assert error.value.details == {"limit": 2}
    assert [m.id for m in await org[1].client.pins(room.id)] == [sent[1].id, sent[0].id]
    await org[0].client.unpin(sent[0].id)  # room again: the third may be pinned now
    await org[1].client.pin(sent[2].id)
    assert [m.id for m in await org[1].client.pins(room.id)] == [sent[2].id, sent[1].id]


async def test_saved_is_private_newest_first_and_leaves_with_the_room(org: Org) -> None:
    ada, bea = org[0], org[1]
    room = await ada.client.create_group("Saves", [bea.user_id])
    first = await ada.client.send_message(room.id, "keep this")
    second = await ada.client.send_message(room.id, "and this")
    await bea.client.save(first.id)
    await bea.client.save(second.id)
    await bea.client.save(first.id)  # again: stays where it was
    assert [m.id for m in await bea.client.saved()] == [second.id, first.id]
    assert [m.id for m in await bea.client.saved(limit=1)] == [second.id]
    assert await ada.client.saved() == []  # private
    await bea.client.unsave(second.id)
    assert [m.id for m in await bea.client.saved()] == [first.id]
    # Saved messages of a room I left are no longer mine to read.
    await bea.client.leave(room.id)
    assert await bea.client.saved() == []


async def test_every_change_is_a_durable_event_to_the_right_people(org: Org) -> None:
    ada, bea, cal = org[0], org[1], org[2]
    room = await ada.client.create_group("Events", [bea.user_id])
    sent = await ada.client.send_message(room.id, "watch this")
    async with bea.client.events() as bea_stream, cal.client.events() as cal_stream:
        await ada.client.react(sent.id, "🔥")
        await ada.client.unreact(sent.id, "🔥")
        await ada.client.pin(sent.id)
        await ada.client.unpin(sent.id)
        await bea.client.save(sent.id)
        await bea.client.unsave(sent.id)
        # A marker to bea after everything above; cal is no member and must have heard nothing.
        marker = await ada.client.create_group("marker", [bea.user_id, cal.user_id])
        seen = []
        while True:
            event = await bea_stream.wait_for(lambda e: e.durable)
            if event.type == "room.created" and event.data["room"]["id"] == marker.id:
                break
            seen.append({k: v for k, v in event.data.items() if k not in ("cursor",)})
        first_for_cal = await cal_stream.wait_for(lambda e: e.durable)
        assert (first_for_cal.type, first_for_cal.data["room"]["id"]) == ("room.created", marker.id)
    common = {"room_id": room.id, "message_id": sent.id}
    assert seen == [
        {"type": "reaction.added", **common, "emoji": "🔥", "user_id": ada.user_id},
        {"type": "reaction.removed", **common, "emoji": "🔥", "user_id": ada.user_id},
        {"type": "message.pinned", **common, "user_id": ada.user_id},
        {"type": "message.unpinned", **common, "user_id": ada.user_id},
        {"type": "saved.updated", "message_id": sent.id, "saved": True},
        {"type": "saved.updated", "message_id": sent.id, "saved": False},
    ]
