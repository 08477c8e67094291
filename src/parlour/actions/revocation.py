"""Whether an actor's session still stands, checked again where authentication is not enough.

A request authenticates once, but a socket lives on: a send on it, or a socket that attached just
after its session was revoked (logout, password change, deactivation), acts on a check that may
no longer hold. The hub closes a revoked session's sockets as it passes the revocation event; these
checks cover what happens around that moment: sends read the session in their own transaction,
and a socket looks again once attached.

Only a *revoked* session is refused, not a missing one: an actor made in-process (the demo
loader, tests driving an action) names no stored session. Revoked rows are kept for weeks
(actions/housekeeping.py), and no socket outlives its revocation by more than these checks take.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from parlour.actions.context import Actor
from parlour.errors import NotLoggedIn
from parlour.storage.models import Session


def session_revoked() -> NotLoggedIn:
    return NotLoggedIn("This session has ended. Log in again.", code="not_authenticated")


async def revoked_sessions(session: AsyncSession, session_ids: Collection[str]) -> set[str]:
    """Those of `session_ids` that are revoked, in one query."""
    if not session_ids:
        return set()
    rows = await session.scalars(
        select(Session.id).where(Session.id.in_(list(session_ids)), Session.revoked_at.is_not(None))
    )
    return set(rows)


async def check_session(session: AsyncSession, actor: Actor) -> None:
    """401 `not_authenticated` if the actor's session was revoked since it authenticated."""
    if await revoked_sessions(session, {actor.session_id}):
        raise session_revoked()
