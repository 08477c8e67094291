"""Tables. Public ids are random strings; ordering uses internal integer sequences.

Messages and events carry an integer `seq`/`id` because pagination, unread counts and the event
stream all need a total order served from an index; the public `id` is opaque so that nobody can
enumerate other people's rooms or messages.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL wants BIGINT for long-lived streams.
SeqInt = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps are stored and returned as timezone-aware UTC on both databases."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime")
        return value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        from datetime import UTC

        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    pass


class Organization(Base):
    __tablename__ = "organizations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), index=True)
    # Stored lower-cased: the email is the login and unique on the whole server.
    email: Mapped[str] = mapped_column(String(320), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(200))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    # What the user chose; the effective status mixes it with live presence.
    status: Mapped[str] = mapped_column(String(16), default="online")
    preferences: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The current avatar's version (it is in `user_avatars`; migration 0008); null: initials.
    avatar_version: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # A bot (docs/integrations.md): signs in with its token only, never with a password.
    is_bot: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class UserAvatar(Base):
    """A user's avatar image: small (a size limit), kept in the database so every process
    and machine serves the same one without shared files."""

    __tablename__ = "user_avatars"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), primary_key=True)
    content_type: Mapped[str] = mapped_column(String(32))
    data: Mapped[bytes] = mapped_column(LargeBinary)


class Session(Base):
    """A login: the bearer token and the session cookie are the same secret, stored hashed."""

    __tablename__ = "sessions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class LoginFailure(Base):
    """Failed logins, by account and by client address, for brute-force throttling."""

    __tablename__ = "login_failures"

    id: Mapped[int] = mapped_column(SeqInt, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(400))
    at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_login_failures_key_at", "key", "at"),)


class LoginDevice(Base):
    """A browser that has logged in to an account (its device cookie, stored hashed).

    Logins that carry it are throttled per device instead of by the account-wide counter, so a
    guesser cannot lock the owner out of their own devices (actions/login_throttle.py).
    """

    __tablename__ = "login_devices"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_login_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Room(Base):
    __tablename__ = "rooms"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    type: Mapped[str] = mapped_column(String(8))
    name: Mapped[str] = mapped_column(String(200), default="")
    # "<smaller user id>:<larger user id>" for direct rooms: the unique index is what makes
    # "exactly one direct room per pair" hold even when both open it at the same instant.
    direct_key: Mapped[str | None] = mapped_column(String(80), unique=True, nullable=True)
    # Channels only: the topic, and the name folded for "one channel of a name per organization"
    # (the unique index holds it even when two people create it at the same instant).
    topic: Mapped[str | None] = mapped_column(String(250), nullable=True)
    name_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_message_seq: Mapped[int | None] = mapped_column(SeqInt, nullable=True)
    last_activity_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        Index("ix_rooms_org_activity", "org_id", "last_activity_at"),
        Index(
            "ux_rooms_channel_name",
            "org_id",
            "name_key",
            unique=True,
            sqlite_where=text("name_key IS NOT NULL"),
            postgresql_where=text("name_key IS NOT NULL"),
        ),
    )


class Membership(Base):
    """One span of a user's membership of a room.

    `start_event_id`/`end_event_id` bound the room events the member may receive: replay
    uses them so a removed member never gets later events and a new one never gets earlier ones.
    A current member has `end_event_id IS NULL`.
    """

    __tablename__ = "memberships"

    id: Mapped[int] = mapped_column(SeqInt, primary_key=True, autoincrement=True)
    room_id: Mapped[str] = mapped_column(ForeignKey("rooms.id"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    start_event_id: Mapped[int] = mapped_column(SeqInt, default=0)
    end_event_id: Mapped[int | None] = mapped_column(SeqInt, nullable=True)
    last_read_seq: Mapped[int] = mapped_column(SeqInt, default=0)
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # "all", "mentions" or "none"; null is the room type's default (domain/notify.py).
    notify: Mapped[str | None] = mapped_column(String(8), nullable=True)

    __table_args__ = (
        Index(
            "ux_memberships_current",
            "room_id",
            "user_id",
            unique=True,
            sqlite_where=text("end_event_id IS NULL"),
            postgresql_where=text("end_event_id IS NULL"),
        ),
        Index("ix_memberships_user", "user_id", "end_event_id"),
    )


class Message(Base):
    __tablename__ = "messages"

    seq: Mapped[int] = mapped_column(SeqInt, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(32), unique=True)
    room_id: Mapped[str] = mapped_column(ForeignKey("rooms.id"))
    author_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    content: Mapped[str] = mapped_column(Text)
    html: Mapped[str] = mapped_column(Text)
    mentions: Mapped[list[str]] = mapped_column(JSON, default=list)
    client_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # Sent with attachments: pages look attachments up only for these (migration 0004).
    has_attachments: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Has (or had) reactions: pages read reactions only for these (migration 0005). Cleared when
    # the last reaction goes.
    has_reactions: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # A pin is a property of the message in its room: one row to write, nothing to join on a page.
    pinned_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    pinned_by: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # A reply: its thread root's id (pages of the room leave replies out). A root: the summary of
    # its replies, kept on its row so a page shows it without reading the replies.
    reply_to: Mapped[str | None] = mapped_column(String(32), nullable=True)
    reply_count: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    last_reply_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    thread_participants: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    # A system line (a membership change shown in the room): what happened, as
    # `schemas.SystemLineOut`; null for what people wrote (migration 0008).
    system: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # The name an incoming webhook's post gave itself (Slack's `username`), shown as its label.
    label: Mapped[str | None] = mapped_column(String(80), nullable=True)
    # Link previews, filled after the send (actions/link_previews.py): a JSON list, null: none.
    previews: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)

    __table_args__ = (
        # History pages and unread counts; author and tombstone let unread counting stay in
        # the index (migration 0002).
        Index("ix_messages_room_seq_unread", "room_id", "seq", "author_id", "deleted"),
        Index("ix_messages_author_seq", "author_id", "seq"),
        # Idempotent sends: one message per (sender, client_id), whatever the retries.
        UniqueConstraint("author_id", "client_id", name="ux_messages_client_id"),
        # A thread's replies in order.
        Index(
            "ix_messages_reply_to_seq",
            "reply_to",
            "seq",
            sqlite_where=text("reply_to IS NOT NULL"),
            postgresql_where=text("reply_to IS NOT NULL"),
        ),
        # A room's pins, newest first.
        Index(
            "ix_messages_room_pinned",
            "room_id",
            "pinned_at",
            sqlite_where=text("pinned_at IS NOT NULL"),
            postgresql_where=text("pinned_at IS NOT NULL"),
        ),
    )


class Reaction(Base):
    """One person's reaction with one emoji to one message. `room_id` is the message's room,
    kept here so that a page reads its reactions with one index range."""

    __tablename__ = "reactions"

    id: Mapped[int] = mapped_column(SeqInt, primary_key=True, autoincrement=True)
    message_seq: Mapped[int] = mapped_column(ForeignKey("messages.seq"))
    room_id: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    emoji: Mapped[str] = mapped_column(String(64))
    # The emoji's place among the message's reactions (1, 2, ...): set by its first use and kept
    # while anyone still reacts with it, so chips do not move when their first reactor leaves.
    chip: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        UniqueConstraint("message_seq", "emoji", "user_id", name="ux_reactions_once"),
        Index("ix_reactions_room_message", "room_id", "message_seq"),
    )


class ThreadFollower(Base):
    """Someone who follows a thread: its root's author, everyone who replied, everyone mentioned
    in a reply. A reply counts as unread only for them, and only from `since_seq` on: replies
    before someone joined the conversation do not turn unread when they do."""

    __tablename__ = "thread_followers"

    id: Mapped[int] = mapped_column(SeqInt, primary_key=True, autoincrement=True)
    root_id: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    since_seq: Mapped[int] = mapped_column(SeqInt)

    __table_args__ = (UniqueConstraint("root_id", "user_id", name="ux_thread_followers"),)


class SavedMessage(Base):
    """A message someone saved for later: private to them."""

    __tablename__ = "saved_messages"

    id: Mapped[int] = mapped_column(SeqInt, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    message_seq: Mapped[int] = mapped_column(ForeignKey("messages.seq"))
    saved_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        UniqueConstraint("user_id", "message_seq", name="ux_saved_once"),
        Index("ix_saved_user_id", "user_id", "id"),
    )


class MessageVersion(Base):
    """Every earlier version of an edited message, oldest first."""

    __tablename__ = "message_versions"

    id: Mapped[int] = mapped_column(SeqInt, primary_key=True, autoincrement=True)
    message_seq: Mapped[int] = mapped_column(ForeignKey("messages.seq"), index=True)
    content: Mapped[str] = mapped_column(Text)
    html: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Attachment(Base):
    __tablename__ = "attachments"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    uploader_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    storage_name: Mapped[str] = mapped_column(String(80))
    message_seq: Mapped[int | None] = mapped_column(
        ForeignKey("messages.seq"), nullable=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Event(Base):
    """The durable event stream: written in the transaction of the change it describes.

    A row is addressed either to a room (`room_id`: every member at that position) or to one
    user (`user_id`). `payload` is the frame's JSON minus `type` and `cursor`, encoded once.
    """

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(SeqInt, primary_key=True, autoincrement=True)
    org_id: Mapped[str] = mapped_column(String(32))
    room_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    user_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    type: Mapped[str] = mapped_column(String(40))
    payload: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        Index("ix_events_room_id", "room_id", "id"),
        Index("ix_events_user_id", "user_id", "id"),
        # Never reuse an id, even after the newest rows were deleted.
        {"sqlite_autoincrement": True},
    )


# StreamMeta's key for the first event id still kept (events below it were pruned).
PRUNED_BEFORE_KEY = "pruned_before"


class StreamMeta(Base):
    """Facts about the stream: its epoch (so cursors of another database are unknown) and
    the first id still kept after pruning."""

    __tablename__ = "stream_meta"

    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))


# -- reaching people who are away (parlour.away; migration 0009) ------------------------------


class StreamConsumer(Base):
    """A background reader of the durable stream and how far it has read: the position moves in
    the transaction that stores what the events it read caused, so each event is handled once
    whatever the processes and crashes (a compare-and-set: the loser's transaction rolls back)."""

    __tablename__ = "stream_consumers"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger)


class Lease(Base):
    """Background work that one process at a time does (the away consumer, the digests): held
    by `owner` (a process) until `until`, renewed while it works, let go when it stops; a
    process that died holding it is outlived by the expiry."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    owner: Mapped[str | None] = mapped_column(String(32), nullable=True)
    until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class OwedEmail(Base):
    """A message someone away is owed an e-mail about, until a digest covers it or it is read."""

    __tablename__ = "owed_emails"

    id: Mapped[int] = mapped_column(SeqInt, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(String(32), index=True)
    room_id: Mapped[str] = mapped_column(String(32))
    message_seq: Mapped[int] = mapped_column(BigInteger)
    owed_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class EmailState(Base):
    """When a person's last digest went (the next waits a whole delay), and until when a digest
    is held because they were connected when it fell due."""

    __tablename__ = "email_state"

    user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    last_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    hold_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class EmailOutbox(Base):
    """A digest written and waiting to be handed to SMTP (or handed: `sent_at`)."""

    __tablename__ = "email_outbox"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(32))
    to_addr: Mapped[str] = mapped_column(String(320))
    message: Mapped[str] = mapped_column(Text)  # the whole RFC 5322 message
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)

    __table_args__ = (Index("ix_email_outbox_due", "sent_at", "next_attempt_at"),)


class PushSubscription(Base):
    """A browser's Web Push subscription (RFC 8030): where to post and the keys to encrypt for."""

    __tablename__ = "push_subscriptions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    endpoint: Mapped[str] = mapped_column(Text)
    # Unique per endpoint: a browser re-subscribing gets its row back, not a second one.
    endpoint_hash: Mapped[str] = mapped_column(String(64), unique=True)
    p256dh: Mapped[str] = mapped_column(String(200))
    auth: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PushOutbox(Base):
    """A push written and waiting to be posted to its subscription's push service."""

    __tablename__ = "push_outbox"

    id: Mapped[int] = mapped_column(SeqInt, primary_key=True, autoincrement=True)
    subscription_id: Mapped[str] = mapped_column(String(32), index=True)
    payload: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class ServerSecret(Base):
    """Keys the server makes once and keeps: the VAPID key, the unsubscribe-link key."""

    __tablename__ = "server_secrets"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class IncomingWebhook(Base):
    """A secret URL that posts into one room as the webhook's own bot user. The bot signs in
    through `session_id` (a session of its own, revoked with the webhook), so a post passes the
    same checks as any send; the URL's secret is kept only as its SHA-256."""

    __tablename__ = "incoming_webhooks"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    room_id: Mapped[str] = mapped_column(ForeignKey("rooms.id"), index=True)
    bot_user_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    session_id: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(80))
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class OutgoingWebhook(Base):
    """An organization's subscription of a URL to event types: `position` is its durable cursor
    in the event stream (the queue is the stream itself); one process at a time holds its lease
    and delivers, in stream order."""

    __tablename__ = "outgoing_webhooks"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), index=True)
    url: Mapped[str] = mapped_column(Text)
    secret: Mapped[str] = mapped_column(String(64))
    events: Mapped[list[str]] = mapped_column(JSON)
    # Only events of these rooms; null: every room the organization has.
    room_ids: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    created_by: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    position: Mapped[int] = mapped_column(BigInteger)
    lease_owner: Mapped[str | None] = mapped_column(String(32), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    last_delivery_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class LinkPreview(Base):
    """A fetched link's preview, by the URL's SHA-256: a link posted 100 times is fetched once.
    `preview` null: the page had none (or could not be fetched), remembered as well."""

    __tablename__ = "link_previews"

    url_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime())
    preview: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
