"""Reactions, pins and saved messages (API.md, v1 additions)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from parlour.actions import reactions as actions
from parlour.api.deps import AUTH_ERRORS, CurrentActor, ServicesDep, error_responses
from parlour.api.id_check import MessageIdPath, RoomIdPath
from parlour.schemas import NO_NUL, MessageOut

router = APIRouter(prefix="/api/v1", tags=["reactions"])

# One emoji (a grapheme cluster) or a `:short_name:`; the action decides (422 `invalid_emoji`).
EmojiPath = Annotated[
    str, Path(min_length=1, max_length=64, pattern=NO_NUL, description="one emoji or :name:")
]

_WRITE_ERRORS = error_responses(*AUTH_ERRORS, 404, 422)


@router.put("/messages/{message_id}/reactions/{emoji}", status_code=204, responses=_WRITE_ERRORS)
async def react(
    message_id: MessageIdPath, emoji: EmojiPath, actor: CurrentActor, services: ServicesDep
) -> Response:
    await actions.do_react(services, actor, message_id, emoji)
    return Response(status_code=204)


@router.delete("/messages/{message_id}/reactions/{emoji}", status_code=204, responses=_WRITE_ERRORS)
async def unreact(
    message_id: MessageIdPath, emoji: EmojiPath, actor: CurrentActor, services: ServicesDep
) -> Response:
    await actions.do_unreact(services, actor, message_id, emoji)
    return Response(status_code=204)


@router.put("/messages/{message_id}/pin", status_code=204, responses=_WRITE_ERRORS)
async def pin(message_id: MessageIdPath, actor: CurrentActor, services: ServicesDep) -> Response:
    await actions.do_pin(services, actor, message_id)
    return Response(status_code=204)


@router.delete("/messages/{message_id}/pin", status_code=204, responses=_WRITE_ERRORS)
async def unpin(message_id: MessageIdPath, actor: CurrentActor, services: ServicesDep) -> Response:
    await actions.do_unpin(services, actor, message_id)
    return Response(status_code=204)


@router.get(
    "/rooms/{room_id}/pins",
    response_model=list[MessageOut],
    responses=error_responses(401, 404, 422),
)
async def room_pins(
    room_id: RoomIdPath, actor: CurrentActor, services: ServicesDep
) -> list[MessageOut]:
    return await actions.room_pins(services, actor, room_id)


@router.put("/messages/{message_id}/save", status_code=204, responses=_WRITE_ERRORS)
async def save(message_id: MessageIdPath, actor: CurrentActor, services: ServicesDep) -> Response:
    await actions.do_save(services, actor, message_id, saved=True)
    return Response(status_code=204)


@router.delete("/messages/{message_id}/save", status_code=204, responses=_WRITE_ERRORS)
async def unsave(message_id: MessageIdPath, actor: CurrentActor, services: ServicesDep) -> Response:
    await actions.do_save(services, actor, message_id, saved=False)
    return Response(status_code=204)


@router.get("/saved", response_model=list[MessageOut], responses=error_responses(401, 422))
async def saved(
    actor: CurrentActor,
    services: ServicesDep,
    limit: Annotated[int | None, Query(ge=1)] = None,
) -> list[MessageOut]:
    return await actions.saved_messages(services, actor, limit)
