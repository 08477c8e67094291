"""The fast lane: the hottest requests answered before FastAPI's routing and dependency solving.

Why: on this machine FastAPI's router and dependency solving cost about 0.3 ms a request (a
404 alone runs at ~2,800 req/s on one core, where the bare uvicorn + Starlette stack serves
~28,000), more than a whole page's reads and JSON. Clients read pages and unread counts and post
messages all day, so those few routes get a lane of their own.

One behaviour, whichever way a request goes:
- The routes stay declared in FastAPI: the OpenAPI document, and the answer to anything unusual.
- The lane takes only the plain case: a token this process's auth cache already holds
  (`actions.auth_cache`, kept exact by the stream) sent as a Bearer header (or, for a GET, as the
  session cookie: only writes need the CSRF header); a query string of the route's own
  parameters, each once, in their strict form (`api.query`'s rules, or stricter); a JSON body
  within the limit, declared by Content-Length, that the route's own model takes as it is
  (otherwise the handler returns None). Everything else goes on to FastAPI untouched, the body
  replayed.
- What the work raises is answered by the app's own exception handlers (api/errors.py), as
  FastAPI would answer it.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from starlette.requests import Request, cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from parlour.actions.auth import Authenticated
from parlour.actions.context import Actor
from parlour.api.deps import SESSION_COOKIE
from parlour.api.id_check import ID_CHARS
from parlour.api.query import parse_query
from parlour.errors import InvalidInput
from parlour.ids import hash_secret
from parlour.services import Services

Query = Mapping[str, str]

# The strict forms the lane accepts (anything else is FastAPI's to judge).
ID_VALUE = re.compile(ID_CHARS.encode())
POSITIVE_INT = re.compile(rb"[1-9][0-9]{0,8}")
_TOKEN_CHARS = 200  # as actions.auth.authenticate


@dataclass(frozen=True)
class LaneRequest:
    app: object  # the FastAPI app (per-app state such as the send throttle keys on it)
    services: Services
    actor: Actor
    match: re.Match[str]
    query: Query
    body: bytes


@dataclass(frozen=True)
class Answer:
    body: bytes
    status: int = 200


# None: "not the plain case", and FastAPI answers instead.
Handler = Callable[[LaneRequest], Awaitable[Answer | None]]


@dataclass(frozen=True)
class LaneRoute:
    method: str
    path: re.Pattern[str]
    params: Mapping[str, re.Pattern[bytes]]
    handler: Handler


class FastLane:
    """ASGI middleware in front of the app: answers `routes` when it can, else passes on."""

    def __init__(self, app: ASGIApp, routes: tuple[LaneRoute, ...], body_limit: int) -> None:
        self.app = app
        self.routes = routes
        self.body_limit = body_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        route, match = self._route(scope)
        if route is None or match is None:
            await self.app(scope, receive, send)
            return
        lane = await self._lane_request(scope, receive, route, match)
        if lane is None:
            await self.app(scope, receive, send)
            return
        try:
            answer = await route.handler(lane)
        except Exception as error:  # answered as FastAPI would: by the app's own handlers
            await self._error(scope, receive, send, error)
            return
        if answer is None:
            await self.app(scope, _replaying(lane.body, receive), send)
            return
        await send(
            {
                "type": "http.response.start",
                "status": answer.status,
                "headers": [
                    (b"content-length", str(len(answer.body)).encode()),
                    (b"content-type", b"application/json"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": answer.body})

    def _route(self, scope: Scope) -> tuple[LaneRoute | None, re.Match[str] | None]:
        method, path = scope["method"], scope["path"]
        for route in self.routes:
            if route.method == method:
                match = route.path.fullmatch(path)
                if match is not None:
                    return route, match
        return None, None

    async def _lane_request(
        self, scope: Scope, receive: Receive, route: LaneRoute, match: re.Match[str]
    ) -> LaneRequest | None:
        """The request if it is the plain case (checked before the body is read), else None."""
        query = _plain_query(scope.get("query_string", b""), route.params)
        if query is None:
            return None
        services: Services = scope["app"].state.runtime.services
        auth = _cached_auth(services, scope["headers"], cookie_too=route.method == "GET")
        if auth is None:
            return None
        body = b""
        if route.method != "GET":
            declared = _content_length(scope["headers"])
            if declared is None or declared > self.body_limit or not _is_json(scope["headers"]):
                return None
            body = await _read_body(receive)
        return LaneRequest(scope["app"], services, auth.actor, match, query, body)

    async def _error(self, scope: Scope, receive: Receive, send: Send, error: Exception) -> None:
        handlers = scope["app"].exception_handlers
        handler = next((handlers[cls] for cls in type(error).__mro__ if cls in handlers), None)
        if handler is None:
            raise error
        response = await handler(Request(scope, receive), error)
        await response(scope, receive, send)


def _replaying(body: bytes, receive: Receive) -> Receive:
    """`receive` as if the body had not been read yet."""
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if replayed:
            return await receive()
        replayed = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break  # the client went away; the handler's answer goes nowhere
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _is_json(headers: list[tuple[bytes, bytes]]) -> bool:
    """Declared `application/json` (FastAPI reads other types differently: its to judge)."""
    for name, value in headers:
        if name == b"content-type":
            return value.split(b";", 1)[0].strip().lower() == b"application/json"
    return False


def _content_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    for name, value in headers:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
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


def _cached_auth(
    services: Services, headers: list[tuple[bytes, bytes]], *, cookie_too: bool
) -> Authenticated | None:
    presented = ""
    for name, value in headers:
        if name == b"authorization":
            scheme, _, credentials = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer":
                presented = credentials.strip()
            break
    else:
        if not cookie_too:
            return None
        for name, value in headers:
            if name == b"cookie":
                presented = cookie_parser(value.decode("latin-1")).get(SESSION_COOKIE, "")
                break
    if not presented or len(presented) > _TOKEN_CHARS:
        return None
    return services.auth_cache.get(hash_secret(presented))
