"""Per-process flood control: token buckets (socket frames, REST sends) and sockets per user.

One implementation of the token bucket serves both the socket's per-socket frame limit and the
REST send limit per user, so a message costs the same whichever way it is sent.
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass

from parlour.config import Limits


class TokenBucket:
    __slots__ = ("capacity", "rate", "stamp", "tokens")

    def __init__(self, rate: float, capacity: int, now: float) -> None:
        self.rate, self.capacity, self.tokens, self.stamp = (
            rate,
            float(capacity),
            float(capacity),
            now,
        )

    def _refill(self, now: float) -> None:
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    def take(self, now: float) -> bool:
        self._refill(now)
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False

    def wait(self) -> int:
        """Whole seconds until the next token (after a refused `take`): the `Retry-After`."""
        if self.rate <= 0:
            return 60
        return max(1, math.ceil((1 - self.tokens) / self.rate))

    def full(self, now: float) -> bool:
        self._refill(now)
        return self.tokens >= self.capacity


class KeyedBuckets:
    """A token bucket per key (a user). Full buckets are forgotten: a new one is the same."""

    def __init__(self, rate: float, capacity: int) -> None:
        self.rate = rate
        self.capacity = capacity
        self._buckets: dict[str, TokenBucket] = {}
        self._sweep_at = 1024

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, key: str, now: float) -> int | None:
        """None if allowed; else the whole seconds to wait before trying again."""
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self._sweep_at:
                self._sweep(now)
            bucket = self._buckets[key] = TokenBucket(self.rate, self.capacity, now)
        if bucket.take(now):
            return None
        return bucket.wait()

    def _sweep(self, now: float) -> None:
        # Amortised O(1) per new key, and the map never outgrows twice the users sending
        # within one refill period: nothing here grows forever.
        for key in [key for key, bucket in self._buckets.items() if bucket.full(now)]:
            del self._buckets[key]
        self._sweep_at = max(1024, 2 * len(self._buckets))


class SocketQuota:
    """Open WebSockets per user in this process.

    Counted when a socket is admitted, before its first await, so sockets arriving together
    cannot all pass the check before any of them is counted.
    """

    def __init__(self, per_user: int) -> None:
        self.per_user = per_user
        self._open: dict[str, int] = {}

    def acquire(self, user_id: str) -> bool:
        count = self._open.get(user_id, 0)
        if count >= self.per_user:
            return False
        self._open[user_id] = count + 1
        return True

    def release(self, user_id: str) -> None:
        count = self._open.get(user_id, 0) - 1
        if count > 0:
            self._open[user_id] = count
        else:
            self._open.pop(user_id, None)

    def count(self, user_id: str) -> int:
        return self._open.get(user_id, 0)


@dataclass
class Throttles:
    sends: KeyedBuckets
    sockets: SocketQuota


# One set per application object (tests may run several apps in one process); weak, so an app
# that is dropped takes its counters with it.
_by_app: weakref.WeakKeyDictionary[object, Throttles] = weakref.WeakKeyDictionary()


def throttles(app: object, limits: Limits) -> Throttles:
    found = _by_app.get(app)
    if found is None:
        found = _by_app[app] = Throttles(
            sends=KeyedBuckets(limits.sends_per_second, limits.send_burst),
            sockets=SocketQuota(limits.sockets_per_user),
        )
    return found


# The close code for a user's socket over `Limits.sockets_per_user` (docs/events.md): 4000 + the
# HTTP status of the same refusal, like 4401.
TOO_MANY_SOCKETS = 4429
