"""Notification levels: what a member hears of a room (pop-ups, sounds, e-mail, push, the badge).

Unread counts are kept whatever the level; a room at "none" is left out of the total.
"""

from __future__ import annotations

from typing import Literal

NotifyLevel = Literal["all", "mentions", "none"]
LEVELS: dict[str | None, NotifyLevel] = {"all": "all", "mentions": "mentions", "none": "none"}


def effective(room_type: str, chosen: str | None) -> NotifyLevel:
    """The member's level: their choice, else "mentions" for channels (busy, joined by many)
    and "all" for direct and group rooms."""
    return LEVELS.get(chosen) or ("mentions" if room_type == "channel" else "all")


def counts_in_total(room_type: str, chosen: str | None) -> bool:
    return effective(room_type, chosen) != "none"
