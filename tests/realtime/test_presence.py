"""Presence reaches people who share a small room with the user, and not a crowd's every member."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from parlour.client import Event, EventStream
from tests.support import Org, OrgFactory, org_factory, start_server


@pytest.fixture(scope="module")
async def small_presence_orgs() -> AsyncIterator[OrgFactory]:
    # Rooms of more than 3 members carry no presence on this server.
    with start_server({"PARLOUR_PRESENCE_ROOM_MEMBERS": "3"}) as server:
        async with org_factory(server) as factory:
            yield factory


def recording(seen: list[Event], match: Callable[[Event], bool]) -> Callable[[Event], bool]:
    """`match`, which also keeps every frame it is shown: wait_for drops the ones that fail it."""

    def check(event: Event) -> bool:
        seen.append(event)
        return match(event)

    return check


def is_presence_of(user_id: str, status: str | None = None) -> Callable[[Event], bool]:
    def match(event: Event) -> bool:
        return (
            event.type == "presence.updated"
            and event.data["user_id"] == user_id
            and (status is None or event.data["status"] == status)
        )

    return match


async def frames_until_pong(stream: EventStream) -> list[Event]:
    """Every frame pushed to this socket before now: the pong queues behind them (one outbox)."""
    seen: list[Event] = []
    await stream.ping()
    await stream.wait_for(recording(seen, lambda e: e.type == "pong"), timeout=10)
    return seen


async def test_presence_goes_to_room_peers_only(org: Org) -> None:
    ann, bea, cal = org[0], org[1], org[2]
    # Ann shares a room with Bea and one with Cal; Cal shares none with Bea.
    await ann.client.create_direct(bea.user_id)
    await ann.client.create_direct(cal.user_id)
    async with ann.client.events() as watcher, cal.client.events() as outsider:
        async with bea.client.events():
            await watcher.wait_for(is_presence_of(bea.user_id, "online"), timeout=10)
            # Whatever went to Cal in the tick that told Ann is queued ahead of Cal's pong.
            before_pong = await frames_until_pong(outsider)
            about_bea = [e for e in before_pong if is_presence_of(bea.user_id)(e)]
            assert about_bea == [], "Cal shares no room with Bea: no presence about her"
        await watcher.wait_for(is_presence_of(bea.user_id, "offline"), timeout=10)
        before_pong = await frames_until_pong(outsider)
        assert [e for e in before_pong if is_presence_of(bea.user_id)(e)] == []
        # The check can fail: Cal does get presence about Ann, whom she shares a room with.
        await ann.client.update_me(status="busy")
        await outsider.wait_for(is_presence_of(ann.user_id, "busy"), timeout=10)


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
        await watcher.wait_for(recording(seen, is_presence_of(cat.user_id)), timeout=10)
        # A marker behind every presence frame already pushed to Ann (one outbox, in order).
        await cat_stream.send(direct.id, "marker", "marker-1")
        await watcher.wait_for(
            recording(
                seen,
                lambda e: (
                    e.type == "message.created" and e.data["message"]["client_id"] == "marker-1"
                ),
            ),
            timeout=10,
        )
    about = {e.data["user_id"] for e in seen if e.type == "presence.updated"}
    assert cat.user_id in about, "a direct room is small: Cat's presence reaches Ann"
    assert ben.user_id not in about, "Ben shares only a 4-member room with Ann: no presence"
