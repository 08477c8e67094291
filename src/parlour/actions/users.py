"""Organizations, users and profiles."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from parlour.actions import login_throttle as throttle
from parlour.actions.auth import (
    announce_user_changed,
    forget_revoked,
    forget_user,
    revoke_sessions,
    verify_password,
)
from parlour.actions.checks import check_name, check_org_admin
from parlour.actions.context import Actor
from parlour.actions.present import me_out, user_out
from parlour.errors import Conflict, InvalidInput, NotFound
from parlour.events.realtime import announce_status_change
from parlour.ids import new_id
from parlour.schemas import ChatProfileOut, MeOut, Preferences, UserOut
from parlour.services import Services
from parlour.storage import rooms as room_queries
from parlour.storage import users as user_queries
from parlour.storage.models import Organization, User
from parlour.storage.writer import WriteContext

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD = 8


def check_email(email: str) -> str:
    cleaned = email.strip().lower()
    if len(cleaned) > 320 or not _EMAIL.match(cleaned):
        raise InvalidInput(
            "That is not an email address.", code="invalid_email", details={"field": "email"}
        )
    return cleaned


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(
            f"A password needs at least {MIN_PASSWORD} characters.",
            code="password_too_short",
            details={"field": "password", "min": MIN_PASSWORD},
        )
    if len(password) > 1000:
        raise InvalidInput("That password is too long.", code="password_too_long")
    return password


async def do_create_org(services: Services, name: str) -> str:
    clean = check_name(name, services.limits)

    async def job(ctx: WriteContext) -> str:
        if await ctx.session.scalar(select(Organization.id).where(Organization.name == clean)):
            raise Conflict(f"An organization named {clean!r} exists.", code="org_exists")
        org = Organization(id=new_id(), name=clean, created_at=ctx.clock.now())
        ctx.session.add(org)
        return org.id

    return await services.writer.run(job)


async def org_id_by_name(services: Services, name: str) -> str:
    async with services.db.read_session() as session:
        org_id = await session.scalar(select(Organization.id).where(Organization.name == name))
    if org_id is None:
        raise NotFound(f"No organization named {name!r}.", code="org_not_found")
    return org_id


async def do_create_user(
    services: Services,
    org_id: str,
    *,
    email: str,
    full_name: str,
    password: str,
    is_admin: bool = False,
) -> User:
    clean_email = check_email(email)
    clean_name = check_name(full_name, services.limits, field="full_name")
    password_hash = await asyncio.to_thread(services.hasher.hash, check_password(password))

    async def job(ctx: WriteContext) -> User:
        if await user_queries.by_email(ctx.session, clean_email) is not None:
            raise Conflict(
                "That email is already in use.", code="email_taken", details={"field": "email"}
            )
        user = User(
            id=new_id(),
            org_id=org_id,
            email=clean_email,
            full_name=clean_name,
            password_hash=password_hash,
            is_admin=is_admin,
            is_active=True,
            status="online",
            preferences=Preferences().model_dump(),
            created_at=ctx.clock.now(),
        )
        try:
            async with ctx.session.begin_nested():
                ctx.session.add(user)
                await ctx.session.flush()
        except IntegrityError:
            raise Conflict("That email is already in use.", code="email_taken") from None
        return user

    return await services.writer.run(job)


async def admin_create_user(
    services: Services, actor: Actor, *, email: str, full_name: str, password: str, is_admin: bool
) -> UserOut:
    check_org_admin(actor)
    user = await do_create_user(
        services,
        actor.org_id,
        email=email,
        full_name=full_name,
        password=password,
        is_admin=is_admin,
    )
    return user_out(user, services.presence)


async def admin_update_user(
    services: Services,
    actor: Actor,
    user_id: str,
    *,
    is_active: bool | None,
    is_admin: bool | None,
    full_name: str | None,
) -> UserOut:
    check_org_admin(actor)
    clean_name = check_name(full_name, services.limits, field="full_name") if full_name else None

    async def job(ctx: WriteContext) -> User:
        user = await user_queries.in_org(ctx.session, actor.org_id, user_id)
        if user is None:
            raise NotFound("No such user.", code="user_not_found")
        if user.id == actor.user_id and (is_active is False or is_admin is False):
            raise Conflict("You cannot deactivate or demote yourself.", code="self_demotion")
        before = (user.full_name, user.is_admin, user.is_active)
        if clean_name:
            user.full_name = clean_name
        if is_admin is not None:
            user.is_admin = is_admin
        if is_active is not None and is_active != user.is_active:
            user.is_active = is_active
            if not is_active:
                await revoke_sessions(ctx, user)
        if (user.full_name, user.is_admin, user.is_active) != before:
            await announce_user_changed(ctx, user)
        await ctx.session.flush()
        return user

    try:
        user = await services.writer.run(job)
    finally:
        forget_user(services, user_id)
    return user_out(user, services.presence)


def my_profile(services: Services, user: User) -> MeOut:
    """`/users/me` from the user authentication loaded (or the auth cache holds): no query."""
    return me_out(user, services.presence)


async def do_update_me(
    services: Services,
    actor: Actor,
    *,
    full_name: str | None,
    status: str | None,
    preferences: dict[str, Any] | None,
) -> MeOut:
    """Change my name, status and/or preferences (only the preferences named change)."""
    clean_name = (
        check_name(full_name, services.limits, field="full_name") if full_name is not None else None
    )

    async def job(ctx: WriteContext) -> User:
        user = await ctx.session.get(User, actor.user_id)
        assert user is not None
        if clean_name is not None:
            user.full_name = clean_name
        if status is not None:
            user.status = status
        if preferences is not None:
            user.preferences = Preferences(
                **{**(user.preferences or {}), **preferences}
            ).model_dump()
        if clean_name is not None or status is not None or preferences is not None:
            await announce_user_changed(ctx, user)
        await ctx.session.flush()
        return user

    try:
        user = await services.writer.run(job)
    finally:
        forget_user(services, actor.user_id)
    if status is not None:
        announce_status_change(services.bus, actor.user_id)
    return me_out(user, services.presence)


async def do_change_password(
    services: Services, actor: Actor, current_password: str, new_password: str
) -> None:
    check_password(new_password)
    async with services.db.read_session() as session:
        user = await session.get(User, actor.user_id)
    assert user is not None
    # The current password is what a stolen session would guess: it spends the account's login
    # budget (a wrong one is a login failure), reserved before checking like a login.
    attempt = await throttle.reserve_attempt(
        services, [(throttle.account_key(user.email), services.limits.login_failures_per_account)]
    )
    if not await asyncio.to_thread(verify_password, services, user.password_hash, current_password):
        raise InvalidInput(
            "The current password is wrong.",
            code="wrong_password",
            details={"field": "current_password"},
        )
    new_hash = await asyncio.to_thread(services.hasher.hash, new_password)

    async def job(ctx: WriteContext) -> None:
        fresh = await ctx.session.get(User, actor.user_id)
        assert fresh is not None
        fresh.password_hash = new_hash
        await throttle.forgive(ctx, attempt)
        await throttle.forget_devices(ctx, fresh.id)
        await revoke_sessions(ctx, fresh, keep=actor.session_id)

    try:
        await services.writer.run(job)
    finally:
        forget_revoked(services, actor.user_id, keep=actor.session_id)


async def search_users(
    services: Services,
    actor: Actor,
    query: str,
    limit: int | None,
    *,
    include_inactive: bool = False,
) -> list[UserOut]:
    """People of my organization by name or email; deactivated ones too for an admin who asks
    (the Administration page), never for anyone else."""
    if include_inactive:
        check_org_admin(actor)
    clamped = min(max(limit or 20, 1), services.limits.search_results)
    async with services.db.read_session() as session:
        users = await user_queries.search(
            session, actor.org_id, query, clamped, include_inactive=include_inactive
        )
    return [user_out(user, services.presence) for user in users]


async def chat_profiles(services: Services, actor: Actor) -> list[ChatProfileOut]:
    """The Chat Profile Report: everyone active I can start a chat with, and our direct room."""
    async with services.db.read_session() as session:
        users = await user_queries.active_in_org(session, actor.org_id)
        direct = await room_queries.direct_rooms_with(session, actor.user_id)
    report = []
    for user in users:
        if user.id == actor.user_id:
            continue
        out = user_out(user, services.presence)
        report.append(
            ChatProfileOut(
                user=out,
                status=out.status,
                last_seen_at=out.last_seen_at,
                direct_room_id=direct.get(user.id),
            )
        )
    return report
