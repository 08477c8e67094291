"""The durable event stream: append inside a change's transaction, replay by cursor.

A cursor is `<epoch>.<event id>`. The epoch is random per database, so a cursor from another
database (or a wiped one) is recognised as unknown instead of silently skipping events. Clients
treat cursors as opaque.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, insert, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

# Re-exported: the types the hub acts on but never forwards to clients (the models' `INTERNAL`).
from parlour.events.types import INTERNAL_TYPES as INTERNAL_TYPES
from parlour.events.types import DurableEvent
from parlour.ids import new_id
from parlour.storage.hot import HotQuery, HotReader
from parlour.storage.models import PRUNED_BEFORE_KEY, Event, Membership, StreamMeta
from parlour.storage.write_driver import insert_rows
from parlour.storage.writer import WriteContext

EPOCH_KEY = "epoch"


@dataclass(frozen=True, slots=True)
class StoredEvent:
    id: int
    org_id: str
    room_id: str | None
    user_id: str | None
    type: str
    payload: str  # JSON object text, without type and cursor

    def frame_text(self, epoch: str) -> str:
        """The wire frame as the socket sends it (text), spliced around the stored payload so
        the payload is never decoded or encoded again. The type is a model's literal and the
        cursor is made of the epoch's letters and digits: neither needs JSON escaping."""
        head = f'{{"type":"{self.type}","cursor":"{encode_cursor(epoch, self.id)}"'
        if self.payload == "{}":
            return head + "}"
        return head + "," + self.payload[1:]

    def frame(self, epoch: str) -> bytes:
        """The wire frame as bytes."""
        return self.frame_text(epoch).encode()


def encode_cursor(epoch: str, event_id: int) -> str:
    return f"{epoch}.{event_id}"


def decode_cursor(epoch: str, cursor: str) -> int | None:
    """The event id in `cursor`, or None when it is malformed or from another database."""
    prefix, _, number = cursor.partition(".")
    # ASCII digits only: str.isdigit also takes "²" (which int() refuses) and other scripts' digits.
    if prefix != epoch or not (number.isascii() and number.isdigit()) or len(number) > 19:
        return None
    return int(number)


async def append(
    ctx: WriteContext,
    *,
    org_id: str,
    event: DurableEvent,
    room_id: str | None = None,
    user_id: str | None = None,
) -> int:
    """Append one event to one room or one user.

    Must run inside the writer's transaction of the change it describes.
    """
    if (room_id is None) == (user_id is None):
        raise ValueError("an event goes to exactly one room or one user")
    event_id: int = (
        await ctx.session.execute(
            insert(Event)
            .values(
                org_id=org_id,
                room_id=room_id,
                user_id=user_id,
                type=event.type,
                payload=event.payload_json,
                created_at=ctx.clock.now(),
            )
            .returning(Event.id)
        )
    ).scalar_one()
    ctx.last_event_id = max(ctx.last_event_id, event_id)
    return event_id


@dataclass(frozen=True, slots=True)
class NewEvent:
    """One event of `append_many`: what happened and whom it goes to (one room or one user)."""

    org_id: str
    event: DurableEvent
    room_id: str | None = None
    user_id: str | None = None


async def append_many(ctx: WriteContext, events: Sequence[NewEvent]) -> None:
    """Append several events, in the given order, with as few statements as the driver allows."""
    if not events:
        return
    if any((event.room_id is None) == (event.user_id is None) for event in events):
        raise ValueError("an event goes to exactly one room or one user")
    driver = await ctx.driver()
    created_at = driver.timestamp(ctx.clock.now())
    # Driver statements (storage/write_driver.py): this runs in every send batch. Only the
    # highest id matters (where the stream stands once this commits), so RETURNING's row order
    # does not.
    for start in range(0, len(events), _EVENTS_PER_INSERT):
        chunk = events[start : start + _EVENTS_PER_INSERT]
        values = [
            value
            for event in chunk
            for value in (
                event.org_id,
                event.room_id,
                event.user_id,
                event.event.type,
                event.event.payload_json,
                created_at,
            )
        ]
        query = insert_rows("events", _EVENT_COLUMNS, len(chunk), "id")
        ids = [int(row[0]) for row in await driver.fetch(query, *values)]
        ctx.last_event_id = max(ctx.last_event_id, *ids)


_EVENT_COLUMNS = ("org_id", "room_id", "user_id", "type", "payload", "created_at")
# Well under both drivers' limits on bound values.
_EVENTS_PER_INSERT = 1000


async def ensure_epoch(session: AsyncSession) -> str:
    epoch = await session.scalar(select(StreamMeta.value).where(StreamMeta.key == EPOCH_KEY))
    if epoch is None:
        epoch = new_id().replace("-", "x").replace("_", "y").replace(".", "z")[:10]
        session.add(StreamMeta(key=EPOCH_KEY, value=epoch))
        session.add(StreamMeta(key=PRUNED_BEFORE_KEY, value="0"))
        await session.flush()
    return epoch


async def pruned_before(session: AsyncSession) -> int:
    value = await session.scalar(
        select(StreamMeta.value).where(StreamMeta.key == PRUNED_BEFORE_KEY)
    )
    return int(value or 0)


async def current_position(session: AsyncSession) -> int:
    """The highest committed event id; every event at or below it is visible (writer invariant)."""
    return int(await session.scalar(select(func.coalesce(func.max(Event.id), 0))) or 0)


def _row(row: Any) -> StoredEvent:
    return StoredEvent(row.id, row.org_id, row.room_id, row.user_id, row.type, row.payload)


# The hub reads this after every commit and the away consumer once a tick: a driver statement
# (storage/hot.py), an index range on the primary key.
_AFTER = HotQuery(
    "SELECT id, org_id, room_id, user_id, type, payload FROM events"
    " WHERE id > ? ORDER BY id LIMIT ?"
)


async def fetch_after(hot: HotReader, after_id: int, limit: int) -> list[StoredEvent]:
    """The next events of the whole stream, in order: what a hub fans out."""
    return [StoredEvent(*row) for row in await hot.fetch(_AFTER, after_id, limit)]


async def replay_for_user(
    session: AsyncSession, user_id: str, after_id: int, up_to_id: int, limit: int
) -> list[StoredEvent]:
    """The events `user_id` was entitled to in (after_id, up_to_id], in order.

    Room events count only inside the user's membership spans, so a removed member never
    receives later events of the room and a new member none from before they joined.
    """
    columns = (Event.id, Event.org_id, Event.room_id, Event.user_id, Event.type, Event.payload)
    own = select(*columns).where(
        Event.user_id == user_id, Event.id > after_id, Event.id <= up_to_id
    )
    in_rooms = (
        select(*columns)
        .join(
            Membership,
            and_(Membership.room_id == Event.room_id, Membership.user_id == user_id),
        )
        .where(
            Event.id > after_id,
            Event.id <= up_to_id,
            Event.id > Membership.start_event_id,
            or_(Membership.end_event_id.is_(None), Event.id < Membership.end_event_id),
        )
    )
    both = union_all(own, in_rooms).subquery()
    rows = await session.execute(select(both).order_by(both.c.id).limit(limit))
    return [_row(r) for r in rows]
