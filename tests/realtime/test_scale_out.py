"""Two `parlour serve` processes on one database and one Redis behave as one server."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import threading
from collections.abc import AsyncIterator, Iterator
from typing import IO

import pytest

from parlour.client import EventStream, ParlourClient, Room
from tests.support import (
    PASSWORD,
    Org,
    OrgFactory,
    ServerProcess,
    free_port,
    start_beside,
    start_server,
)


@pytest.fixture(scope="module")
def redis_port() -> Iterator[int]:
    """A Redis of this module's own: the outage test stops it, and must not stop the machine's
    (another test run may be using that one at the same time)."""
    port = free_port()
    start_redis(port)
    try:
        yield port
    finally:
        subprocess.run(
            ["redis-cli", "-h", "127.0.0.1", "-p", str(port), "shutdown", "nosave"],
            check=False,
            stdout=subprocess.DEVNULL,
        )


@pytest.fixture(scope="module")
def pair(redis_port: int) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    redis_url = f"redis://127.0.0.1:{redis_port}/0"
    with start_server({"PARLOUR_REDIS_URL": redis_url}) as first, start_beside(first) as second:
        yield first, second


@pytest.fixture(scope="module")
async def orgs_on_pair(pair: tuple[ServerProcess, ServerProcess]) -> AsyncIterator[OrgFactory]:
    factory = OrgFactory(pair[0])
    await factory.start()
    try:
        yield factory
    finally:
        await factory.stop()


@pytest.fixture(scope="module")
async def pair_org(orgs_on_pair: OrgFactory) -> Org:
    return await orgs_on_pair.create(["Ann Admin", "Ben On B", "Cy On A", "Di On B"])


async def on_server(server: ServerProcess, email: str) -> ParlourClient:
    client = ParlourClient(server.base_url)
    await client.login(email, PASSWORD)
    return client


async def ann_on_a_ben_on_b(
    pair: tuple[ServerProcess, ServerProcess], org: Org
) -> tuple[ParlourClient, ParlourClient, Room]:
    """Ann logged in on process A, Ben on process B, and their direct room."""
    ann = await on_server(pair[0], org[0].email)
    ben = await on_server(pair[1], org[1].email)
    return ann, ben, await ann.create_direct(org[1].user_id)


async def test_delivery_crosses_processes(
    pair: tuple[ServerProcess, ServerProcess], pair_org: Org
) -> None:
    ann, ben, room = await ann_on_a_ben_on_b(pair, pair_org)
    async with ben.events() as ben_stream, ann.events() as ann_stream:
        await ann.send_message(room.id, "from process A")
        got = await ben_stream.wait_for("message.created", timeout=5)
        assert got.data["message"]["content"] == "from process A"
        await ben_stream.typing(room.id)
        typing = await ann_stream.wait_for("typing", timeout=5)
        assert typing.data["user_id"] == pair_org[1].user_id
    await ann.aclose()
    await ben.aclose()


async def test_concurrent_writers_on_two_processes_lose_nothing(
    pair: tuple[ServerProcess, ServerProcess], pair_org: Org
) -> None:
    """The cursor trap: many senders on both processes; every listener sees every message once."""
    a, b = pair
    senders = [
        await on_server(server, pair_org[i].email) for i, server in [(0, a), (1, b), (2, a), (3, b)]
    ]
    listeners = [await on_server(a, pair_org[0].email), await on_server(b, pair_org[1].email)]
    room = await senders[0].create_group("Storm", [m.user_id for m in pair_org.members[1:]])
    per_sender = 25
    async with listeners[0].events() as one, listeners[1].events() as two:

        async def burst(index: int, client: ParlourClient) -> list[str]:
            return [
                (await client.send_message(room.id, f"s{index}-{n}", client_id=f"s{index}-{n}")).id
                for n in range(per_sender)
            ]

        sent = await asyncio.gather(*(burst(i, c) for i, c in enumerate(senders)))
        expected = {mid for ids in sent for mid in ids}

        async def collect(stream: EventStream) -> list[str]:
            seen: list[str] = []
            while len(seen) < len(expected):
                event = await stream.wait_for("message.created", timeout=10)
                seen.append(event.data["message"]["id"])
            return seen

        for seen in await asyncio.gather(collect(one), collect(two)):
            assert len(seen) == len(set(seen)), "no duplicates"
            assert set(seen) == expected, "no gaps"
    stored = await senders[0].list_messages(room.id, limit=200)
    assert len(stored) == len(expected)
    for client in senders + listeners:
        await client.aclose()


async def test_redis_outage_loses_nothing(
    pair: tuple[ServerProcess, ServerProcess], pair_org: Org, redis_port: int
) -> None:
    ann, ben, room = await ann_on_a_ben_on_b(pair, pair_org)
    async with ben.events() as ben_stream:
        with redis_stopped(redis_port):
            for n in range(3):
                await ann.send_message(room.id, f"during outage {n}")
            seen = [
                (await ben_stream.wait_for("message.created", timeout=10)).data["message"][
                    "content"
                ]
                for _ in range(3)
            ]
        assert seen == [f"during outage {n}" for n in range(3)]
        await ann.send_message(room.id, "after outage")
        after = await ben_stream.wait_for("message.created", timeout=10)
        assert after.data["message"]["content"] == "after outage"
    await ann.aclose()
    await ben.aclose()


@contextlib.contextmanager
def redis_stopped(port: int) -> Iterator[None]:
    """Stop the module's real Redis server, and start it again afterwards on the same port."""
    subprocess.run(
        ["redis-cli", "-h", "127.0.0.1", "-p", str(port), "shutdown", "nosave"],
        check=False,
        stdout=subprocess.DEVNULL,
    )
    try:
        yield
    finally:
        start_redis(port)


def start_redis(port: int) -> None:
    """Start Redis in the background and return once it says it accepts connections.

    A shell starts it in the background and exits, so a pytest interrupted mid-test cannot take
    it down with its process group; its output still comes down our pipe, and its log line
    "Ready to accept connections" is the readiness signal (no polling). A daemon thread drains
    the rest.
    """
    args = ["--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"]
    launcher = subprocess.Popen(
        ["sh", "-c", 'redis-server "$@" &', "sh", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # out of our process group: whoever ends it must not end Redis
    )
    launcher.wait()
    assert launcher.stdout is not None
    for line in launcher.stdout:
        if b"Ready to accept connections" in line:
            break
    else:
        raise RuntimeError("redis-server exited before it was ready")
    threading.Thread(target=drain, args=(launcher.stdout,), daemon=True).start()


def drain(pipe: IO[bytes]) -> None:
    """Read Redis's output until it exits, then close the pipe (no unclosed-file warning)."""
    with pipe:
        pipe.read()


async def test_both_open_the_direct_room_at_once_on_two_processes(
    pair: tuple[ServerProcess, ServerProcess], orgs_on_pair: OrgFactory
) -> None:
    """Exactly one direct room per pair, even when both sides open it at the same instant."""
    a, b = pair
    for _ in range(5):
        org = await orgs_on_pair.create(["Eve Left", "Fay Right"], login=False)
        eve = await on_server(a, org[0].email)
        fay = await on_server(b, org[1].email)
        left, right = await asyncio.gather(
            eve.create_direct(org[1].user_id), fay.create_direct(org[0].user_id)
        )
        assert left.id == right.id
        assert [r.id for r in await eve.list_rooms()] == [left.id]
        await eve.aclose()
        await fay.aclose()
