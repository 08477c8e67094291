"""Opaque, unguessable ids and secrets."""

from __future__ import annotations

import hashlib
import secrets


def new_id() -> str:
    """A random, URL-safe id: 96 bits, so ids cannot be enumerated or guessed."""
    return secrets.token_urlsafe(12)


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    """Tokens are stored hashed: a leaked database does not leak live sessions.

    Lookup is by the hash through a unique index, so no comparison of the secret itself
    happens in Python and timing reveals nothing about it.
    """
    return hashlib.sha256(secret.encode()).hexdigest()
