"""Every frame the server sends on `GET /api/v1/events`, one pydantic model per `type`.

Durable events (stored in the stream, replayed by cursor) subclass `DurableEvent`; the other
frames (`hello`, `ack`, `error`, ...) are built for one socket or one moment and never stored.
Defining a model with a `Literal` type registers it: the union that parses any server frame
(`FRAMES`), the hub's internal and membership sets and the table in docs/events.md all come
from the registry, so a new event type (a reaction, a pin, a receipt) is one model here.

Wire shape: `{"type", "cursor"?, ...payload fields}`, the payload fields in declaration order. A
durable event's payload is encoded once, when appended (`payload_json`); the stream splices the
cursor in (`StoredEvent.frame`). Which room or user an event goes to is the appender's choice
(`stream.append(..., room_id=)` or `user_id=`); `AUDIENCE` only documents it.
"""

from __future__ import annotations

import functools
import inspect
import operator
from typing import Annotated, Any, ClassVar, Literal

import orjson
import pydantic_core
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from parlour.errors import ParlourError
from parlour.schemas import (
    ErrorBody,
    MessageOut,
    NotifyLevel,
    RoomOut,
    SharedRoomOut,
    Status,
    UserOut,
)

# Every concrete frame model by its type, in definition order (the docs table's order).
REGISTRY: dict[str, type[Frame]] = {}


class Frame(BaseModel):
    """Base of every server frame; not a frame itself."""

    # Parsing a frame with a field nobody declared is an error: a wrong shape fails a test.
    model_config = ConfigDict(extra="forbid", frozen=True)

    DURABLE: ClassVar[bool] = False
    # The `type` of this model's frames, for comparisons with stored events' types.
    TYPE: ClassVar[str]
    # Who receives it (documentation; the sender of the frame decides).
    AUDIENCE: ClassVar[str] = ""

    type: str

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        name = cls.model_fields["type"].default
        if isinstance(name, str):  # a concrete frame, not an intermediate base
            if name in REGISTRY:
                raise TypeError(f"two frame models for {name!r}")
            REGISTRY[name] = cls
            cls.TYPE = name

    def to_json(self) -> str:
        """The whole frame as sent (non-durable frames; durable ones go through the stream)."""
        return self.model_dump_json()


class DurableEvent(Frame):
    """Base of the events appended to the stream."""

    DURABLE: ClassVar[bool] = True
    # Acted on by the hub (closing sockets), never sent to clients, not even on replay.
    INTERNAL: ClassVar[bool] = False
    # Changes who receives a room's later events: the hub parses it (`MembershipNotice`).
    MEMBERSHIP: ClassVar[bool] = False

    # Set on frames read from the wire; the stream assigns it, so it is not part of the payload.
    cursor: str | None = None

    @functools.cached_property
    def payload_json(self) -> str:
        """The stored payload: the frame without `type` and `cursor`, encoded once per event
        however many times it is appended (a removal goes to the room and to the removed)."""
        return self.model_dump_json(exclude=_NOT_PAYLOAD)


_NOT_PAYLOAD = {"type", "cursor"}

# A direct room's events carry each member's own view; a group's one event the shared view.
RoomView = RoomOut | SharedRoomOut


# -- durable events ----------------------------------------------------------------------------


class EncodedMessage(MessageOut):
    """A message that keeps its JSON once encoded: the send path builds these, so the event's
    payload, the REST answer and the ack share one encoding (`json_text`)."""

    @functools.cached_property
    def json_text(self) -> str:
        return self.model_dump_json()


def message_json(message: MessageOut) -> str:
    """The message's JSON: the one already made, if it is an `EncodedMessage`."""
    if isinstance(message, EncodedMessage):
        return message.json_text
    return message.model_dump_json()


class _MessageEvent(DurableEvent):
    AUDIENCE: ClassVar[str] = "every current member of the room (the sender's sockets too)"
    message: MessageOut

    @functools.cached_property
    def message_json(self) -> str:
        """The message alone, encoded once: the payload is spliced around it, and the REST
        answer and the ack of a send reuse it as is."""
        return message_json(self.message)

    @functools.cached_property
    def payload_json(self) -> str:
        # The same text as the generic encoding of the payload (`{"message": ...}`, no spaces).
        return '{"message":' + self.message_json + "}"


class MessageCreated(_MessageEvent):
    """A new message. Clients add one to the room's unread count when someone else wrote it
    and it is not a reply (no `unread.updated` follows). A reply (`reply_to` set) counts only for
    its thread's followers, who get `unread.updated`; its root's new summary follows as
    `message.updated`."""

    type: Literal["message.created"] = "message.created"


class MessageUpdated(_MessageEvent):
    """A message was edited: its new content, `html` and `edited_at`."""

    type: Literal["message.updated"] = "message.updated"


class MessageDeleted(_MessageEvent):
    """A message became a tombstone: same id and place, empty content, `deleted: true`."""

    type: Literal["message.deleted"] = "message.deleted"


class _RoomEvent(DurableEvent):
    room: RoomView


class RoomCreated(_RoomEvent):
    """A room I am in was created (a direct room is created when first opened)."""

    AUDIENCE: ClassVar[str] = "each initial member"
    MEMBERSHIP: ClassVar[bool] = True
    type: Literal["room.created"] = "room.created"


class RoomUpdated(_RoomEvent):
    """A group was renamed."""

    AUDIENCE: ClassVar[str] = "each member"
    type: Literal["room.updated"] = "room.updated"


class RoomMemberAdded(_RoomEvent):
    """People joined a group; `user_ids` are the added ones."""

    AUDIENCE: ClassVar[str] = "each member, the new ones included"
    MEMBERSHIP: ClassVar[bool] = True
    type: Literal["room.member_added"] = "room.member_added"
    user_ids: list[str]


class RoomMemberRemoved(_RoomEvent):
    """Someone left or was removed from a group; `user_id` is the removed one. When it is me,
    the room is gone for me (history, posting and events)."""

    AUDIENCE: ClassVar[str] = "each remaining member and the removed one"
    MEMBERSHIP: ClassVar[bool] = True
    type: Literal["room.member_removed"] = "room.member_removed"
    user_id: str


class UnreadUpdated(DurableEvent):
    """My unread count for a room, of which `mention_count` mention me, and my total (rooms at
    notification level "none" left out), as absolute values (the last one wins)."""

    AUDIENCE: ClassVar[str] = (
        "me (all my sockets) after a read; members whose unread message was deleted"
    )
    type: Literal["unread.updated"] = "unread.updated"
    room_id: str
    unread_count: int
    total: int
    mention_count: int


class _ReactionEvent(DurableEvent):
    AUDIENCE: ClassVar[str] = "every current member of the room"
    room_id: str
    message_id: str
    emoji: str
    user_id: str


class ReactionAdded(_ReactionEvent):
    """Someone reacted to a message with an emoji (new ones go last in the message's
    `reactions`)."""

    type: Literal["reaction.added"] = "reaction.added"


class ReactionRemoved(_ReactionEvent):
    """Someone took their reaction back (an emoji nobody uses any more leaves `reactions`)."""

    type: Literal["reaction.removed"] = "reaction.removed"


class _PinEvent(DurableEvent):
    AUDIENCE: ClassVar[str] = "every current member of the room"
    room_id: str
    message_id: str
    user_id: str


class MessagePinned(_PinEvent):
    """A member pinned a message: it heads the room's pins; `user_id` pinned it."""

    type: Literal["message.pinned"] = "message.pinned"


class MessageUnpinned(_PinEvent):
    """A member unpinned a message (a deleted message is unpinned too)."""

    type: Literal["message.unpinned"] = "message.unpinned"


class SavedUpdated(DurableEvent):
    """I saved or unsaved a message (on another device, too)."""

    AUDIENCE: ClassVar[str] = "me (all my sockets); nobody else learns what I save"
    type: Literal["saved.updated"] = "saved.updated"
    message_id: str
    saved: bool


class NotifyUpdated(DurableEvent):
    """I changed a room's notification level (on another device, too); my counts follow as
    `unread.updated` (a room at "none" leaves the total)."""

    AUDIENCE: ClassVar[str] = "me (all my sockets)"
    type: Literal["notify.updated"] = "notify.updated"
    room_id: str
    notify: NotifyLevel


class SessionRevoked(DurableEvent):
    """Internal: sessions ended (logout, password change, deactivation). The hub closes the
    matching sockets with 4401: `only` that session, or all but `keep` (null: all)."""

    AUDIENCE: ClassVar[str] = "the user's own hub entries; never sent to clients"
    INTERNAL: ClassVar[bool] = True
    type: Literal["session.revoked"] = "session.revoked"
    only: str | None
    keep: str | None


class UserChanged(DurableEvent):
    """Internal: a user's row changed (name, status, preferences, admin flag, activation). Every
    process drops the user from its auth cache (parlour.actions.auth_cache), whose entries hold
    the user as `/users/me` shows them."""

    AUDIENCE: ClassVar[str] = "the user's entries in every process's auth cache; never sent"
    INTERNAL: ClassVar[bool] = True
    type: Literal["user.changed"] = "user.changed"


# -- frames of one socket or one moment --------------------------------------------------------


class Hello(Frame):
    """The first frame of every connection. `cursor` equals `since` when resuming, else the
    current position (continue from it after a resync)."""

    AUDIENCE: ClassVar[str] = "the connecting socket"
    type: Literal["hello"] = "hello"
    cursor: str
    user: UserOut


class ResyncRequired(Frame):
    """`since` was unknown, malformed or past retention: reload over REST and continue from
    `hello.cursor`. Comes right after `hello`, with no replay; or, rarely, in the middle of a
    replay that housekeeping overtook (events it still owed were pruned meanwhile)."""

    AUDIENCE: ClassVar[str] = "the connecting socket"
    type: Literal["resync_required"] = "resync_required"


class Ack(Frame):
    """A `send` was durably stored (a retry with the same `client_id` acks the first message)."""

    AUDIENCE: ClassVar[str] = "the socket that sent `send`"
    type: Literal["ack"] = "ack"
    client_id: str
    message: MessageOut

    @staticmethod
    def text(client_id: str, message: MessageOut) -> str:
        """The ack as sent, spliced around the message's existing encoding (the same text as
        `Ack(...).to_json()`, without encoding the message again)."""
        client = pydantic_core.to_json(client_id).decode()
        return f'{{"type":"ack","client_id":{client},"message":{message_json(message)}}}'


class Error(Frame):
    """A client frame failed; the connection stays. `retryable: true` means the same frame may
    succeed later unchanged (`unavailable`, `rate_limited`). A frame that carried a
    `client_id` is answered with it."""

    AUDIENCE: ClassVar[str] = "the socket whose frame failed"
    type: Literal["error"] = "error"
    error: ErrorBody
    retryable: bool
    # Absent, not null, when the failed frame named none.
    client_id: str | None = Field(default=None, exclude_if=lambda value: value is None)

    @classmethod
    def of(cls, error: ParlourError, client_id: str | None = None) -> Error:
        body = ErrorBody(code=error.code, message=error.message, details=error.details)
        return cls(error=body, retryable=error.retryable, client_id=client_id)


class Typing(Frame):
    """Someone is typing in a room until `until` (relayed at most once per throttle window)."""

    AUDIENCE: ClassVar[str] = "the room's other members"
    type: Literal["typing"] = "typing"
    room_id: str
    user_id: str
    until: str


class ReceiptUpdated(Frame):
    """Someone's read pointer in a room moved to `message_id` (not durable: on resume a client
    reloads the receipts of the rooms it shows)."""

    AUDIENCE: ClassVar[str] = (
        "the members of a room of at most `PARLOUR_PRESENCE_ROOM_MEMBERS` (100) members, the"
        " reader's own sockets too"
    )
    type: Literal["receipt.updated"] = "receipt.updated"
    room_id: str
    user_id: str
    message_id: str


class PresenceUpdated(Frame):
    """Someone's status changed."""

    AUDIENCE: ClassVar[str] = (
        "people who share a room of at most `PARLOUR_PRESENCE_ROOM_MEMBERS` (100) members with"
        " the user; a crowd's members see statuses through REST instead of members² frames"
    )
    type: Literal["presence.updated"] = "presence.updated"
    user_id: str
    status: Status
    last_seen_at: str | None


class Pong(Frame):
    """The answer to `ping`: a client can tell a stalled link from a quiet one."""

    AUDIENCE: ClassVar[str] = "the socket that sent `ping`"
    type: Literal["pong"] = "pong"


# -- parsing -----------------------------------------------------------------------------------

INTERNAL_TYPES = frozenset(
    name for name, model in REGISTRY.items() if issubclass(model, DurableEvent) and model.INTERNAL
)
MEMBERSHIP_TYPES = frozenset(
    name for name, model in REGISTRY.items() if issubclass(model, DurableEvent) and model.MEMBERSHIP
)

# Built from the registry, so it always holds every model above; typed as the base class
# because that is what callers match on (`isinstance(frame, MessageCreated)`).
_ANY_FRAME: Any = Annotated[
    functools.reduce(operator.or_, REGISTRY.values()), Field(discriminator="type")
]
FRAMES: TypeAdapter[Frame] = TypeAdapter(_ANY_FRAME)


def parse_frame(raw: str | bytes | dict[str, Any]) -> Frame:
    """Parse one server frame as received; a durable event must carry its cursor.

    Strict, and always as JSON (a dict is encoded first): `"3"` is not a count, and nested
    models accept JSON objects only in JSON mode when strict.
    """
    data = orjson.dumps(raw) if isinstance(raw, dict) else raw
    frame = FRAMES.validate_json(data, strict=True)
    if isinstance(frame, DurableEvent) and frame.cursor is None:
        raise ValueError(f"durable event {frame.type!r} without a cursor")
    return frame


def wire_dict(frame: Frame) -> dict[str, Any]:
    """The frame as JSON values, exactly as the server sends it (what a parse must give back)."""
    data: dict[str, Any] = frame.model_dump(mode="json")
    if isinstance(frame, DurableEvent) and frame.cursor is None:
        del data["cursor"]
    return data


# -- the hub's view of a membership event ------------------------------------------------------


class _Id(BaseModel):
    id: str


class _RoomMembers(BaseModel):
    id: str
    members: list[_Id]


class MembershipNotice(BaseModel):
    """Only what the hub needs from a membership event's payload (unknown fields are skipped,
    not validated: the hub reads every such event of every room)."""

    room: _RoomMembers
    user_id: str | None = None


def describe(model: type[Frame]) -> str:
    """The model's docstring as one line (the docs table's description)."""
    return " ".join(inspect.cleandoc(model.__doc__ or "").split())
