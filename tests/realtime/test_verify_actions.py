"""verify_action: a client's state, plus the events an action produced, equals a fresh fetch.

The client state is what a UI keeps: my rooms (as REST shows them) and the unread counts. Each
test runs one action and applies the events with the rules documented in docs/events.md.

Every frame received is parsed with the union of the server's frame models
(`parlour.events.types.FRAMES`) and must give back exactly what was sent: a missing, extra or
wrongly typed field, an unknown type or a durable event without a cursor fails the test.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from parlour.client import Event, ParlourClient
from parlour.client.events import EventStream
from parlour.events.types import (
    Ack,
    DurableEvent,
    Error,
    Frame,
    Hello,
    MessageCreated,
    MessageDeleted,
    MessagePinned,
    MessageUnpinned,
    MessageUpdated,
    NotifyUpdated,
    Pong,
    PresenceUpdated,
    ReactionAdded,
    ReactionRemoved,
    RoomCreated,
    RoomMemberAdded,
    RoomMemberRemoved,
    RoomUpdated,
    RoomView,
    SavedUpdated,
    Typing,
    UnreadUpdated,
    parse_frame,
    wire_dict,
)
from parlour.schemas import RoomOut
from tests.support import Org

# A room's fields that differ per member: kept by the client across shared room events.
PER_MEMBER = ("unread_count", "last_read_message_id", "notify", "mention_count")


def typed(event: Event) -> Frame:
    """The frame as its model; it must round-trip to exactly the JSON the server sent."""
    frame = parse_frame(event.data)
    assert wire_dict(frame) == event.data
    assert not (isinstance(frame, DurableEvent) and frame.INTERNAL), "internal event leaked"
    return frame


class ClientState:
    def __init__(self, me: str) -> None:
        self.me = me
        self.rooms: dict[str, dict[str, Any]] = {}
        self.saved: set[str] = set()

    @classmethod
    async def fetch(cls, client: ParlourClient, me: str) -> ClientState:
        state = cls(me)
        for room in await client.list_rooms():
            state.rooms[room.id] = room.model_dump(mode="json")
        state.saved = {message.id for message in await client.saved(limit=200)}
        return state

    def last_message(self, room_id: str, message_id: str) -> dict[str, Any] | None:
        """The room's last message, the only message this state keeps, if it is that one."""
        last: dict[str, Any] | None = self.rooms[room_id]["last_message"]
        return last if last is not None and last["id"] == message_id else None

    def apply(self, frame: Frame) -> None:
        match frame:
            case RoomCreated(room=room) | RoomUpdated(room=room) | RoomMemberAdded(room=room):
                self.upsert_room(room)
            case RoomMemberRemoved(room=room, user_id=removed):
                if removed == self.me:
                    self.rooms.pop(room.id, None)
                else:
                    self.upsert_room(room)
            case MessageCreated(message=message) if message.reply_to is None:
                # A reply is no room's last message, and counts by `unread.updated` only.
                state = self.rooms[message.room_id]
                state["last_message"] = message.model_dump(mode="json")
                if message.author.id != self.me:
                    state["unread_count"] += 1
                    if self.me in message.mentions:
                        state["mention_count"] += 1
            case MessageUpdated(message=message) | MessageDeleted(message=message):
                state = self.rooms[message.room_id]
                if state["last_message"] and state["last_message"]["id"] == message.id:
                    state["last_message"] = message.model_dump(mode="json")
            case UnreadUpdated(room_id=room_id, unread_count=count, mention_count=mentions):
                self.rooms[room_id]["unread_count"] = count
                self.rooms[room_id]["mention_count"] = mentions
            case NotifyUpdated(room_id=room_id, notify=level):
                self.rooms[room_id]["notify"] = level
            case ReactionAdded(room_id=room_id, message_id=message_id, emoji=emoji, user_id=who):
                if (last := self.last_message(room_id, message_id)) is not None:
                    chips = last["reactions"]
                    chip = next((c for c in chips if c["emoji"] == emoji), None)
                    if chip is None:
                        chips.append({"emoji": emoji, "count": 1, "user_ids": [who]})
                    elif who not in chip["user_ids"]:
                        chip["user_ids"].append(who)
                        chip["count"] += 1
            case ReactionRemoved(room_id=room_id, message_id=message_id, emoji=emoji, user_id=who):
                if (last := self.last_message(room_id, message_id)) is not None:
                    for chip in last["reactions"]:
                        if chip["emoji"] == emoji and who in chip["user_ids"]:
                            chip["user_ids"].remove(who)
                            chip["count"] -= 1
                    last["reactions"] = [c for c in last["reactions"] if c["count"]]
            case MessagePinned(room_id=room_id, message_id=message_id):
                if (last := self.last_message(room_id, message_id)) is not None:
                    last["pinned"] = True
            case MessageUnpinned(room_id=room_id, message_id=message_id):
                if (last := self.last_message(room_id, message_id)) is not None:
                    last["pinned"] = False
            case SavedUpdated(message_id=message_id, saved=saved):
                if saved:
                    self.saved.add(message_id)
                else:
                    self.saved.discard(message_id)

    def upsert_room(self, room: RoomView) -> None:
        """A group's room events carry the shared view, without per-member fields: keep mine
        (a new room starts at nothing unread); a direct room's events carry them."""
        # The shape says which: a group's event with per-member fields would be one copy of
        # the member list per member, a direct one without them would lose its counts.
        assert isinstance(room, RoomOut) == (room.type == "direct"), room
        # A new room starts with nothing unread, at its type's default level.
        mine = self.rooms.get(room.id) or {
            "unread_count": 0,
            "last_read_message_id": None,
            "notify": "mentions" if room.type == "channel" else "all",
            "mention_count": 0,
        }
        self.rooms[room.id] = {
            **{key: mine[key] for key in PER_MEMBER},
            **room.model_dump(mode="json"),
        }

    def comparable(self) -> dict[str, Any]:
        # Presence is not durable state: statuses and last-seen move on their own.
        def strip(value: Any) -> Any:
            if isinstance(value, dict):
                return {
                    k: strip(v) for k, v in value.items() if k not in ("status", "last_seen_at")
                }
            if isinstance(value, list):
                return [strip(v) for v in value]
            return value

        rooms = {rid: dict(room) for rid, room in self.rooms.items()}
        for room in rooms.values():
            room.pop("last_read_message_id", None)
        result: dict[str, Any] = strip(rooms)
        result["saved"] = sorted(self.saved)
        return result


async def next_frame(
    stream: EventStream, match: Callable[[Frame], bool], timeout: float = 5
) -> Frame:
    """The next frame that matches, every frame on the way (hello, presence, ...) checked too."""
    event = await stream.wait_for(lambda e: match(typed(e)), timeout=timeout)
    return typed(event)


async def verify_action(
    org: Org, viewer: int, action: Callable[[], Awaitable[object]], expected_types: set[str]
) -> None:
    client = org[viewer].client
    state = await ClientState.fetch(client, org[viewer].user_id)
    async with client.events() as stream:
        await action()
        # A marker the viewer hears after everything the action produced (stream order).
        marker_room = await org[3].client.create_group("marker", [org[viewer].user_id])
        seen: set[str] = set()
        while True:
            frame = await next_frame(stream, lambda f: f.DURABLE)
            if isinstance(frame, RoomCreated) and frame.room.id == marker_room.id:
                break
            seen.add(frame.type)
            state.apply(frame)
    assert expected_types <= seen
    fresh = await ClientState.fetch(client, org[viewer].user_id)
    fresh.rooms.pop(marker_room.id, None)
    import pprint

    a, b = state.comparable(), fresh.comparable()
    if a != b:
        pprint.pprint([(k, a[k], b.get(k)) for k in a if a[k] != b.get(k)], width=200)
    assert a == b


async def test_create_group(org: Org) -> None:
    await verify_action(
        org,
        1,
        lambda: org[0].client.create_group("New group", [org[1].user_id]),
        {"room.created"},
    )


async def test_open_direct(org: Org) -> None:
    await verify_action(
        org, 1, lambda: org[0].client.create_direct(org[1].user_id), {"room.created"}
    )


async def test_send_edit_delete_read(org: Org) -> None:
    room = await org[0].client.create_group("Talk", [org[1].user_id, org[2].user_id])
    sent = await org[0].client.send_message(room.id, "first")
    await verify_action(
        org, 1, lambda: org[2].client.send_message(room.id, "second"), {"message.created"}
    )
    await verify_action(
        org, 1, lambda: org[0].client.edit_message(sent.id, "first, edited"), {"message.updated"}
    )
    last = await org[0].client.send_message(room.id, "to delete")
    await verify_action(
        org,
        1,
        lambda: org[0].client.delete_message(last.id),
        {"message.deleted", "unread.updated"},
    )
    await verify_action(
        org, 1, lambda: org[1].client.mark_read(room.id, sent.id), {"unread.updated"}
    )


async def test_react_pin_save(org: Org) -> None:
    room = await org[0].client.create_group("Boosts", [org[1].user_id, org[2].user_id])
    last = await org[0].client.send_message(room.id, "react, pin and save me")
    await verify_action(org, 1, lambda: org[2].client.react(last.id, "🎉"), {"reaction.added"})
    await verify_action(org, 1, lambda: org[1].client.react(last.id, ":+1:"), {"reaction.added"})
    await verify_action(org, 1, lambda: org[0].client.react(last.id, "🎉"), {"reaction.added"})
    await verify_action(org, 1, lambda: org[2].client.unreact(last.id, "🎉"), {"reaction.removed"})
    await verify_action(org, 1, lambda: org[0].client.pin(last.id), {"message.pinned"})
    await verify_action(org, 1, lambda: org[2].client.unpin(last.id), {"message.unpinned"})
    await verify_action(org, 1, lambda: org[1].client.save(last.id), {"saved.updated"})
    await verify_action(org, 1, lambda: org[1].client.unsave(last.id), {"saved.updated"})
    # Deleting a pinned, reacted message: the tombstone without either, and the unpin.
    await org[0].client.pin(last.id)
    await verify_action(
        org,
        1,
        lambda: org[0].client.delete_message(last.id),
        {"message.deleted", "message.unpinned"},
    )


async def test_channel_join_topic_leave_and_levels(org: Org) -> None:
    channel = await org[0].client.create_channel("Lobby", member_ids=[org[2].user_id])
    await org[0].client.send_message(channel.id, f"welcome @{org[2].full_name}")
    await verify_action(org, 1, lambda: org[1].client.join(channel.id), {"room.member_added"})
    await verify_action(
        org, 1, lambda: org[2].client.set_topic(channel.id, "Say hi"), {"room.updated"}
    )
    await verify_action(
        org,
        1,
        lambda: org[2].client.send_message(channel.id, f"hi @{org[1].full_name}"),
        {"message.created"},
    )
    await verify_action(
        org, 1, lambda: org[1].client.set_notify(channel.id, "none"), {"notify.updated"}
    )
    await verify_action(
        org, 1, lambda: org[1].client.set_notify(channel.id, "all"), {"notify.updated"}
    )
    await verify_action(
        org,
        1,
        lambda: org[1].client.remove_member(channel.id, org[1].user_id),
        {"room.member_removed"},
    )


async def test_replies(org: Org) -> None:
    room = await org[0].client.create_group("Replies", [org[1].user_id, org[2].user_id])
    root = await org[1].client.send_message(room.id, "a root by the viewer")
    await verify_action(
        org,
        1,
        lambda: org[2].client.send_message(room.id, "a reply", reply_to=root.id),
        {"message.created", "message.updated", "unread.updated"},
    )
    other = await org[0].client.send_message(room.id, "a root the viewer does not follow")
    await verify_action(
        org,
        1,
        lambda: org[2].client.send_message(room.id, "not for the viewer", reply_to=other.id),
        {"message.created", "message.updated"},
    )


async def test_edits_that_mention_move_mention_counts(org: Org) -> None:
    room = await org[0].client.create_group("Mention edits", [org[1].user_id, org[2].user_id])
    plain = await org[0].client.send_message(room.id, "no mention yet")
    await verify_action(
        org,
        1,
        lambda: org[0].client.edit_message(plain.id, f"now @{org[1].full_name}"),
        {"message.updated", "unread.updated"},
    )
    await verify_action(
        org,
        1,
        lambda: org[0].client.edit_message(plain.id, "and gone again"),
        {"message.updated", "unread.updated"},
    )
    root = await org[1].client.send_message(room.id, "a root by someone else")
    reply = await org[2].client.send_message(room.id, "a reply", reply_to=root.id)
    await verify_action(  # mentioned in a reply: org[1] follows... they already do (root author)
        org,
        1,
        lambda: org[2].client.edit_message(reply.id, f"a reply for @{org[1].full_name}"),
        {"message.updated", "unread.updated"},
    )


async def test_rename_add_remove(org: Org) -> None:
    room = await org[0].client.create_group("Team", [org[1].user_id])
    await verify_action(
        org, 1, lambda: org[0].client.rename_room(room.id, "Team renamed"), {"room.updated"}
    )
    await verify_action(
        org,
        1,
        lambda: org[0].client.add_members(room.id, [org[2].user_id]),
        {"room.member_added"},
    )
    await verify_action(
        org,
        2,
        lambda: org[0].client.add_members(room.id, [org[3].user_id]),
        {"room.member_added"},
    )
    await verify_action(
        org,
        1,
        lambda: org[0].client.remove_member(room.id, org[2].user_id),
        {"room.member_removed"},
    )
    await verify_action(
        org,
        1,
        lambda: org[0].client.remove_member(room.id, org[1].user_id),
        {"room.member_removed"},
    )


async def test_socket_frames_have_their_shapes(org: Org) -> None:
    """hello, ack, error (with and without client_id), typing and pong, parsed by the union."""
    room = await org[0].client.create_group("Frames", [org[1].user_id])
    async with org[0].client.events() as mine, org[1].client.events() as theirs:
        assert mine.hello is not None
        hello = typed(mine.hello)
        assert isinstance(hello, Hello)
        assert hello.user.id == org[0].user_id

        await mine.send(room.id, "over the socket", "frames-1")
        ack = await next_frame(mine, lambda f: isinstance(f, Ack))
        assert isinstance(ack, Ack)
        assert (ack.client_id, ack.message.content) == ("frames-1", "over the socket")

        await mine.send("no-such-room", "lost", "frames-2")
        refused = await next_frame(mine, lambda f: isinstance(f, Error))
        assert isinstance(refused, Error)
        assert (refused.client_id, refused.retryable) == ("frames-2", False)

        await mine.ping()
        await next_frame(mine, lambda f: isinstance(f, Pong))
        await mine.typing("no-such-room")
        anonymous = await next_frame(mine, lambda f: isinstance(f, Error))
        assert isinstance(anonymous, Error)
        assert anonymous.client_id is None
        assert "client_id" not in wire_dict(anonymous)  # absent, not null

        await mine.typing(room.id)
        typing = await next_frame(theirs, lambda f: isinstance(f, Typing))
        assert isinstance(typing, Typing)
        assert (typing.room_id, typing.user_id) == (room.id, org[0].user_id)


async def test_presence_frame_has_its_shape(org: Org) -> None:
    await org[0].client.create_direct(org[1].user_id)
    async with org[0].client.events() as watcher, org[1].client.events():
        online = await next_frame(
            watcher,
            lambda f: isinstance(f, PresenceUpdated) and f.user_id == org[1].user_id,
        )
    assert isinstance(online, PresenceUpdated)
    assert online.status == "online"
