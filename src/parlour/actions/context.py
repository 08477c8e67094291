"""Who is acting, and the services an action may use."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Actor:
    """The authenticated caller. Ids come from the session, never from the request body."""

    user_id: str
    org_id: str
    is_admin: bool
    session_id: str
