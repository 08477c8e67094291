"""Avatars: one small image per user, shown instead of initials.

The image is kept in the database (`user_avatars`), not on disk: every process and machine of
the server then serves the same one. Its type is read from its first bytes, never from what the
upload declares; only raster types a browser shows without running anything are taken (no SVG:
it can carry scripts). `users.avatar_version` changes with every upload, and the avatar's URL
carries it, so a browser may keep an avatar for good and a new one is a new URL.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from parlour.actions.auth import announce_user_changed, forget_user
from parlour.actions.context import Actor
from parlour.actions.present import me_out
from parlour.errors import InvalidInput, NotFound, TooLarge
from parlour.ids import new_id
from parlour.schemas import MeOut
from parlour.services import Services
from parlour.storage.models import User, UserAvatar
from parlour.storage.writer import Job, WriteContext

# Under the request body limit (1 MB), so that this check is the one an upload meets.
AVATAR_BYTES = 512 * 1024


def image_type(data: bytes) -> str | None:
    """The image type its magic bytes say, among the ones taken; else None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


async def read_capped(chunks: AsyncIterator[bytes], limit: int = AVATAR_BYTES) -> bytes:
    """The upload's bytes, refused (413) as soon as they pass the limit: nothing over it kept."""
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise TooLarge(
                f"An avatar is at most {limit} bytes.",
                code="avatar_too_large",
                details={"limit": limit},
            )
        parts.append(chunk)
    return b"".join(parts)


async def do_set_avatar(services: Services, actor: Actor, data: bytes) -> MeOut:
    kind = image_type(data)
    if kind is None:
        raise InvalidInput("An avatar is a PNG, JPEG, GIF or WebP image.", code="invalid_image")

    async def job(ctx: WriteContext) -> User:
        user = await ctx.session.get(User, actor.user_id)
        assert user is not None
        stored = await ctx.session.get(UserAvatar, actor.user_id)
        if stored is None:
            ctx.session.add(UserAvatar(user_id=actor.user_id, content_type=kind, data=data))
        else:
            stored.content_type, stored.data = kind, data
        user.avatar_version = new_id()
        await announce_user_changed(ctx, user)
        await ctx.session.flush()
        return user

    return await _changed(services, actor, job)


async def do_remove_avatar(services: Services, actor: Actor) -> MeOut:
    async def job(ctx: WriteContext) -> User:
        user = await ctx.session.get(User, actor.user_id)
        assert user is not None
        stored = await ctx.session.get(UserAvatar, actor.user_id)
        if stored is not None:
            await ctx.session.delete(stored)
            user.avatar_version = None
            await announce_user_changed(ctx, user)
        await ctx.session.flush()
        return user

    return await _changed(services, actor, job)


async def _changed(services: Services, actor: Actor, job: Job[User]) -> MeOut:
    try:
        user = await services.writer.run(job)
    finally:
        forget_user(services, actor.user_id)
    return me_out(user, services.presence)


@dataclass(frozen=True, slots=True)
class Avatar:
    content_type: str
    data: bytes
    version: str


async def get_avatar(services: Services, actor: Actor, user_id: str) -> Avatar:
    """Anyone of the user's organization may see their avatar; others get 404, as for users."""
    async with services.db.read_session() as session:
        user = await session.get(User, user_id)
        if user is None or user.org_id != actor.org_id or user.avatar_version is None:
            raise NotFound("No such avatar.", code="avatar_not_found")
        stored = await session.get(UserAvatar, user_id)
        if stored is None:
            raise NotFound("No such avatar.", code="avatar_not_found")
        return Avatar(stored.content_type, stored.data, user.avatar_version)
