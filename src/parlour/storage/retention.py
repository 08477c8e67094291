"""Retention queries: rows of each kind that nothing needs any more, found and deleted by chunk.

Finding may scan a table, so it runs in a read session, outside the global write order; deleting
runs inside a writer job, by primary key, with the rule re-checked in the same statement. So a
writer job is short and bounded (at most `limit` rows), and a row changed or removed in between
(by a send claiming an attachment, or by another process's housekeeping) is simply not deleted.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Delete, Select, and_, delete, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from parlour.storage.models import (
    PRUNED_BEFORE_KEY,
    Attachment,
    Event,
    LoginFailure,
    Membership,
    Message,
    MessageVersion,
    Session,
    StreamMeta,
)
from parlour.storage.writer import WriteContext


async def prune_events(ctx: WriteContext, cutoff: datetime, limit: int) -> int:
    """Drop the oldest events created before `cutoff`, and move the stream's start past them.

    The kept stream is a suffix: pruning stops at the first event within retention, so a cursor
    is either fully replayable or older than `pruned_before` (and answered with a resync). The
    newest event always stays: the stream's position must never go back, and a cursor at the
    head must stay valid. Only the primary key is used, so no index on `created_at` is needed.
    """
    rows = (
        await ctx.session.execute(
            select(Event.id, Event.created_at).order_by(Event.id).limit(limit)
        )
    ).all()
    if not rows:
        return 0
    head = int(await ctx.session.scalar(select(func.max(Event.id))) or 0)
    last_old: int | None = None
    for event_id, created_at in rows:
        if event_id >= head or created_at >= cutoff:
            break
        last_old = event_id
    if last_old is None:
        return 0
    # Recorded in the same transaction as the delete: no reader ever sees the events gone while
    # a cursor just below them still looks replayable.
    meta = await ctx.session.get(StreamMeta, PRUNED_BEFORE_KEY)
    if meta is None:
        ctx.session.add(StreamMeta(key=PRUNED_BEFORE_KEY, value=str(last_old + 1)))
    elif int(meta.value) <= last_old:
        meta.value = str(last_old + 1)
    return await _rowcount(ctx, delete(Event).where(Event.id <= last_old))


async def old_login_failures(session: AsyncSession, cutoff: datetime, limit: int) -> list[int]:
    """Failed logins older than the throttle window: they no longer count against anyone."""
    return await _ids(session, select(LoginFailure.id).where(LoginFailure.at < cutoff), limit)


async def delete_login_failures(ctx: WriteContext, ids: list[int], cutoff: datetime) -> int:
    stmt = delete(LoginFailure).where(LoginFailure.id.in_(ids), LoginFailure.at < cutoff)
    return await _rowcount(ctx, stmt)


def _message_deleted(seq: Any) -> ColumnElement[bool]:
    return exists().where(Message.seq == seq, Message.deleted.is_(True))


async def versions_of_deleted(session: AsyncSession, limit: int) -> list[int]:
    """Edit history of deleted messages (nobody can read it; do_delete_message drops it too)."""
    stmt = select(MessageVersion.id).where(_message_deleted(MessageVersion.message_seq))
    return await _ids(session, stmt, limit)


async def delete_versions(ctx: WriteContext, ids: list[int]) -> int:
    stmt = delete(MessageVersion).where(
        MessageVersion.id.in_(ids), _message_deleted(MessageVersion.message_seq)
    )
    return await _rowcount(ctx, stmt)


def _unclaimed(cutoff: datetime) -> ColumnElement[bool]:
    return and_(Attachment.message_seq.is_(None), Attachment.created_at < cutoff)


async def unclaimed_attachments(session: AsyncSession, cutoff: datetime, limit: int) -> list[str]:
    """Uploads no message claimed before `cutoff`."""
    return await _ids(session, select(Attachment.id).where(_unclaimed(cutoff)), limit)


async def delete_unclaimed_attachments(
    ctx: WriteContext, ids: list[str], cutoff: datetime
) -> list[str]:
    """Delete those still unclaimed; the names of their files, to remove after the commit.

    A send claiming one of them runs in another writer job, before or after this one, never
    during: either the message owns the attachment (and it stays), or the send answers "not
    found".
    """
    stmt = delete(Attachment).where(Attachment.id.in_(ids), _unclaimed(cutoff))
    return await _storage_names(ctx, stmt)


async def attachments_of_deleted(session: AsyncSession, limit: int) -> list[str]:
    """Attachments of deleted messages: never shown nor served again."""
    stmt = select(Attachment.id).where(_message_deleted(Attachment.message_seq))
    return await _ids(session, stmt, limit)


async def delete_attachments_of_deleted(ctx: WriteContext, ids: list[str]) -> list[str]:
    stmt = delete(Attachment).where(
        Attachment.id.in_(ids), _message_deleted(Attachment.message_seq)
    )
    return await _storage_names(ctx, stmt)


def _revoked_before(cutoff: datetime) -> ColumnElement[bool]:
    return and_(Session.revoked_at.is_not(None), Session.revoked_at < cutoff)


async def revoked_sessions(session: AsyncSession, cutoff: datetime, limit: int) -> list[str]:
    """Sessions revoked before `cutoff`. A token with no row is refused like a revoked one."""
    return await _ids(session, select(Session.id).where(_revoked_before(cutoff)), limit)


async def delete_sessions(ctx: WriteContext, ids: list[str], cutoff: datetime) -> int:
    stmt = delete(Session).where(Session.id.in_(ids), _revoked_before(cutoff))
    return await _rowcount(ctx, stmt)


def _ended_before(kept_from: int) -> ColumnElement[bool]:
    # A span being ended has `end_event_id = -1` inside its own transaction only: never matched.
    return and_(
        Membership.end_event_id.is_not(None),
        Membership.end_event_id > 0,
        Membership.end_event_id < kept_from,
    )


async def ended_memberships(session: AsyncSession, limit: int) -> list[int]:
    """Membership spans that ended before the kept stream starts.

    A span only bounds which events replay sends; every event it covered is gone and every
    cursor that could reach them gets a resync, so it can no longer change any answer.
    """
    kept_from = await _pruned_before(session)
    return await _ids(session, select(Membership.id).where(_ended_before(kept_from)), limit)


async def delete_memberships(ctx: WriteContext, ids: list[int]) -> int:
    kept_from = await _pruned_before(ctx.session)
    stmt = delete(Membership).where(Membership.id.in_(ids), _ended_before(kept_from))
    return await _rowcount(ctx, stmt)


async def known_storage_names(session: AsyncSession, names: Sequence[str]) -> set[str]:
    """Which of these files on disk an attachment row still points to."""
    if not names:
        return set()
    rows = await session.scalars(
        select(Attachment.storage_name).where(Attachment.storage_name.in_(list(names)))
    )
    return set(rows)


async def _pruned_before(session: AsyncSession) -> int:
    value = await session.scalar(
        select(StreamMeta.value).where(StreamMeta.key == PRUNED_BEFORE_KEY)
    )
    return int(value or 0)


async def _ids(session: AsyncSession, stmt: Select[Any], limit: int) -> list[Any]:
    return list(await session.scalars(stmt.limit(limit)))


# The rules are re-checked in SQL, which the ORM cannot evaluate against objects in the session;
# none of the deleted rows is loaded by the job anyway.
_NO_SYNC = {"synchronize_session": False}


async def _storage_names(ctx: WriteContext, stmt: Delete) -> list[str]:
    returning = stmt.returning(Attachment.storage_name).execution_options(**_NO_SYNC)
    return list(await ctx.session.scalars(returning))


async def _rowcount(ctx: WriteContext, stmt: Delete) -> int:
    result = await ctx.session.execute(stmt.execution_options(**_NO_SYNC))
    return int(getattr(result, "rowcount", 0) or 0)
