"""The routes of the fast lane (api/fast_lane.py): each the plain case of a FastAPI route."""

from __future__ import annotations

import re

from parlour.actions.context import Actor
from parlour.actions.pages import message_page_json
from parlour.actions.reads import unread_json
from parlour.api.fast_lane import ID_VALUE, POSITIVE_INT, LaneRoute, Query
from parlour.services import Services


async def _message_page(
    services: Services, actor: Actor, match: re.Match[str], query: Query
) -> bytes:
    limit = query.get("limit")
    return await message_page_json(
        services,
        actor,
        match["room_id"],
        before=query.get("before"),
        after=query.get("after"),
        limit=None if limit is None else int(limit),
    )


async def _unread(services: Services, actor: Actor, match: re.Match[str], query: Query) -> bytes:
    return await unread_json(services, actor)


LANE_ROUTES = (
    # routes_rooms.unread
    LaneRoute(re.compile(r"/api/v1/unread"), {}, _unread),
    # routes_messages.list_messages
    LaneRoute(
        re.compile(r"/api/v1/rooms/(?P<room_id>[A-Za-z0-9_-]{1,32})/messages"),
        {"before": ID_VALUE, "after": ID_VALUE, "limit": POSITIVE_INT},
        _message_page,
    ),
)
