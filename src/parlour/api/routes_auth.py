"""Login, logout, health."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from sqlalchemy import text

from parlour.actions import auth as auth_actions
from parlour.actions.login_throttle import DEVICE_COOKIE_SECONDS
from parlour.actions.present import me_out
from parlour.api.deps import (
    AUTH_ERRORS,
    BODY_ERRORS,
    CSRF_COOKIE,
    DEVICE_COOKIE,
    SESSION_COOKIE,
    CurrentActor,
    ServicesDep,
    client_address,
    error_responses,
)
from parlour.errors import Unavailable
from parlour.schemas import HealthOut, LoginIn, LoginOut

router = APIRouter()
LOGIN_PATH = "/api/v1/auth/login"


@router.get("/healthz", response_model=HealthOut, tags=["health"], responses=error_responses(503))
async def healthz(services: ServicesDep) -> HealthOut:
    try:
        async with services.db.read_session() as session:
            await session.execute(text("SELECT 1"))
    except Exception as error:
        raise Unavailable("The database does not answer.", code="database_unavailable") from error
    if services.settings.redis_url and not await services.bus.ping():
        raise Unavailable("Redis does not answer.", code="redis_unavailable")
    return HealthOut(status="ok")


@router.post(
    LOGIN_PATH,
    response_model=LoginOut,
    tags=["auth"],
    responses=error_responses(401, 429, *BODY_ERRORS),
)
async def login(
    body: LoginIn, request: Request, response: Response, services: ServicesDep
) -> LoginOut:
    result = await auth_actions.do_login(
        services,
        body.email,
        body.password,
        client_address(request),
        request.cookies.get(DEVICE_COOKIE),
    )
    secure = services.settings.cookie_secure
    if result.device_token is not None:
        # Persistent (it marks the browser, not the session) and sent to the login route only.
        response.set_cookie(
            DEVICE_COOKIE,
            result.device_token,
            max_age=DEVICE_COOKIE_SECONDS,
            httponly=True,
            samesite="strict",
            secure=secure,
            path=LOGIN_PATH,
        )
    response.set_cookie(
        SESSION_COOKIE, result.token, httponly=True, samesite="lax", secure=secure, path="/"
    )
    response.set_cookie(
        CSRF_COOKIE, result.csrf_token, httponly=False, samesite="lax", secure=secure, path="/"
    )
    return LoginOut(
        token=result.token,
        csrf_token=result.csrf_token,
        user=me_out(result.user, services.presence),
    )


@router.post(
    "/api/v1/auth/logout",
    status_code=204,
    tags=["auth"],
    responses=error_responses(*AUTH_ERRORS, 422),
)
async def logout(actor: CurrentActor, services: ServicesDep, response: Response) -> Response:
    await auth_actions.do_logout(services, actor)
    response.status_code = 204
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")
    return response
