"""`GET /rooms` (no search) as JSON straight from driver rows (`storage.hot_rooms`).

The JSON is the contract's `list[RoomOut]`, field for field and in the same order (tests compare
it with the models' own). A search (`?q=`) goes the ORM way (`actions.rooms.list_rooms`).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import orjson

from parlour.actions.context import Actor
from parlour.actions.pages import message_dicts, user_dict
from parlour.domain import notify
from parlour.services import Services
from parlour.storage import hot_rooms
from parlour.storage.rooms import ROOM_LIST_LIMIT


async def room_list_json(services: Services, actor: Actor) -> bytes:
    hot, presence = services.db.hot, services.presence
    rooms = await hot_rooms.rooms(hot, actor.user_id, ROOM_LIST_LIMIT)
    if not rooms:
        return b"[]"
    users: dict[str, dict[str, Any]] = {}
    members: dict[str, list[dict[str, Any]]] = defaultdict(list)
    admins: dict[str, list[str]] = defaultdict(list)
    for row in await hot_rooms.members(hot, actor.user_id):
        room_id, is_room_admin, user_id = row[0], row[1], row[2]
        user = users.get(user_id)
        if user is None:
            user = users[user_id] = user_dict(hot, presence, row[2:11])
        members[room_id].append(user)
        if is_room_admin:
            admins[room_id].append(user_id)
    last_rows = await hot_rooms.last_messages(hot, actor.user_id)
    last = {
        message["room_id"]: message
        for message in await message_dicts(hot, last_rows, presence, authors=users)
    }
    shown = []
    for room_id, room_type, name, created_at, read_id, unread, topic, level, mentions in rooms:
        if room_type == "direct":
            other = next((m for m in members[room_id] if m["id"] != actor.user_id), None)
            name = other["full_name"] if other is not None else name
        shown.append(
            {
                "id": room_id,
                "type": room_type,
                "name": name,
                "topic": topic,
                "members": members[room_id],
                "admins": admins[room_id],
                "created_at": hot.iso(created_at),
                "last_message": last.get(room_id),
                "unread_count": int(unread),
                "last_read_message_id": read_id,
                "notify": notify.effective(room_type, level),
                "mention_count": int(mentions),
            }
        )
    return orjson.dumps(shown)
