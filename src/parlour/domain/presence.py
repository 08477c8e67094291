"""Presence rules: what status others see, from what the user chose and whether they are here."""

from __future__ import annotations

from typing import Literal

Status = Literal["online", "away", "busy", "offline"]
CHOOSABLE: frozenset[str] = frozenset({"online", "away", "busy", "offline"})


def effective_status(chosen: str, connected: bool, idle: bool) -> Status:
    """A manual status wins over presence; "offline" chosen is invisible.

    "online" chosen means "automatic": online while connected, away when idle, offline when gone.
    Busy and away show only while connected: nobody is busy in a chat they are not in.
    """
    if chosen == "offline" or not connected:
        return "offline"
    if chosen == "busy":
        return "busy"
    if chosen == "away" or idle:
        return "away"
    return "online"
