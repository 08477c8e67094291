"""Request dependencies: the services, and who is calling (with the CSRF rule for cookies)."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request
from starlette.requests import HTTPConnection

from parlour.actions.auth import Authenticated, authenticate
from parlour.actions.context import Actor
from parlour.errors import Forbidden, NotLoggedIn
from parlour.services import Services

SESSION_COOKIE = "parlour_session"
CSRF_COOKIE = "parlour_csrf"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_services(connection: HTTPConnection) -> Services:
    services: Services = connection.app.state.services
    return services


def bearer_token(connection: HTTPConnection) -> str | None:
    header = connection.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


async def current_auth(request: Request) -> Authenticated:
    services = get_services(request)
    token = bearer_token(request)
    if token is not None:
        return await authenticate(services, token)
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        raise NotLoggedIn("Not logged in.", code="not_authenticated")
    auth = await authenticate(services, cookie)
    if request.method not in SAFE_METHODS:
        # Double-submit: a cross-site page can make the browser send our cookie but cannot read
        # it, so it cannot copy the CSRF value into a header.
        sent = request.headers.get(CSRF_HEADER, "")
        if not sent or not hmac.compare_digest(sent.encode(), auth.csrf_token.encode()):
            raise Forbidden("Missing or wrong CSRF token.", code="csrf_failed")
    return auth


async def current_actor(auth: Annotated[Authenticated, Depends(current_auth)]) -> Actor:
    return auth.actor


CurrentActor = Annotated[Actor, Depends(current_actor)]
ServicesDep = Annotated[Services, Depends(get_services)]
