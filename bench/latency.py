"""First delivery-latency figures: send (over the socket) -> receive, between two clients.

    uv run python bench/latency.py [--messages 300]

Runs one server (SQLite, in-process bus) and a pair of servers (same SQLite, Redis bus), and
reports p50/p99 of the time from writing a `send` frame to the other client receiving its
`message.created`. Each delivered message is checked by content, not just counted. Not the full
benchmark suite of issue 6: no bare-WebSocket baseline yet.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support import PASSWORD, OrgFactory, ServerProcess, free_port, start_server

from parlour.client import ParlourClient


async def measure(
    sender_server: ServerProcess, receiver_server: ServerProcess, factory: OrgFactory, count: int
) -> list[float]:
    org = await factory.create(["Sender Person", "Receiver Person"], login=False)
    sender, receiver = (
        ParlourClient(sender_server.base_url),
        ParlourClient(receiver_server.base_url),
    )
    await sender.login(org[0].email, PASSWORD)
    await receiver.login(org[1].email, PASSWORD)
    room = await sender.create_direct(org[1].user_id)
    samples: list[float] = []
    async with sender.events() as out, receiver.events() as inbox:
        for n in range(count):
            text = f"latency {n}"
            started = time.perf_counter()
            await out.send(room.id, text, f"lat-{n}")
            event = await inbox.wait_for("message.created", timeout=10)
            samples.append((time.perf_counter() - started) * 1000)
            if event.data["message"]["content"] != text:
                raise AssertionError("delivered the wrong message")
    await sender.aclose()
    await receiver.aclose()
    return samples[10:]  # warm-up


def summary(name: str, samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"| {name} | {len(samples)} | {statistics.median(ordered):.2f} | {p99:.2f} |"


async def main(count: int) -> None:
    rows = []
    # The per-socket flood limit (20 frames/s) is for people; the bench sends as fast as it can.
    env = {
        "PARLOUR_REDIS_URL": "redis://127.0.0.1:6379/0",
        "PARLOUR_LIMIT_FRAMES_PER_SECOND": "100000",
        "PARLOUR_LIMIT_FRAME_BURST": "100000",
    }
    with start_server(env) as first:
        port = free_port()
        second = ServerProcess(
            f"http://127.0.0.1:{port}", first.data_dir, dict(first.env), port=port
        )
        second.start()
        factory = OrgFactory(first)
        await factory.start()
        try:
            rows.append(summary("one process", await measure(first, first, factory, count)))
            rows.append(
                summary(
                    "across two processes (Redis)", await measure(first, second, factory, count)
                )
            )
        finally:
            await factory.stop()
            second.stop()
    print("| path | messages | p50 ms | p99 ms |\n|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=300)
    asyncio.run(main(parser.parse_args().messages))
