"""Bots: users (`is_bot`) that an org admin makes and that sign in with a token only.

A bot's token is a session like a login's, made when the bot is and shown once, so the bot uses
the same REST API, WebSocket and SDK as a person, through the same checks. It has no password
(its hash is unusable, and `do_login` refuses bots anyway) and no e-mail (a synthetic address
under `.invalid`, RFC 2606). Revoking one is a deactivation: its sessions end, its sockets close
with 4401 on every process, and every auth cache forgets it, exactly as for a person.

Incoming webhooks (actions/incoming_webhooks.py) each have a bot of their own, made here too.
"""

from __future__ import annotations

from sqlalchemy import select

from parlour.actions.auth import announce_user_changed, forget_user, revoke_sessions
from parlour.actions.checks import check_name, check_org_admin
from parlour.actions.context import Actor
from parlour.actions.present import user_out
from parlour.errors import NotFound
from parlour.ids import hash_secret, new_id, new_secret
from parlour.schemas import BotCreatedOut, Preferences, UserOut
from parlour.services import Services
from parlour.storage.models import IncomingWebhook, Session, User
from parlour.storage.writer import WriteContext

# Not an argon2 hash: verifying any password against it fails (actions.auth.verify_password).
UNUSABLE_PASSWORD = "!bot: no password"  # noqa: S105  # nosec B105
BOT_EMAIL_DOMAIN = "bots.invalid"


async def add_bot_user(ctx: WriteContext, org_id: str, name: str) -> User:
    """A new active bot of the organization, flushed (so memberships may refer to it)."""
    user_id = new_id()
    user = User(
        id=user_id,
        org_id=org_id,
        email=f"bot-{user_id.lower()}@{BOT_EMAIL_DOMAIN}",
        full_name=name,
        password_hash=UNUSABLE_PASSWORD,
        is_admin=False,
        is_active=True,
        is_bot=True,
        status="online",
        preferences=Preferences(email_notifications="never").model_dump(),
        created_at=ctx.clock.now(),
    )
    ctx.session.add(user)
    await ctx.session.flush()
    return user


def add_bot_session(ctx: WriteContext, user_id: str) -> tuple[str, str]:
    """A session for the bot: (session id, bearer token). Only the token's hash is stored."""
    token, session_id = new_secret(), new_id()
    ctx.session.add(
        Session(
            id=session_id,
            token_hash=hash_secret(token),
            csrf_token=new_secret(),
            user_id=user_id,
            created_at=ctx.clock.now(),
        )
    )
    return session_id, token


async def retire_bot(ctx: WriteContext, bot: User) -> None:
    """Deactivate the bot and end its sessions, as an admin's deactivation of a person does
    (actions/users.py): every process closes its sockets (4401) and drops it from its cache.
    The caller calls `forget_user` after the write, as that does."""
    if bot.is_active:
        bot.is_active = False
        await revoke_sessions(ctx, bot)
        await announce_user_changed(ctx, bot)
        await ctx.session.flush()


async def do_create_bot(services: Services, actor: Actor, name: str) -> BotCreatedOut:
    check_org_admin(actor)
    clean = check_name(name, services.limits)

    async def job(ctx: WriteContext) -> tuple[User, str]:
        bot = await add_bot_user(ctx, actor.org_id, clean)
        _, token = add_bot_session(ctx, bot.id)
        return bot, token

    bot, token = await services.writer.run(job)
    return BotCreatedOut(user=user_out(bot, services.presence), token=token)


async def list_bots(services: Services, actor: Actor) -> list[UserOut]:
    """The organization's active bots, oldest first; webhooks' own bots are listed with their
    rooms' webhooks instead."""
    check_org_admin(actor)
    async with services.db.read_session() as session:
        bots = await session.scalars(
            select(User)
            .where(
                User.org_id == actor.org_id,
                User.is_bot.is_(True),
                User.is_active.is_(True),
                User.id.not_in(select(IncomingWebhook.bot_user_id)),
            )
            .order_by(User.created_at, User.id)
        )
        return [user_out(bot, services.presence) for bot in bots]


async def do_revoke_bot(services: Services, actor: Actor, user_id: str) -> None:
    """404 for anyone who is not a bot of my organization (people are deactivated elsewhere)."""
    check_org_admin(actor)

    async def job(ctx: WriteContext) -> None:
        bot = await ctx.session.get(User, user_id)
        if bot is None or bot.org_id != actor.org_id or not bot.is_bot:
            raise NotFound("No such bot.", code="bot_not_found")
        await retire_bot(ctx, bot)

    try:
        await services.writer.run(job)
    finally:
        forget_user(services, user_id)
