"""Who a token belongs to, remembered per process so a request needs no session lookup.

Keyed by the token's hash (the value the database stores), never by the token itself. Bounded:
the least recently used entry goes first. Every entry is dropped by the stream's events that
change what it holds: `session.revoked` (logout, password change, deactivation) and
`user.changed` (name, status, preferences, admin flag, activation). The hub of each process
applies them as it passes them (parlour.events.hub); the process that made the change also
applies them right after its commit, so its own next request already sees it.

A fill races with an invalidation: a lookup that read the database just before a revocation
committed must not be stored after the revocation was applied. Every invalidation bumps a
generation; a fill records the generation before its read and is stored only if no
invalidation happened meanwhile (one counter for all users: invalidations are rare, and a
refused fill costs one more lookup later, never a wrong answer).

The cache serves only while a hub follows the stream (`follow`): without one nothing would
invalidate it, so services opened by a tool or a test without a hub always ask the database.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from parlour.actions.auth import Authenticated

DEFAULT_MAX_ENTRIES = 10_000
# A safety net, not the mechanism: the events above invalidate at once. It bounds how stale a
# field nobody announces can get (the user's own `last_seen_at`, written as sockets close).
DEFAULT_MAX_AGE_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class _Entry:
    auth: Authenticated
    stored_at: float


class AuthCache:
    def __init__(
        self,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        max_age_seconds: float = DEFAULT_MAX_AGE_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._max_entries = max_entries
        self._max_age = max_age_seconds
        self._monotonic = monotonic
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._by_user: dict[str, set[str]] = {}
        self._generation = 0
        self._following = False
        self.hits = 0
        self.misses = 0

    # -- following the stream ------------------------------------------------------------------

    def follow(self) -> None:
        """A hub now applies the stream's invalidations in this process: entries may be served."""
        self._following = True

    def unfollow(self) -> None:
        self._following = False
        self.clear()

    @property
    def generation(self) -> int:
        """Read before a fill's database lookup; passed back to `put`."""
        return self._generation

    # -- entries -------------------------------------------------------------------------------

    def get(self, token_hash: str) -> Authenticated | None:
        if not self._following:
            return None
        entry = self._entries.get(token_hash)
        if entry is None or self._monotonic() - entry.stored_at > self._max_age:
            if entry is not None:
                self._remove(token_hash)
            self.misses += 1
            return None
        self._entries.move_to_end(token_hash)
        self.hits += 1
        return entry.auth

    def put(self, token_hash: str, auth: Authenticated, generation: int) -> None:
        """Remember a lookup, unless something was invalidated since it began (`generation`)."""
        if not self._following or generation != self._generation:
            return
        self._remove(token_hash)
        self._entries[token_hash] = _Entry(auth, self._monotonic())
        self._by_user.setdefault(auth.actor.user_id, set()).add(token_hash)
        while len(self._entries) > self._max_entries:
            oldest = next(iter(self._entries))
            self._remove(oldest)

    def drop_sessions(self, user_id: str, *, only: str | None, keep: str | None) -> None:
        """Sessions were revoked: `only` that one, or all but `keep` (the hub's socket rule)."""
        self._generation += 1
        for token_hash in list(self._by_user.get(user_id, ())):
            session_id = self._entries[token_hash].auth.actor.session_id
            if (only is None or session_id == only) and session_id != keep:
                self._remove(token_hash)

    def drop_user(self, user_id: str) -> None:
        """The user's row changed: every entry of theirs holds an old copy."""
        self._generation += 1
        for token_hash in list(self._by_user.get(user_id, ())):
            self._remove(token_hash)

    def clear(self) -> None:
        self._generation += 1
        self._entries.clear()
        self._by_user.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def _remove(self, token_hash: str) -> None:
        entry = self._entries.pop(token_hash, None)
        if entry is None:
            return
        user_id = entry.auth.actor.user_id
        hashes = self._by_user.get(user_id)
        if hashes is not None:
            hashes.discard(token_hash)
            if not hashes:
                del self._by_user[user_id]
