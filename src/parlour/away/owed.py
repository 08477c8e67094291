"""Who is owed a notification for a new message, and why (a pure rule over plain facts).

A person is owed one for a message of someone else, in a room they are a member of, when the
room's notification level says so: at `all`, any message of a direct room or of a room of at
most `SMALL_ROOM` members, and any message that mentions them; at `mentions`, only those that
mention them; at `none`, nothing. A reply counts only for the thread's followers (as for unread
counts). System lines, deleted messages, bots and deactivated people are never owed anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from parlour.domain import notify

# Rooms up to this size notify their members at `all` of every message (API.md).
SMALL_ROOM = 20


@dataclass(frozen=True, slots=True)
class NewMessage:
    seq: int
    id: str
    room_id: str
    author_id: str
    content: str
    mentions: Sequence[str]
    reply_to: str | None
    system: bool
    deleted: bool


@dataclass(frozen=True, slots=True)
class Recipient:
    user_id: str
    notify: str | None  # the member's chosen level (null: the room type's default)
    active: bool
    follows_thread: bool  # for a reply: follows its thread from before it


def reason_owed(
    message: NewMessage, room_type: str, member_count: int, member: Recipient
) -> str | None:
    """Why `member` is owed a notification for `message` ("direct", "mention", "small_room"),
    or None when they are not."""
    if message.system or message.deleted or member.user_id == message.author_id:
        return None
    if not member.active:
        return None
    if message.reply_to is not None and not member.follows_thread:
        return None
    level = notify.effective(room_type, member.notify)
    if level == "none":
        return None
    if member.user_id in message.mentions:
        return "mention"
    if level != "all":
        return None
    if room_type == "direct":
        return "direct"
    if member_count <= SMALL_ROOM:
        return "small_room"
    return None
