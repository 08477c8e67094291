"""Push subscriptions (one per browser), and the one-click e-mail unsubscribe."""

from __future__ import annotations

import binascii
import hashlib

from sqlalchemy import delete, select

from parlour.actions.auth import announce_user_changed, forget_user
from parlour.actions.context import Actor
from parlour.away.pusher import b64url_decode
from parlour.away.secrets import unsubscribe_key, valid_unsubscribe
from parlour.errors import InvalidInput, NotFound
from parlour.ids import new_id
from parlour.outbound import OutboundRefused, check_url, parse_networks
from parlour.services import Services
from parlour.storage.models import PushOutbox, PushSubscription, User
from parlour.storage.writer import WriteContext


def _key(value: str, size: int, name: str) -> str:
    """A base64url key of `size` bytes (a P-256 point is 65, an auth secret 16)."""
    try:
        raw = b64url_decode(value)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != size or (size == 65 and raw[0] != 4):
        raise InvalidInput(f"keys.{name} is not a valid key.", code="invalid_keys")
    return value


async def do_subscribe(
    services: Services, actor: Actor, endpoint: str, p256dh: str, auth: str
) -> str:
    """Keep this browser's subscription (the same endpoint again is the same row, now mine)."""
    _key(p256dh, 65, "p256dh")
    _key(auth, 16, "auth")
    allowed = parse_networks(services.settings.outbound_allow_networks)
    try:
        # Checked now, so a browser learns at once; checked again before every push (the name
        # may resolve elsewhere by then).
        await check_url(endpoint, allowed)
    except OutboundRefused as refused:
        raise InvalidInput(str(refused), code="invalid_endpoint") from None
    endpoint_hash = hashlib.sha256(endpoint.encode()).hexdigest()

    async def job(ctx: WriteContext) -> str:
        existing = await ctx.session.scalar(
            select(PushSubscription).where(PushSubscription.endpoint_hash == endpoint_hash)
        )
        if existing is not None:
            existing.user_id, existing.p256dh, existing.auth = actor.user_id, p256dh, auth
            await ctx.session.flush()
            return existing.id
        subscription = PushSubscription(
            id=new_id(),
            user_id=actor.user_id,
            endpoint=endpoint,
            endpoint_hash=endpoint_hash,
            p256dh=p256dh,
            auth=auth,
            created_at=ctx.clock.now(),
        )
        ctx.session.add(subscription)
        await ctx.session.flush()
        return subscription.id

    return await services.writer.run(job)


async def do_unsubscribe_push(services: Services, actor: Actor, subscription_id: str) -> None:
    async def job(ctx: WriteContext) -> None:
        found = await ctx.session.get(PushSubscription, subscription_id)
        if found is None or found.user_id != actor.user_id:
            raise NotFound("No such subscription.", code="subscription_not_found")
        await ctx.session.execute(
            delete(PushOutbox).where(PushOutbox.subscription_id == subscription_id)
        )
        await ctx.session.delete(found)
        await ctx.session.flush()

    await services.writer.run(job)


async def check_unsubscribe(services: Services, user_id: str, token: str) -> bool:
    return valid_unsubscribe(await unsubscribe_key(services), user_id, token)


async def do_email_unsubscribe(services: Services, user_id: str, token: str) -> bool:
    """The one-click unsubscribe (RFC 8058): the link's token is the only proof needed."""
    if not await check_unsubscribe(services, user_id, token):
        return False

    async def job(ctx: WriteContext) -> None:
        user = await ctx.session.get(User, user_id)
        if user is None:
            return
        user.preferences = {**(user.preferences or {}), "email_notifications": "never"}
        await announce_user_changed(ctx, user)
        await ctx.session.flush()

    try:
        await services.writer.run(job)
    finally:
        forget_user(services, user_id)
    return True
