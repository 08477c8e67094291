"""Turn rows into the contract's shapes, in batches (one query per kind, never one per row)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from parlour.clock import iso
from parlour.domain import notify
from parlour.events.presence import PresenceTracker
from parlour.schemas import (
    AttachmentOut,
    LinkPreviewOut,
    MeOut,
    MessageOut,
    Preferences,
    ReactionOut,
    RoomOut,
    SharedRoomOut,
    SystemLineOut,
    ThreadOut,
    UserOut,
)
from parlour.storage import messages as message_queries
from parlour.storage import reactions as reaction_queries
from parlour.storage import rooms as room_queries
from parlour.storage import users as user_queries
from parlour.storage.messages import NOTHING_UNREAD
from parlour.storage.models import Attachment, Membership, Room, User
from parlour.storage.reactions import ReactionView


class ShownUser(Protocol):
    """What `user_out` reads: an ORM User or a plain `UserRow`."""

    @property
    def id(self) -> str: ...
    @property
    def email(self) -> str: ...
    @property
    def full_name(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def is_admin(self) -> bool: ...
    @property
    def is_active(self) -> bool: ...
    @property
    def last_seen_at(self) -> datetime | None: ...
    @property
    def avatar_version(self) -> str | None: ...
    @property
    def is_bot(self) -> bool: ...


def avatar_url(user_id: str, version: str | None) -> str | None:
    """The avatar's address: versioned, so a browser may keep it for good."""
    return f"/api/v1/users/{user_id}/avatar?v={version}" if version else None


class ShownMessage(Protocol):
    """What `message_out` reads: an ORM Message or a plain `MessageRow`."""

    @property
    def seq(self) -> int: ...
    @property
    def id(self) -> str: ...
    @property
    def room_id(self) -> str: ...
    @property
    def author_id(self) -> str: ...
    @property
    def content(self) -> str: ...
    @property
    def html(self) -> str: ...
    @property
    def mentions(self) -> list[str]: ...
    @property
    def client_id(self) -> str | None: ...
    @property
    def deleted(self) -> bool: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def edited_at(self) -> datetime | None: ...
    @property
    def has_reactions(self) -> bool: ...
    @property
    def pinned_at(self) -> datetime | None: ...
    @property
    def reply_to(self) -> str | None: ...
    @property
    def reply_count(self) -> int: ...
    @property
    def last_reply_at(self) -> datetime | None: ...
    @property
    def thread_participants(self) -> list[str] | None: ...
    @property
    def system(self) -> dict[str, Any] | None: ...
    @property
    def label(self) -> str | None: ...
    @property
    def previews(self) -> list[dict[str, Any]] | None: ...


def user_out(user: ShownUser, presence: PresenceTracker) -> UserOut:
    return UserOut(
        id=user.id,
        email=user.email,
        full_name=user.full_name,
        status=presence.status(user.id, user.status) if user.is_active else "offline",
        is_admin=user.is_admin,
        is_active=user.is_active,
        last_seen_at=iso(user.last_seen_at),
        avatar_url=avatar_url(user.id, user.avatar_version),
        is_bot=user.is_bot,
    )


def me_out(user: User, presence: PresenceTracker) -> MeOut:
    return MeOut(
        **user_out(user, presence).model_dump(),
        org_id=user.org_id,
        chosen_status=user.status,
        preferences=Preferences(**(user.preferences or {})),
    )


def attachment_out(attachment: Attachment) -> AttachmentOut:
    return AttachmentOut(
        id=attachment.id,
        filename=attachment.filename,
        content_type=attachment.content_type,
        size=attachment.size,
        url=f"/api/v1/attachments/{attachment.id}",
    )


def message_out(
    message: ShownMessage,
    author: UserOut,
    attachments: Sequence[Attachment] = (),
    reactions: Sequence[ReactionView] = (),
) -> MessageOut:
    return MessageOut(
        id=message.id,
        room_id=message.room_id,
        author=author,
        content="" if message.deleted else message.content,
        html="" if message.deleted else message.html,
        created_at=iso(message.created_at) or "",
        edited_at=iso(message.edited_at),
        deleted=message.deleted,
        client_id=message.client_id,
        mentions=[] if message.deleted else list(message.mentions or []),
        attachments=[] if message.deleted else [attachment_out(a) for a in attachments],
        reactions=[ReactionOut(**reaction) for reaction in reactions],
        pinned=message.pinned_at is not None,
        reply_to=message.reply_to,
        thread=thread_out(message),
        system=SystemLineOut(**message.system) if message.system else None,
        label=message.label,
        previews=[] if message.deleted else [LinkPreviewOut(**p) for p in message.previews or ()],
    )


def thread_out(root: ShownMessage) -> ThreadOut | None:
    if not root.reply_count:
        return None
    return ThreadOut(
        reply_count=root.reply_count,
        last_reply_at=iso(root.last_reply_at) or "",
        participant_ids=list(root.thread_participants or []),
    )


async def messages_out(
    session: AsyncSession, messages: Sequence[ShownMessage], presence: PresenceTracker
) -> list[MessageOut]:
    authors = await user_queries.rows_by_ids(session, (m.author_id for m in messages))
    attachments = await message_queries.attachments_for(session, (m.seq for m in messages))
    reactions = await reaction_queries.reactions_for(
        session, (m.seq for m in messages if m.has_reactions)
    )
    author_outs = {uid: user_out(user, presence) for uid, user in authors.items()}
    return [
        message_out(
            m, author_outs[m.author_id], attachments.get(m.seq, ()), reactions.get(m.seq, ())
        )
        for m in messages
    ]


async def rooms_out(
    session: AsyncSession,
    viewer_id: str,
    rooms: Sequence[tuple[Room, Membership]],
    presence: PresenceTracker,
) -> list[RoomOut]:
    """Rooms as `viewer_id` sees them: direct rooms named after the other member, my unread."""
    room_ids = [room.id for room, _ in rooms]
    memberships = await room_queries.memberships_of_rooms(session, room_ids)
    users = await user_queries.rows_by_ids(
        session, (m.user_id for ms in memberships.values() for m in ms)
    )
    user_outs = {uid: user_out(user, presence) for uid, user in users.items()}
    last_messages = await message_queries.rows_by_seqs(
        session, (room.last_message_seq or 0 for room, _ in rooms)
    )
    last_outs = {
        m.seq: out
        for m, out in zip(
            last_messages.values(),
            await messages_out(session, list(last_messages.values()), presence),
            strict=True,
        )
    }
    read_seqs = {mine.last_read_seq for _, mine in rooms if mine.last_read_seq}
    read_messages = await message_queries.rows_by_seqs(session, read_seqs)
    unread = await message_queries.unread_counts(session, viewer_id, room_ids)
    result: list[RoomOut] = []
    for room, mine in rooms:
        members = memberships.get(room.id, [])
        name = room.name
        if room.type == "direct":
            other = next((m.user_id for m in members if m.user_id != viewer_id), None)
            name = users[other].full_name if other in users else name
        read = read_messages.get(mine.last_read_seq)
        counts = unread.get(room.id, NOTHING_UNREAD)
        result.append(
            RoomOut(
                id=room.id,
                type=room.type,
                name=name,
                topic=room.topic,
                members=[user_outs[m.user_id] for m in members if m.user_id in user_outs],
                admins=[m.user_id for m in members if m.is_admin],
                created_at=iso(room.created_at) or "",
                last_message=last_outs.get(room.last_message_seq or 0),
                unread_count=counts.messages,
                last_read_message_id=read.id if read else None,
                notify=notify.effective(room.type, mine.notify),
                mention_count=counts.mentions,
            )
        )
    return result


async def _room_core(
    session: AsyncSession, room: Room, presence: PresenceTracker, also_load: Sequence[str] = ()
) -> tuple[SharedRoomOut, list[Membership], dict[str, User]]:
    """The part of a room every member sees alike: without the per-member fields."""
    memberships = (await room_queries.memberships_of_rooms(session, [room.id])).get(room.id, [])
    users = await user_queries.by_ids(session, [m.user_id for m in memberships] + list(also_load))
    last = await message_queries.by_seqs(session, [room.last_message_seq or 0])
    last_out = (await messages_out(session, list(last.values()), presence)) if last else []
    core = SharedRoomOut(
        id=room.id,
        type=room.type,
        name=room.name,
        topic=room.topic,
        members=[user_out(users[m.user_id], presence) for m in memberships],
        admins=[m.user_id for m in memberships if m.is_admin],
        created_at=iso(room.created_at) or "",
        last_message=last_out[0] if last_out else None,
    )
    return core, memberships, users


async def shared_room_view(
    session: AsyncSession, room: Room, presence: PresenceTracker
) -> SharedRoomOut:
    """A group as all its members see it: what a room-wide event carries (no per-member fields;
    clients keep their own counts, which move with `unread.updated`)."""
    core, _, _ = await _room_core(session, room, presence)
    return core


async def room_views_for(
    session: AsyncSession,
    room: Room,
    recipients: Sequence[str],
    presence: PresenceTracker,
) -> dict[str, RoomOut]:
    """One room as each recipient sees it.

    The shared part (members, admins, last message) is computed once however many recipients
    there are; only the name of a direct room, the unread count and the read pointer differ per
    recipient.
    """
    core, memberships, users = await _room_core(session, room, presence, recipients)
    mine_by_user = {m.user_id: m for m in memberships}
    unread = await message_queries.unread_by_member(session, room.id)
    read_messages = await message_queries.by_seqs(
        session, (m.last_read_seq for m in memberships if m.last_read_seq)
    )
    views: dict[str, RoomOut] = {}
    for user_id in recipients:
        mine = mine_by_user.get(user_id)
        name = core.name
        if room.type == "direct":
            other = next((m.user_id for m in memberships if m.user_id != user_id), None)
            if other in users:
                name = users[other].full_name
        read = read_messages.get(mine.last_read_seq) if mine else None
        counts = unread.get(user_id, NOTHING_UNREAD)
        # Shallow: the members and the last message are shared, already validated, models.
        views[user_id] = RoomOut(
            **{**dict(core), "name": name},
            unread_count=counts.messages,
            last_read_message_id=read.id if read else None,
            notify=notify.effective(room.type, mine.notify if mine else None),
            mention_count=counts.mentions,
        )
    return views
