"""A group's room events are one row for the whole room; a direct room's are one per member."""

from __future__ import annotations

import orjson
from sqlalchemy import select

from parlour.storage.models import Event
from tests.support import Org, OrgFactory


async def events_of(
    orgs: OrgFactory, org: Org, event_type: str
) -> list[tuple[str | None, str | None]]:
    assert orgs.services is not None
    async with orgs.services.db.read_session() as session:
        rows = await session.execute(
            select(Event.room_id, Event.user_id).where(
                Event.org_id == org.org_id, Event.type == event_type
            )
        )
        return [(row[0], row[1]) for row in rows]


async def test_group_changes_are_one_event_each_whatever_the_size(
    orgs: OrgFactory, org: Org
) -> None:
    extra = [await orgs.add_user(org, f"Extra Person{i}", login=False) for i in range(6)]
    everyone = [m.user_id for m in org.members[1:]]
    room = await org[0].client.create_group("Big", everyone[:5])
    await org[0].client.add_members(room.id, [extra[-1].user_id])
    await org[0].client.rename_room(room.id, "Bigger")
    assert await events_of(orgs, org, "room.created") == [(room.id, None)]
    assert await events_of(orgs, org, "room.member_added") == [(room.id, None)]
    assert await events_of(orgs, org, "room.updated") == [(room.id, None)]

    await org[0].client.remove_member(room.id, org[1].user_id)
    removed = await events_of(orgs, org, "room.member_removed")
    assert sorted(removed, key=str) == sorted([(room.id, None), (None, org[1].user_id)], key=str)


async def test_a_direct_room_is_announced_to_each_member_by_name(
    orgs: OrgFactory, org: Org
) -> None:
    room = await org[0].client.create_direct(org[1].user_id)
    assert orgs.services is not None
    async with orgs.services.db.read_session() as session:
        rows = await session.execute(
            select(Event.user_id, Event.payload).where(
                Event.org_id == org.org_id, Event.type == "room.created"
            )
        )
        names = {user_id: orjson.loads(payload)["room"]["name"] for user_id, payload in rows}
    assert names == {org[0].user_id: org[1].full_name, org[1].user_id: org[0].full_name}
    assert room.name == org[1].full_name
