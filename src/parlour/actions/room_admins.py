"""Room admins: a group or channel admin makes another member an admin, or takes it back.

A room always keeps an admin: taking it from the last one is refused (422 `last_admin`), so a
group never ends up with nobody able to rename it or manage its people. An admin may step down
while another admin remains. Each change is a `room.updated` (its `admins` list) and a system
line ("made Grace an admin") for everyone in the room.
"""

from __future__ import annotations

from parlour.actions.checks import check_group_admin, check_room_access
from parlour.actions.context import Actor
from parlour.actions.rooms import emit_room_event, get_room, room_for_actor
from parlour.actions.system_lines import post_system_line
from parlour.errors import InvalidInput, NotFound
from parlour.events.types import RoomUpdated
from parlour.schemas import RoomOut, SystemAction
from parlour.services import Services
from parlour.storage import rooms as room_queries
from parlour.storage.writer import WriteContext


async def do_set_room_admin(
    services: Services, actor: Actor, room_id: str, user_id: str, admin: bool
) -> RoomOut:
    """Make `user_id` an admin of the room (admin=True) or not; changing nothing is a plain read."""

    async def job(ctx: WriteContext) -> RoomOut | None:
        room, mine = await check_room_access(ctx.session, actor, room_id)
        check_group_admin(room, mine)
        target = await room_queries.current_membership(ctx.session, room.id, user_id)
        if target is None:
            raise NotFound("That person is not a member of this room.", code="member_not_found")
        if target.is_admin == admin:
            return None
        if not admin:
            memberships = await room_queries.memberships_of_rooms(ctx.session, [room.id])
            if sum(1 for m in memberships.get(room.id, []) if m.is_admin) <= 1:
                raise InvalidInput(
                    "A room needs an admin: make someone else an admin first.",
                    code="last_admin",
                )
        target.is_admin = admin
        await ctx.session.flush()
        members = await room_queries.member_ids(ctx.session, room.id)
        announced = await emit_room_event(
            services, ctx, actor, room, lambda view: RoomUpdated(room=view), members
        )
        action: SystemAction = "made_admin" if admin else "unmade_admin"
        await post_system_line(services, ctx, actor, room, action, [user_id])
        return await room_for_actor(ctx, actor, room, mine, announced)

    changed = await services.writer.run(job)
    return changed if changed is not None else await get_room(services, actor, room_id)
