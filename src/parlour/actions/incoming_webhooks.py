"""Incoming webhooks: a secret URL that posts into one room as the webhook's own bot.

Making one makes its bot (a member of the room, with a session of its own): a post is then an
ordinary send by that bot (actions/sending.py), through every check a send has: the bot's
session not revoked, the bot active and a member of the room. Only the secret's SHA-256 is kept;
a post's secret is compared with it in constant time. An unknown webhook, a wrong secret and a
revoked webhook all get the same 404.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import select

from parlour.actions import link_previews
from parlour.actions.auth import forget_user
from parlour.actions.bots import add_bot_session, add_bot_user, retire_bot
from parlour.actions.checks import (
    check_group_admin,
    check_member_count,
    check_name,
    check_room_access,
)
from parlour.actions.context import Actor
from parlour.actions.messages import check_content
from parlour.actions.rooms import add_memberships
from parlour.actions.sending import SendRequest, sender_for
from parlour.actions.system_lines import post_system_line
from parlour.clock import iso
from parlour.errors import NotFound, NotLoggedIn
from parlour.events.types import RoomMemberAdded
from parlour.ids import new_id
from parlour.schemas import IncomingWebhookCreatedOut, IncomingWebhookOut
from parlour.services import Services
from parlour.storage import rooms as room_queries
from parlour.storage.models import IncomingWebhook, User
from parlour.storage.writer import WriteContext

HOOKS_PATH = "/api/v1/hooks"
# Compared against when the webhook is unknown, so that answer takes what a wrong secret takes.
_NO_HASH = "0" * 64


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def hook_not_found() -> NotFound:
    return NotFound("No such webhook.", code="webhook_not_found")


def webhook_out(hook: IncomingWebhook) -> IncomingWebhookOut:
    return IncomingWebhookOut(
        id=hook.id,
        name=hook.name,
        room_id=hook.room_id,
        created_at=iso(hook.created_at) or "",
        created_by=hook.created_by,
    )


async def do_create_webhook(
    services: Services, actor: Actor, room_id: str, name: str, base_url: str
) -> IncomingWebhookCreatedOut:
    """A webhook of a group or channel I administer; its URL (under `base_url`) is shown once."""
    clean = check_name(name, services.limits)
    secret = secrets.token_urlsafe(32)

    async def job(ctx: WriteContext) -> IncomingWebhook:
        room, mine = await check_room_access(ctx.session, actor, room_id)
        check_group_admin(room, mine)
        count = await room_queries.member_count(ctx.session, room.id)
        check_member_count(services.limits, count + 1)
        bot = await add_bot_user(ctx, actor.org_id, clean)
        session_id, _ = add_bot_session(ctx, bot.id)  # used in-process only: no token kept
        await add_memberships(
            services, ctx, actor, room, [bot.id], set(), event_type=RoomMemberAdded
        )
        await post_system_line(services, ctx, actor, room, "added", [bot.id])
        hook = IncomingWebhook(
            id=new_id(),
            org_id=actor.org_id,
            room_id=room.id,
            bot_user_id=bot.id,
            session_id=session_id,
            name=clean,
            secret_hash=secret_hash(secret),
            created_by=actor.user_id,
            created_at=ctx.clock.now(),
        )
        ctx.session.add(hook)
        await ctx.session.flush()
        return hook

    hook = await services.writer.run(job)
    return IncomingWebhookCreatedOut(
        id=hook.id,
        url=f"{base_url.rstrip('/')}{HOOKS_PATH}/{hook.id}/{secret}",
        name=hook.name,
        room_id=hook.room_id,
        created_at=iso(hook.created_at) or "",
    )


async def list_webhooks(services: Services, actor: Actor, room_id: str) -> list[IncomingWebhookOut]:
    """The room's webhooks not revoked, oldest first (room admins); never their secrets."""
    async with services.db.read_session() as session:
        room, mine = await check_room_access(session, actor, room_id)
        check_group_admin(room, mine)
        hooks = await session.scalars(
            select(IncomingWebhook)
            .where(IncomingWebhook.room_id == room.id, IncomingWebhook.revoked_at.is_(None))
            .order_by(IncomingWebhook.created_at, IncomingWebhook.id)
        )
        return [webhook_out(hook) for hook in hooks]


async def do_revoke_webhook(services: Services, actor: Actor, webhook_id: str) -> None:
    """A room admin of its room or an org admin revokes it: its URL answers 404 from now on,
    its session ends and its bot is deactivated."""
    bot_id: str | None = None

    async def job(ctx: WriteContext) -> None:
        nonlocal bot_id
        hook = await ctx.session.get(IncomingWebhook, webhook_id)
        if hook is None or hook.org_id != actor.org_id or hook.revoked_at is not None:
            raise hook_not_found()
        if not actor.is_admin:
            try:
                room, mine = await check_room_access(ctx.session, actor, hook.room_id)
            except NotFound:
                raise hook_not_found() from None
            check_group_admin(room, mine)
        hook.revoked_at = ctx.clock.now()
        bot_id = hook.bot_user_id
        bot = await ctx.session.get(User, hook.bot_user_id)
        assert bot is not None
        await retire_bot(ctx, bot)

    try:
        await services.writer.run(job)
    finally:
        if bot_id is not None:
            forget_user(services, bot_id)


@dataclass(frozen=True)
class HookTarget:
    webhook_id: str
    room_id: str
    bot: Actor


async def find_webhook(services: Services, webhook_id: str, secret: str) -> HookTarget:
    """The webhook this URL names, if its secret matches and it is not revoked; else 404."""
    hook = None
    if len(webhook_id) <= 64 and len(secret) <= 200:
        async with services.db.read_session() as session:
            hook = await session.get(IncomingWebhook, webhook_id)
    stored = hook.secret_hash if hook is not None else _NO_HASH
    matches = hmac.compare_digest(secret_hash(secret).encode(), stored.encode())
    if hook is None or not matches or hook.revoked_at is not None:
        raise hook_not_found()
    return HookTarget(
        webhook_id=hook.id,
        room_id=hook.room_id,
        bot=Actor(
            user_id=hook.bot_user_id, org_id=hook.org_id, is_admin=False, session_id=hook.session_id
        ),
    )


async def post_to_webhook(
    services: Services, target: HookTarget, text: str, label: str | None
) -> str:
    """Send `text` (Markdown) as the webhook's bot; the message's id. A webhook revoked (or its
    bot retired) since `find_webhook` is refused by the send's own checks: 404 as well."""
    check_content(services, text, allow_empty=False)
    request = SendRequest(target.bot, target.room_id, text, None, label=label)
    try:
        message, _ = await sender_for(services).submit(request)
    except (NotFound, NotLoggedIn):
        raise hook_not_found() from None
    link_previews.schedule(services, message.id, message.content)  # as every send's
    return message.id


async def is_incoming_webhook(services: Services, webhook_id: str) -> bool:
    """Whether the id names an incoming webhook (of any organization, revoked or not):
    `DELETE /webhooks/{id}` serves incoming and outgoing webhooks alike, by their id."""
    async with services.db.read_session() as session:
        found = await session.scalar(
            select(IncomingWebhook.id).where(IncomingWebhook.id == webhook_id)
        )
    return found is not None
