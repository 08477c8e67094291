"""The public shapes of the contract (shared/API.md): REST bodies and event payloads."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Status = Literal["online", "away", "busy", "offline"]
RoomType = Literal["direct", "group", "channel"]
NotifyLevel = Literal["all", "mentions", "none"]
TOPIC_CHARS = 250

# What `str.strip()` (which the actions use) removes, spelled out: `\s` means different things to
# different regex engines (ECMA-262, Python, Rust), and the OpenAPI document must mean one thing.
SPACE = r"\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
# A character that is neither blank nor NUL.
NON_BLANK = rf"[^\x00{SPACE}]"
# Text from clients never holds NUL: PostgreSQL cannot store it (and nobody types it).
NO_NUL = r"^[^\x00]*$"
# Some visible text, no NUL.
NON_BLANK_TEXT = rf"^[^\x00]*{NON_BLANK}[^\x00]*$"
Text = Annotated[str, Field(pattern=NO_NUL)]
Id = Annotated[str, Field(max_length=64, pattern=NO_NUL)]
# A name (room, person) must have some non-blank text. The length limit is configurable
# (PARLOUR_LIMIT_NAME_CHARS), so the actions check it and create_app writes it into the OpenAPI
# document.
Name = Annotated[str, Field(min_length=1, pattern=NON_BLANK_TEXT)]
MIN_PASSWORD = 8


class Strict(BaseModel):
    """Request bodies: unknown fields are an error, not silently dropped, and JSON types are not
    coerced (`0` is not `false`): what the OpenAPI document says is what passes."""

    model_config = ConfigDict(extra="forbid", strict=True, regex_engine="python-re")


class ErrorBody(BaseModel):
    code: str
    message: str
    details: dict[str, Any]


class ErrorOut(BaseModel):
    """Every error response: `{"error": {"code", "message", "details"}}`."""

    error: ErrorBody


class UserOut(BaseModel):
    id: str
    email: str
    full_name: str
    status: Status
    is_admin: bool
    is_active: bool
    last_seen_at: str | None
    # Where the avatar image is (its version in the query, so it can be cached for good); null:
    # the UI shows initials.
    avatar_url: str | None = None
    # A bot (docs/integrations.md): the UI marks its name.
    is_bot: bool = False


EmailNotifications = Literal["direct_and_mentions", "never"]


class Preferences(BaseModel):
    message_preview: bool = True
    notification_sound: bool = True
    desktop_notifications: bool = False
    enable_chat: bool = True
    # Digests of what waits for me while I am away (docs/notifications.md).
    email_notifications: EmailNotifications = "direct_and_mentions"


class MeOut(UserOut):
    org_id: str
    chosen_status: Status
    preferences: Preferences


class AttachmentOut(BaseModel):
    id: str
    filename: str
    content_type: str
    size: int
    url: str


class ReactionOut(BaseModel):
    emoji: str
    count: int
    user_ids: list[str]


class ThreadOut(BaseModel):
    """A root's replies in summary: how many, the latest's time, who replied (first reply
    order)."""

    reply_count: int
    last_reply_at: str
    participant_ids: list[str]


SystemAction = Literal[
    "created",
    "added",
    "removed",
    "left",
    "joined",
    "renamed",
    "topic",
    "made_admin",
    "unmade_admin",
]


class SystemLineOut(BaseModel):
    """A membership change shown as a line of the room: the message's author did `action` to
    `user_ids` (added, removed, made admin...), or renamed the room to `name`, or set `topic`."""

    action: SystemAction
    user_ids: list[str] = []
    name: str | None = None
    topic: str | None = None


class LinkPreviewOut(BaseModel):
    url: str
    title: str | None = None
    description: str | None = None
    # Only https images whose host passes the outbound guard; null otherwise.
    image_url: str | None = None


class MessageOut(BaseModel):
    id: str
    room_id: str
    author: UserOut
    content: str
    html: str
    created_at: str
    edited_at: str | None
    deleted: bool
    client_id: str | None
    mentions: list[str]
    attachments: list[AttachmentOut]
    # In order of first use; each emoji once, with everyone who reacted with it.
    reactions: list[ReactionOut]
    pinned: bool
    # A reply: its thread's root (a reply to a reply attaches to the root); else null.
    reply_to: str | None
    # A root with replies: their summary; else null.
    thread: ThreadOut | None
    # A system line (a membership change; `content` says it in words); null for what people wrote.
    system: SystemLineOut | None = None
    # What an incoming webhook's post called itself (Slack's `username`); null otherwise.
    label: str | None = None
    # The message's links' previews, filled after the send (`message.updated`); [] until then.
    previews: list[LinkPreviewOut] = []


class SharedRoomOut(BaseModel):
    """A room as all its members see it alike: what a group's room events carry (one event
    for the whole group, so without the per-member fields RoomOut adds)."""

    id: str
    type: RoomType
    name: str
    # Channels' topic; null for direct and group rooms.
    topic: str | None
    members: list[UserOut]
    admins: list[str]
    created_at: str
    last_message: MessageOut | None


class RoomOut(SharedRoomOut):
    # No docstring on purpose: the OpenAPI document keeps describing Room as before.
    unread_count: int
    last_read_message_id: str | None
    notify: NotifyLevel
    # My unread messages that mention me.
    mention_count: int


class MessageVersionOut(BaseModel):
    content: str
    html: str
    created_at: str


class UnreadOut(BaseModel):
    # Rooms at notification level "none" are counted in `rooms` but left out of `total`.
    total: int
    rooms: dict[str, int]
    mentions: dict[str, int]


class ChannelOut(BaseModel):
    """A channel of my organization, joined or not (`GET /channels`)."""

    id: str
    name: str
    topic: str | None
    member_count: int
    joined: bool


class ChatProfileOut(BaseModel):
    user: UserOut
    status: Status
    last_seen_at: str | None
    direct_room_id: str | None


class LoginOut(BaseModel):
    token: str
    csrf_token: str
    user: MeOut


class HealthOut(BaseModel):
    status: str


# Request bodies -------------------------------------------------------------------------------


class LoginIn(Strict):
    email: str = Field(max_length=320, pattern=NO_NUL)
    password: str = Field(max_length=1000)


class PreferencesIn(BaseModel):
    """Preferences as sent; unknown keys (an older client's) are ignored, and so are keys not
    sent: only what a PATCH names changes (an older client never resets a newer preference)."""

    model_config = ConfigDict(strict=True)

    message_preview: bool = True
    notification_sound: bool = True
    desktop_notifications: bool = False
    enable_chat: bool = True
    email_notifications: EmailNotifications = "direct_and_mentions"


class UpdateMeIn(Strict):
    full_name: Name | None = None
    status: Status | None = None
    preferences: PreferencesIn | None = None


# Documented only (the actions check it and answer with their own codes): at least
# MIN_PASSWORD characters.
_PASSWORD_DOC: dict[str, Any] = {"minLength": MIN_PASSWORD}


class PasswordIn(Strict):
    current_password: str = Field(max_length=1000)
    new_password: str = Field(max_length=1000, json_schema_extra=_PASSWORD_DOC)


class CreateUserIn(Strict):
    # The actions trim and lower-case it, then want `local@domain.tld`.
    email: str = Field(
        max_length=320,
        pattern=rf"^[{SPACE}]*[^@\x00{SPACE}]+@[^@\x00{SPACE}]+\.[^@\x00{SPACE}]+[{SPACE}]*$",
    )
    full_name: Name
    password: str = Field(max_length=1000, json_schema_extra=_PASSWORD_DOC)
    is_admin: bool = False


class UpdateUserIn(Strict):
    is_active: bool | None = None
    is_admin: bool | None = None
    full_name: Name | None = None


class DirectRoomIn(Strict):
    type: Literal["direct"]
    user_id: Id


class GroupRoomIn(Strict):
    type: Literal["group"]
    name: Name
    member_ids: list[Id] | None = None


class ChannelRoomIn(Strict):
    type: Literal["channel"]
    name: Name
    topic: Annotated[str, Field(max_length=TOPIC_CHARS, pattern=NO_NUL)] | None = None
    member_ids: list[Id] | None = None


CreateRoomIn = Annotated[DirectRoomIn | GroupRoomIn | ChannelRoomIn, Field(discriminator="type")]


class RenameRoomIn(Strict):
    """A new name (group and channel admins) and/or topic (channels: any member)."""

    name: Name | None = None
    topic: Annotated[str, Field(max_length=TOPIC_CHARS, pattern=NO_NUL)] | None = None


class RoomSettingsIn(Strict):
    notify: NotifyLevel


class AddMembersIn(Strict):
    user_ids: list[Id] = Field(min_length=1)


class SendMessageIn(Strict):
    content: Text = ""
    client_id: str | None = Field(
        default=None, min_length=1, max_length=100, pattern=NON_BLANK_TEXT
    )
    attachment_ids: list[Id] | None = Field(default=None, max_length=20)
    reply_to: Id | None = None


class EditMessageIn(Strict):
    content: Text


class ReadIn(Strict):
    message_id: Id


# Reaching people who are away ------------------------------------------------------------------


class PushKeysIn(Strict):
    p256dh: str = Field(min_length=1, max_length=200)
    auth: str = Field(min_length=1, max_length=100)


class PushSubscriptionIn(Strict):
    """A browser's `PushSubscription.toJSON()`."""

    endpoint: str = Field(min_length=1, max_length=2000)
    keys: PushKeysIn
    expirationTime: int | None = None


class PushKeyOut(BaseModel):
    public_key: str


class IdOut(BaseModel):
    id: str


# Bots and incoming webhooks (docs/integrations.md) ---------------------------------------------

LABEL_CHARS = 80  # messages.label's width


class CreateBotIn(Strict):
    name: Name


class BotCreatedOut(BaseModel):
    user: UserOut
    # The bot's bearer token: shown this once, never again.
    token: str


class CreateIncomingWebhookIn(Strict):
    name: Name


class IncomingWebhookOut(BaseModel):
    id: str
    name: str
    room_id: str
    created_at: str
    created_by: str


class IncomingWebhookCreatedOut(BaseModel):
    id: str
    # The secret URL to POST to: shown this once, never again (only its hash is kept).
    url: str
    name: str
    room_id: str
    created_at: str


class IncomingWebhookPostIn(Strict):
    """Slack's incoming webhook shape: Markdown `text`, and an optional `username` label."""

    text: Text
    username: str | None = Field(default=None, min_length=1, max_length=LABEL_CHARS, pattern=NO_NUL)
