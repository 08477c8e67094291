"""A socket that floods is rate limited frame by frame; the connection stays, others are unaffected.

The contract (API.md: "a client that floods is rate limited"; docs/events.md: a token bucket per
socket, 20 frames/s with a burst of 60, each refused frame gets an `error` frame and the connection
stays) is checked with the server's default limits: one user fires 150 `send` frames at once.
Asserted: every frame is answered exactly once, by an `ack` or by a `rate_limited` error naming its
client_id (with `retry_after` and `retryable: true`); at least the burst is accepted and not much
more than burst + rate x elapsed; exactly the acknowledged sends are stored; the socket still works
after the Retry-After; and meanwhile another member's REST sends succeed and a third member's
socket receives every stored message of the room, in order, with nothing else in between.

"lost" and "duplicates" in the report count against the room's stored history (read back over
REST): acknowledged flood frames that are not stored, and client_ids stored more than once.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson
from websockets.asyncio.client import connect

from parlour.client import events_url
from tests.faults.history import reconcile, stored_history
from tests.faults.load import report
from tests.support import Org

FLOOD = 150
BURST = 60  # the defaults (PARLOUR_LIMIT_FRAME_BURST / PARLOUR_LIMIT_FRAMES_PER_SECOND)
RATE = 20.0


async def test_flooding_socket_is_rate_limited_and_others_are_not(org: Org) -> None:
    flooder, other, watcher = org[0].client, org[1].client, org[2].client
    room = await flooder.create_group("Flooded", [org[1].user_id, org[2].user_id])
    assert flooder.token is not None
    headers = {"Authorization": f"Bearer {flooder.token}"}
    async with (
        watcher.events() as watch,
        connect(events_url(flooder.base_url), additional_headers=headers) as ws,
    ):
        hello = orjson.loads(await ws.recv())
        assert hello["type"] == "hello"
        frames = [
            orjson.dumps(
                {"type": "send", "room_id": room.id, "content": f"flood {n}", "client_id": f"fl{n}"}
            ).decode()
            for n in range(FLOOD)
        ]
        started = time.monotonic()
        for frame in frames:
            await ws.send(frame)

        # Meanwhile another member posts over REST: not limited by someone else's socket.
        others = [
            await other.send_message(room.id, f"other {n}", client_id=f"other-{n}")
            for n in range(5)
        ]
        answers: dict[str, dict[str, Any]] = {}
        async with asyncio.timeout(30):
            while len(answers) < FLOOD:
                answer: dict[str, Any] = orjson.loads(await ws.recv())
                if answer["type"] in ("ack", "error"):
                    client_id = answer.get("client_id")
                    assert client_id is not None, f"an answer without client_id: {answer}"
                    assert client_id not in answers, f"two answers for {client_id}"
                    answers[client_id] = answer
        elapsed = time.monotonic() - started
        acked_ids = {
            cid: answer["message"]["id"]
            for cid, answer in answers.items()
            if answer["type"] == "ack"
        }
        acked = set(acked_ids)
        refused = [answer for answer in answers.values() if answer["type"] == "error"]
        for refusal in refused:
            assert refusal["error"]["code"] == "rate_limited", refusal
            assert refusal["error"]["details"]["retry_after"] >= 1, refusal
            assert refusal["retryable"] is True, refusal
        assert len(acked) >= BURST, f"only {len(acked)} of the burst of {BURST} accepted"
        assert len(acked) <= BURST + RATE * elapsed + 2, f"{len(acked)} accepted in {elapsed:.2f}s"
        assert refused, "nothing was rate limited"

        # The socket stays open: pinging until the bucket has refilled gets a pong.
        async with asyncio.timeout(10):
            pings = 0
            while True:
                await ws.send('{"type": "ping"}')
                pings += 1
                answer = orjson.loads(await ws.recv())
                while answer["type"] not in ("pong", "error"):  # its own message.created etc.
                    answer = orjson.loads(await ws.recv())
                if answer["type"] == "pong":
                    break
                assert answer["error"]["code"] == "rate_limited", answer

        # The ground truth: what the server stored, against what it acknowledged.
        stored = await stored_history(flooder, room.id)
        sends = {**acked_ids, **{m.client_id or "": m.id for m in others}}
        reconciled = reconcile(sends, stored, ("fl", "other-"))
        figures = {
            "frames": FLOOD,
            "accepted": len(acked),
            "rate_limited": len(refused),
            "seconds": round(elapsed, 2),
            "messages_acked": len(sends),
            "lost": len(reconciled.lost),
            "duplicates": reconciled.duplicates,
            "unacknowledged_stored": len(reconciled.unacknowledged),
        }
        report("flood", figures)
        assert reconciled.lost == [], "acknowledged sends are not stored"
        assert reconciled.duplicates == 0, "a client_id is stored twice"
        assert reconciled.unacknowledged == [], "refused (rate limited) sends were stored"
        assert reconciled.wrong_id == [], "stored under another id than acknowledged"
        # The watcher's socket got every stored message of the room once, in order, and nothing
        # after them (a ping answered proves the stream is current).
        seen: list[str] = []
        async with asyncio.timeout(15):
            async for event in watch:
                if event.type == "message.created":
                    seen.append(event["message"]["id"])
                    if len(seen) == len(stored):
                        break
        assert seen == [m.id for m in stored]
