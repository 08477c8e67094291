"""System lines: a membership change (added, removed, left, joined, renamed, topic, made or
unmade admin) is also a message of the room, so everyone sees it in place, in order, after a
reload and on every device, as Slack and Mattermost show them.

A line goes through the one send path (`sending.insert_sends`) inside the change's own write job:
the change and its line commit together or not at all. Its author is who made the change; its
`content` says what happened in plain words without the author ("added Grace Hopper"), and
`system` says it for programs (`schemas.SystemLineOut`). It counts as unread like any message
from someone else (the room did change), but clients neither pop it up nor sound it.
"""

from __future__ import annotations

from collections.abc import Sequence

from parlour.actions.context import Actor
from parlour.actions.present import user_out
from parlour.actions.sending import SendRequest, insert_sends
from parlour.schemas import SystemAction, SystemLineOut
from parlour.services import Services
from parlour.storage import users as user_queries
from parlour.storage.models import Room
from parlour.storage.writer import WriteContext


def _names(names: Sequence[str]) -> str:
    """ "Grace", "Grace and Alan", "Grace, Alan and Ada"."""
    if len(names) <= 1:
        return "".join(names)
    return f"{', '.join(names[:-1])} and {names[-1]}"


def describe(
    action: SystemAction,
    room_type: str,
    names: Sequence[str],
    name: str | None = None,
    topic: str | None = None,
) -> str:
    """What happened, in words, without who did it (the line's author)."""
    kind = "channel" if room_type == "channel" else "group"
    match action:
        case "created":
            return f"created the {kind}"
        case "added":
            return f"added {_names(names)}"
        case "removed":
            return f"removed {_names(names)}"
        case "left":
            return f"left the {kind}"
        case "joined":
            return f"joined the {kind}"
        case "renamed":
            return f"renamed the {kind} to {name}"
        case "topic":
            return f"set the topic: {topic}" if topic else "cleared the topic"
        case "made_admin":
            return f"made {_names(names)} an admin"
        case "unmade_admin":
            return f"removed {_names(names)} as an admin"


async def post_system_line(
    services: Services,
    ctx: WriteContext,
    actor: Actor,
    room: Room,
    action: SystemAction,
    user_ids: Sequence[str] = (),
    *,
    name: str | None = None,
    topic: str | None = None,
) -> None:
    """Add the line for a change the caller is making in this same write job."""
    people = await user_queries.by_ids(ctx.session, [actor.user_id, *user_ids])
    line = SystemLineOut(action=action, user_ids=list(user_ids), name=name, topic=topic)
    content = describe(action, room.type, [people[uid].full_name for uid in user_ids], name, topic)
    request = SendRequest(
        actor=actor,
        room_id=room.id,
        content=content,
        client_id=None,
        system=line.model_dump(),
    )
    await insert_sends(
        services,
        ctx,
        [request],
        [0],
        {
            (room.id, actor.user_id, actor.org_id): user_out(
                people[actor.user_id], services.presence
            )
        },
        {0: []},
        {},
    )
