"""Shared validation and authorization. Every room read or write passes `check_room_access`."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from parlour.actions.context import Actor
from parlour.config import Limits
from parlour.domain.visible import has_visible
from parlour.errors import Forbidden, InvalidInput, NotFound
from parlour.schemas import TOPIC_CHARS
from parlour.storage import rooms as room_queries
from parlour.storage.models import Membership, Room


async def check_room_access(
    session: AsyncSession, actor: Actor, room_id: str
) -> tuple[Room, Membership]:
    """The room and my membership; "not found" to anyone who is not a member now.

    Outsiders (other organizations, removed members, never-members) all get the same answer,
    so nobody learns that a room exists.
    """
    found = await room_queries.room_with_membership(session, actor.org_id, room_id, actor.user_id)
    if found is None:
        raise NotFound("No such room.", code="room_not_found")
    return found


def check_group_admin(room: Room, membership: Membership) -> None:
    """Group and channel admins may rename, add and remove; nobody changes a direct room."""
    if room.type == "direct":
        raise Forbidden("Direct rooms cannot be changed.", code="not_a_group")
    if not membership.is_admin:
        raise Forbidden("Only a room admin can do this.", code="not_room_admin")


def check_member_count(limits: Limits, count: int) -> None:
    """A group or channel holds at most `group_members` people; over it nothing is stored."""
    if count > limits.group_members:
        raise InvalidInput(
            f"A group or channel has at most {limits.group_members} members.",
            code="too_many_members",
            details={"limit": limits.group_members},
        )


def check_topic(topic: str) -> str | None:
    """A channel's topic, trimmed (empty: no topic); NUL and length are refused."""
    cleaned = topic.strip()
    if "\x00" in cleaned:
        raise InvalidInput(
            "The topic cannot contain NUL characters.",
            code="invalid_characters",
            details={"field": "topic"},
        )
    if len(cleaned) > TOPIC_CHARS:
        raise InvalidInput(
            f"A topic is at most {TOPIC_CHARS} characters.",
            code="topic_too_long",
            details={"field": "topic", "limit": TOPIC_CHARS},
        )
    return cleaned or None


def check_name(name: str | None, limits: Limits, *, field: str = "name") -> str:
    cleaned = (name or "").strip()
    if "\x00" in cleaned:
        raise InvalidInput(
            f"The {field} cannot contain NUL characters.",
            code="invalid_characters",
            details={"field": field},
        )
    if not has_visible(cleaned):
        # Also a name of only zero-width or other invisible characters: it would show as nothing.
        raise InvalidInput(
            f"The {field} must not be empty.", code="name_required", details={"field": field}
        )
    if len(cleaned) > limits.name_chars:
        raise InvalidInput(
            f"The {field} is longer than {limits.name_chars} characters.",
            code="name_too_long",
            details={"field": field, "limit": limits.name_chars},
        )
    return cleaned


def check_org_admin(actor: Actor) -> None:
    if not actor.is_admin:
        raise Forbidden("Only an administrator can do this.", code="admin_required")
