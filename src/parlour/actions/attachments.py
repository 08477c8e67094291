"""File attachments: stored on disk under the data dir, served only to members of a room where
they were posted (or to the uploader before posting)."""

from __future__ import annotations

import mimetypes
import os
import re
import unicodedata
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from parlour.actions.context import Actor
from parlour.actions.present import attachment_out
from parlour.errors import InvalidInput, NotFound, TooLarge
from parlour.ids import new_id
from parlour.schemas import AttachmentOut
from parlour.services import Services
from parlour.storage import rooms as room_queries
from parlour.storage.models import Attachment, Message
from parlour.storage.writer import WriteContext

# Types a browser may render inline without running anything of the uploader's.
INLINE_SAFE = frozenset(
    {"image/png", "image/jpeg", "image/gif", "image/webp", "text/plain", "application/pdf"}
)
_UNSAFE_NAME = re.compile(r"[^\w.\- ()\[\]]+", re.UNICODE)


def clean_filename(name: str) -> str:
    """A display name with no path, control characters or quotes; never empty."""
    base = unicodedata.normalize("NFC", name).replace("\\", "/").rsplit("/", 1)[-1]
    base = _UNSAFE_NAME.sub("_", base).strip(" .")
    return (base or "file")[:200]


def clean_content_type(declared: str | None, filename: str) -> str:
    guessed = mimetypes.guess_type(filename)[0]
    value = (declared or guessed or "application/octet-stream").split(";", 1)[0].strip().lower()
    if not re.fullmatch(r"[a-z0-9.+-]+/[a-z0-9.+-]+", value):
        return "application/octet-stream"
    return value


async def do_upload(
    services: Services,
    actor: Actor,
    filename: str,
    content_type: str | None,
    chunks: AsyncIterator[bytes],
) -> AttachmentOut:
    """Stream the upload to disk, stopping at the limit: nothing over it is kept."""
    limit = services.limits.attachment_bytes
    directory = services.settings.resolved_attachments_dir()
    directory.mkdir(parents=True, exist_ok=True)
    storage_name = new_id()
    path = directory / storage_name
    size = 0
    try:
        with path.open("wb") as handle:
            async for chunk in chunks:
                size += len(chunk)
                if size > limit:
                    raise TooLarge(
                        f"An attachment is at most {limit} bytes.",
                        code="attachment_too_large",
                        details={"limit": limit},
                    )
                handle.write(chunk)
            handle.flush()
            os.fsync(handle.fileno())
        if size == 0:
            raise InvalidInput("The file is empty.", code="empty_file")
        name = clean_filename(filename)
        kind = clean_content_type(content_type, name)

        async def job(ctx: WriteContext) -> Attachment:
            attachment = Attachment(
                id=new_id(),
                org_id=actor.org_id,
                uploader_id=actor.user_id,
                filename=name,
                content_type=kind,
                size=size,
                storage_name=storage_name,
                created_at=ctx.clock.now(),
            )
            ctx.session.add(attachment)
            return attachment

        attachment = await services.writer.run(job)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return attachment_out(attachment)


@dataclass(frozen=True)
class Download:
    path: Path
    filename: str
    content_type: str
    inline: bool


async def open_download(services: Services, actor: Actor, attachment_id: str) -> Download:
    async with services.db.read_session() as session:
        attachment = await session.scalar(
            select(Attachment).where(
                Attachment.id == attachment_id, Attachment.org_id == actor.org_id
            )
        )
        allowed = False
        if attachment is not None:
            if attachment.message_seq is None:
                allowed = attachment.uploader_id == actor.user_id
            else:
                # A deleted message takes its files with it.
                room_id = await session.scalar(
                    select(Message.room_id).where(
                        Message.seq == attachment.message_seq, Message.deleted.is_(False)
                    )
                )
                allowed = room_id is not None and (
                    await room_queries.current_membership(session, room_id, actor.user_id)
                    is not None
                )
    if attachment is None or not allowed:
        raise NotFound("No such attachment.", code="attachment_not_found")
    path = services.settings.resolved_attachments_dir() / attachment.storage_name
    if not path.exists():
        raise NotFound("No such attachment.", code="attachment_not_found")
    return Download(
        path=path,
        filename=attachment.filename,
        content_type=attachment.content_type,
        inline=attachment.content_type in INLINE_SAFE,
    )
