"""Presence reaches people who share a small room with the user, and not a crowd's every member."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from parlour.client import Event
from tests.support import Org, OrgFactory, org_factory, start_server


@pytest.fixture(scope="module")
async def small_presence_orgs() -> AsyncIterator[OrgFactory]:
    # Rooms of more than 3 members carry no presence on this server.
    with start_server({"PARLOUR_PRESENCE_ROOM_MEMBERS": "3"}) as server:
        async with org_factory(server) as factory:
            yield factory


async def test_presence_skips_rooms_over_the_size_limit(
    small_presence_orgs: OrgFactory,
) -> None:
    org: Org = await small_presence_orgs.create(
        ["Ann Watcher", "Ben Crowd", "Cat Friend", "Dan Crowd"]
    )
    ann, ben, cat = org[0], org[1], org[2]
    await ann.client.create_group("Crowd", [ben.user_id, org[3].user_id, cat.user_id])
    direct = await cat.client.create_direct(ann.user_id)

    seen: list[Event] = []
    # Ann's socket opens first, so she is there when Ben and Cat come online.
    async with (
        ann.client.events() as watcher,
        ben.client.events(),
        cat.client.events() as cat_stream,
    ):
        await watcher.wait_for(
            lambda e: (
                seen.append(e) is None
                and e.type == "presence.updated"
                and e.data["user_id"] == cat.user_id
            ),
            timeout=10,
        )
        # A marker behind every presence frame already pushed to Ann (one outbox, in order).
        await cat_stream.send(direct.id, "marker", "marker-1")
        await watcher.wait_for(
            lambda e: (
                seen.append(e) is None
                and e.type == "message.created"
                and e.data["message"]["client_id"] == "marker-1"
            ),
            timeout=10,
        )
    about = {e.data["user_id"] for e in seen if e.type == "presence.updated"}
    assert cat.user_id in about, "a direct room is small: Cat's presence reaches Ann"
    assert ben.user_id not in about, "Ben shares only a 4-member room with Ann: no presence"
