"""Crash loop: SIGKILL the server at random moments under load; nothing acknowledged is lost.

Several users send continuously (half over the socket, half over REST, every message with its own
client_id, several in flight). The server is killed with SIGKILL after a random number of further
acknowledgements (sometimes at once after a restart, during the reconnect storm), and restarted on
the same data and port. Clients reconnect and resume by cursor on their own; sends without an
answer are retried with the same client_id. Afterwards `Fleet.verify` checks the stored history
against the acks and every client's event log (see tests/faults/load.py), and on SQLite
`PRAGMA integrity_check` must say ok.

The short run is part of the normal pass; the long one (`-m slow`, PARLOUR_FAULT_KILLS, at least
20 kills) is what scripts/faults runs.
"""

from __future__ import annotations

import asyncio
import os
import random
import sqlite3
import time

import pytest

from tests.faults.load import Fleet, report, seed_from_env
from tests.support import OrgFactory, ServerProcess, start_server

# Sends are fast in this test: the flood limit is not what it is about (test_flood.py is).
# The fleet sends as fast as it can over sockets and REST: the flood limits are for people.
LOAD_ENV = {
    "PARLOUR_LIMIT_FRAMES_PER_SECOND": "100000",
    "PARLOUR_LIMIT_FRAME_BURST": "100000",
    "PARLOUR_LIMIT_SENDS_PER_SECOND": "100000",
    "PARLOUR_LIMIT_SEND_BURST": "100000",
}
USERS = ["Ada Load", "Bo Load", "Cy Load", "Di Load", "Ed Load"]


def database_kind() -> str:
    return "postgresql" if os.environ.get("PARLOUR_TEST_DATABASE_URL") else "sqlite"


async def crash_loop(kills: int, *, suite: str) -> dict[str, object]:
    seed = seed_from_env()
    print(f"crash loop: seed {seed} (rerun with PARLOUR_FAULT_SEED={seed}), {kills} kills")
    rng = random.Random(seed)
    started = time.monotonic()
    with start_server(LOAD_ENV) as server:
        factory = OrgFactory(server)
        await factory.start()
        fleet = Fleet(await factory.create(USERS), rng)
        try:
            await fleet.setup()
            fleet.start()
            await fleet.wait_acked(20, timeout=30)
            for kill in range(kills):
                # A random moment: after some more acks, or right after the last restart.
                more = 0 if rng.random() < 0.2 else rng.randint(5, 60)
                await fleet.wait_acked(fleet.acked + more, timeout=60)
                await asyncio.to_thread(server.stop, kill=True)
                await asyncio.to_thread(server.start)
                print(
                    f"kill {kill + 1}/{kills} after {fleet.acked} acks"
                    f" at {time.monotonic() - started:.1f}s"
                )
            # Traffic after the last restart proves the clients recovered on their own.
            await fleet.wait_acked(fleet.acked + 20, timeout=60)
            await fleet.stop()
            figures = await fleet.verify()
        except BaseException:
            print(f"crash loop failed: seed {seed}")
            raise
        finally:
            await fleet.close()
            await factory.stop()
        integrity = await asyncio.to_thread(check_integrity, server)
    figures.update(
        {
            "seed": seed,
            "database": database_kind(),
            "kills": kills,
            "outages": kills,
            "integrity": integrity,
            "seconds": round(time.monotonic() - started, 1),
        }
    )
    print(figures)
    report(suite, figures)
    return figures


def check_integrity(server: ServerProcess) -> str:
    """SQLite: `PRAGMA integrity_check` on the database the killed processes left behind."""
    if database_kind() != "sqlite":
        return "n/a (postgresql)"
    server.stop()
    with sqlite3.connect(server.data_dir / "parlour.db") as db:
        rows = db.execute("PRAGMA integrity_check").fetchall()
    assert rows == [("ok",)], f"integrity_check: {rows}"
    return "ok"


async def test_crash_loop_short() -> None:
    figures = await crash_loop(3, suite="crash_short")
    assert figures["messages_acked"] == figures["messages_sent"]
    assert figures["reconnects"], "the clients never had to reconnect: nothing was tested"


@pytest.mark.slow
async def test_crash_loop_long() -> None:
    kills = max(20, int(os.environ.get("PARLOUR_FAULT_KILLS", "25")))
    figures = await crash_loop(kills, suite="crash_long")
    assert figures["messages_acked"] == figures["messages_sent"]
