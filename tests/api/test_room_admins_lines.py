"""Room admins (make and unmake) and system lines: every membership change is a line of the room
that everyone in it sees, live and after a reload (docs/conversations.md, "System lines")."""

from __future__ import annotations

import pytest

from parlour.client import ParlourAPIError
from parlour.client.models import Message
from tests.support import Org


def lines(messages: list[Message]) -> list[tuple[str, str, str]]:
    """(author, action, content) of the system lines among messages."""
    return [(m.author.id, m.system.action, m.content) for m in messages if m.system is not None]


async def test_membership_changes_are_lines_of_the_room(org: Org) -> None:
    ada, bea, cal = org[0], org[1], org[2]
    room = await ada.client.create_group("Launch", [bea.user_id])
    assert lines(await ada.client.list_messages(room.id)) == []  # creating says nothing

    await ada.client.add_members(room.id, [cal.user_id])
    await ada.client.rename_room(room.id, "Launch *team*")
    await ada.client.rename_room(room.id, "Launch *team*")  # the same name: no second line
    await ada.client.remove_member(room.id, cal.user_id)
    await bea.client.leave(room.id)

    expected = [
        (ada.user_id, "added", f"added {cal.full_name}"),
        (ada.user_id, "renamed", "renamed the group to Launch *team*"),
        (ada.user_id, "removed", f"removed {cal.full_name}"),
        (bea.user_id, "left", "left the group"),
    ]
    page = await ada.client.list_messages(room.id)
    assert lines(page) == expected
    renamed = page[1]
    assert renamed.system is not None
    assert renamed.system.name == "Launch *team*"
    assert renamed.html == "renamed the group to Launch *team*"  # words, not Markdown
    added = page[0]
    assert added.system is not None
    assert added.system.user_ids == [cal.user_id]
    # The room list shows the latest line as the room's last message.
    (listed,) = [r for r in await ada.client.list_rooms() if r.id == room.id]
    assert listed.last_message is not None
    assert listed.last_message.id == page[-1].id


async def test_a_line_arrives_live_and_counts_as_unread(org: Org) -> None:
    ada, bea, cal = org[0], org[1], org[2]
    room = await ada.client.create_group("Live lines", [bea.user_id])
    async with bea.client.events() as stream:
        await ada.client.add_members(room.id, [cal.user_id])
        created = await stream.wait_for(lambda e: e.type == "message.created")
        assert created.message.system is not None
        assert (created.message.system.action, created.message.author.id) == (
            "added",
            ada.user_id,
        )
    # The new member sees the line that added them; nobody's own line is unread to them.
    assert lines(await cal.client.list_messages(room.id))[-1][1] == "added"
    unread = {r.id: r.unread_count for r in await bea.client.list_rooms()}
    assert unread[room.id] == 1
    assert {r.id: r.unread_count for r in await ada.client.list_rooms()}[room.id] == 0


async def test_channel_join_and_topic_are_lines(org: Org) -> None:
    ada, bea = org[0], org[1]
    channel = await ada.client.create_channel("Lines channel")
    await bea.client.join(channel.id)
    await bea.client.set_topic(channel.id, "Ship it")
    await bea.client.set_topic(channel.id, "")
    assert lines(await ada.client.list_messages(channel.id)) == [
        (bea.user_id, "joined", "joined the channel"),
        (bea.user_id, "topic", "set the topic: Ship it"),
        (bea.user_id, "topic", "cleared the topic"),
    ]


async def test_a_line_cannot_be_edited(org: Org) -> None:
    ada, bea = org[0], org[1]
    room = await ada.client.create_group("Frozen lines", [])
    await ada.client.add_members(room.id, [bea.user_id])
    (line,) = await ada.client.list_messages(room.id)
    with pytest.raises(ParlourAPIError) as refused:
        await ada.client.edit_message(line.id, "added nobody at all")
    assert (refused.value.status, refused.value.code) == (422, "system_message")
    (still,) = await ada.client.list_messages(room.id)
    assert (still.content, still.edited_at) == (line.content, None)


async def test_make_and_unmake_admin(org: Org) -> None:
    ada, bea, cal = org[0], org[1], org[2]
    room = await ada.client.create_group("Admins", [bea.user_id, cal.user_id])
    async with cal.client.events() as stream:
        made = await ada.client.set_room_admin(room.id, bea.user_id)
        assert set(made.admins) == {ada.user_id, bea.user_id}
        updated = await stream.wait_for(lambda e: e.type == "room.updated")
        assert set(updated.room.admins) == {ada.user_id, bea.user_id}
    # Making an admin twice changes nothing (no second line).
    again = await ada.client.set_room_admin(room.id, bea.user_id)
    assert set(again.admins) == {ada.user_id, bea.user_id}
    # The new admin can now manage; an admin may step down while another remains.
    unmade = await bea.client.set_room_admin(room.id, ada.user_id, admin=False)
    assert unmade.admins == [bea.user_id]
    with pytest.raises(ParlourAPIError) as last:
        await bea.client.set_room_admin(room.id, bea.user_id, admin=False)
    assert (last.value.status, last.value.code) == (422, "last_admin")
    assert lines(await cal.client.list_messages(room.id)) == [
        (ada.user_id, "made_admin", f"made {bea.full_name} an admin"),
        (bea.user_id, "unmade_admin", f"removed {ada.full_name} as an admin"),
    ]


async def test_only_admins_of_the_room_change_admins(org: Org) -> None:
    ada, bea, cal = org[0], org[1], org[2]
    room = await ada.client.create_group("Guarded", [bea.user_id])
    with pytest.raises(ParlourAPIError) as not_admin:
        await bea.client.set_room_admin(room.id, bea.user_id)
    assert (not_admin.value.status, not_admin.value.code) == (403, "not_room_admin")
    with pytest.raises(ParlourAPIError) as outsider:
        await cal.client.set_room_admin(room.id, cal.user_id)
    assert outsider.value.status == 404
    with pytest.raises(ParlourAPIError) as not_member:
        await ada.client.set_room_admin(room.id, cal.user_id)
    assert (not_member.value.status, not_member.value.code) == (404, "member_not_found")
    direct = await ada.client.create_direct(bea.user_id)
    with pytest.raises(ParlourAPIError) as in_direct:
        await ada.client.set_room_admin(direct.id, bea.user_id)
    assert (in_direct.value.status, in_direct.value.code) == (403, "not_a_group")
    # Nothing of it changed the room or wrote a line.
    (shown,) = [r for r in await ada.client.list_rooms() if r.id == room.id]
    assert shown.admins == [ada.user_id]
    assert lines(await ada.client.list_messages(room.id)) == []
