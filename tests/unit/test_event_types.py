"""The frame models: the wire JSON they make, the union that parses them, the docs table."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import orjson
import pytest
from pydantic import ValidationError

from parlour.errors import InvalidInput, RateLimited
from parlour.events import catalog
from parlour.events.stream import StoredEvent, encode_cursor
from parlour.events.types import (
    FRAMES,
    INTERNAL_TYPES,
    MEMBERSHIP_TYPES,
    REGISTRY,
    Ack,
    DurableEvent,
    EncodedMessage,
    Error,
    Frame,
    Hello,
    MembershipNotice,
    MessageCreated,
    MessageDeleted,
    MessagePinned,
    MessageUnpinned,
    MessageUpdated,
    NotifyUpdated,
    Pong,
    PresenceUpdated,
    ReactionAdded,
    ReactionRemoved,
    ReceiptUpdated,
    ResyncRequired,
    RoomCreated,
    RoomMemberAdded,
    RoomMemberRemoved,
    RoomUpdated,
    SavedUpdated,
    SessionRevoked,
    Typing,
    UnreadUpdated,
    UserChanged,
    parse_frame,
    wire_dict,
)
from parlour.schemas import MessageOut, RoomOut, SharedRoomOut, UserOut

DOCS = Path(__file__).resolve().parents[2] / "docs" / "events.md"
EPOCH = "ep0ch"

ADA = UserOut(
    id="u-ada",
    email="ada@example.com",
    full_name="Ada Lovelace",
    status="online",
    is_admin=True,
    is_active=True,
    last_seen_at=None,
)
BOB = ADA.model_copy(update={"id": "u-bob", "full_name": "Bob «Ünïcode» 🎉", "status": "away"})
MESSAGE = MessageOut(
    id="m-1",
    room_id="r-1",
    author=ADA,
    content='tab\there, quote " and \\ and 🎉',
    html="<p>tab here</p>",
    created_at="2024-05-01T12:00:00.000Z",
    edited_at=None,
    deleted=False,
    client_id="c-1",
    mentions=["u-bob"],
    attachments=[],
    reactions=[],
    pinned=False,
    reply_to=None,
    thread=None,
)
SHARED = SharedRoomOut(
    id="r-1",
    type="group",
    name="Team",
    topic=None,
    members=[ADA, BOB],
    admins=["u-ada"],
    created_at="2024-05-01T11:00:00.000Z",
    last_message=MESSAGE,
)
DIRECT = RoomOut(
    **{**dict(SHARED), "type": "direct", "name": "Bob"},
    unread_count=2,
    last_read_message_id=None,
    notify="all",
    mention_count=1,
)
# How a group's view was made before it had a model: the room minus the per-member fields.
OLD_SHARED = RoomOut(
    **dict(SHARED), unread_count=0, last_read_message_id=None, notify="all", mention_count=0
).model_dump(
    mode="json",
    exclude={"unread_count", "last_read_message_id", "notify", "mention_count"},
)

# One of each frame, in the old hand-built JSON shapes the contract (and the SDK, the UI) know.
SAMPLES: list[tuple[Frame, dict[str, Any]]] = [
    (MessageCreated(message=MESSAGE), {"message": MESSAGE.model_dump(mode="json")}),
    (MessageUpdated(message=MESSAGE), {"message": MESSAGE.model_dump(mode="json")}),
    (MessageDeleted(message=MESSAGE), {"message": MESSAGE.model_dump(mode="json")}),
    (RoomCreated(room=DIRECT), {"room": DIRECT.model_dump(mode="json")}),
    (RoomUpdated(room=SHARED), {"room": OLD_SHARED}),
    (
        RoomMemberAdded(room=SHARED, user_ids=["u-bob"]),
        {"room": OLD_SHARED, "user_ids": ["u-bob"]},
    ),
    (
        RoomMemberRemoved(room=SHARED, user_id="u-bob"),
        {"room": OLD_SHARED, "user_id": "u-bob"},
    ),
    (
        UnreadUpdated(room_id="r-1", unread_count=3, total=7, mention_count=1),
        {"room_id": "r-1", "unread_count": 3, "total": 7, "mention_count": 1},
    ),
    (
        ReactionAdded(room_id="r-1", message_id="m-1", emoji="👍", user_id="u-bob"),
        {"room_id": "r-1", "message_id": "m-1", "emoji": "👍", "user_id": "u-bob"},
    ),
    (
        ReactionRemoved(room_id="r-1", message_id="m-1", emoji=":shipit:", user_id="u-bob"),
        {"room_id": "r-1", "message_id": "m-1", "emoji": ":shipit:", "user_id": "u-bob"},
    ),
    (
        MessagePinned(room_id="r-1", message_id="m-1", user_id="u-ada"),
        {"room_id": "r-1", "message_id": "m-1", "user_id": "u-ada"},
    ),
    (
        MessageUnpinned(room_id="r-1", message_id="m-1", user_id="u-bob"),
        {"room_id": "r-1", "message_id": "m-1", "user_id": "u-bob"},
    ),
    (SavedUpdated(message_id="m-1", saved=True), {"message_id": "m-1", "saved": True}),
    (NotifyUpdated(room_id="r-1", notify="none"), {"room_id": "r-1", "notify": "none"}),
    (SessionRevoked(only="s-1", keep=None), {"only": "s-1", "keep": None}),
    (UserChanged(), {}),
    (
        Hello(cursor="ep0ch.5", user=ADA),
        {"type": "hello", "cursor": "ep0ch.5", "user": ADA.model_dump(mode="json")},
    ),
    (ResyncRequired(), {"type": "resync_required"}),
    (
        Ack(client_id="c-1", message=MESSAGE),
        {"type": "ack", "client_id": "c-1", "message": MESSAGE.model_dump(mode="json")},
    ),
    (
        Error.of(RateLimited("Slow down.", retry_after=1), "c-2"),
        {
            "type": "error",
            "error": {
                "code": "rate_limited",
                "message": "Slow down.",
                "details": {"retry_after": 1},
            },
            "retryable": True,
            "client_id": "c-2",
        },
    ),
    (
        Error.of(InvalidInput("A frame must be JSON.", code="invalid_json")),
        {
            "type": "error",
            "error": {"code": "invalid_json", "message": "A frame must be JSON.", "details": {}},
            "retryable": False,
        },
    ),
    (
        Typing(room_id="r-1", user_id="u-ada", until="2024-05-01T12:00:06.000Z"),
        {
            "type": "typing",
            "room_id": "r-1",
            "user_id": "u-ada",
            "until": "2024-05-01T12:00:06.000Z",
        },
    ),
    (
        PresenceUpdated(user_id="u-bob", status="away", last_seen_at="2024-05-01T12:00:00.000Z"),
        {
            "type": "presence.updated",
            "user_id": "u-bob",
            "status": "away",
            "last_seen_at": "2024-05-01T12:00:00.000Z",
        },
    ),
    (Pong(), {"type": "pong"}),
    (
        ReceiptUpdated(room_id="r-1", user_id="u-bob", message_id="m-1"),
        {"type": "receipt.updated", "room_id": "r-1", "user_id": "u-bob", "message_id": "m-1"},
    ),
]


def sent(frame: Frame, old: dict[str, Any]) -> tuple[bytes, bytes]:
    """What the server sends for `frame` now, and what it sent before frames had models."""
    if isinstance(frame, DurableEvent):
        stored = StoredEvent(7, "o-1", "r-1", None, frame.type, frame.payload_json)
        before = {"type": frame.type, "cursor": encode_cursor(EPOCH, 7), **old}
        return stored.frame(EPOCH), orjson.dumps(before)
    return frame.to_json().encode(), orjson.dumps(old)


def test_every_model_has_a_sample() -> None:
    assert {frame.type for frame, _ in SAMPLES} == set(REGISTRY)


@pytest.mark.parametrize(("frame", "old"), SAMPLES, ids=lambda value: getattr(value, "type", ""))
def test_wire_json_is_byte_for_byte_what_it_was(frame: Frame, old: dict[str, Any]) -> None:
    now, before = sent(frame, old)
    assert now == before


@pytest.mark.parametrize(("frame", "old"), SAMPLES, ids=lambda value: getattr(value, "type", ""))
def test_the_union_parses_every_frame_back(frame: Frame, old: dict[str, Any]) -> None:
    wire, _ = sent(frame, old)
    parsed = parse_frame(wire)
    assert type(parsed) is type(frame)
    assert wire_dict(parsed) == orjson.loads(wire)
    if isinstance(parsed, DurableEvent):
        assert parsed.cursor == encode_cursor(EPOCH, 7)
        assert parsed.model_copy(update={"cursor": None}) == frame


def test_a_group_event_parses_as_the_shared_view_and_a_direct_one_as_the_room() -> None:
    group = parse_frame(sent(RoomMemberAdded(room=SHARED, user_ids=["u-bob"]), {})[0])
    direct = parse_frame(sent(RoomCreated(room=DIRECT), {})[0])
    assert isinstance(group, RoomMemberAdded)
    assert type(group.room) is SharedRoomOut
    assert isinstance(direct, RoomCreated)
    assert type(direct.room) is RoomOut


@pytest.mark.parametrize(
    "raw",
    [
        {"type": "pong", "extra": 1},  # a field nobody declared
        {"type": "typing", "room_id": "r-1", "user_id": "u-ada"},  # one missing
        {
            "type": "unread.updated",
            "cursor": "e.1",
            "room_id": "r",
            "unread_count": "3",
            "total": 1,
        },
        {"type": "message.liked", "cursor": "e.1"},  # no such type
        {"cursor": "e.1"},  # no type at all
    ],
)
def test_wrong_shapes_are_refused(raw: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        parse_frame(orjson.dumps(raw))


def test_a_durable_event_without_its_cursor_is_refused() -> None:
    with pytest.raises(ValueError, match="without a cursor"):
        parse_frame(
            {
                "type": "unread.updated",
                "room_id": "r",
                "unread_count": 0,
                "total": 0,
                "mention_count": 0,
            }
        )


def test_a_payload_is_encoded_once_however_often_it_is_appended() -> None:
    notice = RoomMemberRemoved(room=SHARED, user_id="u-bob")
    assert notice.payload_json is notice.payload_json


def test_the_hub_reads_membership_from_the_payload_alone() -> None:
    notice = MembershipNotice.model_validate_json(
        RoomMemberRemoved(room=SHARED, user_id="u-bob").payload_json
    )
    assert notice.room.id == "r-1"
    assert [member.id for member in notice.room.members] == ["u-ada", "u-bob"]
    assert notice.user_id == "u-bob"
    assert (
        MembershipNotice.model_validate_json(RoomCreated(room=DIRECT).payload_json).user_id is None
    )


def test_internal_and_membership_types_come_from_the_models() -> None:
    assert {"session.revoked", "user.changed"} == INTERNAL_TYPES


def test_a_message_events_payload_is_spliced_around_the_message_encoded_once() -> None:
    event = MessageCreated(message=MESSAGE)
    generic = event.model_dump_json(exclude={"type", "cursor"})
    assert event.payload_json == generic
    assert event.message_json is event.message_json
    assert event.message_json == MESSAGE.model_dump_json()


def test_an_encoded_message_is_encoded_once_for_the_event_and_the_ack() -> None:
    encoded = EncodedMessage(**dict(MESSAGE))
    event = MessageCreated(message=encoded)
    assert event.message is encoded
    assert event.message_json is encoded.json_text  # the same text object: not encoded again
    ack = Ack.text("c-\u0001é", encoded)
    assert ack == Ack(client_id="c-\u0001é", message=MESSAGE).to_json()
    assert encoded.json_text in ack
    assert {"room.created", "room.member_added", "room.member_removed"} == MEMBERSHIP_TYPES


def test_two_models_cannot_claim_one_type() -> None:
    with pytest.raises(TypeError, match="two frame models"):

        class Again(DurableEvent):
            type: Literal["message.created"] = "message.created"

    assert REGISTRY["message.created"] is MessageCreated
    assert FRAMES.validate_python(
        {"type": "message.created", "cursor": "e.1", "message": MESSAGE.model_dump(mode="json")}
    ) == MessageCreated(cursor="e.1", message=MESSAGE)


# -- the table in docs/events.md ---------------------------------------------------------------


def test_docs_events_table_is_generated_from_the_models() -> None:
    """Fails when a frame model changed and docs/events.md was not regenerated: run
    `uv run python -m parlour.events.catalog --write docs/events.md`."""
    document = DOCS.read_text(encoding="utf-8")
    assert catalog.render(document) == document
    assert catalog.main(["--check", str(DOCS)]) == 0


def test_the_table_has_one_row_per_model_with_its_payload() -> None:
    rows = {
        line.split(" | ")[0].strip("|` "): line
        for line in catalog.markdown_table().splitlines()[2:]
    }
    assert set(rows) == set(REGISTRY)
    assert "`user_ids`: [string]" in rows["room.member_added"]
    assert "`room`: Room or SharedRoom" in rows["room.member_added"]
    assert "| internal |" in rows["session.revoked"]
    assert "`client_id?`: string" in rows["error"]  # absent rather than null


def test_a_stale_table_is_found_and_rewritten(tmp_path: Path) -> None:
    path = tmp_path / "events.md"
    path.write_text(
        f"# Events\n\nBefore.\n\n{catalog.START}\n| old | table |\n{catalog.END}\n\nAfter.\n",
        encoding="utf-8",
    )
    assert catalog.main(["--check", str(path)]) == 1
    assert catalog.main(["--write", str(path)]) == 0
    text = path.read_text(encoding="utf-8")
    assert catalog.main(["--check", str(path)]) == 0
    assert text.startswith("# Events\n\nBefore.\n\n")
    assert text.endswith(f"{catalog.END}\n\nAfter.\n")
    assert "| old | table |" not in text
    assert catalog.markdown_table() in text


def test_a_document_without_markers_is_refused() -> None:
    with pytest.raises(ValueError, match="marker"):
        catalog.render("# Events\n\nno table here\n")
