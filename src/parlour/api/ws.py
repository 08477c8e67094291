"""`GET /api/v1/events`: the WebSocket event stream.

Order of a connection: authenticate (cookie needs an allowed Origin), attach to the hub (which
fixes the live position P), send `hello`, replay what the client missed up to P from the database,
then stream live events (all above P). Replay and live never overlap and leave no gap.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import orjson
from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketDisconnect, WebSocketState

from parlour.actions import messages as message_actions
from parlour.actions import reads as read_actions
from parlour.actions.auth import Authenticated, authenticate
from parlour.actions.context import Actor
from parlour.actions.present import user_out
from parlour.actions.replay import is_last_page, next_replay_page, plan_replay
from parlour.actions.revocation import check_session
from parlour.api.deps import SESSION_COOKIE, bearer_token, get_runtime, get_services
from parlour.api.id_check import check_id
from parlour.api.throttle import TOO_MANY_SOCKETS, TokenBucket, throttles
from parlour.errors import InvalidInput, NotLoggedIn, ParlourError, RateLimited, Unavailable
from parlour.events import stream
from parlour.events.hub import Subscriber
from parlour.events.realtime import Realtime
from parlour.events.types import Ack, Hello, Pong, ResyncRequired
from parlour.events.types import Error as ErrorFrame
from parlour.services import Services
from parlour.storage.engine import is_connection_error

log = logging.getLogger(__name__)
router = APIRouter()

# Frames without a payload, encoded once.
RESYNC_REQUIRED = ResyncRequired().to_json()
PONG = Pong().to_json()
MAX_SENDS_IN_FLIGHT = 64


def _origin_allowed(websocket: WebSocket, services: Services) -> bool:
    origin = websocket.headers.get("origin")
    if origin is None:
        return False
    allowed = set(services.settings.allowed_origins)
    host = websocket.headers.get("host", "")
    allowed.update({f"http://{host}", f"https://{host}"})
    return origin in allowed


async def _authenticate(websocket: WebSocket, services: Services) -> Authenticated | None:
    token = websocket.query_params.get("token") or bearer_token(websocket)
    if token is None:
        cookie = websocket.cookies.get(SESSION_COOKIE)
        # A cookie rides along on any page's request: only our own pages may use it here
        # (cross-site WebSocket hijacking).
        if not cookie or not _origin_allowed(websocket, services):
            return None
        token = cookie
    try:
        return await authenticate(services, token)
    except NotLoggedIn:
        return None


def _error_frame(error: ParlourError, client_id: str | None = None) -> str:
    # `retryable`: the same frame may succeed later unchanged (database restarting, rate limit);
    # a send retried with the same client_id is never stored twice.
    return ErrorFrame.of(error, client_id).to_json()


@router.websocket("/api/v1/events")
async def events(websocket: WebSocket) -> None:
    services = get_services(websocket)
    realtime = get_runtime(websocket).realtime
    auth = await _authenticate(websocket, services)
    if auth is None:
        await websocket.close(code=4401)
        return
    await websocket.accept()
    actor = auth.actor
    subscriber = Subscriber(actor.user_id, actor.session_id, services.limits.socket_queue_frames)
    since = websocket.query_params.get("since")
    since_id = stream.decode_cursor(services.epoch, since) if since else None
    if since_id is not None:
        subscriber.floor = since_id
    # Counted here, with no await since the check, so sockets arriving together cannot all pass;
    # released where the hub lets the socket go.
    sockets = throttles(websocket.app, services.limits).sockets
    if not sockets.acquire(actor.user_id):
        await websocket.close(code=TOO_MANY_SOCKETS, reason="Too many open sockets for this user.")
        return
    try:
        position = await realtime.hub.attach(subscriber)
        # The hub closes a session's sockets as it passes the revocation event; a session revoked
        # between authentication and attaching had no socket attached then: look again now.
        await _check_still_authenticated(services, actor)
    except BaseException as error:
        realtime.hub.detach(subscriber)  # revoked, or cancelled just as it was attached
        sockets.release(actor.user_id)
        if isinstance(error, NotLoggedIn):
            await websocket.close(code=4401)
            return
        raise
    realtime.socket_opened(actor.user_id)
    try:
        await _serve(websocket, services, realtime, auth, subscriber, since, position)
    except WebSocketDisconnect:
        pass
    finally:
        subscriber.close(1000)
        realtime.hub.detach(subscriber)
        sockets.release(actor.user_id)
        realtime.socket_closed(actor.user_id)


async def _check_still_authenticated(services: Services, actor: Actor) -> None:
    async with services.db.read_session() as session:
        await check_session(session, actor)


async def _serve(
    websocket: WebSocket,
    services: Services,
    realtime: Realtime,
    auth: Authenticated,
    subscriber: Subscriber,
    since: str | None,
    position: int,
) -> None:
    actor = auth.actor
    plan = await plan_replay(services, actor.user_id, since, position)
    start, first_page = plan.start, plan.first_page
    hello_cursor = (
        since if start is not None and since else stream.encode_cursor(services.epoch, position)
    )
    user = user_out(auth.user, services.presence)
    await websocket.send_text(Hello(cursor=hello_cursor, user=user).to_json())
    if start is None:
        subscriber.floor = 0
        await websocket.send_text(RESYNC_REQUIRED)
    elif first_page:
        await _replay(websocket, services, actor, first_page, position)

    sender = asyncio.create_task(_send_loop(websocket, subscriber))
    try:
        await _receive_loop(websocket, services, realtime, actor, subscriber)
    finally:
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await sender


async def _replay(
    websocket: WebSocket,
    services: Services,
    actor: Actor,
    page: list[stream.StoredEvent],
    up_to: int,
) -> None:
    while True:
        for event in page:
            if event.type not in stream.INTERNAL_TYPES:
                await websocket.send_text(event.frame_text(services.epoch))
        if is_last_page(page, up_to):
            return
        next_page = await next_replay_page(services, actor.user_id, page[-1].id, up_to)
        if next_page is None:
            await websocket.send_text(RESYNC_REQUIRED)
            return
        page = next_page


async def _send_loop(websocket: WebSocket, subscriber: Subscriber) -> None:
    while True:
        frames = await subscriber.next_frames()
        if not frames:
            # Closed by the hub: revoked (4401), slow consumer (4008) or shutdown (1012).
            if websocket.application_state == WebSocketState.CONNECTED:
                with contextlib.suppress(Exception):
                    await websocket.close(code=subscriber.close_code)
            return
        for frame in frames:
            if subscriber.closed:
                break  # closed meanwhile (slow consumer): send the close now, not a backlog
            await websocket.send_text(frame)


async def _receive_loop(
    websocket: WebSocket,
    services: Services,
    realtime: Realtime,
    actor: Actor,
    subscriber: Subscriber,
) -> None:
    limits = services.limits
    clock = services.clock
    bucket = TokenBucket(limits.frames_per_second, limits.frame_burst, clock.monotonic())
    in_flight: set[asyncio.Task[None]] = set()
    while not subscriber.closed:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        raw = message.get("text")
        if raw is None:
            raw_bytes = message.get("bytes") or b""
            raw = raw_bytes.decode("utf-8", errors="replace")
        if len(raw) > limits.frame_bytes:
            subscriber.push(
                _error_frame(
                    InvalidInput(
                        f"A frame is at most {limits.frame_bytes} bytes.", code="frame_too_large"
                    )
                )
            )
            continue
        allowed = bucket.take(clock.monotonic())
        try:
            frame = orjson.loads(raw)
        except orjson.JSONDecodeError:
            if not allowed:
                subscriber.push(_rate_limited_frame(None))
                continue
            subscriber.push(
                _error_frame(InvalidInput("A frame must be JSON.", code="invalid_json"))
            )
            continue
        if not allowed:
            # Parsed first only to name the refused send's client_id: the sender knows to retry.
            client_id = frame.get("client_id") if isinstance(frame, dict) else None
            subscriber.push(_rate_limited_frame(client_id if isinstance(client_id, str) else None))
            continue
        if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
            subscriber.push(
                _error_frame(
                    InvalidInput("A frame is a JSON object with a type.", code="invalid_frame")
                )
            )
            continue
        await _handle(frame, services, realtime, actor, subscriber, in_flight)


def _rate_limited_frame(client_id: str | None) -> str:
    error = RateLimited("Too many frames; slow down.", retry_after=1, code="rate_limited")
    return _error_frame(error, client_id[:100] if client_id is not None else None)


def _id_field(frame: dict[str, Any], name: str) -> str:
    # The same check as a REST path's id: a NUL here once reached a shared send batch and
    # PostgreSQL refused the batch, failing every other user's send in it.
    return check_id(frame.get(name), name)


def _field(frame: dict[str, Any], name: str, *, max_length: int = 64) -> str:
    value = frame.get(name)
    if not isinstance(value, str) or not value or len(value) > max_length:
        raise InvalidInput(
            f"`{name}` must be a non-empty string.", code="invalid_frame", details={"field": name}
        )
    return value


async def _handle(
    frame: dict[str, Any],
    services: Services,
    realtime: Realtime,
    actor: Actor,
    subscriber: Subscriber,
    in_flight: set[asyncio.Task[None]],
) -> None:
    kind = frame["type"]
    client_id = frame.get("client_id") if isinstance(frame.get("client_id"), str) else None
    try:
        if kind == "ping":
            subscriber.push(PONG)
        elif kind == "send":
            room_id = _id_field(frame, "room_id")
            # Shape only (the error frame names it); do_send_message then checks client_id and
            # content exactly as it does for REST.
            client_id = _field(frame, "client_id", max_length=100)
            content = frame.get("content")
            if not isinstance(content, str):
                raise InvalidInput("`content` must be a string.", code="invalid_frame")
            # A reply (API.md, v1 additions): optional, an id like the others.
            reply_to = _id_field(frame, "reply_to") if frame.get("reply_to") is not None else None
            if len(in_flight) >= MAX_SENDS_IN_FLIGHT:
                raise RateLimited("Too many sends in flight.", retry_after=1, code="rate_limited")
            # Sends run concurrently so one socket can fill a group commit; acks carry client_id.
            task = asyncio.create_task(
                _send(services, actor, subscriber, room_id, content, client_id, reply_to)
            )
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
        elif kind == "typing":
            if not realtime.typing(actor.user_id, _id_field(frame, "room_id")):
                raise InvalidInput("No such room.", code="room_not_found")
        elif kind == "read":
            await read_actions.do_mark_read(
                services, actor, _id_field(frame, "room_id"), _id_field(frame, "message_id")
            )
            services.presence.touch(actor.user_id)
        else:
            raise InvalidInput(f"Unknown frame type {kind[:40]!r}.", code="unknown_type")
    except ParlourError as error:
        subscriber.push(_error_frame(error, client_id))
    except Exception as error:
        if not is_connection_error(error):
            raise
        subscriber.push(_error_frame(_unavailable(), client_id))


def _unavailable() -> Unavailable:
    return Unavailable("The database is unavailable; nothing was changed. Retry.")


async def _send(
    services: Services,
    actor: Actor,
    subscriber: Subscriber,
    room_id: str,
    content: str,
    client_id: str,
    reply_to: str | None,
) -> None:
    try:
        message, _ = await message_actions.do_send_message(
            services, actor, room_id, content, client_id, reply_to=reply_to
        )
    except ParlourError as error:
        subscriber.push(_error_frame(error, client_id))
        if isinstance(error, NotLoggedIn):
            subscriber.close(4401)  # the session was revoked: this socket is done, as the hub would
        return
    except Exception as error:
        if is_connection_error(error):
            subscriber.push(_error_frame(_unavailable(), client_id))
            return
        log.exception("send over the socket failed")
        subscriber.push(
            _error_frame(
                ParlourError("The message was not stored.", code="internal_error"), client_id
            )
        )
        return
    services.presence.touch(actor.user_id)
    subscriber.push(Ack.text(client_id, message))
