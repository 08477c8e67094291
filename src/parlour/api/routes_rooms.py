"""Rooms, members, read pointers and unread counts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from parlour.actions import channels as channel_actions
from parlour.actions import reads as read_actions
from parlour.actions import rooms as room_actions
from parlour.actions.room_admins import do_set_room_admin
from parlour.actions.room_list import room_list_json
from parlour.api.deps import (
    AUTH_ERRORS,
    BODY_ERRORS,
    CurrentActor,
    ServicesDep,
    error_responses,
)
from parlour.api.id_check import RoomIdPath, UserIdPath
from parlour.api.json import model_json
from parlour.schemas import (
    NO_NUL,
    AddMembersIn,
    ChannelRoomIn,
    CreateRoomIn,
    DirectRoomIn,
    ReadIn,
    RenameRoomIn,
    RoomOut,
    UnreadOut,
)

router = APIRouter(prefix="/api/v1", tags=["rooms"])


@router.post(
    "/rooms",
    response_model=RoomOut,
    status_code=201,
    responses={
        200: {"model": RoomOut, "description": "The existing direct room"},
        **error_responses(*AUTH_ERRORS, *BODY_ERRORS, 404, 409),
    },
)
async def create_room(body: CreateRoomIn, actor: CurrentActor, services: ServicesDep) -> Response:
    if isinstance(body, DirectRoomIn):
        room, created = await room_actions.do_open_direct(services, actor, body.user_id)
        return model_json(room, status_code=201 if created else 200)
    if isinstance(body, ChannelRoomIn):
        room = await channel_actions.do_create_channel(
            services, actor, body.name, body.topic, body.member_ids or []
        )
        return model_json(room, status_code=201)
    room = await room_actions.do_create_group(services, actor, body.name, body.member_ids or [])
    return model_json(room, status_code=201)


@router.get("/rooms", response_model=list[RoomOut], responses=error_responses(401, 422))
async def list_rooms(
    actor: CurrentActor,
    services: ServicesDep,
    q: Annotated[str, Query(max_length=200, pattern=NO_NUL)] = "",
) -> Response | list[RoomOut]:
    if not q.strip():
        # The same JSON the fast lane answers (api/lane_routes.py): one way to make it.
        return Response(await room_list_json(services, actor), media_type="application/json")
    return await room_actions.list_rooms(services, actor, q)


@router.get("/rooms/{room_id}", response_model=RoomOut, responses=error_responses(401, 404, 422))
async def get_room(room_id: RoomIdPath, actor: CurrentActor, services: ServicesDep) -> RoomOut:
    return await room_actions.get_room(services, actor, room_id)


@router.patch(
    "/rooms/{room_id}",
    response_model=RoomOut,
    responses=error_responses(*AUTH_ERRORS, *BODY_ERRORS, 404, 409),
)
async def update_room(
    room_id: RoomIdPath, body: RenameRoomIn, actor: CurrentActor, services: ServicesDep
) -> RoomOut:
    return await room_actions.do_update_room(services, actor, room_id, body.name, body.topic)


@router.post(
    "/rooms/{room_id}/members",
    response_model=RoomOut,
    responses=error_responses(*AUTH_ERRORS, *BODY_ERRORS, 404),
)
async def add_members(
    room_id: RoomIdPath, body: AddMembersIn, actor: CurrentActor, services: ServicesDep
) -> RoomOut:
    return await room_actions.do_add_members(services, actor, room_id, body.user_ids)


@router.delete(
    "/rooms/{room_id}/members/{user_id}",
    status_code=204,
    responses=error_responses(*AUTH_ERRORS, 404, 409, 422),
)
async def remove_member(
    room_id: RoomIdPath, user_id: UserIdPath, actor: CurrentActor, services: ServicesDep
) -> Response:
    await room_actions.do_remove_member(services, actor, room_id, user_id)
    return Response(status_code=204)


@router.put(
    "/rooms/{room_id}/admins/{user_id}",
    response_model=RoomOut,
    responses=error_responses(*AUTH_ERRORS, 404),
)
async def make_room_admin(
    room_id: RoomIdPath, user_id: UserIdPath, actor: CurrentActor, services: ServicesDep
) -> RoomOut:
    """Make a member an admin of the group or channel (its admins only)."""
    return await do_set_room_admin(services, actor, room_id, user_id, admin=True)


@router.delete(
    "/rooms/{room_id}/admins/{user_id}",
    response_model=RoomOut,
    responses=error_responses(*AUTH_ERRORS, 404, 422),
)
async def unmake_room_admin(
    room_id: RoomIdPath, user_id: UserIdPath, actor: CurrentActor, services: ServicesDep
) -> RoomOut:
    """Take admin from a member (its admins only; never from the room's last admin)."""
    return await do_set_room_admin(services, actor, room_id, user_id, admin=False)


@router.post(
    "/rooms/{room_id}/read",
    status_code=204,
    responses=error_responses(*AUTH_ERRORS, *BODY_ERRORS, 404),
)
async def mark_read(
    room_id: RoomIdPath, body: ReadIn, actor: CurrentActor, services: ServicesDep
) -> Response:
    await read_actions.do_mark_read(services, actor, room_id, body.message_id)
    return Response(status_code=204)


@router.get(
    "/rooms/{room_id}/receipts",
    response_model=dict[str, str | None],
    responses=error_responses(401, 404, 422),
)
async def receipts(
    room_id: RoomIdPath, actor: CurrentActor, services: ServicesDep
) -> dict[str, str | None]:
    """Every member's last read message id (null: nothing read yet)."""
    return await read_actions.receipts(services, actor, room_id)


@router.get("/unread", response_model=UnreadOut, responses=error_responses(401, 422))
async def unread(actor: CurrentActor, services: ServicesDep) -> Response:
    # The same JSON the fast lane answers (api/lane_routes.py): one way to make it.
    return Response(await read_actions.unread_json(services, actor), media_type="application/json")
