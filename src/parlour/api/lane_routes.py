"""The routes of the fast lane (api/fast_lane.py): each the plain case of a FastAPI route."""

from __future__ import annotations

import re
from typing import Any

import orjson

from parlour.actions.messages import do_send_message
from parlour.actions.pages import message_page_json
from parlour.actions.reads import unread_json
from parlour.actions.room_list import room_list_json
from parlour.api.fast_lane import ID_VALUE, POSITIVE_INT, Answer, LaneRequest, LaneRoute
from parlour.api.throttle import throttles
from parlour.errors import RateLimited
from parlour.events.types import message_json
from parlour.schemas import NON_BLANK_TEXT

_ROOM_MESSAGES = re.compile(r"/api/v1/rooms/(?P<room_id>[A-Za-z0-9_-]{1,32})/messages")
_ID = re.compile(ID_VALUE.pattern.decode())
_NON_BLANK = re.compile(NON_BLANK_TEXT)
_SEND_FIELDS = frozenset({"content", "client_id", "attachment_ids"})


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


def _plain_send(body: bytes) -> tuple[str, str | None, list[str]] | None:
    """SendMessageIn's fields if the body is a plain one that model would take as it is."""
    try:
        data: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(data, dict) or not data.keys() <= _SEND_FIELDS:
        return None
    content = data.get("content", "")
    client_id = data.get("client_id")
    attachment_ids = data.get("attachment_ids") or []
    if not isinstance(content, str) or "\x00" in content:
        return None
    if client_id is not None and not (
        isinstance(client_id, str) and 1 <= len(client_id) <= 100 and _NON_BLANK.match(client_id)
    ):
        return None
    if not isinstance(attachment_ids, list) or len(attachment_ids) > 20:
        return None
    if not all(isinstance(a, str) and _ID.fullmatch(a) for a in attachment_ids):
        return None
    return content, client_id, attachment_ids


async def _send(request: LaneRequest) -> Answer | None:
    """routes_messages.send_message, for a plain body."""
    fields = _plain_send(request.body)
    if fields is None:
        return None
    content, client_id, attachment_ids = fields
    services, actor = request.services, request.actor
    sends = throttles(request.app, services.limits).sends
    wait = sends.take(actor.user_id, services.clock.monotonic())
    if wait is not None:
        raise RateLimited("Too many messages; slow down.", retry_after=wait)
    message, created = await do_send_message(
        services, actor, request.match["room_id"], content, client_id, attachment_ids
    )
    return Answer(message_json(message).encode(), 201 if created else 200)


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
