"""Login throttling: a guesser is slowed down, the account's owner is not locked out.

Every attempt is *reserved* before its password is checked: one writer job counts the recent
failures under the attempt's keys and, if there is room, records the attempt as a failure. The
writer runs one job at a time (and on PostgreSQL holds an advisory lock across processes), so
parallel attempts cannot all see the same count: at most the limit of passwords are ever checked
per window. A success then removes its reservation (and forgives the failures of its own key).

Which keys an attempt counts under (docs/operations.md, "Login throttling"):
- from a browser holding a valid device cookie for the account (OWASP's "device cookie": it got
  one by logging in to that account before): its own device only. A guesser elsewhere, however
  many failures they pile up, cannot lock the owner out of their devices;
- otherwise: the account (all untrusted devices together) and the client's address (IPv6 by /64,
  since one host commonly holds a whole /64). The address is the peer's, or what a proxy listed in
  PARLOUR_TRUSTED_PROXIES says.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from parlour.errors import RateLimited
from parlour.ids import hash_secret, new_id, new_secret
from parlour.services import Services
from parlour.storage.models import LoginDevice, LoginFailure
from parlour.storage.writer import WriteContext

# A person uses a few browsers; older device cookies than the most recent ones stop counting.
DEVICES_PER_USER = 10
DEVICE_COOKIE_SECONDS = 365 * 24 * 3600


@dataclass(frozen=True)
class Attempt:
    """A reserved attempt: its rows count as failures unless `forgive` removes them."""

    row_ids: tuple[int, ...]
    own_key: str  # the account or device key: a success forgives its earlier failures


def account_key(email: str) -> str:
    return f"account:{email}"


def device_key(device_id: str) -> str:
    return f"device:{device_id}"


def address_key(address: str) -> str:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return f"ip:{address[:100]}"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return f"ip:{ip.ipv4_mapped}"
        return f"ip:{ipaddress.ip_network((ip, 64), strict=False)}"
    return f"ip:{ip}"


async def reserve_attempt(services: Services, keys: Sequence[tuple[str, int]]) -> Attempt:
    """Count and record one attempt atomically; 429 if any key has used its failures.

    A refused attempt records nothing, so hammering a locked key does not extend the lock.
    """
    window = timedelta(seconds=services.limits.login_window_seconds)

    async def job(ctx: WriteContext) -> tuple[int, ...]:
        now = ctx.clock.now()
        for key, allowed in keys:
            row = (
                await ctx.session.execute(
                    select(func.count(LoginFailure.id), func.min(LoginFailure.at)).where(
                        LoginFailure.key == key, LoginFailure.at >= now - window
                    )
                )
            ).one()
            count, oldest = int(row[0]), row[1]
            if count >= allowed and oldest is not None:
                wait = (oldest + window - now).total_seconds()
                raise RateLimited(
                    "Too many failed logins. Try again later.",
                    retry_after=max(1, int(wait) + 1),
                    code="login_rate_limited",
                )
        rows = [LoginFailure(key=key, at=now) for key, _ in keys]
        ctx.session.add_all(rows)
        await ctx.session.flush()
        return tuple(row.id for row in rows)

    return Attempt(row_ids=await services.writer.run(job), own_key=keys[0][0])


async def forgive(ctx: WriteContext, attempt: Attempt) -> None:
    """The attempt succeeded: it is no failure, nor are the owner's earlier typos under its key."""
    await ctx.session.execute(
        delete(LoginFailure).where(
            or_(LoginFailure.id.in_(attempt.row_ids), LoginFailure.key == attempt.own_key)
        )
    )


async def known_device(session: AsyncSession, token: str | None, user_id: str) -> str | None:
    """The id of the device whose cookie is `token`, if it belongs to `user_id`."""
    if not token or len(token) > 200:
        return None
    device_id: str | None = await session.scalar(
        select(LoginDevice.id).where(
            LoginDevice.token_hash == hash_secret(token), LoginDevice.user_id == user_id
        )
    )
    return device_id


async def remember_device(ctx: WriteContext, user_id: str, device_id: str | None) -> str | None:
    """After a successful login: touch the known device, or register a new one.

    Returns the new device cookie's value, or None when the browser's cookie stays valid.
    """
    now = ctx.clock.now()
    if device_id is not None:
        touched = await ctx.session.execute(
            update(LoginDevice).where(LoginDevice.id == device_id).values(last_login_at=now)
        )
        if getattr(touched, "rowcount", 0):
            return None
    token, new_device_id = new_secret(), new_id()
    ctx.session.add(
        LoginDevice(
            id=new_device_id,
            token_hash=hash_secret(token),
            user_id=user_id,
            created_at=now,
            last_login_at=now,
        )
    )
    await ctx.session.flush()
    # Bounded per user: the least recently used devices beyond the newest few are forgotten.
    stale = (
        await ctx.session.scalars(
            select(LoginDevice.id)
            .where(LoginDevice.user_id == user_id, LoginDevice.id != new_device_id)
            .order_by(LoginDevice.last_login_at.desc(), LoginDevice.id)
            .offset(DEVICES_PER_USER - 1)
        )
    ).all()
    if stale:
        await ctx.session.execute(delete(LoginDevice).where(LoginDevice.id.in_(stale)))
    return token


async def forget_devices(ctx: WriteContext, user_id: str) -> None:
    """A password change: a browser that logged in with the old password earns its place again."""
    await ctx.session.execute(delete(LoginDevice).where(LoginDevice.user_id == user_id))
