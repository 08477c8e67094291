"""Logins, sessions and who a request is from.

The bearer token and the session cookie are one secret per login, stored only as a hash.
Revocation (logout, password change, deactivation) is a database change plus an internal event on
the stream, so every process closes the affected sockets, whichever one holds them.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update

from parlour.actions import login_throttle as throttle
from parlour.actions.context import Actor
from parlour.errors import NotLoggedIn
from parlour.events import stream
from parlour.events.types import SessionRevoked, UserChanged
from parlour.ids import hash_secret, new_id, new_secret
from parlour.services import Services
from parlour.storage import users as user_queries
from parlour.storage.models import Session, User
from parlour.storage.writer import WriteContext


@dataclass(frozen=True)
class LoginResult:
    token: str
    csrf_token: str
    user: User
    session_id: str
    device_token: str | None = None


def verify_password(services: Services, password_hash: str, password: str) -> bool:
    try:
        return services.hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def do_login(
    services: Services,
    email: str,
    password: str,
    client_address: str,
    device_token: str | None = None,
) -> LoginResult:
    """Check a login under the throttle (actions/login_throttle.py) and open a session.

    `device_token` is the browser's device cookie, if any; the result's `device_token` is a new
    one to set (None: keep the cookie the browser has).
    """
    email = email.strip().lower()
    limits = services.limits
    async with services.db.read_session() as session:
        user = await user_queries.by_email(session, email)
        device_id = (
            await throttle.known_device(session, device_token, user.id)
            if user is not None
            else None
        )
    if device_id is not None:
        keys = [(throttle.device_key(device_id), limits.login_failures_per_account)]
    else:
        keys = [
            (throttle.account_key(email), limits.login_failures_per_account),
            (throttle.address_key(client_address), limits.login_failures_per_ip),
        ]
    # Reserved before the password is checked, so parallel guesses cannot outrun the count.
    attempt = await throttle.reserve_attempt(services, keys)
    stored_hash = user.password_hash if user is not None else services.dummy_password_hash
    # argon2 is deliberately slow: keep it off the event loop.
    ok = await asyncio.to_thread(verify_password, services, stored_hash, password)
    # A bot never logs in with a password (its hash is unusable anyway): only with its token.
    if user is None or not ok or not user.is_active or user.is_bot:
        # The reservation stays recorded: it is this failure.
        raise NotLoggedIn("Wrong email or password.", code="invalid_credentials")
    token, csrf = new_secret(), new_secret()
    session_id = new_id()
    user_id = user.id

    async def create_session(ctx: WriteContext) -> tuple[User, str | None]:
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
        await throttle.forgive(ctx, attempt)
        new_device = await throttle.remember_device(ctx, user_id, device_id)
        fresh = await ctx.session.get(User, user_id)
        assert fresh is not None
        return fresh, new_device

    # Before the write: a revocation of this user applied meanwhile keeps the entry out.
    generation = services.auth_cache.generation
    fresh_user, new_device = await services.writer.run(create_session)
    if fresh_user.is_active:
        # The first request of the new session needs no lookup either.
        services.auth_cache.put(
            hash_secret(token),
            Authenticated(
                actor=Actor(
                    user_id=user_id,
                    org_id=fresh_user.org_id,
                    is_admin=fresh_user.is_admin,
                    session_id=session_id,
                ),
                csrf_token=csrf,
                user=fresh_user,
            ),
            generation,
        )
    return LoginResult(
        token=token,
        csrf_token=csrf,
        user=fresh_user,
        session_id=session_id,
        device_token=new_device,
    )


@dataclass(frozen=True)
class Authenticated:
    actor: Actor
    csrf_token: str
    user: User  # loaded with the session, so a socket's hello needs no second query


async def authenticate(services: Services, token: str) -> Authenticated:
    """The actor behind a token; 401 if it is unknown, revoked, or its user is deactivated.

    Answered from the process's cache when it can (parlour.actions.auth_cache): the stream's
    revocation and user-change events keep it exact, so a request needs no lookup of its own.
    """
    if not token or len(token) > 200:
        raise NotLoggedIn("Not logged in.", code="not_authenticated")
    token_hash = hash_secret(token)
    cache = services.auth_cache
    cached = cache.get(token_hash)
    if cached is not None:
        return cached
    # Before the read: a revocation applied while it runs makes this fill stale.
    generation = cache.generation
    async with services.db.read_session() as session:
        row = (
            await session.execute(
                select(Session.id, Session.csrf_token, User)
                .join(User, User.id == Session.user_id)
                .where(
                    Session.token_hash == token_hash,
                    Session.revoked_at.is_(None),
                    User.is_active.is_(True),
                )
            )
        ).one_or_none()
    if row is None:
        raise NotLoggedIn("Not logged in.", code="not_authenticated")
    session_id, csrf_token, user = row
    auth = Authenticated(
        actor=Actor(
            user_id=user.id, org_id=user.org_id, is_admin=user.is_admin, session_id=session_id
        ),
        csrf_token=csrf_token,
        user=user,
    )
    cache.put(token_hash, auth, generation)
    return auth


async def revoke_sessions(
    ctx: WriteContext, user: User, *, only: str | None = None, keep: str | None = None
) -> None:
    """Revoke one session (`only`), or all but `keep`; live sockets close via the stream.

    Every process's hub drops the revoked sessions from its auth cache as it passes the event;
    the caller also drops them from its own once committed (`forget_revoked`), so this process's
    very next request is refused.
    """
    stmt = update(Session).where(Session.user_id == user.id, Session.revoked_at.is_(None))
    if only is not None:
        stmt = stmt.where(Session.id == only)
    if keep is not None:
        stmt = stmt.where(Session.id != keep)
    await ctx.session.execute(stmt.values(revoked_at=ctx.clock.now()))
    await stream.append(
        ctx,
        org_id=user.org_id,
        event=SessionRevoked(only=only, keep=keep),
        user_id=user.id,
    )


async def announce_user_changed(ctx: WriteContext, user: User) -> None:
    """A user's row changed (name, status, preferences, admin flag, activation): every process
    drops its cached copies as its hub passes the event; the caller drops its own once committed
    (`forget_user`)."""
    await stream.append(ctx, org_id=user.org_id, event=UserChanged(), user_id=user.id)


def forget_revoked(
    services: Services, user_id: str, *, only: str | None = None, keep: str | None = None
) -> None:
    """After a revocation's commit (or its failure: dropping is always safe)."""
    services.auth_cache.drop_sessions(user_id, only=only, keep=keep)


def forget_user(services: Services, user_id: str) -> None:
    """After a user change's commit (or its failure: dropping is always safe)."""
    services.auth_cache.drop_user(user_id)


async def do_logout(services: Services, actor: Actor) -> None:
    async def job(ctx: WriteContext) -> None:
        user = await ctx.session.get(User, actor.user_id)
        assert user is not None
        await revoke_sessions(ctx, user, only=actor.session_id)

    try:
        await services.writer.run(job)
    finally:
        forget_revoked(services, actor.user_id, only=actor.session_id)
