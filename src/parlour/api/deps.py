"""Request dependencies: the services, and who is calling (with the CSRF rule for cookies)."""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import HTTPConnection

from parlour.actions.auth import Authenticated, authenticate
from parlour.actions.context import Actor
from parlour.errors import Forbidden, NotLoggedIn
from parlour.runtime import Runtime
from parlour.schemas import ErrorOut
from parlour.services import Services

SESSION_COOKIE = "parlour_session"
CSRF_COOKIE = "parlour_csrf"
# The browser's login device (actions/login_throttle.py): outlives sessions, sent only to login.
DEVICE_COOKIE = "parlour_device"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# Declared so that the OpenAPI document names the two ways in; current_auth does the checking
# (auto_error=False: these never answer by themselves).
_bearer_scheme = HTTPBearer(auto_error=False, description="The token from login.")
_cookie_scheme = APIKeyCookie(
    name=SESSION_COOKIE,
    auto_error=False,
    description="The session cookie from login; writes also need the X-CSRF-Token header.",
)

_ERROR_DESCRIPTIONS = {
    400: "Malformed request (for example JSON nested too deeply)",
    401: "Not logged in",
    403: "Forbidden (also `csrf_failed` for a cookie request without the CSRF header)",
    404: "Missing, or not yours to see",
    409: "Conflict",
    413: "Body or upload over its limit",
    422: "Invalid input",
    429: "Rate limited; see Retry-After",
    503: "A dependency (database, Redis) does not answer",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` for the error statuses a route can answer, with the error body."""
    documented: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        entry: dict[str, Any] = {"model": ErrorOut, "description": _ERROR_DESCRIPTIONS[status]}
        if status == 429:
            entry["headers"] = {
                "Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}
            }
        documented[status] = entry
    return documented


# What any authenticated route can answer: not logged in, and a write without the CSRF header.
AUTH_ERRORS = (401, 403)
# What any route with a JSON body can answer besides: malformed, too large, invalid.
BODY_ERRORS = (400, 413, 422)


def get_runtime(connection: HTTPConnection) -> Runtime:
    runtime = connection.app.state.runtime
    assert isinstance(runtime, Runtime), "the app's lifespan starts the runtime"
    return runtime


def get_services(connection: HTTPConnection) -> Services:
    return get_runtime(connection).services


def client_address(connection: HTTPConnection) -> str:
    """The caller's address, as logins are throttled by it.

    The peer's address, unless the peer is one of PARLOUR_TRUSTED_PROXIES: then uvicorn has
    already replaced it with the one X-Forwarded-For names (parlour.cli serve configures it so;
    nobody else's X-Forwarded-For is believed).
    """
    return connection.client.host if connection.client else "unknown"


def bearer_token(connection: HTTPConnection) -> str | None:
    header = connection.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


async def current_auth(
    request: Request,
    _bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer_scheme)],
    _cookie: Annotated[str | None, Depends(_cookie_scheme)],
) -> Authenticated:
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
# The actor with the user row authentication loaded (or the auth cache held): `/users/me`.
CurrentAuth = Annotated[Authenticated, Depends(current_auth)]


async def services_of_request(connection: HTTPConnection) -> Services:
    """`get_services` as a dependency. Async on purpose: FastAPI runs a plain `def` dependency
    in its thread pool, a thread hop per request for a lookup of two attributes."""
    return get_services(connection)


ServicesDep = Annotated[Services, Depends(services_of_request)]
