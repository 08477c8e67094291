"""Retry pacing shared by REST retries and WebSocket reconnects."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff capped at `cap` seconds, with jitter.

    Jitter matters because a server restart drops every socket at once: without it all clients
    would come back in the same millisecond, again and again.
    """

    base: float = 0.05
    cap: float = 2.0

    def delay(self, attempt: int) -> float:
        """Seconds to wait before retry number `attempt` (0 for the first retry)."""
        ceiling = min(self.cap, self.base * 2.0 ** min(attempt, 32))
        # "Equal jitter": half fixed so a retry never comes at once, half random to spread clients.
        # Bandit B311 / ruff S311: this jitter only spreads reconnects; nothing secret uses it.
        return ceiling / 2 + random.uniform(0, ceiling / 2)  # noqa: S311  # nosec B311
