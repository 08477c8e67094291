"""verify_action: a client's state, plus the events an action produced, equals a fresh fetch.

The client state is what a UI keeps: my rooms (as REST shows them) and the unread counts. Each
test runs one action and applies the events with the rules documented in docs/events.md.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from parlour.client import Event, ParlourClient
from tests.support import Org


class ClientState:
    def __init__(self, me: str) -> None:
        self.me = me
        self.rooms: dict[str, dict[str, Any]] = {}

    @classmethod
    async def fetch(cls, client: ParlourClient, me: str) -> ClientState:
        state = cls(me)
        for room in await client.list_rooms():
            state.rooms[room.id] = room.model_dump(mode="json")
        return state

    def apply(self, event: Event) -> None:
        data = event.data
        if event.type in ("room.created", "room.updated", "room.member_added"):
            self.upsert_room(data["room"])
        elif event.type == "room.member_removed":
            if data["user_id"] == self.me:
                self.rooms.pop(data["room"]["id"], None)
            else:
                self.upsert_room(data["room"])
        elif event.type == "message.created":
            room = self.rooms[data["message"]["room_id"]]
            room["last_message"] = data["message"]
            if data["message"]["author"]["id"] != self.me:
                room["unread_count"] += 1
        elif event.type in ("message.updated", "message.deleted"):
            room = self.rooms[data["message"]["room_id"]]
            if room["last_message"] and room["last_message"]["id"] == data["message"]["id"]:
                room["last_message"] = data["message"]
        elif event.type == "unread.updated":
            self.rooms[data["room_id"]]["unread_count"] = data["unread_count"]

    def upsert_room(self, room: dict[str, Any]) -> None:
        """A group's room events carry no per-member fields: keep mine (a new room starts at
        nothing unread); a direct room's events carry them."""
        mine = self.rooms.get(room["id"], {"unread_count": 0, "last_read_message_id": None})
        self.rooms[room["id"]] = {
            "unread_count": mine["unread_count"],
            "last_read_message_id": mine["last_read_message_id"],
            **room,
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
        return strip(rooms)


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
            event = await stream.wait_for(lambda e: e.durable, timeout=5)
            if event.type == "room.created" and event.data["room"]["id"] == marker_room.id:
                break
            seen.add(event.type)
            state.apply(event)
    assert expected_types <= seen
    fresh = await ClientState.fetch(client, org[viewer].user_id)
    fresh.rooms.pop(marker_room.id, None)
    assert state.comparable() == fresh.comparable()


async def test_create_group(org: Org) -> None:
    await verify_action(
        org,
        1,
        lambda: org[0].client.create_group("New group", [org[1].user_id]),
        {"room.created"},
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


async def test_presence_goes_to_room_peers_only(org: Org, orgs: object) -> None:
    await org[0].client.create_direct(org[1].user_id)
    async with org[0].client.events() as watcher:
        async with org[1].client.events():
            online = await watcher.wait_for(
                lambda e: e.type == "presence.updated" and e.data["user_id"] == org[1].user_id,
                timeout=5,
            )
            assert online.data["status"] == "online"
        offline = await watcher.wait_for(
            lambda e: e.type == "presence.updated" and e.data["user_id"] == org[1].user_id,
            timeout=10,
        )
        assert offline.data["status"] == "offline"
