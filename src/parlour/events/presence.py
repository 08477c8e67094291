"""Who is connected, across every process.

Each process counts its own sockets per user. With Redis, processes announce their users' presence
through the bus so every process can answer `is_connected` from memory; without Redis there is only
this process. A socket closing starts a grace period before "offline", so a page reload does not
flicker a user offline and back.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from parlour.clock import Clock
from parlour.domain.presence import Status, effective_status


@dataclass
class _Here:
    sockets: int = 0
    last_active: float = 0.0
    gone_at: float | None = None
    # Remote processes that report the user connected: process id -> expiry (monotonic).
    remote: dict[str, float] = field(default_factory=dict)


class PresenceTracker:
    def __init__(self, clock: Clock, *, away_seconds: float, grace_seconds: float) -> None:
        self._clock = clock
        self._away = away_seconds
        self._grace = grace_seconds
        self._users: dict[str, _Here] = {}

    def _get(self, user_id: str) -> _Here:
        here = self._users.get(user_id)
        if here is None:
            here = self._users[user_id] = _Here()
        return here

    def socket_opened(self, user_id: str) -> None:
        here = self._get(user_id)
        here.sockets += 1
        here.gone_at = None
        here.last_active = self._clock.monotonic()

    def socket_closed(self, user_id: str) -> None:
        here = self._get(user_id)
        here.sockets = max(0, here.sockets - 1)
        if here.sockets == 0:
            here.gone_at = self._clock.monotonic()

    def touch(self, user_id: str) -> None:
        """The user did something (sent, typed, read): not idle."""
        self._get(user_id).last_active = self._clock.monotonic()

    def remote_seen(self, process_id: str, user_id: str, idle: bool, ttl: float) -> None:
        here = self._get(user_id)
        here.remote[process_id] = self._clock.monotonic() + ttl
        if not idle:
            here.last_active = max(here.last_active, self._clock.monotonic())

    def remote_gone(self, process_id: str, user_id: str) -> None:
        here = self._users.get(user_id)
        if here is not None:
            here.remote.pop(process_id, None)

    def local_users(self) -> list[str]:
        return [user for user, here in self._users.items() if here.sockets > 0]

    def is_local_idle(self, user_id: str) -> bool:
        here = self._users.get(user_id)
        return here is None or self._clock.monotonic() - here.last_active >= self._away

    def is_connected(self, user_id: str) -> bool:
        here = self._users.get(user_id)
        if here is None:
            return False
        now = self._clock.monotonic()
        if here.sockets > 0:
            return True
        if any(expiry > now for expiry in here.remote.values()):
            return True
        return here.gone_at is not None and now - here.gone_at < self._grace

    def status(self, user_id: str, chosen: str) -> Status:
        idle = self.is_local_idle(user_id)
        return effective_status(chosen, self.is_connected(user_id), idle)
