"""Presence expiry on a FakeClock: away after the idle time, offline after the grace period.

First the tracker alone (the rules), then the realtime tick that announces changes to the hub's
sockets over a real database (who hears about it, and when).
"""

from __future__ import annotations

import pytest

from parlour.clock import FakeClock, iso
from parlour.events.hub import Subscriber
from parlour.events.presence import PresenceTracker
from parlour.events.realtime import HEARTBEAT_SECONDS, HEARTBEAT_TTL
from tests.unit.clocked import AWAY_SECONDS, GRACE_SECONDS, frames_of, realtime_world

# A step far below any threshold: "just before" and "just after" are one tick apart.
TICK = 0.001


def tracker() -> tuple[PresenceTracker, FakeClock]:
    clock = FakeClock()
    presence = PresenceTracker(clock, away_seconds=AWAY_SECONDS, grace_seconds=GRACE_SECONDS)
    return presence, clock


def test_a_connected_user_goes_away_after_the_idle_time_and_back_on_activity() -> None:
    presence, clock = tracker()
    presence.socket_opened("ann")
    assert presence.status("ann", "online") == "online"
    clock.advance(AWAY_SECONDS - TICK)
    assert presence.status("ann", "online") == "online"
    clock.advance(TICK)
    assert presence.status("ann", "online") == "away"
    presence.touch("ann")
    assert presence.status("ann", "online") == "online"


def test_a_closed_socket_keeps_the_user_on_through_the_grace_period_then_offline() -> None:
    presence, clock = tracker()
    presence.socket_opened("ann")
    presence.socket_closed("ann")
    assert presence.status("ann", "online") == "online"
    clock.advance(GRACE_SECONDS - TICK)
    assert presence.is_connected("ann")
    clock.advance(TICK)
    assert not presence.is_connected("ann")
    assert presence.status("ann", "online") == "offline"


def test_a_reload_within_the_grace_period_never_shows_offline() -> None:
    presence, clock = tracker()
    presence.socket_opened("ann")
    presence.socket_closed("ann")
    clock.advance(GRACE_SECONDS - TICK)
    presence.socket_opened("ann")
    clock.advance(GRACE_SECONDS * 2)
    assert presence.status("ann", "online") == "online"


def test_one_of_two_sockets_closing_leaves_the_user_connected() -> None:
    presence, clock = tracker()
    presence.socket_opened("ann")
    presence.socket_opened("ann")
    presence.socket_closed("ann")
    clock.advance(GRACE_SECONDS * 2)
    assert presence.is_connected("ann")


def test_another_process_heartbeat_lasts_its_ttl_and_ends_at_once_when_gone() -> None:
    presence, clock = tracker()
    presence.remote_seen("process-2", "ann", idle=False, ttl=HEARTBEAT_TTL)
    assert presence.status("ann", "online") == "online"
    clock.advance(HEARTBEAT_TTL - TICK)
    assert presence.is_connected("ann")
    clock.advance(TICK)
    assert presence.status("ann", "online") == "offline"

    presence.remote_seen("process-2", "bea", idle=False, ttl=HEARTBEAT_TTL)
    presence.remote_gone("process-2", "bea")
    assert presence.status("bea", "online") == "offline"


def test_an_idle_heartbeat_is_not_activity() -> None:
    presence, clock = tracker()
    presence.socket_opened("ann")
    clock.advance(AWAY_SECONDS)
    presence.remote_seen("process-2", "ann", idle=True, ttl=HEARTBEAT_TTL)
    assert presence.status("ann", "online") == "away"
    presence.remote_seen("process-2", "ann", idle=False, ttl=HEARTBEAT_TTL)
    assert presence.status("ann", "online") == "online"


@pytest.mark.parametrize(
    ("chosen", "shown"), [("busy", "busy"), ("away", "away"), ("offline", "offline")]
)
def test_a_chosen_status_shows_while_connected_and_ends_with_the_grace(
    chosen: str, shown: str
) -> None:
    presence, clock = tracker()
    presence.socket_opened("ann")
    clock.advance(AWAY_SECONDS)  # idle does not turn busy into away
    assert presence.status("ann", chosen) == shown
    presence.socket_closed("ann")
    clock.advance(GRACE_SECONDS)
    assert presence.status("ann", chosen) == "offline"


def presence_about(subscriber: Subscriber, user_id: str) -> list[tuple[str, str | None]]:
    """(status, last_seen_at) of each presence frame about `user_id` queued for the subscriber;
    the queue is emptied."""
    frames = frames_of(subscriber.outbox, "presence.updated")
    subscriber.outbox.clear()
    return [(f["status"], f["last_seen_at"]) for f in frames if f["user_id"] == user_id]


async def test_the_tick_announces_away_back_and_offline_to_room_peers_as_time_passes() -> None:
    async with realtime_world() as w:
        ann = await w.connect(w.ann)
        cal = await w.connect(w.cal)
        bea = await w.connect(w.bea)
        await w.realtime.presence_tick()
        assert presence_about(ann, w.bea) == [("online", iso(w.clock.now()))]

        w.clock.advance(AWAY_SECONDS - TICK)
        await w.realtime.presence_tick()
        assert presence_about(ann, w.bea) == [], "not idle yet"
        w.clock.advance(TICK)
        await w.realtime.presence_tick()
        assert presence_about(ann, w.bea) == [("away", iso(w.clock.now()))]

        # Typing is activity; the next heartbeat notices it.
        assert w.realtime.typing(w.bea, w.room_id)
        w.clock.advance(HEARTBEAT_SECONDS)
        await w.realtime.presence_tick()
        assert presence_about(ann, w.bea) == [("online", iso(w.clock.now()))]

        w.disconnect(bea)
        await w.realtime.presence_tick()
        w.clock.advance(GRACE_SECONDS - TICK)
        await w.realtime.presence_tick()
        assert presence_about(ann, w.bea) == [], "a reload's grace period shows nothing"
        w.clock.advance(TICK)
        await w.realtime.presence_tick()
        assert presence_about(ann, w.bea) == [("offline", iso(w.clock.now()))]
        w.clock.advance(AWAY_SECONDS)
        await w.realtime.presence_tick()
        assert presence_about(ann, w.bea) == [], "settled: announced once"

        assert presence_about(cal, w.bea) == [], "Cal shares no room with Bea"
