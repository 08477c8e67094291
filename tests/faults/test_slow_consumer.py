"""A socket that stops reading is cut off (4008), costs the server nothing, and resumes exactly.

One user's socket is a raw TCP connection with a tiny receive buffer that completes the WebSocket
handshake, reads its hello, and then reads nothing while another user sends a burst of messages
into their shared room. The server must close it with 4008 once its outbox passes
PARLOUR_LIMIT_SOCKET_QUEUE_FRAMES (small here), while a healthy member of the same room receives
every message promptly and in order, and the server's memory stays bounded. When the slow client
finally reads, it finds an in-order prefix of the burst and then the 4008 close; reconnecting with
the cursor of the last message it processed, it gets every message it missed exactly once.

"lost" and "duplicates" in the report count against the room's history as the server stored it
(read back over REST), not against what the clients saw: an acknowledged send that is not stored
is lost even if no client noticed. What the slow client saw is reported as event gaps/duplicates.
"""

from __future__ import annotations

import asyncio
import random
import socket
import time
from typing import Any

import orjson
import psutil
from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.uri import parse_uri

from parlour.client import EventStream, ParlourClient, events_url
from tests.faults.history import reconcile, stored_history
from tests.faults.load import report, seed_from_env
from tests.support import OrgFactory, start_server

QUEUE_LIMIT = 100
BURST = 1500
IN_FLIGHT = 8
ENV = {
    "PARLOUR_LIMIT_SOCKET_QUEUE_FRAMES": str(QUEUE_LIMIT),
    "PARLOUR_LIMIT_FRAMES_PER_SECOND": "100000",
    "PARLOUR_LIMIT_FRAME_BURST": "100000",
}
# Growth allowed over the burst. The outbox holds at most QUEUE_LIMIT frames (~1.6 MiB); a backlog
# of everything the slow client missed would be over 20 MiB (1,300+ frames of ~16 KiB).
RSS_GROWTH_LIMIT = 16 * 1024 * 1024


class RawSocket:
    """A WebSocket client that reads only when told to, over a socket with a tiny buffer."""

    def __init__(self, url: str, token: str) -> None:
        self.url = url
        self.token = token
        self.protocol = ClientProtocol(parse_uri(url), max_size=None)
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.frames: list[dict[str, Any]] = []
        self.close_code: int | None = None

    async def connect(self) -> None:
        parts = parse_uri(self.url)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # Before connect, so the advertised window is small from the first byte.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, (parts.host, parts.port))
        # A small StreamReader limit: the transport stops reading once ~2 KiB are buffered.
        self.reader, self.writer = await asyncio.open_connection(sock=sock, limit=1024)
        request = self.protocol.connect()
        request.headers["Authorization"] = f"Bearer {self.token}"
        self.protocol.send_request(request)
        self._flush()

    def _flush(self) -> None:
        assert self.writer is not None
        for data in self.protocol.data_to_send():
            if data:
                self.writer.write(data)

    async def read_until(self, done: Any, timeout: float) -> None:
        """Read and parse until `done()` or the connection ends."""
        assert self.reader is not None
        async with asyncio.timeout(timeout):
            while not done() and self.close_code is None:
                data = await self.reader.read(65536)
                if data:
                    self.protocol.receive_data(data)
                else:
                    self.protocol.receive_eof()
                for event in self.protocol.events_received():
                    if isinstance(event, Response):
                        assert event.status_code == 101, event
                    elif isinstance(event, Frame):
                        if event.opcode == Opcode.TEXT:
                            self.frames.append(orjson.loads(event.data))
                        elif event.opcode == Opcode.CLOSE:
                            received = self.protocol.close_rcvd
                            self.close_code = received.code if received else 1005
                if not data and self.close_code is None:
                    self.close_code = 1006  # the TCP connection ended without a close frame

    def abort(self) -> None:
        if self.writer is not None:
            self.writer.transport.abort()
            self.writer = None


def burst_content(index: int) -> str:
    """Big messages (~16 KiB frames with their HTML), so kernel socket buffers fill quickly."""
    return f"burst {index} " + "lorem ipsum dolor " * 440


async def send_burst(
    stream: EventStream, room_id: str, count: int, prefix: str
) -> tuple[list[str], dict[str, str], dict[str, float]]:
    """Send `count` messages over `stream` with up to IN_FLIGHT unacknowledged: the ids in the
    order the stream delivered them, client_id -> acknowledged id, and when each was acked.

    The caller's reader must not run on this stream: this function reads it for the acks.
    """
    acked: dict[str, str] = {}
    acked_at: dict[str, float] = {}
    order: list[str] = []
    next_index = 0

    async def top_up() -> None:
        nonlocal next_index
        while next_index < count and next_index - len(acked) < IN_FLIGHT:
            client_id = f"{prefix}-{next_index}"
            await stream.send(room_id, burst_content(next_index), client_id)
            next_index += 1

    await top_up()
    async with asyncio.timeout(120):
        async for event in stream:
            if event.type == "ack":
                acked[event["client_id"]] = event["message"]["id"]
                acked_at[event["message"]["id"]] = time.monotonic()
            elif event.type == "message.created":
                order.append(event["message"]["id"])
            elif event.type == "hello" and stream.reconnects:
                # Reconnected: the acks of sends in flight died with the old socket. Send them
                # again with the same client_ids (the server answers with the first message).
                print("sender reconnected after", len(acked), "acks")
                for index in range(next_index):
                    client_id = f"{prefix}-{index}"
                    if client_id not in acked:
                        await stream.send(room_id, burst_content(index), client_id)
            if event.type == "error":
                raise AssertionError(f"burst send refused: {event.data}")
            if len(acked) == count and len(order) >= count:
                break
            await top_up()
    return order, acked, acked_at


async def test_slow_consumer_is_cut_off_and_resumes_exactly() -> None:
    seed = seed_from_env()
    print(f"slow consumer: seed {seed}")
    rng = random.Random(seed)
    with start_server(ENV) as server:
        factory = OrgFactory(server)
        await factory.start()
        try:
            org = await factory.create(["Sal Sender", "Hal Healthy", "Sid Slow"])
            sender, healthy, slow = (m.client for m in org.members)
            room = await sender.create_group("Firehose", [org[1].user_id, org[2].user_id])
            assert server.process is not None
            await run_scenario(server.process.pid, sender, healthy, slow, room.id, rng)
        finally:
            await factory.stop()


async def run_scenario(
    pid: int,
    sender: ParlourClient,
    healthy: ParlourClient,
    slow: ParlourClient,
    room_id: str,
    rng: random.Random,
) -> None:
    url = events_url(sender.base_url)
    assert slow.token is not None
    raw = RawSocket(url, slow.token)
    try:
        await raw.connect()
        await scenario(pid, raw, url, sender, healthy, slow, room_id, rng)
    finally:
        raw.abort()


async def scenario(
    pid: int,
    raw: RawSocket,
    url: str,
    sender: ParlourClient,
    healthy: ParlourClient,
    slow: ParlourClient,
    room_id: str,
    rng: random.Random,
) -> None:
    await raw.read_until(lambda: any(f["type"] == "hello" for f in raw.frames), timeout=10)
    hello_cursor = raw.frames[0]["cursor"]
    server_process = psutil.Process(pid)
    baseline = server_process.memory_info().rss
    peak = baseline

    received_at: dict[str, float] = {}
    healthy_order: list[str] = []

    async def watch_healthy(stream: EventStream) -> None:
        async for event in stream:
            if event.type == "message.created":
                message_id = event["message"]["id"]
                received_at[message_id] = time.monotonic()
                healthy_order.append(message_id)
                if len(healthy_order) == BURST:
                    return

    async def sample_memory() -> None:
        nonlocal peak
        while True:  # a sampler, stopped by cancellation once the burst is over
            peak = max(peak, server_process.memory_info().rss)
            await asyncio.sleep(0.05)

    prefix = f"burst-{rng.randrange(16**8):08x}"
    async with healthy.events() as healthy_stream, sender.events() as sender_stream:
        # (A reconnect of the healthy stream would show as a second hello: counted below.)
        watcher = asyncio.create_task(watch_healthy(healthy_stream))
        sampler = asyncio.create_task(sample_memory())
        try:
            sent, acked, acked_at = await send_burst(sender_stream, room_id, BURST, prefix)
            async with asyncio.timeout(30):
                await watcher
            healthy_reconnects = healthy_stream.reconnects
        finally:
            sampler.cancel()
            watcher.cancel()
    # The healthy member got everything, in the order the sender's own socket saw it, promptly,
    # on its first connection.
    assert healthy_reconnects == 0, "the healthy member was cut off too"
    assert healthy_order == sent
    lag = max(received_at[m] - acked_at[m] for m in sent)
    assert lag < 5, f"a healthy member waited {lag:.1f}s for a message"
    growth = peak - baseline
    assert growth < RSS_GROWTH_LIMIT, f"server RSS grew by {growth / 2**20:.1f} MiB"

    # Now the slow client reads: an in-order prefix of the burst, then the 4008 close.
    await raw.read_until(lambda: False, timeout=15)
    assert raw.close_code == 4008, f"closed with {raw.close_code}, not 4008"
    got = [f["message"]["id"] for f in raw.frames if f["type"] == "message.created"]
    assert got == sent[: len(got)], "the slow client's frames are not an in-order prefix"
    assert len(got) < len(sent), "the slow client was never cut off"
    durable = [f for f in raw.frames if f["type"] == "message.created"]
    cursor = durable[-1]["cursor"] if durable else hello_cursor

    # Resume from the last processed cursor: the rest, exactly once, in order; then live again.
    resumed: list[str] = []
    async with EventStream(url, slow.token, since=cursor) as stream:
        sentinel = await sender.send_message(room_id, "after the burst", client_id=f"{prefix}-end")
        async with asyncio.timeout(30):
            async for event in stream:
                if event.type == "message.created":
                    resumed.append(event["message"]["id"])
                    if event["message"]["id"] == sentinel.id:
                        break
                assert event.type != "resync_required"

    # The ground truth: what the server stored, against what it acknowledged.
    acked[f"{prefix}-end"] = sentinel.id
    stored = await stored_history(sender, room_id)  # the room holds only this test's sends
    reconciled = reconcile(acked, stored, prefix)
    delivered = got + resumed
    figures = {
        "burst": BURST,
        "queue_limit": QUEUE_LIMIT,
        "messages_acked": len(acked),
        "messages_stored": len(stored),
        "slow_received_before_close": len(got),
        "slow_resumed": len(resumed) - 1,
        "lost": len(reconciled.lost),
        "duplicates": reconciled.duplicates,
        "unacknowledged_stored": len(reconciled.unacknowledged),
        "event_gaps": len({m.id for m in stored} - set(delivered)),
        "event_duplicates": len(delivered) - len(set(delivered)),
        "healthy_max_lag_s": round(lag, 3),
        "rss_baseline_mib": round(baseline / 2**20, 1),
        "rss_growth_mib": round(growth / 2**20, 1),
    }
    print(figures)
    report("slow_consumer", figures)
    assert reconciled.lost == [], f"acknowledged but not stored: {reconciled.lost[:5]}"
    assert reconciled.duplicates == 0, "a client_id is stored more than once"
    assert reconciled.unacknowledged == [], reconciled.unacknowledged[:5]
    assert reconciled.wrong_id == [], "stored under another id than acknowledged"
    # Exactly the stored history reached the slow client, once each, in order, across the cut.
    assert delivered == [m.id for m in stored]
    assert resumed == [*sent[len(got) :], sentinel.id]
