"""The fast lane: the hottest GETs answered before FastAPI's routing and dependency solving.

Why: on this machine FastAPI's router and dependency solving cost about 0.3 ms a request (a
404 alone runs at ~2,800 req/s on one core, where the bare uvicorn + Starlette stack serves
~28,000), more than a whole page's reads and JSON. Clients ask for pages and unread counts all
day, so those few routes get a lane of their own.

One behaviour, whichever way a request goes:
- The routes stay declared in FastAPI: the OpenAPI document, and the answer to anything unusual.
- The lane answers only the plain case: a GET with a token this process's auth cache already
  holds (`actions.auth_cache`, kept exact by the stream), and a query string of the route's own
  parameters, each once, in their strict form (`api.query`'s rules, or stricter). Everything
  else goes on to FastAPI untouched: a first request of a token, a malformed parameter, a cookie
  request's CSRF rule (GETs need none), and any error the work raises. Errors are rare and
  reads have no side effects, so FastAPI doing the work again then costs nothing that matters,
  and errors keep one shape.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Receive, Scope, Send

from parlour.actions.auth import Authenticated
from parlour.actions.context import Actor
from parlour.api.deps import SESSION_COOKIE
from parlour.api.query import parse_query
from parlour.errors import InvalidInput
from parlour.ids import hash_secret
from parlour.services import Services

Query = Mapping[str, str]
Handler = Callable[[Services, Actor, "re.Match[str]", Query], Awaitable[bytes]]

# The strict forms the lane accepts (anything else is FastAPI's to judge).
ID_VALUE = re.compile(rb"[A-Za-z0-9_-]{1,32}")
POSITIVE_INT = re.compile(rb"[1-9][0-9]{0,8}")
_TOKEN_CHARS = 200  # as actions.auth.authenticate


@dataclass(frozen=True)
class LaneRoute:
    path: re.Pattern[str]
    params: Mapping[str, re.Pattern[bytes]]
    handler: Handler


class FastLane:
    """ASGI middleware in front of the app: answers `routes` when it can, else passes on."""

    def __init__(self, app: ASGIApp, routes: tuple[LaneRoute, ...]) -> None:
        self.app = app
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            body = await self._answer(scope)
            if body is not None:
                await send(
                    {
                        "type": "http.response.start",
                        "status": 200,
                        "headers": [
                            (b"content-length", str(len(body)).encode()),
                            (b"content-type", b"application/json"),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)

    async def _answer(self, scope: Scope) -> bytes | None:
        path: str = scope["path"]
        for route in self.routes:
            match = route.path.fullmatch(path)
            if match is not None:
                break
        else:
            return None
        query = _plain_query(scope.get("query_string", b""), route.params)
        if query is None:
            return None
        services: Services = scope["app"].state.runtime.services
        auth = _cached_auth(services, scope["headers"])
        if auth is None:
            return None
        try:
            return await route.handler(services, auth.actor, match, query)
        except Exception:  # FastAPI does it again and shapes the error (docstring)
            return None


def _plain_query(raw: bytes, params: Mapping[str, re.Pattern[bytes]]) -> dict[str, str] | None:
    if not raw:
        return {}
    try:
        pairs = parse_query(raw)
    except InvalidInput:
        return None
    query: dict[str, str] = {}
    for name, value in pairs:
        form = params.get(name)
        if form is None or name in query or form.fullmatch(value) is None:
            return None
        query[name] = value.decode()
    return query


def _cached_auth(services: Services, headers: list[tuple[bytes, bytes]]) -> Authenticated | None:
    token = ""
    for name, value in headers:
        if name == b"authorization":
            scheme, _, credentials = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer":
                token = credentials.strip()
            break
    else:
        for name, value in headers:
            if name == b"cookie":
                token = cookie_parser(value.decode("latin-1")).get(SESSION_COOKIE, "")
                break
    if not token or len(token) > _TOKEN_CHARS:
        return None
    return services.auth_cache.get(hash_secret(token))
