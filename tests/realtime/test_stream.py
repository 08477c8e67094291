"""The event stream over real sockets against a real server process."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
import websockets

from parlour.client import Event, SessionRevoked
from tests.support import Org


def is_message(text: str) -> Callable[[Event], bool]:
    def match(event: Event) -> bool:
        return event.type == "message.created" and event.data["message"]["content"] == text

    return match


async def test_two_users_chat_live_and_ack(org: Org) -> None:
    ada, bea = org[0].client, org[1].client
    room = await ada.create_direct(org[1].user_id)
    async with bea.events() as bea_events, ada.events() as ada_events:
        await ada_events.send(room.id, "over the socket", "cid-1")
        ack = await ada_events.wait_for("ack", timeout=5)
        assert ack.data["client_id"] == "cid-1"
        got = await bea_events.wait_for(is_message("over the socket"), timeout=5)
        assert got.data["message"]["id"] == ack.data["message"]["id"]
        assert got.cursor
        # A retry with the same client_id is acknowledged with the same message, not a copy.
        await ada_events.send(room.id, "retry differs", "cid-1")
        again = await ada_events.wait_for("ack", timeout=5)
        assert again.data["message"]["id"] == ack.data["message"]["id"]
    assert [m.content for m in await bea.list_messages(room.id)] == ["over the socket"]


async def test_resume_replays_exactly_what_was_missed(org: Org) -> None:
    ada, bea = org[0].client, org[1].client
    room = await ada.create_group("Resume", [org[1].user_id])
    async with bea.events() as stream:
        await ada.send_message(room.id, "before")
        await stream.wait_for(is_message("before"), timeout=5)
        cursor = stream.last_cursor
    assert cursor is not None
    missed = [(await ada.send_message(room.id, f"missed {i}")).id for i in range(5)]
    async with bea.events(since=cursor) as resumed:
        assert resumed.hello is not None
        assert resumed.hello.cursor == cursor
        seen: list[str] = []
        while len(seen) < 5:
            event = await resumed.wait_for("message.created", timeout=5)
            seen.append(event.data["message"]["id"])
        assert seen == missed, "in order, no gap, no duplicate"
        await ada.send_message(room.id, "live after replay")
        live = await resumed.wait_for("message.created", timeout=5)
        assert live.data["message"]["content"] == "live after replay"


async def test_bad_cursor_gets_resync(org: Org) -> None:
    async with org[0].client.events(since="not-a-cursor") as stream:
        await stream.wait_for("resync_required", timeout=5)


async def test_removed_member_gets_no_more_events(org: Org) -> None:
    ada, bea, cal = org[0].client, org[1].client, org[2].client
    room = await ada.create_group("Removal", [org[1].user_id, org[2].user_id])
    async with bea.events() as bea_stream, cal.events() as cal_stream:
        await ada.remove_member(room.id, org[1].user_id)
        removed = await bea_stream.wait_for("room.member_removed", timeout=5)
        assert removed.data["room"]["id"] == room.id
        await ada.send_message(room.id, "secret after removal")
        await cal_stream.wait_for(is_message("secret after removal"), timeout=5)
        # Bea's next durable event must be the marker below, not the secret.
        await ada.create_direct(org[1].user_id)
        nxt = await bea_stream.wait_for(lambda e: e.durable, timeout=5)
        assert nxt.type == "room.created"


async def test_replay_from_before_removal_stops_at_the_removal(org: Org) -> None:
    ada, bea = org[0].client, org[1].client
    room = await ada.create_group("Replay removal", [org[1].user_id, org[2].user_id])
    async with bea.events() as stream:
        await ada.send_message(room.id, "seen before removal")
        await stream.wait_for(is_message("seen before removal"), timeout=5)
        cursor = stream.last_cursor
    await ada.send_message(room.id, "missed while away")
    await ada.remove_member(room.id, org[1].user_id)
    await ada.send_message(room.id, "secret after removal")
    marker = await org[3].client.create_group("Marker", [org[1].user_id])
    async with bea.events(since=cursor) as resumed:
        replayed = []
        while True:
            event = await resumed.wait_for(lambda e: e.durable, timeout=5)
            if event.type == "room.created" and event.data["room"]["id"] == marker.id:
                break
            replayed.append(event)
    assert [e.type for e in replayed] == ["message.created", "room.member_removed"]
    assert replayed[0].data["message"]["content"] == "missed while away"


async def test_bad_frames_get_errors_and_connection_stays(org: Org) -> None:
    async with org[0].client.events() as stream:
        ws = stream._ws
        assert ws is not None
        for raw, code in [
            ("{nope", "invalid_json"),
            ('["list"]', "invalid_frame"),
            ('{"type": "dance"}', "unknown_type"),
            (
                '{"type": "send", "room_id": "nope", "content": "x", "client_id": "z"}',
                "room_not_found",
            ),
            ("x" * 70_000, "frame_too_large"),
        ]:
            await ws.send(raw)
            error = await stream.wait_for("error", timeout=5)
            assert error.data["error"]["code"] == code
        await stream.ping()
        await stream.wait_for("pong", timeout=5)


async def test_logout_closes_socket_with_4401(org: Org) -> None:
    bea = org[1].client
    stream = bea.events(reconnect=False)
    await stream.connect()
    await bea.logout()
    with pytest.raises(SessionRevoked):
        await stream.wait_for("never", timeout=5)


async def test_cookie_socket_needs_allowed_origin(org: Org, server_url: str) -> None:
    login = await org[0].client._http.post(
        "/api/v1/auth/login", json={"email": org[0].email, "password": "correct horse battery"}
    )
    cookie = f"parlour_session={login.json()['token']}"
    url = server_url.replace("http", "ws") + "/api/v1/events"
    with pytest.raises(websockets.exceptions.InvalidStatus):
        async with websockets.connect(
            url, additional_headers={"Cookie": cookie, "Origin": "https://evil.example"}
        ):
            pass
    host = server_url.removeprefix("http://")
    async with websockets.connect(
        url, additional_headers={"Cookie": cookie, "Origin": f"http://{host}"}
    ) as ws:
        hello = await asyncio.wait_for(ws.recv(), 5)
        assert '"hello"' in str(hello)


async def test_resume_replays_the_second_waves_events_in_order(org: Org) -> None:
    """Reactions, pins, saves, replies, levels and joins missed while away arrive on resume, in
    order, exactly as messages do."""
    ada, bea = org[0].client, org[1].client
    room = await ada.create_group("Resume boosts", [org[1].user_id])
    channel = await ada.create_channel("Resume channel")
    async with bea.events() as stream:
        root = await ada.send_message(room.id, "root")
        await stream.wait_for(is_message("root"), timeout=5)
        cursor = stream.last_cursor
    assert cursor is not None
    await ada.react(root.id, "👍")
    await ada.pin(root.id)
    await bea.save(root.id)
    await ada.send_message(room.id, "a reply", reply_to=root.id)
    await bea.set_notify(room.id, "none")
    await bea.join(channel.id)
    expected = [
        "reaction.added",
        "message.pinned",
        "saved.updated",
        "message.created",  # the reply (bea does not follow its thread: no count for her)
        "message.updated",  # its root's summary
        "notify.updated",
        "unread.updated",
        "room.member_added",
    ]
    async with bea.events(since=cursor) as resumed:
        seen: list[str] = []
        while len(seen) < len(expected):
            event = await resumed.wait_for(lambda e: e.durable, timeout=5)
            seen.append(event.type)
    assert seen == expected
