"""The machine bus (parlour.events.local_bus): buses sharing a directory hear each other."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from parlour.events.local_bus import LocalBus


class Heard:
    """A bus listener that lets a test wait for what it heard."""

    def __init__(self) -> None:
        self.positions: list[int] = []
        self.signals: list[dict[str, Any]] = []
        self._changed = asyncio.Event()

    def on_stream_advanced(self, position: int) -> None:
        self.positions.append(position)
        self._changed.set()

    def on_signal(self, signal: dict[str, Any]) -> None:
        self.signals.append(signal)
        self._changed.set()

    async def until(self, condition: Any, timeout: float = 5.0) -> None:
        """Wait until `condition()` holds: re-checked on each thing heard, and every few ms for
        what is not heard (a bus learning of a peer)."""
        async with asyncio.timeout(timeout):
            while not condition():
                self._changed.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(0.01):
                        await self._changed.wait()


@contextlib.asynccontextmanager
async def started(directory: Path) -> AsyncIterator[tuple[LocalBus, Heard]]:
    bus, heard = LocalBus(directory), Heard()
    bus.set_listener(heard)
    await bus.start()
    try:
        yield bus, heard
    finally:
        await bus.stop()


@contextlib.asynccontextmanager
async def two_started(directory: Path) -> AsyncIterator[tuple[LocalBus, Heard, LocalBus, Heard]]:
    """Two buses that know each other: `two` lists `one` at start, `one` hears `two`'s hello."""
    async with started(directory) as (one, one_heard), started(directory) as (two, two_heard):
        await one_heard.until(lambda: two.path in one.peers())
        assert one.path in two.peers()
        yield one, one_heard, two, two_heard


async def test_two_buses_hear_each_other_and_themselves(tmp_path: Path) -> None:
    async with two_started(tmp_path) as (one, one_heard, two, two_heard):
        one.stream_advanced(7)
        two.signal({"kind": "typing", "room_id": "r", "user_id": "u", "frame": "{}"})
        await two_heard.until(lambda: 7 in two_heard.positions and two_heard.signals)
        await one_heard.until(lambda: 7 in one_heard.positions and one_heard.signals)
        assert (
            one_heard.signals
            == two_heard.signals
            == [{"kind": "typing", "room_id": "r", "user_id": "u", "frame": "{}"}]
        )


async def test_positions_of_one_loop_turn_fold_into_the_highest(tmp_path: Path) -> None:
    async with two_started(tmp_path) as (one, _, _, two_heard):
        for position in range(1, 101):
            one.stream_advanced(position)
        await two_heard.until(lambda: 100 in two_heard.positions)
        assert two_heard.positions == [100]


async def test_a_peer_with_a_full_queue_gets_its_due_later(tmp_path: Path) -> None:
    """Linux queues few datagrams per socket: what a full queue refuses is sent again."""
    async with two_started(tmp_path) as (one, _, two, two_heard):
        loop = asyncio.get_running_loop()
        assert two._sock is not None
        loop.remove_reader(two._sock.fileno())  # `two` stops reading: its queue fills up
        for n in range(200):
            one.signal({"kind": "beat", "process": "p", "users": [[f"u{n}", False]]})
            one.stream_advanced(n + 1)
            await asyncio.sleep(0)  # one datagram per loop turn
        loop.add_reader(two._sock.fileno(), two._receive)
        await two_heard.until(lambda: 200 in two_heard.positions)
        users = [signal["users"][0][0] for signal in two_heard.signals]
        assert users == [f"u{n}" for n in range(200)], "every signal, once, in order"


async def test_a_heartbeat_too_big_for_a_datagram_is_split(tmp_path: Path) -> None:
    async with two_started(tmp_path) as (one, _, _, two_heard):
        users = [[f"user-{n:06d}-{'x' * 20}", False] for n in range(10_000)]
        one.signal({"kind": "beat", "process": "p", "users": users})
        await two_heard.until(lambda: sum(len(s["users"]) for s in two_heard.signals) >= 10_000)
        assert [user for s in two_heard.signals for user in s["users"]] == users


async def test_a_dead_peer_socket_is_ignored_and_removed(tmp_path: Path) -> None:
    # What a killed process leaves: a socket file nobody reads.
    dead = tmp_path / "999999-dead.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(dead))
    async with two_started(tmp_path) as (one, _, _, two_heard):
        one.stream_advanced(3)
        await two_heard.until(lambda: 3 in two_heard.positions)
        assert not dead.exists()
        assert str(dead) not in one.peers()


async def test_a_stopped_bus_removes_its_socket_and_is_forgotten(tmp_path: Path) -> None:
    async with started(tmp_path) as (one, one_heard):
        async with started(tmp_path) as (two, _):
            await one_heard.until(lambda: two.path in one.peers())
            path = two.path
        assert not os.path.exists(path)
        one.stream_advanced(1)  # the send finds nobody there and forgets the peer
        await one_heard.until(lambda: 1 in one_heard.positions)
        await asyncio.sleep(0)
        assert path not in one.peers()


async def test_an_unstarted_bus_delivers_to_its_own_process_only(tmp_path: Path) -> None:
    bus, heard = LocalBus(tmp_path / "bus"), Heard()
    bus.set_listener(heard)
    bus.stream_advanced(5)
    bus.signal({"kind": "status", "user_id": "u"})
    await heard.until(lambda: heard.positions == [5] and len(heard.signals) == 1)
    assert not (tmp_path / "bus").exists()
