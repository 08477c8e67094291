"""Outgoing webhooks (API.md, "Integrations"): an org admin subscribes a URL to event types,
optionally of some rooms only, and every matching durable event of the organization is POSTed to
it, signed, in stream order, at least once (the delivery itself: integrations/delivery.py).

What a webhook may see: events addressed to a channel of its organization, or to the rooms it
names (`room_ids`: channels, or groups and direct rooms its admin is a member of when making
it): an admin cannot read other people's groups and direct messages through a webhook. Events
addressed to one person (their unread counts, what they saved, their notification levels, their
own copy of a direct room's change) are that person's alone and are never delivered; their types
cannot be subscribed to. Internal events are never delivered either.

The queue is the stream itself: `position` is the webhook's durable cursor, starting at the
stream's head when the webhook is made, so it gets what happens from then on."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, Field
from sqlalchemy import Select, and_, exists, func, or_, select, update

from parlour.actions.checks import check_org_admin
from parlour.actions.context import Actor
from parlour.errors import InvalidInput, NotFound
from parlour.events import stream
from parlour.events.types import REGISTRY, DurableEvent
from parlour.ids import new_id, new_secret
from parlour.schemas import Strict
from parlour.services import Services
from parlour.storage.models import Event, Membership, OutgoingWebhook, Room
from parlour.storage.writer import WriteContext

URL_CHARS = 2000
ROOMS_PER_WEBHOOK = 1000
SIGNATURE_HEADER = "X-Parlour-Signature"
WEBHOOK_HEADER = "X-Parlour-Webhook"
# Counted for the list's `pending`, at most (a receiver down for long has "at least this many").
PENDING_COUNT_CAP = 10_000

# Addressed to one person only (AUDIENCE "me"): private to them, never delivered.
PRIVATE_TYPES = frozenset({"unread.updated", "saved.updated", "notify.updated"})
# What a webhook may subscribe to: every durable event a room's members get, from the registry,
# so a new room event type is deliverable without a change here.
DELIVERABLE_TYPES = tuple(
    sorted(
        name
        for name, model in REGISTRY.items()
        if issubclass(model, DurableEvent) and not model.INTERNAL and name not in PRIVATE_TYPES
    )
)


def _known_type(value: str) -> str:
    if value not in DELIVERABLE_TYPES:
        raise ValueError(f"{value!r} is not an event type a webhook can receive")
    return value


EventType = Annotated[
    str,
    AfterValidator(_known_type),
    Field(max_length=40, json_schema_extra={"enum": list(DELIVERABLE_TYPES)}),
]
RoomId = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")]


class OutgoingWebhookIn(Strict):
    url: str = Field(min_length=1, max_length=URL_CHARS, pattern=r"^[Hh][Tt][Tt][Pp][Ss]?://")
    events: list[EventType] = Field(min_length=1, max_length=len(DELIVERABLE_TYPES))
    # Absent or null: every room of the organization.
    room_ids: list[RoomId] | None = Field(default=None, min_length=1, max_length=ROOMS_PER_WEBHOOK)


class OutgoingWebhookOut(BaseModel):
    id: str
    url: str
    events: list[str]
    room_ids: list[str] | None
    created_at: datetime
    # The last delivery attempt: the receiver's HTTP status (null: no answer, see last_error),
    # what went wrong (null after a success), and when.
    last_status: int | None
    last_error: str | None
    last_delivery_at: datetime | None
    # Matching events not yet delivered (counted up to PENDING_COUNT_CAP).
    pending: int


class OutgoingWebhookCreatedOut(BaseModel):
    id: str
    # Shown once: it signs every delivery (`X-Parlour-Signature`).
    secret: str
    url: str
    events: list[str]
    room_ids: list[str] | None
    created_at: datetime


def check_url(url: str) -> str:
    """An http(s) URL with a host and no credentials; where it points is the admin's choice
    (exempt from the outbound guard), unless the operator confined webhooks (`webhook_networks`,
    checked at each delivery)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises on a malformed port)
    except ValueError:
        raise InvalidInput("That is not a valid URL.", code="invalid_url") from None
    if (
        parts.scheme.lower() not in {"http", "https"}
        or not parts.hostname
        or parts.username is not None
        or parts.password is not None
        or any(ch.isspace() or ord(ch) < 0x20 for ch in url)
    ):
        raise InvalidInput(
            "The URL must be http(s), with a host and no credentials.", code="invalid_url"
        )
    return url


def signature(secret: str, body: bytes) -> str:
    """The `X-Parlour-Signature` value: `sha256=` and the hex HMAC-SHA256 of the exact body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def matching_events(
    org_id: str, types: list[str], room_ids: list[str] | None
) -> Select[int, str, str | None, str | None, str, str]:
    """The stream's events a webhook receives (the caller adds the id range, order and limit)."""
    query = select(
        Event.id, Event.org_id, Event.room_id, Event.user_id, Event.type, Event.payload
    ).where(
        Event.org_id == org_id,
        Event.room_id.is_not(None),
        Event.type.in_([t for t in types if t in DELIVERABLE_TYPES]),
    )
    if room_ids is not None:
        query = query.where(Event.room_id.in_(room_ids))
    else:  # the organization's open conversations only: never its groups' or people's DMs
        query = query.where(
            Event.room_id.in_(select(Room.id).where(Room.org_id == org_id, Room.type == "channel"))
        )
    return query


async def do_create(
    services: Services, actor: Actor, body: OutgoingWebhookIn
) -> OutgoingWebhookCreatedOut:
    check_org_admin(actor)
    url = check_url(body.url)
    events = list(dict.fromkeys(body.events))
    room_ids = None if body.room_ids is None else list(dict.fromkeys(body.room_ids))

    async def job(ctx: WriteContext) -> OutgoingWebhook:
        if room_ids is not None:
            found = set(
                await ctx.session.scalars(
                    select(Room.id).where(
                        Room.id.in_(room_ids),
                        Room.org_id == actor.org_id,
                        # A channel, or a room the admin is in: an admin's webhook cannot read
                        # conversations its admin could not (a stranger's DM is not found).
                        or_(
                            Room.type == "channel",
                            exists().where(
                                Membership.room_id == Room.id,
                                Membership.user_id == actor.user_id,
                                Membership.end_event_id.is_(None),
                            ),
                        ),
                    )
                )
            )
            missing = [room_id for room_id in room_ids if room_id not in found]
            if missing:
                raise NotFound(
                    "No such room.", code="room_not_found", details={"room_id": missing[0]}
                )
        webhook = OutgoingWebhook(
            id=new_id(),
            org_id=actor.org_id,
            url=url,
            secret=new_secret(),
            events=events,
            room_ids=room_ids,
            created_by=actor.user_id,
            created_at=ctx.clock.now(),
            # From the head: what happens from now on (inside the write order, so no event
            # committed before this one is taken for a later one).
            position=await stream.current_position(ctx.session),
            attempts=0,
        )
        ctx.session.add(webhook)
        await ctx.session.flush()
        return webhook

    webhook = await services.writer.run(job)
    return OutgoingWebhookCreatedOut(
        id=webhook.id,
        secret=webhook.secret,
        url=webhook.url,
        events=webhook.events,
        room_ids=webhook.room_ids,
        created_at=webhook.created_at,
    )


async def do_list(services: Services, actor: Actor) -> list[OutgoingWebhookOut]:
    check_org_admin(actor)
    async with services.db.read_session() as session:
        webhooks = list(
            await session.scalars(
                select(OutgoingWebhook)
                .where(OutgoingWebhook.org_id == actor.org_id, OutgoingWebhook.deleted_at.is_(None))
                .order_by(OutgoingWebhook.created_at, OutgoingWebhook.id)
            )
        )
        listed = []
        for webhook in webhooks:
            waiting = (
                matching_events(webhook.org_id, webhook.events, webhook.room_ids)
                .where(Event.id > webhook.position)
                .limit(PENDING_COUNT_CAP)
                .subquery()
            )
            pending = int(await session.scalar(select(func.count()).select_from(waiting)) or 0)
            listed.append(
                OutgoingWebhookOut(
                    id=webhook.id,
                    url=webhook.url,
                    events=webhook.events,
                    room_ids=webhook.room_ids,
                    created_at=webhook.created_at,
                    last_status=webhook.last_status,
                    last_error=webhook.last_error,
                    last_delivery_at=webhook.last_delivery_at,
                    pending=pending,
                )
            )
    return listed


async def delete_outgoing_webhook(services: Services, actor: Actor, webhook_id: str) -> bool:
    """Stop an outgoing webhook of the actor's organization: True if there was one to stop
    (the same path deletes incoming webhooks, whose ids never equal these)."""

    async def job(ctx: WriteContext) -> bool:
        found = await ctx.session.scalar(
            select(OutgoingWebhook.id).where(
                and_(
                    OutgoingWebhook.id == webhook_id,
                    OutgoingWebhook.org_id == actor.org_id,
                    OutgoingWebhook.deleted_at.is_(None),
                )
            )
        )
        if found is None:
            return False
        check_org_admin(actor)
        # The lease goes too: a delivery in flight finishes, but its position write fails.
        await ctx.session.execute(
            update(OutgoingWebhook)
            .where(OutgoingWebhook.id == webhook_id)
            .values(deleted_at=ctx.clock.now(), lease_owner=None, lease_until=None)
        )
        return True

    return await services.writer.run(job)
