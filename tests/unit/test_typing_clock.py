"""Typing on a FakeClock: relayed at most once per throttle window, expiring by the clock."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from parlour.clock import FakeClock, iso
from parlour.events.hub import Subscriber
from tests.unit.clocked import (
    TYPING_SECONDS,
    TYPING_THROTTLE_SECONDS,
    frames_of,
    realtime_world,
)

TICK = 0.001


async def next_typing(subscriber: Subscriber) -> list[dict[str, Any]]:
    """The typing frames queued for the subscriber, once there is at least one frame.

    Typing reaches sockets through the bus on a later loop turn, in the order it was relayed, so
    once a frame is here every notice relayed before it is here too.
    """
    async with asyncio.timeout(5):
        return frames_of(await subscriber.next_frames(), "typing")


def until(clock: FakeClock) -> str | None:
    return iso(clock.now() + timedelta(seconds=TYPING_SECONDS))


async def test_typing_is_relayed_once_per_throttle_window_and_expires_by_the_clock() -> None:
    async with realtime_world() as w:
        ann = await w.connect(w.ann)
        bea = await w.connect(w.bea)

        assert w.realtime.typing(w.bea, w.room_id)
        expected = {"type": "typing", "room_id": w.room_id, "user_id": w.bea}
        assert await next_typing(ann) == [{**expected, "until": until(w.clock)}]

        w.clock.advance(TYPING_THROTTLE_SECONDS - TICK)
        assert w.realtime.typing(w.bea, w.room_id), "throttled, but still accepted"
        assert not w.realtime.typing(w.cal, w.room_id), "Cal is not in the room"
        w.clock.advance(TICK)
        assert w.realtime.typing(w.bea, w.room_id)
        # Only the notice after the window: the throttled one and Cal's were never relayed.
        assert await next_typing(ann) == [{**expected, "until": until(w.clock)}]

        # Ann typing back reaches Bea, and never echoes to Ann herself.
        assert w.realtime.typing(w.ann, w.room_id)
        assert await next_typing(bea) == [{**expected, "user_id": w.ann, "until": until(w.clock)}]
        assert frames_of(ann.outbox, "typing") == []
