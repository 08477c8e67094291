"""Keys made once and kept: the VAPID key pair (RFC 8292) that signs every push, and the key of
the unsubscribe links. Kept in the database (`server_secrets`), so every process and machine
uses the same ones and a restart changes nothing; read once per process.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Callable

from cryptography.hazmat.primitives import serialization
from py_vapid import Vapid02
from sqlalchemy.exc import IntegrityError

from parlour.services import Services
from parlour.storage.models import ServerSecret
from parlour.storage.writer import WriteContext

VAPID = "vapid_private_pem"
UNSUBSCRIBE = "unsubscribe_key"


async def secret(services: Services, name: str, make: Callable[[], str]) -> str:
    """The secret `name`, made by `make` the first time any process asks (one wins a race)."""
    cached = services.secrets.get(name)
    if cached is not None:
        return cached

    async def job(ctx: WriteContext) -> str:
        stored = await ctx.session.get(ServerSecret, name)
        if stored is not None:
            return stored.value
        value = make()
        try:
            async with ctx.session.begin_nested():
                ctx.session.add(ServerSecret(name=name, value=value))
                await ctx.session.flush()
        except IntegrityError:  # another process made it first: theirs is the one
            stored = await ctx.session.get(ServerSecret, name, populate_existing=True)
            assert stored is not None
            return stored.value
        return value

    value = await services.writer.run(job)
    services.secrets[name] = value
    return value


def _new_vapid_pem() -> str:
    vapid = Vapid02()
    vapid.generate_keys()
    pem: bytes = vapid.private_pem()
    return pem.decode()


async def vapid(services: Services) -> Vapid02:
    """The server's VAPID key: PARLOUR_VAPID_PRIVATE_KEY if set, else the one made and kept."""
    configured = services.settings.vapid_private_key.strip()
    if configured.startswith("-----BEGIN"):
        return Vapid02.from_pem(configured.encode())
    if configured:
        return Vapid02.from_raw(configured.encode())
    return Vapid02.from_pem((await secret(services, VAPID, _new_vapid_pem)).encode())


def public_key(key: Vapid02) -> str:
    """The applicationServerKey a browser subscribes with (base64url, uncompressed point)."""
    raw = key.public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


async def unsubscribe_key(services: Services) -> bytes:
    return (await secret(services, UNSUBSCRIBE, lambda: secrets.token_hex(32))).encode()


def unsubscribe_token(key: bytes, user_id: str) -> str:
    """Proof that a link was made for `user_id`: an HMAC, so a link cannot be made for another."""
    digest = hmac.new(key, f"unsubscribe:{user_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def valid_unsubscribe(key: bytes, user_id: str, token: str) -> bool:
    return hmac.compare_digest(unsubscribe_token(key, user_id), token)
