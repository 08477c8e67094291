"""Channels and notification levels (API.md, v1 additions): anyone of the organization finds and
joins a channel; nobody else learns of it; names are unique; levels shape the counts."""

from __future__ import annotations

import pytest

from parlour.client import ParlourAPIError
from tests.support import Org, OrgFactory


async def test_create_browse_join_leave(org: Org, orgs: OrgFactory) -> None:
    ada, bea, cal = org[0], org[1], org[2]
    channel = await ada.client.create_channel("Announcements", "  News for everyone  ")
    assert (channel.type, channel.name, channel.topic) == (
        "channel",
        "Announcements",
        "News for everyone",
    )
    assert channel.admins == [ada.user_id]
    assert (channel.notify, channel.mention_count) == ("mentions", 0)
    history = await ada.client.send_message(channel.id, "said before anyone joined")

    listed = {c.id: c for c in await bea.client.list_channels()}
    assert listed[channel.id].model_dump() == {
        "id": channel.id,
        "name": "Announcements",
        "topic": "News for everyone",
        "member_count": 1,
        "joined": False,
    }
    assert [c.id for c in await bea.client.list_channels(q="news")] == [channel.id]  # topic
    assert [c.id for c in await bea.client.list_channels(q="ANNOUNCE")] == [channel.id]
    assert await bea.client.list_channels(q="nothing like it") == []
    # Not a member yet: nothing but the listing and joining.
    with pytest.raises(ParlourAPIError) as outside:
        await bea.client.list_messages(channel.id)
    assert outside.value.status == 404

    joined = await bea.client.join(channel.id)
    assert {u.id for u in joined.members} == {ada.user_id, bea.user_id}
    assert joined.unread_count == 0  # the history is there to read, not unread
    page = await bea.client.list_messages(channel.id)
    assert [m.id for m in page if m.system is None] == [history.id]
    assert [(m.author.id, m.content) for m in page if m.system] == [
        (bea.user_id, "joined the channel")
    ]
    again = await bea.client.join(channel.id)  # joining twice changes nothing
    assert [u.id for u in again.members] == [u.id for u in joined.members]
    assert len(await bea.client.list_messages(channel.id)) == len(page)
    assert {c.id: c.joined for c in await bea.client.list_channels()}[channel.id] is True
    assert {c.id: c.member_count for c in await cal.client.list_channels()}[channel.id] == 2

    await bea.client.leave(channel.id)
    assert channel.id not in {r.id for r in await bea.client.list_rooms()}
    assert {c.id: c.joined for c in await bea.client.list_channels()}[channel.id] is False

    # Another organization neither sees nor joins it.
    other = await orgs.create(["Olga Other"])
    assert channel.id not in {c.id for c in await other[0].client.list_channels()}
    with pytest.raises(ParlourAPIError) as sealed:
        await other[0].client.join(channel.id)
    assert (sealed.value.status, sealed.value.code) == (404, "room_not_found")


async def test_groups_and_direct_rooms_cannot_be_joined(org: Org) -> None:
    group = await org[0].client.create_group("Private", [org[1].user_id])
    direct = await org[0].client.create_direct(org[1].user_id)
    for room_id in (group.id, direct.id):
        with pytest.raises(ParlourAPIError) as refused:
            await org[2].client.join(room_id)
        assert (refused.value.status, refused.value.code) == (404, "room_not_found")
    assert group.id not in {c.id for c in await org[2].client.list_channels()}
    # A member "joining" a room they are in just gets it.
    assert (await org[1].client.join(group.id)).id == group.id


async def test_names_are_unique_per_organization_and_topics_are_checked(
    org: Org, orgs: OrgFactory
) -> None:
    await org[0].client.create_channel("Design")
    for name in ("Design", "design", "  DESIGN "):
        with pytest.raises(ParlourAPIError) as taken:
            await org[1].client.create_channel(name)
        assert (taken.value.status, taken.value.code) == (409, "name_taken")
    other = await orgs.create(["Olga Other"])
    await other[0].client.create_channel("Design")  # another organization: its own namespace
    renamed = await org[1].client.create_channel("Design review")
    with pytest.raises(ParlourAPIError) as rename:
        await org[1].client.rename_room(renamed.id, "design")
    assert (rename.value.status, rename.value.code) == (409, "name_taken")
    with pytest.raises(ParlourAPIError) as long_topic:
        await org[1].client.create_channel("Topics", "x" * 251)
    assert long_topic.value.status == 422
    assert "Topics" not in {c.name for c in await org[1].client.list_channels()}
    group = await org[0].client.create_group("No topics here", [org[1].user_id])
    with pytest.raises(ParlourAPIError) as group_topic:
        await org[0].client.set_topic(group.id, "a topic")
    assert (group_topic.value.status, group_topic.value.code) == (422, "not_a_channel")


async def test_any_member_sets_the_topic_and_adds_people_only_admins_rename(org: Org) -> None:
    ada, bea, cal = org[0], org[1], org[2]
    channel = await ada.client.create_channel("Support", member_ids=[bea.user_id])
    assert (await bea.client.set_topic(channel.id, "Ask here")).topic == "Ask here"
    assert (await bea.client.set_topic(channel.id, "   ")).topic is None  # cleared
    added = await bea.client.add_members(channel.id, [cal.user_id])
    assert {u.id for u in added.members} == {ada.user_id, bea.user_id, cal.user_id}
    with pytest.raises(ParlourAPIError) as rename:
        await bea.client.rename_room(channel.id, "Mine")
    assert (rename.value.status, rename.value.code) == (403, "not_room_admin")
    with pytest.raises(ParlourAPIError) as remove:
        await bea.client.remove_member(channel.id, cal.user_id)
    assert (remove.value.status, remove.value.code) == (403, "not_room_admin")
    await ada.client.remove_member(channel.id, cal.user_id)  # the admin may


async def test_notification_levels_shape_counts_and_total(org: Org) -> None:
    ada, bea = org[0], org[1]
    group = await ada.client.create_group("Loud", [bea.user_id])
    channel = await ada.client.create_channel("Busy", member_ids=[bea.user_id])
    await ada.client.send_message(group.id, "hello group")
    await ada.client.send_message(channel.id, f"hey @{bea.full_name} look")
    await ada.client.send_message(channel.id, "no mention")

    unread = await bea.client.unread()
    assert unread.rooms == {group.id: 1, channel.id: 2}
    assert unread.mentions == {group.id: 0, channel.id: 1}
    assert unread.total == 3
    rooms = {r.id: r for r in await bea.client.list_rooms()}
    assert (rooms[group.id].notify, rooms[channel.id].notify) == ("all", "mentions")
    assert (rooms[channel.id].unread_count, rooms[channel.id].mention_count) == (2, 1)

    quiet = await bea.client.set_notify(group.id, "none")
    assert (quiet.notify, quiet.unread_count) == ("none", 1)  # counts are kept ...
    unread = await bea.client.unread()
    assert (unread.rooms[group.id], unread.total) == (1, 2)  # ... but left out of the total
    assert (await bea.client.get_room(group.id)).notify == "none"
    assert (await ada.client.get_room(group.id)).notify == "all"  # my level, not theirs
    with pytest.raises(ParlourAPIError) as bad:
        await bea.client.set_notify(group.id, "loud")
    assert bad.value.status == 422
    with pytest.raises(ParlourAPIError) as stranger:
        await org[2].client.set_notify(group.id, "none")
    assert stranger.value.status == 404


async def test_join_and_level_changes_are_events(org: Org) -> None:
    ada, bea = org[0], org[1]
    channel = await ada.client.create_channel("Events channel")
    group = await ada.client.create_group("Events group", [bea.user_id])
    await ada.client.send_message(group.id, "one unread")
    async with ada.client.events() as ada_stream, bea.client.events() as bea_stream:
        await bea.client.join(channel.id)
        added = await ada_stream.wait_for(lambda e: e.type == "room.member_added")
        assert (added.data["room"]["id"], added.data["user_ids"]) == (channel.id, [bea.user_id])
        mine = await bea_stream.wait_for(lambda e: e.type == "room.member_added")
        assert mine.data["room"]["topic"] is None
        await bea.client.set_notify(group.id, "none")
        level = await bea_stream.wait_for(lambda e: e.type == "notify.updated")
        assert (level.data["room_id"], level.data["notify"]) == (group.id, "none")
        counts = await bea_stream.wait_for(lambda e: e.type == "unread.updated")
        assert (counts.data["unread_count"], counts.data["total"]) == (1, 0)
