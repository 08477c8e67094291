"""Bots (org admins): create (the token shown once), list, revoke."""

from __future__ import annotations

from fastapi import APIRouter, Response

from parlour.actions import bots as bot_actions
from parlour.api.deps import AUTH_ERRORS, BODY_ERRORS, CurrentActor, ServicesDep, error_responses
from parlour.api.id_check import UserIdPath
from parlour.schemas import BotCreatedOut, CreateBotIn, UserOut

router = APIRouter(prefix="/api/v1", tags=["bots"])


@router.post(
    "/bots",
    response_model=BotCreatedOut,
    status_code=201,
    responses=error_responses(*AUTH_ERRORS, *BODY_ERRORS),
)
async def create_bot(
    body: CreateBotIn, actor: CurrentActor, services: ServicesDep
) -> BotCreatedOut:
    return await bot_actions.do_create_bot(services, actor, body.name)


@router.get("/bots", response_model=list[UserOut], responses=error_responses(*AUTH_ERRORS, 422))
async def list_bots(actor: CurrentActor, services: ServicesDep) -> list[UserOut]:
    return await bot_actions.list_bots(services, actor)


@router.delete(
    "/bots/{user_id}", status_code=204, responses=error_responses(*AUTH_ERRORS, 404, 422)
)
async def revoke_bot(user_id: UserIdPath, actor: CurrentActor, services: ServicesDep) -> Response:
    await bot_actions.do_revoke_bot(services, actor, user_id)
    return Response(status_code=204)
