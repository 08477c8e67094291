"""Refuse oversize request bodies before they are read into memory."""

from __future__ import annotations

import asyncio
import contextlib

import orjson
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from parlour.config import Limits

UPLOAD_PATH = "/api/v1/attachments"
# Room for the multipart envelope around a file at the attachment limit.
MULTIPART_OVERHEAD = 64 * 1024


# Past this a declared-oversize body is not worth reading: refuse and close at once.
DRAIN_CAP = 64 * 1024 * 1024
DRAIN_SECONDS = 3.0


async def _drain(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body", False):
            return


class _TooLarge(StarletteHTTPException):
    """An HTTPException so that body parsers which wrap other errors let it through as 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"The request body is over {limit} bytes.")


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, limits: Limits) -> None:
        self.app = app
        self.limits = limits

    def _limit(self, scope: Scope) -> int:
        if scope["path"] == UPLOAD_PATH and scope["method"] == "POST":
            return self.limits.attachment_bytes + MULTIPART_OVERHEAD
        return self.limits.request_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self._limit(scope)
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = limit + 1
                if declared > limit:
                    # Read and drop the body first (memory stays flat): a client still
                    # sending would otherwise see a connection reset instead of the 413.
                    # A client that declares but never sends gets its answer after DRAIN_SECONDS.
                    if declared <= DRAIN_CAP:
                        with contextlib.suppress(TimeoutError):
                            async with asyncio.timeout(DRAIN_SECONDS):
                                await _drain(receive)
                    await self._refuse(send, limit)
                    return
        received = 0
        response_started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _TooLarge(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if not response_started:
                await self._refuse(send, limit)

    async def _refuse(self, send: Send, limit: int) -> None:
        body = orjson.dumps(
            {
                "error": {
                    "code": "body_too_large",
                    "message": f"The request body is over {limit} bytes.",
                    "details": {"limit": limit},
                }
            }
        )
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
