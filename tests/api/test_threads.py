"""Replies (threads), API.md v1 additions: replies leave the room's page, roots carry a summary,
a thread reads oldest first, and a reply is unread only for the thread's followers."""

from __future__ import annotations

import pytest

from parlour.client import ParlourAPIError
from tests.support import Org


async def test_replies_form_a_thread_under_their_root(org: Org) -> None:
    ada, bea, cal = org[0], org[1], org[2]
    room = await ada.client.create_group("Threads", [bea.user_id, cal.user_id])
    root = await ada.client.send_message(room.id, "Which release date?")
    assert (root.reply_to, root.thread) == (None, None)
    first = await bea.client.send_message(room.id, "Friday", reply_to=root.id)
    assert (first.reply_to, first.thread) == (root.id, None)
    second = await cal.client.send_message(room.id, "Monday is safer", reply_to=first.id)
    assert second.reply_to == root.id  # a reply to a reply attaches to the root
    third = await bea.client.send_message(room.id, "Fine, Monday", reply_to=root.id)
    after = await ada.client.send_message(room.id, "Next topic")

    page = await cal.client.list_messages(room.id)
    assert [m.id for m in page] == [root.id, after.id]  # replies are not on the room's page
    shown = page[0].thread
    assert shown is not None
    assert (shown.reply_count, shown.participant_ids) == (3, [bea.user_id, cal.user_id])
    assert shown.last_reply_at == third.created_at
    replies = await cal.client.thread(root.id)
    assert [m.id for m in replies] == [first.id, second.id, third.id]
    assert [m.id for m in await cal.client.thread(first.id)] == [first.id, second.id, third.id]
    assert [m.id for m in await cal.client.thread(root.id, after=first.id, limit=1)] == [second.id]
    # The room's last message stays the last root; search finds replies too.
    (listed,) = [r for r in await cal.client.list_rooms() if r.id == room.id]
    assert listed.last_message is not None
    assert listed.last_message.id == after.id
    assert [m.id for m in await cal.client.search_messages(q="Monday", room_id=room.id)] == [
        third.id,
        second.id,
    ]


async def test_a_reply_is_unread_only_for_the_threads_followers(org: Org) -> None:
    ada, bea, cal, dee = org[0], org[1], org[2], org[3]
    room = await ada.client.create_group("Followers", [bea.user_id, cal.user_id, dee.user_id])
    root = await ada.client.send_message(room.id, "Root by Ada")
    for member in (ada, bea, cal, dee):
        await member.client.mark_read(room.id, root.id)
    await bea.client.send_message(room.id, "Bea replies", reply_to=root.id)
    # Ada (the root's author) follows; Cal and Dee do not.
    counts = {m.user_id: (await m.client.unread()).rooms.get(room.id, 0) for m in org.members}
    assert counts == {ada.user_id: 1, bea.user_id: 0, cal.user_id: 0, dee.user_id: 0}
    await cal.client.send_message(room.id, f"@{dee.full_name} have a look", reply_to=root.id)
    counts = {m.user_id: (await m.client.unread()).rooms.get(room.id, 0) for m in org.members}
    # Bea replied (follows): Cal's reply is new to her; Dee was mentioned (follows from that
    # reply on); Cal joined by replying, so Bea's earlier reply does not turn unread for Cal.
    assert counts == {ada.user_id: 2, bea.user_id: 1, cal.user_id: 0, dee.user_id: 1}
    assert (await dee.client.unread()).mentions[room.id] == 1
    (dee_room,) = [r for r in await dee.client.list_rooms() if r.id == room.id]
    assert (dee_room.unread_count, dee_room.mention_count) == (1, 1)


async def test_replies_are_refused_across_rooms_and_to_deleted_roots(org: Org) -> None:
    ada, bea = org[0], org[1]
    room = await ada.client.create_group("Here", [bea.user_id])
    elsewhere = await ada.client.create_group("Elsewhere", [bea.user_id])
    other_root = await ada.client.send_message(elsewhere.id, "not in Here")
    root = await ada.client.send_message(room.id, "going away")
    await bea.client.send_message(room.id, "an early reply", reply_to=root.id)
    await ada.client.delete_message(root.id)
    refusals = [
        (other_root.id, 404, "message_not_found"),
        ("no-such-message", 404, "message_not_found"),
        (root.id, 422, "message_deleted"),
    ]
    for reply_to, status, code in refusals:
        with pytest.raises(ParlourAPIError) as refused:
            await bea.client.send_message(room.id, "reply", reply_to=reply_to)
        assert (refused.value.status, refused.value.code) == (status, code), reply_to
    # Nothing stored by the refusals; the early reply is still readable under the tombstone.
    assert [m.content for m in await bea.client.thread(root.id)] == ["an early reply"]
    assert [m.content for m in await bea.client.list_messages(elsewhere.id)] == ["not in Here"]


async def test_threads_are_sealed_from_outsiders(org: Org) -> None:
    ada, bea, cal = org[0], org[1], org[2]
    room = await ada.client.create_group("Sealed", [bea.user_id])
    root = await ada.client.send_message(room.id, "secret root")
    reply = await bea.client.send_message(room.id, "secret reply", reply_to=root.id)
    for message_id in (root.id, reply.id):
        with pytest.raises(ParlourAPIError) as outside:
            await cal.client.thread(message_id)
        assert (outside.value.status, outside.value.code) == (404, "message_not_found")
    # An outsider cannot reply into it from a room of their own either.
    mine = await cal.client.create_group("Mine", [ada.user_id])
    with pytest.raises(ParlourAPIError) as across:
        await cal.client.send_message(mine.id, "sneaky", reply_to=root.id)
    assert across.value.status == 404


async def test_a_reply_and_its_roots_summary_are_events(org: Org) -> None:
    ada, bea = org[0], org[1]
    room = await ada.client.create_group("Thread events", [bea.user_id])
    root = await ada.client.send_message(room.id, "root")
    async with ada.client.events() as stream:
        reply = await bea.client.send_message(room.id, "reply", reply_to=root.id)
        created = await stream.wait_for(lambda e: e.type == "message.created")
        assert (created.message.id, created.message.reply_to) == (reply.id, root.id)
        updated = await stream.wait_for(lambda e: e.type == "message.updated")
        assert updated.message.id == root.id
        assert updated.message.thread is not None
        assert updated.message.thread.reply_count == 1
        counts = await stream.wait_for(lambda e: e.type == "unread.updated")
        assert (counts.data["room_id"], counts.data["unread_count"]) == (room.id, 1)


async def test_a_reply_over_the_socket(org: Org) -> None:
    ada, bea = org[0], org[1]
    room = await ada.client.create_group("Socket replies", [bea.user_id])
    root = await ada.client.send_message(room.id, "root")
    async with bea.client.events() as stream:
        await stream.send(room.id, "over the socket", "socket-reply-1", reply_to=root.id)
        ack = await stream.wait_for(lambda e: e.type == "ack")
        assert ack.message.reply_to == root.id
        await stream.send(room.id, "to nothing", "socket-reply-2", reply_to="no-such-message")
        refused = await stream.wait_for(lambda e: e.type == "error")
        assert refused.data["error"]["code"] == "message_not_found"
        assert refused.data["client_id"] == "socket-reply-2"
    assert [m.content for m in await ada.client.thread(root.id)] == ["over the socket"]


async def test_mentioning_someone_in_an_edited_reply_makes_them_follow(org: Org) -> None:
    ada, bea, cal = org[0], org[1], org[2]
    room = await ada.client.create_group("Edited mentions", [bea.user_id, cal.user_id])
    root = await ada.client.send_message(room.id, "root")
    await cal.client.mark_read(room.id, root.id)
    reply = await bea.client.send_message(room.id, "a reply", reply_to=root.id)
    assert (await cal.client.unread()).rooms.get(room.id, 0) == 0  # not following
    await bea.client.edit_message(reply.id, f"a reply for @{cal.full_name}")
    unread = await cal.client.unread()
    assert (unread.rooms.get(room.id), unread.mentions.get(room.id)) == (1, 1)
    await bea.client.send_message(room.id, "and another", reply_to=root.id)
    assert (await cal.client.unread()).rooms.get(room.id) == 2  # follows from then on
    await bea.client.edit_message(reply.id, "a reply for nobody")
    unread = await cal.client.unread()
    assert (unread.rooms.get(room.id), unread.mentions.get(room.id)) == (2, 0)
