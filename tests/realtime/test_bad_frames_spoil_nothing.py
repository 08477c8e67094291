"""One socket's malformed fields never fail other people's sends (found by an attack run).

A `send` frame with a NUL in its room_id passed the socket's field check, joined the shared send
batch, and PostgreSQL refused the whole batch: other users' REST sends got 503. Now every socket
id goes through the same check as a REST path id, text fields through the send action's checks,
and a batch the database refuses is split so that only the refused request fails.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from parlour.client.events import Event, EventStream
from tests.support import Org

ROUNDS = 8  # under every rate limit: 8 REST sends per user, 5 bad frames per round on one socket


async def test_nul_fields_on_one_socket_fail_only_that_socket(org: Org) -> None:
    ada, bea, cal, dee = (org[i].client for i in range(4))
    room = await ada.create_group("Shared", [org[i].user_id for i in range(1, 4)])
    anchor = await ada.send_message(room.id, "anchor")

    async with dee.events() as bad, bea.events() as good:

        def bad_frames(n: int) -> list[tuple[Callable[[], Awaitable[None]], str]]:
            """Each bad frame, and the error code it must get."""
            return [
                (lambda: bad.send(room.id + "\x00", "x", f"bad-room-{n}"), "invalid_id"),
                (
                    lambda: bad.send(room.id, "nul \x00 inside", f"bad-content-{n}"),
                    "invalid_characters",
                ),
                (lambda: bad.send(room.id, "fine", f"bad-\x00-{n}"), "invalid_client_id"),
                (lambda: bad.read(room.id, anchor.id + "\x00"), "invalid_id"),
                (lambda: bad.typing("\x00" + room.id), "invalid_id"),
            ]

        frames = [frame for n in range(ROUNDS) for frame in bad_frames(n)]
        rest_sends = [
            client.send_message(room.id, f"rest {who} {n}", client_id=f"rest-{who}-{n}")
            for n in range(ROUNDS)
            for who, client in (("ada", ada), ("cal", cal))
        ]
        socket_sends = [good.send(room.id, f"socket {n}", f"socket-{n}") for n in range(ROUNDS)]
        # All at once, so that bad frames and good sends meet in the same batches.
        stored_by_rest, _ = await asyncio.gather(
            asyncio.gather(*rest_sends),
            asyncio.gather(*socket_sends, *(send() for send, _ in frames)),
        )

        acks = await collect(good, "ack", ROUNDS)
        errors = await collect(bad, "error", len(frames))
        await bad.ping()  # the bad socket is still served
        await bad.wait_for("pong", timeout=10)

    assert len(stored_by_rest) == len(rest_sends)  # each answered 201, none refused
    assert sorted(ack.data["client_id"] for ack in acks) == sorted(
        f"socket-{n}" for n in range(ROUNDS)
    )
    assert sorted(error.data["error"]["code"] for error in errors) == sorted(
        code for _, code in frames
    ), [error.data for error in errors]
    assert not any(error.data["retryable"] for error in errors)

    stored = await ada.list_messages(room.id, limit=100)
    expected = {f"rest {who} {n}" for n in range(ROUNDS) for who in ("ada", "cal")}
    expected |= {f"socket {n}" for n in range(ROUNDS)}
    assert sorted(m.content for m in stored) == sorted(expected | {"anchor"}), "each once"
    assert {m.id for m in stored} >= {m.id for m in stored_by_rest}
    assert {m.id for m in stored} >= {ack.data["message"]["id"] for ack in acks}


async def collect(stream: EventStream, kind: str, count: int) -> list[Event]:
    return [await stream.wait_for(kind, timeout=20) for _ in range(count)]
