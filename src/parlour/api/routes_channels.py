"""Channels (browse, join) and a member's own room settings (API.md, v1 additions)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from parlour.actions import channels as channel_actions
from parlour.actions import room_settings
from parlour.api.deps import AUTH_ERRORS, BODY_ERRORS, CurrentActor, ServicesDep, error_responses
from parlour.api.id_check import RoomIdPath
from parlour.schemas import NO_NUL, ChannelOut, RoomOut, RoomSettingsIn

router = APIRouter(prefix="/api/v1", tags=["channels"])


@router.get("/channels", response_model=list[ChannelOut], responses=error_responses(401, 422))
async def list_channels(
    actor: CurrentActor,
    services: ServicesDep,
    q: Annotated[str, Query(max_length=200, pattern=NO_NUL)] = "",
) -> list[ChannelOut]:
    return await channel_actions.list_channels(services, actor, q)


@router.post(
    "/rooms/{room_id}/join",
    response_model=RoomOut,
    responses=error_responses(*AUTH_ERRORS, 404, 422),
)
async def join(room_id: RoomIdPath, actor: CurrentActor, services: ServicesDep) -> RoomOut:
    return await channel_actions.do_join(services, actor, room_id)


@router.patch(
    "/rooms/{room_id}/settings",
    response_model=RoomOut,
    tags=["rooms"],
    responses=error_responses(*AUTH_ERRORS, *BODY_ERRORS, 404),
)
async def room_settings_update(
    room_id: RoomIdPath, body: RoomSettingsIn, actor: CurrentActor, services: ServicesDep
) -> RoomOut:
    return await room_settings.do_set_notify(services, actor, room_id, body.notify)
