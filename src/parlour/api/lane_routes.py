"""The routes of the fast lane (api/fast_lane.py): each the plain case of a FastAPI route."""

from __future__ import annotations

import re

from pydantic import ValidationError

from parlour.actions.pages import message_page_json
from parlour.actions.reads import unread_json
from parlour.actions.room_list import room_list_json
from parlour.api.fast_lane import ID_VALUE, POSITIVE_INT, Answer, LaneRequest, LaneRoute
from parlour.api.id_check import ID_CHARS
from parlour.api.routes_messages import send_answer
from parlour.schemas import SendMessageIn

_ROOM_MESSAGES = re.compile(rf"/api/v1/rooms/(?P<room_id>{ID_CHARS})/messages")


async def _message_page(request: LaneRequest) -> Answer:
    limit = request.query.get("limit")
    page = await message_page_json(
        request.services,
        request.actor,
        request.match["room_id"],
        before=request.query.get("before"),
        after=request.query.get("after"),
        limit=None if limit is None else int(limit),
    )
    return Answer(page)


async def _room_list(request: LaneRequest) -> Answer:
    return Answer(await room_list_json(request.services, request.actor))


async def _unread(request: LaneRequest) -> Answer:
    return Answer(await unread_json(request.services, request.actor))


async def _send(request: LaneRequest) -> Answer | None:
    """routes_messages.send_message, for a body its model takes as it is."""
    try:
        body = SendMessageIn.model_validate_json(request.body)
    except ValidationError:
        return None  # FastAPI parses it again and answers with the contract's error
    text, status = await send_answer(
        request.app, request.services, request.actor, request.match["room_id"], body
    )
    return Answer(text.encode(), status)


LANE_ROUTES = (
    # routes_messages.list_messages
    LaneRoute(
        "GET",
        _ROOM_MESSAGES,
        {"before": ID_VALUE, "after": ID_VALUE, "limit": POSITIVE_INT},
        _message_page,
    ),
    # routes_messages.send_message
    LaneRoute("POST", _ROOM_MESSAGES, {}, _send),
    # routes_rooms.list_rooms, without a search
    LaneRoute("GET", re.compile(r"/api/v1/rooms"), {}, _room_list),
    # routes_rooms.unread
    LaneRoute("GET", re.compile(r"/api/v1/unread"), {}, _unread),
)
