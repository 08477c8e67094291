"""Typed shapes of the contract's JSON (shared/API.md).

`extra="allow"` keeps fields the server adds later (the contract may grow without a version bump),
so an older SDK never drops data it does not know. Timestamps stay the server's ISO 8601 strings:
the SDK passes them on untouched rather than re-formatting them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

Status = Literal["online", "away", "busy", "offline"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow")


class User(_Model):
    id: str
    email: str
    full_name: str
    status: Status
    is_admin: bool
    is_active: bool
    last_seen_at: str | None = None
    avatar_url: str | None = None
    is_bot: bool = False


class Attachment(_Model):
    id: str
    filename: str
    content_type: str
    size: int
    url: str


class Reaction(_Model):
    """One emoji on a message, with everyone who reacted with it."""

    emoji: str
    count: int
    user_ids: list[str]


class Thread(_Model):
    """A root's replies in summary."""

    reply_count: int
    last_reply_at: str
    participant_ids: list[str]


class SystemLine(_Model):
    """A membership change shown in the room: the message's author did `action` (added,
    removed, left, joined, renamed, topic, made_admin, unmade_admin) to `user_ids`."""

    action: str
    user_ids: list[str] = []
    name: str | None = None
    topic: str | None = None


class LinkPreview(_Model):
    """A link's preview: text to show as text (never as HTML); `image_url` only https."""

    url: str
    title: str | None = None
    description: str | None = None
    image_url: str | None = None


class Message(_Model):
    id: str
    room_id: str
    author: User
    content: str
    html: str
    created_at: str
    edited_at: str | None = None
    deleted: bool = False
    client_id: str | None = None
    mentions: list[str] = []
    attachments: list[Attachment] = []
    reactions: list[Reaction] = []
    pinned: bool = False
    reply_to: str | None = None
    thread: Thread | None = None
    system: SystemLine | None = None
    # What an incoming webhook's post called itself (Slack's `username`).
    label: str | None = None
    # Its links' previews, filled after the send (a `message.updated` brings them).
    previews: list[LinkPreview] = []


class MessageVersion(_Model):
    """One entry of a message's edit history, oldest first."""

    content: str
    html: str
    created_at: str


class Room(_Model):
    id: str
    type: Literal["direct", "group", "channel"]
    name: str
    topic: str | None = None
    members: list[User]
    admins: list[str]
    created_at: str
    last_message: Message | None = None
    unread_count: int = 0
    last_read_message_id: str | None = None
    notify: Literal["all", "mentions", "none"] = "all"
    mention_count: int = 0


class Unread(_Model):
    """The toolbar counter: total unread, and per room id."""

    total: int
    rooms: dict[str, int]
    mentions: dict[str, int] = {}


class Channel(_Model):
    """A channel of my organization, joined or not."""

    id: str
    name: str
    topic: str | None = None
    member_count: int
    joined: bool


class ChatProfile(_Model):
    """One row of the Chat Profile Report."""

    user: User
    status: Status
    last_seen_at: str | None = None
    direct_room_id: str | None = None


class Bot(_Model):
    """A new bot, and its token (shown this once)."""

    user: User
    token: str


class IncomingWebhook(_Model):
    """A room's incoming webhook; `url` (with its secret) only in the answer that made it."""

    id: str
    name: str
    room_id: str
    created_at: str
    url: str | None = None
    created_by: str | None = None


class OutgoingWebhook(_Model):
    """An organization's outgoing webhook; `secret` only in the answer that made it, the last
    delivery's status and error (and the events waiting) only in the list."""

    id: str
    url: str
    events: list[str]
    room_ids: list[str] | None
    created_at: str
    secret: str | None = None
    last_status: int | None = None
    last_error: str | None = None
    last_delivery_at: str | None = None
    pending: int | None = None
