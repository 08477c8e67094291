"""Messages: send (idempotent by client_id), edit with history, delete, page, search."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from parlour.actions import link_previews, threads
from parlour.actions.checks import check_room_access
from parlour.actions.context import Actor
from parlour.actions.present import message_out, messages_out, user_out
from parlour.actions.reads import emit_unread_of_many
from parlour.actions.sending import SendRequest, mention_candidates, sender_for
from parlour.clock import iso
from parlour.domain.markdown import render_message
from parlour.domain.mentions import find_mentions
from parlour.errors import Forbidden, InvalidInput, NotFound
from parlour.events import stream
from parlour.events.types import MessageDeleted, MessageUnpinned, MessageUpdated
from parlour.schemas import MessageOut, MessageVersionOut
from parlour.services import Services
from parlour.storage import messages as message_queries
from parlour.storage import reactions as reaction_queries
from parlour.storage import rooms as room_queries
from parlour.storage import users as user_queries
from parlour.storage.models import Membership, Message, MessageVersion, Room, User
from parlour.storage.reactions import ReactionView
from parlour.storage.writer import WriteContext

CLIENT_ID_CHARS = 100  # the column's width


def check_content(services: Services, content: str, *, allow_empty: bool) -> str:
    limit = services.limits.message_chars
    if len(content) > limit:
        raise InvalidInput(
            f"A message is at most {limit} characters.",
            code="content_too_long",
            details={"limit": limit, "length": len(content)},
        )
    if "\x00" in content:
        # PostgreSQL cannot store NUL in text; refused here, before it could fail a whole batch.
        raise InvalidInput("A message cannot contain NUL characters.", code="invalid_characters")
    if not allow_empty and not content.strip():
        raise InvalidInput("A message needs some content.", code="content_required")
    return content


async def _render(ctx: WriteContext, room_id: str, content: str) -> tuple[str, list[str]]:
    """HTML and mentioned member ids. Members are loaded only when the text has an `@`."""
    mentions: dict[str, str] = {}
    if "@" in content:
        candidates = await mention_candidates(ctx, {room_id})
        mentions = find_mentions(content, candidates[room_id])
    return render_message(content, mentions), list(dict.fromkeys(mentions.values()))


async def _message_view(
    services: Services, ctx: WriteContext, message: Message, author: User | None = None
) -> MessageOut:
    author = author or await ctx.session.get(User, message.author_id)
    assert author is not None
    attachments = (await message_queries.attachments_for(ctx.session, [message.seq])).get(
        message.seq, []
    )
    reactions: list[ReactionView] = []
    if message.has_reactions:
        reactions = (await reaction_queries.reactions_for(ctx.session, [message.seq]))[message.seq]
    return message_out(message, user_out(author, services.presence), attachments, reactions)


async def do_send_message(
    services: Services,
    actor: Actor,
    room_id: str,
    content: str,
    client_id: str | None = None,
    attachment_ids: Sequence[str] = (),
    reply_to: str | None = None,
) -> tuple[MessageOut, bool]:
    """Store a message and its event; returns (message, created).

    Returns only after the commit: an acknowledged message is durable. A retry with the same
    `client_id` returns the first message, whatever the retry carries.
    """
    check_content(services, content, allow_empty=bool(attachment_ids))
    if client_id is not None and (
        not client_id.strip() or len(client_id) > CLIENT_ID_CHARS or "\x00" in client_id
    ):
        # Checked here, not left to the column: a value the database refuses would fail the
        # whole batch of sends it was folded into.
        raise InvalidInput(
            f"client_id must be 1 to {CLIENT_ID_CHARS} characters, without NUL.",
            code="invalid_client_id",
        )
    if len(attachment_ids) > 20:
        raise InvalidInput("At most 20 attachments per message.", code="too_many_attachments")
    request = SendRequest(actor, room_id, content, client_id, tuple(attachment_ids), reply_to)
    message, created = await sender_for(services).submit(request)
    if created:  # its links' previews come later (`message.updated`), off this path
        link_previews.schedule(services, message.id, message.content)
    return message, created


async def message_in_my_room(
    ctx: WriteContext, actor: Actor, message_id: str, *, for_update: bool = False
) -> tuple[Message, Room, Membership]:
    message = await message_queries.by_id(ctx.session, message_id, for_update=for_update)
    if message is None:
        raise NotFound("No such message.", code="message_not_found")
    try:
        room, mine = await check_room_access(ctx.session, actor, message.room_id)
    except NotFound:
        raise NotFound("No such message.", code="message_not_found") from None
    return message, room, mine


async def do_edit_message(
    services: Services, actor: Actor, message_id: str, content: str
) -> MessageOut:
    check_content(services, content, allow_empty=False)

    async def job(ctx: WriteContext) -> MessageOut:
        message, room, _ = await message_in_my_room(ctx, actor, message_id)
        if message.author_id != actor.user_id:
            raise Forbidden("Only the author can edit a message.", code="not_author")
        if message.deleted:
            raise InvalidInput("A deleted message cannot be edited.", code="message_deleted")
        if message.system:  # it says what happened; its author did not write it
            raise InvalidInput("A system line cannot be edited.", code="system_message")
        if content == message.content:
            return await _message_view(services, ctx, message)
        ctx.session.add(
            MessageVersion(
                message_seq=message.seq,
                content=message.content,
                html=message.html,
                created_at=message.edited_at or message.created_at,
            )
        )
        html, mentioned = await _render(ctx, room.id, content)
        before = set(message.mentions or [])
        message.content = content
        message.html = html
        message.mentions = mentioned
        message.edited_at = ctx.clock.now()
        if message.previews:  # the links still there keep theirs; new ones are queued below
            message.previews = link_previews.kept_previews(message.previews, content)
        await ctx.session.flush()
        view = await _message_view(services, ctx, message)
        await stream.append(
            ctx,
            org_id=actor.org_id,
            event=MessageUpdated(message=view),
            room_id=room.id,
        )
        await _mentions_changed(services, ctx, actor, message, room.id, before)
        return view

    edited = await services.writer.run(job)
    link_previews.schedule(services, edited.id, edited.content)
    return edited


async def _mentions_changed(
    services: Services,
    ctx: WriteContext,
    actor: Actor,
    message: Message,
    room_id: str,
    before: set[str],
) -> None:
    """An edit that mentions someone new (or no longer): their mention counts move, so they hear
    them; someone newly mentioned in a reply follows its thread from that reply on."""
    after = set(message.mentions or [])
    if message.reply_to and after - before:
        await threads.follow(
            services, ctx, {(message.reply_to, uid): message.seq for uid in after - before}
        )
    changed = (before ^ after) - {actor.user_id}
    if changed:
        members = set(await room_queries.member_ids(ctx.session, room_id))
        await emit_unread_of_many(ctx, actor.org_id, sorted(changed & members), room_id)


async def do_delete_message(services: Services, actor: Actor, message_id: str) -> None:
    """Author or group admin. A tombstone keeps the id and the place; the content goes."""

    async def job(ctx: WriteContext) -> None:
        # Held (PostgreSQL): a reaction being added at this moment must not outlive the content.
        message, room, mine = await message_in_my_room(ctx, actor, message_id, for_update=True)
        if message.author_id != actor.user_id and not (room.type != "direct" and mine.is_admin):
            raise Forbidden(
                "Only the author or a room admin can delete a message.", code="not_author"
            )
        if message.deleted:
            return
        # Members who had it unread: their counts drop, so they hear about it.
        affected = list(
            await ctx.session.scalars(
                select(Membership.user_id).where(
                    Membership.room_id == room.id,
                    Membership.end_event_id.is_(None),
                    Membership.last_read_seq < message.seq,
                    Membership.user_id != message.author_id,
                )
            )
        )
        was_pinned = message.pinned_at is not None
        message.deleted = True
        message.content = ""
        message.html = ""
        message.mentions = []
        message.edited_at = ctx.clock.now()
        message.pinned_at = message.pinned_by = None
        await reaction_queries.clear(ctx.session, message)
        # The content goes, so its edit history goes with it, in the same transaction.
        await ctx.session.execute(
            delete(MessageVersion).where(MessageVersion.message_seq == message.seq)
        )
        await ctx.session.flush()
        view = await _message_view(services, ctx, message)
        await stream.append(
            ctx,
            org_id=actor.org_id,
            event=MessageDeleted(message=view),
            room_id=room.id,
        )
        if was_pinned:  # the room's pinned lists lose it
            await stream.append(
                ctx,
                org_id=actor.org_id,
                event=MessageUnpinned(
                    room_id=room.id, message_id=message.id, user_id=actor.user_id
                ),
                room_id=room.id,
            )
        await emit_unread_of_many(ctx, actor.org_id, affected, room.id)

    await services.writer.run(job)


async def _resolve_seq(session: AsyncSession, room_id: str, message_id: str | None) -> int | None:
    if message_id is None:
        return None
    message = await message_queries.by_id(session, message_id)
    if message is None or message.room_id != room_id:
        raise NotFound("No such message in this room.", code="message_not_found")
    return message.seq


def clamp_limit(services: Services, limit: int | None, default: int = 50) -> int:
    if limit is None:
        return default
    if limit < 1:
        raise InvalidInput("limit must be at least 1.", code="invalid_limit")
    return min(limit, services.limits.page_size)


async def message_history(
    services: Services, actor: Actor, message_id: str
) -> list[MessageVersionOut]:
    async with services.db.read_session() as session:
        message = await message_queries.by_id(session, message_id)
        if message is None:
            raise NotFound("No such message.", code="message_not_found")
        try:
            await check_room_access(session, actor, message.room_id)
        except NotFound:
            raise NotFound("No such message.", code="message_not_found") from None
        versions = await session.scalars(
            select(MessageVersion)
            .where(MessageVersion.message_seq == message.seq)
            .order_by(MessageVersion.id)
        )
        history = [
            MessageVersionOut(content=v.content, html=v.html, created_at=iso(v.created_at) or "")
            for v in versions
        ]
        history.append(
            MessageVersionOut(
                content=message.content,
                html=message.html,
                created_at=iso(message.edited_at or message.created_at) or "",
            )
        )
        return history


async def _can_see_room(session: AsyncSession, actor: Actor, room_id: str) -> bool:
    try:
        await check_room_access(session, actor, room_id)
    except NotFound:
        return False
    return True


async def search_messages(
    services: Services,
    actor: Actor,
    *,
    query: str = "",
    room_id: str | None = None,
    author_id: str | None = None,
    before: str | None = None,
    limit: int | None = None,
) -> list[MessageOut]:
    # A search may scan every message (a substring fallback): on the slow reader, which keeps
    # its statements off the event loop (storage/engine.py).
    async with services.db.slow_read_session() as session:
        if room_id is not None:
            await check_room_access(session, actor, room_id)
        before_seq = None
        if before is not None:
            anchor = await message_queries.by_id(session, before)
            # An anchor in a room I cannot see is as unknown as a made-up id: the same 404,
            # or the answer would tell that the message exists.
            if anchor is None or not await _can_see_room(session, actor, anchor.room_id):
                raise NotFound("No such message.", code="message_not_found")
            before_seq = anchor.seq
        if (
            author_id is not None
            and await user_queries.in_org(session, actor.org_id, author_id) is None
        ):
            return []
        rows = await message_queries.search(
            session,
            user_id=actor.user_id,
            query=query,
            room_id=room_id,
            author_id=author_id,
            before_seq=before_seq,
            limit=clamp_limit(services, limit),
            dialect=services.dialect,
        )
        return await messages_out(session, rows, services.presence)
