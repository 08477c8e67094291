"""Users, my profile, and the Chat Profile Report."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from parlour.actions import users as user_actions
from parlour.api.deps import (
    AUTH_ERRORS,
    BODY_ERRORS,
    CurrentActor,
    CurrentAuth,
    ServicesDep,
    error_responses,
)
from parlour.api.id_check import UserIdPath
from parlour.schemas import (
    NO_NUL,
    ChatProfileOut,
    CreateUserIn,
    MeOut,
    PasswordIn,
    UpdateMeIn,
    UpdateUserIn,
    UserOut,
)

router = APIRouter(prefix="/api/v1", tags=["users"])


@router.get("/users", response_model=list[UserOut], responses=error_responses(*AUTH_ERRORS, 422))
async def search_users(
    actor: CurrentActor,
    services: ServicesDep,
    q: Annotated[str, Query(max_length=200, pattern=NO_NUL)] = "",
    limit: Annotated[int | None, Query(ge=1)] = None,
    # "true" lists deactivated people too (org admins only: the Administration page).
    include_inactive: Literal["true", "false"] = "false",
) -> list[UserOut]:
    return await user_actions.search_users(
        services, actor, q, limit, include_inactive=include_inactive == "true"
    )


@router.get("/users/me", response_model=MeOut, responses=error_responses(401, 422))
async def get_me(auth: CurrentAuth, services: ServicesDep) -> MeOut:
    # The user authentication loaded: kept fresh by the stream's `user.changed` events.
    return user_actions.my_profile(services, auth.user)


@router.patch(
    "/users/me", response_model=MeOut, responses=error_responses(*AUTH_ERRORS, *BODY_ERRORS)
)
async def update_me(body: UpdateMeIn, actor: CurrentActor, services: ServicesDep) -> MeOut:
    return await user_actions.do_update_me(
        services,
        actor,
        full_name=body.full_name,
        status=body.status,
        preferences=body.preferences.model_dump(exclude_unset=True) if body.preferences else None,
    )


@router.post(
    "/users/me/password",
    status_code=204,
    responses=error_responses(*AUTH_ERRORS, *BODY_ERRORS, 429),
)
async def change_password(body: PasswordIn, actor: CurrentActor, services: ServicesDep) -> Response:
    await user_actions.do_change_password(services, actor, body.current_password, body.new_password)
    return Response(status_code=204)


@router.post(
    "/users",
    response_model=UserOut,
    status_code=201,
    responses=error_responses(*AUTH_ERRORS, *BODY_ERRORS, 409),
)
async def create_user(body: CreateUserIn, actor: CurrentActor, services: ServicesDep) -> UserOut:
    return await user_actions.admin_create_user(
        services,
        actor,
        email=body.email,
        full_name=body.full_name,
        password=body.password,
        is_admin=body.is_admin,
    )


@router.patch(
    "/users/{user_id}",
    response_model=UserOut,
    responses=error_responses(*AUTH_ERRORS, *BODY_ERRORS, 404, 409),
)
async def update_user(
    user_id: UserIdPath, body: UpdateUserIn, actor: CurrentActor, services: ServicesDep
) -> UserOut:
    return await user_actions.admin_update_user(
        services,
        actor,
        user_id,
        is_active=body.is_active,
        is_admin=body.is_admin,
        full_name=body.full_name,
    )


@router.get(
    "/reports/chat-profiles",
    response_model=list[ChatProfileOut],
    tags=["reports"],
    responses=error_responses(401, 422),
)
async def chat_profiles(actor: CurrentActor, services: ServicesDep) -> list[ChatProfileOut]:
    return await user_actions.chat_profiles(services, actor)
