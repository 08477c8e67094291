"""Messages and attachments."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, File, Query, Request, Response, UploadFile
from fastapi.responses import FileResponse

from parlour.actions import attachments as attachment_actions
from parlour.actions import messages as message_actions
from parlour.actions.attachments import INLINE_SAFE
from parlour.actions.context import Actor
from parlour.actions.pages import message_page_json
from parlour.actions.thread_page import thread_page_json
from parlour.api.deps import (
    AUTH_ERRORS,
    BODY_ERRORS,
    CurrentActor,
    ServicesDep,
    error_responses,
)
from parlour.api.id_check import (
    AfterIdQuery,
    AttachmentIdPath,
    AuthorIdQuery,
    BeforeIdQuery,
    MessageIdPath,
    RoomIdPath,
    RoomIdQuery,
)
from parlour.api.throttle import throttles
from parlour.errors import RateLimited
from parlour.events.types import message_json
from parlour.schemas import (
    NO_NUL,
    AttachmentOut,
    EditMessageIn,
    MessageOut,
    MessageVersionOut,
    SendMessageIn,
)
from parlour.services import Services

router = APIRouter(prefix="/api/v1", tags=["messages"])


@router.get(
    "/rooms/{room_id}/messages",
    response_model=list[MessageOut],
    responses=error_responses(401, 404, 422),
)
async def list_messages(
    room_id: RoomIdPath,
    actor: CurrentActor,
    services: ServicesDep,
    before: BeforeIdQuery = None,
    after: AfterIdQuery = None,
    limit: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    # Built as JSON from driver rows (actions/pages.py): the same document as list[MessageOut].
    page = await message_page_json(
        services, actor, room_id, before=before, after=after, limit=limit
    )
    return Response(page, media_type="application/json")


@router.post(
    "/rooms/{room_id}/messages",
    response_model=MessageOut,
    status_code=201,
    responses={
        200: {"model": MessageOut, "description": "A retry: the first message again"},
        **error_responses(*AUTH_ERRORS, *BODY_ERRORS, 404, 429),
    },
)
async def send_message(
    room_id: RoomIdPath,
    body: SendMessageIn,
    actor: CurrentActor,
    services: ServicesDep,
    request: Request,
) -> Response:
    text, status = await send_answer(request.app, services, actor, room_id, body)
    return Response(text, status_code=status, media_type="application/json")


async def send_answer(
    app: object, services: Services, actor: Actor, room_id: str, body: SendMessageIn
) -> tuple[str, int]:
    """The answer to a REST send (its JSON and status), for this route and the fast lane."""
    # Per user, like the socket's per-socket bucket: REST is no way around the flood limit.
    sends = throttles(app, services.limits).sends
    wait = sends.take(actor.user_id, services.clock.monotonic())
    if wait is not None:
        raise RateLimited("Too many messages; slow down.", retry_after=wait)
    message, created = await message_actions.do_send_message(
        services,
        actor,
        room_id,
        body.content,
        body.client_id,
        body.attachment_ids or (),
        body.reply_to,
    )
    # The text the event's payload was spliced around (events.types.EncodedMessage): the answer
    # costs no second encoding. The same JSON as the declared MessageOut, byte for byte.
    return message_json(message), 201 if created else 200


@router.patch(
    "/messages/{message_id}",
    response_model=MessageOut,
    responses=error_responses(*AUTH_ERRORS, *BODY_ERRORS, 404),
)
async def edit_message(
    message_id: MessageIdPath, body: EditMessageIn, actor: CurrentActor, services: ServicesDep
) -> MessageOut:
    return await message_actions.do_edit_message(services, actor, message_id, body.content)


@router.delete(
    "/messages/{message_id}",
    status_code=204,
    responses=error_responses(*AUTH_ERRORS, 404, 422),
)
async def delete_message(
    message_id: MessageIdPath, actor: CurrentActor, services: ServicesDep
) -> Response:
    await message_actions.do_delete_message(services, actor, message_id)
    return Response(status_code=204)


@router.get(
    "/messages/{message_id}/history",
    response_model=list[MessageVersionOut],
    responses=error_responses(401, 404, 422),
)
async def message_history(
    message_id: MessageIdPath, actor: CurrentActor, services: ServicesDep
) -> list[MessageVersionOut]:
    return await message_actions.message_history(services, actor, message_id)


@router.get(
    "/messages/{message_id}/thread",
    response_model=list[MessageOut],
    responses=error_responses(401, 404, 422),
)
async def thread(
    message_id: MessageIdPath,
    actor: CurrentActor,
    services: ServicesDep,
    after: AfterIdQuery = None,
    limit: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    # Built as JSON from driver rows, like a room's page: the same document as list[MessageOut].
    page = await thread_page_json(services, actor, message_id, after=after, limit=limit)
    return Response(page, media_type="application/json")


@router.get("/messages", response_model=list[MessageOut], responses=error_responses(401, 404, 422))
async def search_messages(
    actor: CurrentActor,
    services: ServicesDep,
    q: Annotated[str, Query(max_length=500, pattern=NO_NUL)] = "",
    room_id: RoomIdQuery = None,
    author_id: AuthorIdQuery = None,
    before: BeforeIdQuery = None,
    limit: Annotated[int | None, Query(ge=1)] = None,
) -> list[MessageOut]:
    return await message_actions.search_messages(
        services,
        actor,
        query=q,
        room_id=room_id,
        author_id=author_id,
        before=before,
        limit=limit,
    )


@router.post(
    "/attachments",
    response_model=AttachmentOut,
    status_code=201,
    tags=["attachments"],
    responses=error_responses(*AUTH_ERRORS, *BODY_ERRORS),
)
async def upload(
    file: Annotated[UploadFile, File()], actor: CurrentActor, services: ServicesDep
) -> AttachmentOut:
    async def chunks() -> AsyncIterator[bytes]:
        while chunk := await file.read(256 * 1024):
            yield chunk

    return await attachment_actions.do_upload(
        services, actor, file.filename or "file", file.content_type, chunks()
    )


@router.get(
    "/attachments/{attachment_id}",
    response_class=FileResponse,
    responses={
        200: {
            "description": "The file: inline for a few safe types, else a download",
            "content": {
                media: {"schema": {"type": "string", "format": "binary"}}
                for media in ("application/octet-stream", *sorted(INLINE_SAFE))
            },
        },
        **error_responses(401, 404, 422),
    },
    tags=["attachments"],
)
async def download(
    attachment_id: AttachmentIdPath, actor: CurrentActor, services: ServicesDep
) -> FileResponse:
    found = await attachment_actions.open_download(services, actor, attachment_id)
    response = FileResponse(
        found.path,
        media_type=found.content_type if found.inline else "application/octet-stream",
        filename=found.filename,
        content_disposition_type="inline" if found.inline else "attachment",
    )
    # Uploaded bytes never run as our page: no sniffing, no scripts, no framing.
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
