"""Avatars: upload and remove mine, see anyone's of my organization."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, File, Query, Response, UploadFile

from parlour.actions import avatars
from parlour.api.deps import AUTH_ERRORS, BODY_ERRORS, CurrentActor, ServicesDep, error_responses
from parlour.api.id_check import UserIdPath
from parlour.schemas import MeOut

router = APIRouter(prefix="/api/v1", tags=["users"])


@router.put(
    "/users/me/avatar",
    response_model=MeOut,
    responses=error_responses(*AUTH_ERRORS, *BODY_ERRORS),
)
async def set_avatar(
    file: Annotated[UploadFile, File()], actor: CurrentActor, services: ServicesDep
) -> MeOut:
    """A PNG, JPEG, GIF or WebP image of at most 512 KB (422 `invalid_image`, 413)."""

    async def chunks() -> AsyncIterator[bytes]:
        while chunk := await file.read(64 * 1024):
            yield chunk

    return await avatars.do_set_avatar(services, actor, await avatars.read_capped(chunks()))


@router.delete("/users/me/avatar", response_model=MeOut, responses=error_responses(*AUTH_ERRORS))
async def remove_avatar(actor: CurrentActor, services: ServicesDep) -> MeOut:
    return await avatars.do_remove_avatar(services, actor)


@router.get(
    "/users/{user_id}/avatar",
    response_class=Response,
    responses={
        200: {
            "description": "The image",
            "content": {
                media: {"schema": {"type": "string", "format": "binary"}}
                for media in ("image/png", "image/jpeg", "image/gif", "image/webp")
            },
        },
        **error_responses(401, 404, 422),
    },
)
async def get_avatar(
    user_id: UserIdPath,
    actor: CurrentActor,
    services: ServicesDep,
    v: Annotated[str, Query(max_length=64)] = "",
) -> Response:
    found = await avatars.get_avatar(services, actor, user_id)
    response = Response(found.data, media_type=found.content_type)
    # The URL names its version: the current one may be kept for good, an old one not at all.
    response.headers["Cache-Control"] = (
        "private, max-age=31536000, immutable" if v == found.version else "private, no-cache"
    )
    # Uploaded bytes never run as our page: no sniffing, no scripts, no framing.
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
