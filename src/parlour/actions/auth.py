"""Logins, sessions and who a request is from.

The bearer token and the session cookie are one secret per login, stored only as a hash.
Revocation (logout, password change, deactivation) is a database change plus an internal event on
the stream, so every process closes the affected sockets, whichever one holds them.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta

from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select, update

from parlour.actions.context import Actor
from parlour.errors import NotLoggedIn, RateLimited
from parlour.events import stream
from parlour.ids import hash_secret, new_id, new_secret
from parlour.services import Services
from parlour.storage import users as user_queries
from parlour.storage.models import LoginFailure, Session, User
from parlour.storage.writer import WriteContext


@dataclass(frozen=True)
class LoginResult:
    token: str
    csrf_token: str
    user: User
    session_id: str


def verify_password(services: Services, password_hash: str, password: str) -> bool:
    try:
        return services.hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def _check_throttle(services: Services, keys: list[tuple[str, int]]) -> None:
    limits = services.limits
    since = services.clock.now() - timedelta(seconds=limits.login_window_seconds)
    async with services.db.read_session() as session:
        for key, allowed in keys:
            row = (
                await session.execute(
                    select(func.count(LoginFailure.id), func.min(LoginFailure.at)).where(
                        LoginFailure.key == key, LoginFailure.at >= since
                    )
                )
            ).one()
            count, oldest = int(row[0]), row[1]
            if count >= allowed and oldest is not None:
                wait = limits.login_window_seconds - (services.clock.now() - oldest).total_seconds()
                raise RateLimited(
                    "Too many failed logins. Try again later.",
                    retry_after=max(1, int(wait) + 1),
                    code="login_rate_limited",
                )


async def do_login(services: Services, email: str, password: str, client_ip: str) -> LoginResult:
    email = email.strip().lower()
    limits = services.limits
    account_key, ip_key = f"account:{email}", f"ip:{client_ip}"
    await _check_throttle(
        services,
        [(account_key, limits.login_failures_per_account), (ip_key, limits.login_failures_per_ip)],
    )
    async with services.db.read_session() as session:
        user = await user_queries.by_email(session, email)
    stored_hash = user.password_hash if user is not None else services.dummy_password_hash
    # argon2 is deliberately slow: keep it off the event loop.
    ok = await asyncio.to_thread(verify_password, services, stored_hash, password)
    if user is None or not ok or not user.is_active:

        async def record_failure(ctx: WriteContext) -> None:
            now = ctx.clock.now()
            ctx.session.add_all(
                [LoginFailure(key=account_key, at=now), LoginFailure(key=ip_key, at=now)]
            )

        await services.writer.run(record_failure)
        raise NotLoggedIn("Wrong email or password.", code="invalid_credentials")
    token, csrf = new_secret(), new_secret()
    session_id = new_id()
    user_id = user.id

    async def create_session(ctx: WriteContext) -> User:
        now = ctx.clock.now()
        ctx.session.add(
            Session(
                id=session_id,
                token_hash=hash_secret(token),
                csrf_token=csrf,
                user_id=user_id,
                created_at=now,
            )
        )
        await ctx.session.execute(delete(LoginFailure).where(LoginFailure.key == account_key))
        fresh = await ctx.session.get(User, user_id)
        assert fresh is not None
        return fresh

    fresh_user = await services.writer.run(create_session)
    return LoginResult(token=token, csrf_token=csrf, user=fresh_user, session_id=session_id)


@dataclass(frozen=True)
class Authenticated:
    actor: Actor
    csrf_token: str
    user: User  # loaded with the session, so a socket's hello needs no second query


async def authenticate(services: Services, token: str) -> Authenticated:
    """The actor behind a token; 401 if it is unknown, revoked, or its user is deactivated."""
    if not token or len(token) > 200:
        raise NotLoggedIn("Not logged in.", code="not_authenticated")
    async with services.db.read_session() as session:
        row = (
            await session.execute(
                select(Session.id, Session.csrf_token, User)
                .join(User, User.id == Session.user_id)
                .where(
                    Session.token_hash == hash_secret(token),
                    Session.revoked_at.is_(None),
                    User.is_active.is_(True),
                )
            )
        ).one_or_none()
    if row is None:
        raise NotLoggedIn("Not logged in.", code="not_authenticated")
    session_id, csrf_token, user = row
    return Authenticated(
        actor=Actor(
            user_id=user.id, org_id=user.org_id, is_admin=user.is_admin, session_id=session_id
        ),
        csrf_token=csrf_token,
        user=user,
    )


async def revoke_sessions(
    ctx: WriteContext, user: User, *, only: str | None = None, keep: str | None = None
) -> None:
    """Revoke one session (`only`), or all but `keep`; live sockets close via the stream."""
    stmt = update(Session).where(Session.user_id == user.id, Session.revoked_at.is_(None))
    if only is not None:
        stmt = stmt.where(Session.id == only)
    if keep is not None:
        stmt = stmt.where(Session.id != keep)
    await ctx.session.execute(stmt.values(revoked_at=ctx.clock.now()))
    await stream.append(
        ctx,
        org_id=user.org_id,
        type="session.revoked",
        payload={"only": only, "keep": keep},
        user_id=user.id,
    )


async def do_logout(services: Services, actor: Actor) -> None:
    async def job(ctx: WriteContext) -> None:
        user = await ctx.session.get(User, actor.user_id)
        assert user is not None
        await revoke_sessions(ctx, user, only=actor.session_id)

    await services.writer.run(job)
