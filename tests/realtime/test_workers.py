"""`parlour serve --workers 2`: two processes on one port act as one server.

The hub's poll is set far beyond every wait here, so an event that reaches a socket on the other
worker in time was carried there by the bus (the machine bus without Redis, Redis with it).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from collections.abc import Iterator

import pytest

from parlour.client import ParlourClient
from parlour.client.events import Event
from tests.realtime.test_scale_out import start_redis
from tests.realtime.workers import PinnedSocket, client_on, socket_on, workers_of
from tests.support import OrgFactory, ServerProcess, free_port, org_factory, start_server

POLL_SECONDS = "60"
# Well under the poll: only the bus explains delivery this quick.
QUICK = 5.0


@pytest.fixture(scope="module")
def two_workers() -> Iterator[ServerProcess]:
    with start_server({"PARLOUR_STREAM_POLL_SECONDS": POLL_SECONDS}, workers=2) as server:
        yield server


def token_of(client: ParlourClient) -> str:
    assert client.token is not None
    return client.token


def position(event: Event) -> int:
    assert event.cursor is not None
    return int(event.cursor.rpartition(".")[2])


async def test_a_message_reaches_sockets_on_the_other_worker_at_once(
    two_workers: ServerProcess,
) -> None:
    first, second = workers_of(two_workers)
    async with org_factory(two_workers) as orgs:
        org = await orgs.create(["Ann Sender", "Ben Reader"])
        room = await org[0].client.create_direct(org[1].user_id)
        ben = token_of(org[1].client)
        sockets = [await socket_on(two_workers, ben, worker) for worker in (first, second)]
        for worker in (first, second):
            ann, answered = await client_on(two_workers, token_of(org[0].client), worker)
            sent = await ann.send_message(room.id, f"posted on {worker}")
            assert answered.workers[-1] == worker
            for socket in sockets:
                got = await socket.next("message.created", QUICK)
                assert got["message"]["id"] == sent.id
            await ann.aclose()
        for socket in sockets:
            await socket.close()


async def test_typing_and_presence_cross_workers(two_workers: ServerProcess) -> None:
    first, second = workers_of(two_workers)
    async with org_factory(two_workers) as orgs:
        org = await orgs.create(["Cy Watcher", "Di Typist"])
        room = await org[0].client.create_direct(org[1].user_id)
        cy = await socket_on(two_workers, token_of(org[0].client), first)
        # Di never connects to Cy's worker: only the bus can tell it she is here.
        di = await socket_on(two_workers, token_of(org[1].client), second)

        def about_di(status: str) -> object:
            return lambda e: (
                e.type == "presence.updated"
                and (e["user_id"], e["status"])
                == (
                    org[1].user_id,
                    status,
                )
            )

        await next_matching(cy, about_di("online"))
        await di.ws.send(f'{{"type": "typing", "room_id": "{room.id}"}}')
        typing = await cy.next("typing", QUICK)
        assert (typing["room_id"], typing["user_id"]) == (room.id, org[1].user_id)
        await di.close()
        # Without the bus, Cy's worker would hold Di's last heartbeat for 15 s.
        await next_matching(cy, about_di("offline"))
        await cy.close()


async def next_matching(socket: PinnedSocket, match: object) -> Event:
    assert callable(match)
    async with asyncio.timeout(QUICK):
        while True:
            event = await socket.next("presence.updated", QUICK)  # other frame types are skipped
            if match(event):
                return event


async def test_posts_from_both_workers_keep_the_cursor_order(two_workers: ServerProcess) -> None:
    """Senders on both workers at once; live and replayed, on either worker: every event once,
    in one order, the order of the cursors."""
    first, second = workers_of(two_workers)
    async with org_factory(two_workers) as orgs:
        org = await orgs.create(["Eve Admin", "Fay Member", "Gus Member", "Hal Member"])
        room = await org[0].client.create_group("Both", [m.user_id for m in org.members[1:]])
        listener = await socket_on(two_workers, token_of(org[0].client), first)
        start = listener.hello.cursor
        senders = [
            await client_on(two_workers, token_of(member.client), worker)
            for member, worker in zip(org.members, (first, second, first, second), strict=True)
        ]
        per_sender = 15

        async def burst(index: int, client: ParlourClient) -> list[str]:
            return [
                (await client.send_message(room.id, f"{index}-{n}", client_id=f"{index}-{n}")).id
                for n in range(per_sender)
            ]

        sent = await asyncio.gather(*(burst(i, c) for i, (c, _) in enumerate(senders)))
        acked = {message_id for ids in sent for message_id in ids}
        assert len(acked) == 4 * per_sender
        assert {w for _, t in senders for w in t.workers[1:]} == {first, second}

        live: list[Event] = []
        async with asyncio.timeout(30):
            while not acked <= {e["message"]["id"] for e in live if e.type == "message.created"}:
                live.extend(await listener.durable(1, 30))
        for worker in (first, second):
            replay = await socket_on(two_workers, token_of(org[0].client), worker, since=start)
            replayed = await replay.durable(len(live), 30)
            assert [(e.cursor, e.type) for e in replayed] == [(e.cursor, e.type) for e in live]
            await replay.close()
        positions = [position(e) for e in live]
        assert positions == sorted(set(positions)), "cursor order, no duplicates"
        await listener.close()
        for client, _ in senders:
            await client.aclose()


def alive(pid: str) -> bool:
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    return True


async def test_a_killed_worker_loses_nothing_acknowledged_and_sigterm_stops_all() -> None:
    with start_server({"PARLOUR_STREAM_POLL_SECONDS": POLL_SECONDS}, workers=2) as server:
        victim, survivor = workers_of(server)
        async with org_factory(server) as orgs:
            org = await orgs.create(["Ida Sender", "Jon Sender"])
            room = await org[0].client.create_direct(org[1].user_id)
            watcher = await socket_on(server, token_of(org[0].client), survivor)
            start = watcher.hello.cursor
            acked: list[str] = []
            halfway = asyncio.Event()

            async def sender(index: int, worker: str) -> None:
                client, _ = await client_on(server, token_of(org[index].client), worker)
                try:
                    for n in range(40):
                        message = await client.send_message(
                            room.id, f"{index}-{n}", client_id=f"{index}-{n}"
                        )
                        acked.append(message.id)
                        if n == 10:
                            halfway.set()
                except Exception:
                    assert worker == victim
                finally:
                    await client.aclose()

            senders = [
                asyncio.create_task(sender(0, victim)),
                asyncio.create_task(sender(1, survivor)),
            ]
            await halfway.wait()
            os.kill(int(victim), signal.SIGKILL)
            await asyncio.gather(*senders)

            # The supervisor starts a replacement; it serves everything acknowledged, once.
            (replacement,) = await asyncio.to_thread(
                workers_of, server, 1, frozenset({victim, survivor})
            )
            replay = await socket_on(server, token_of(org[1].client), replacement, since=start)
            replayed: list[str] = []
            async with asyncio.timeout(30):
                while not set(acked) <= set(replayed):
                    event = (await replay.durable(1, 30))[0]
                    if event.type == "message.created":
                        replayed.append(event["message"]["id"])
            assert len(replayed) == len(set(replayed))
            stored = [m.id for m in await org[0].client.list_messages(room.id, limit=200)]
            assert len(stored) == len(set(stored))
            assert set(acked) <= set(stored)
            await replay.close()
            await watcher.close()

        bus = server.data_dir / "bus"
        assert server.process is not None
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=60) == 0
        server.process = None
        assert not alive(survivor)
        assert not alive(replacement)
        assert list(bus.iterdir()) == [], "every worker stopped and removed its bus socket"


@pytest.mark.skipif(
    not os.environ.get("PARLOUR_TEST_DATABASE_URL"), reason="PostgreSQL + Redis run only"
)
async def test_two_workers_on_postgresql_share_through_redis() -> None:
    port = free_port()
    start_redis(port)
    try:
        env = {
            "PARLOUR_STREAM_POLL_SECONDS": POLL_SECONDS,
            "PARLOUR_REDIS_URL": f"redis://127.0.0.1:{port}/0",
        }
        with start_server(env, workers=2) as server:
            first, second = workers_of(server)
            orgs = OrgFactory(server)
            await orgs.start()
            try:
                org = await orgs.create(["Kim Sender", "Lou Reader"])
                room = await org[0].client.create_direct(org[1].user_id)
                lou = await socket_on(server, token_of(org[1].client), second)
                kim_socket = await socket_on(server, token_of(org[0].client), first)
                kim, answered = await client_on(server, token_of(org[0].client), first)
                sent = await kim.send_message(room.id, "across workers, through Redis")
                assert answered.workers[-1] == first
                assert (await lou.next("message.created", QUICK))["message"]["id"] == sent.id
                await lou.ws.send(f'{{"type": "typing", "room_id": "{room.id}"}}')
                assert (await kim_socket.next("typing", QUICK))["user_id"] == org[1].user_id
                await kim.aclose()
                await lou.close()
                await kim_socket.close()
            finally:
                await orgs.stop()
    finally:
        subprocess.run(
            ["redis-cli", "-h", "127.0.0.1", "-p", str(port), "shutdown", "nosave"],
            check=False,
            stdout=subprocess.DEVNULL,
        )
