"""Never lose someone's attention, in a real browser: messages that arrive while a room is scrolled
up stay unread (on the server too) behind a **Jump to latest** button that says how many are new;
a room opened with many unread starts at the "New" divider; going offline shows **Reconnecting**
at once, a link that goes silent shows it within 30 s (the page's clock is moved on, not waited
for), and a message typed meanwhile goes out exactly once after the link is back.

Every wait is Playwright's auto-waiting `expect()`; nothing sleeps. "Not sent twice" is shown by a
later message: events reach a page in order, so a second copy would have arrived before it.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import BrowserContext, Locator, Page, WebSocketRoute, expect

from tests.browser.conftest import DESKTOP, PHONE, fail_on_dialog, login
from tests.browser.helpers import (
    Person,
    Room,
    call,
    make_group,
    message,
    open_room,
    post_message,
    send,
    shoot,
    unique,
)

pytestmark = pytest.mark.browser

SIZES = [("desktop", DESKTOP), ("phone", PHONE)]


def room_unread(page: Page, room: Room) -> int:
    """The server's unread count of a room for the page's user."""
    rooms = call(page, "GET", "/unread").json()["rooms"]
    return int(rooms.get(room.id, 0))


def jump_button(box: Locator) -> Locator:
    return box.get_by_role("button", name="Jump to latest")


def click_and_read(page: Page, button: Locator, room: Room, message_id: str) -> None:
    """Clicks button and waits until the server took the read pointer up to message_id."""
    with page.expect_response(
        lambda r: (
            r.request.method == "POST"
            and r.url.endswith(f"/rooms/{room.id}/read")
            and message_id in (r.request.post_data or "")
        )
    ) as answer:
        button.click()
    assert answer.value.ok, answer.value.text()


@pytest.mark.parametrize(("size", "viewport"), SIZES)
def test_arrivals_while_scrolled_up_stay_unread_behind_jump_to_latest(
    person: Person, size: str, viewport: dict[str, int]
) -> None:
    ada = person("ada")
    grace = person("grace", viewport=viewport)
    dialogs = fail_on_dialog(ada) + fail_on_dialog(grace)
    room = make_group(ada, ["grace"], "Launch plan")
    history = [unique(f"History line {i:02d}") for i in range(60)]
    ids = [post_message(ada, room, text) for text in history]
    assert room_unread(grace, room) == 60

    # Opening a room with many unread starts at the "New" divider, not at the very bottom.
    box = open_room(grace, room)
    log = box.get_by_role("log")
    expect(box.get_by_role("separator", name="New messages")).to_be_in_viewport()
    expect(message(box, history[-1])).not_to_be_in_viewport()
    jump = jump_button(box)
    expect(jump).to_contain_text("new")
    click_and_read(grace, jump, room, ids[-1])
    expect(message(box, history[-1])).to_be_in_viewport()
    expect(jump).to_be_hidden()
    assert room_unread(grace, room) == 0

    # Grace scrolls to the top of the history (older pages load on the way).
    log.evaluate("e => { e.scrollTop = 0; }")
    expect(message(box, history[0])).to_be_attached()
    expect(box.get_by_role("button", name="Load older messages")).to_be_hidden()
    log.evaluate("e => { e.scrollTop = 0; }")
    expect(message(box, history[0])).to_be_in_viewport()
    # All 60 were unread as the room opened: "New" moved up above the first as older pages loaded.
    expect(box.get_by_role("separator", name="New messages")).to_be_in_viewport()
    expect(jump).to_be_visible()
    top = log.evaluate("e => e.scrollTop")

    # Ada sends three: Grace's view stays put, they stay unread, the button counts them.
    fresh = [unique(f"Arrived while scrolled up {i}") for i in range(3)]
    fresh_ids = [post_message(ada, room, text) for text in fresh]
    expect(jump).to_contain_text("3 new")
    expect(message(box, fresh[-1])).to_be_attached()
    expect(message(box, fresh[0])).not_to_be_in_viewport()
    expect(message(box, history[0])).to_be_in_viewport()
    assert log.evaluate("e => e.scrollTop") == top
    assert room_unread(grace, room) == 3
    shoot(grace, f"{size}-jump-to-latest")

    # Jump to latest shows them and reads them.
    click_and_read(grace, jump, room, fresh_ids[-1])
    for text in fresh:
        expect(message(box, text)).to_be_in_viewport()
    expect(jump).to_be_hidden()
    assert room_unread(grace, room) == 0
    assert dialogs == []


@pytest.mark.parametrize(("size", "viewport"), SIZES)
def test_offline_shows_reconnecting_and_sends_once_after(
    person: Person, size: str, viewport: dict[str, int]
) -> None:
    ada = person("ada")
    grace = person("grace", viewport=viewport)
    dialogs = fail_on_dialog(ada) + fail_on_dialog(grace)
    room = make_group(grace, ["ada"], "Field trip")
    ada_box = open_room(ada, room)
    grace_box = open_room(grace, room)
    conn = grace.locator(".conn")
    expect(conn).to_have_text("Connected")

    grace.context.set_offline(True)
    expect(conn).to_contain_text("Reconnecting")
    # Also in the room itself: a phone's full-screen Chatbox covers the toolbar.
    banner = grace_box.locator(".conn-banner")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("Reconnecting")
    text = unique("Typed on the train")
    send(grace_box, text)
    waiting = grace_box.get_by_role("log").locator("li.msg.pending").filter(has_text=text)
    expect(waiting).to_contain_text("Waiting for connection")
    shoot(grace, f"{size}-reconnecting")

    grace.context.set_offline(False)
    expect(conn).to_have_text("Connected")
    expect(banner).to_be_hidden()
    expect(message(ada_box, text)).to_have_count(1)
    expect(message(grace_box, text)).to_have_count(1)
    expect(waiting).to_have_count(0)

    # A later message arrives after any second copy would have: still exactly one.
    later = unique("Back online")
    send(grace_box, later)
    expect(message(ada_box, later)).to_have_count(1)
    expect(message(ada_box, text)).to_have_count(1)
    stored = call(ada, "GET", f"/rooms/{room.id}/messages").json()
    assert [m["content"] for m in stored].count(text) == 1
    assert dialogs == []


def test_silent_link_shows_reconnecting_within_30s_and_nothing_doubles(
    person: Person, new_context: Callable[..., BrowserContext]
) -> None:
    """The server's frames stop reaching Grace's page (the link is up, nothing comes back): within
    30 s of the page's clock she sees Reconnecting; the message she sent into the silent link
    reached the server, and its repeat after reconnecting (same client_id) is not a second one."""
    ada = person("ada")
    grace = new_context().new_page()
    dialogs = fail_on_dialog(ada) + fail_on_dialog(grace)
    silent = {"on": False}

    def route(ws: WebSocketRoute) -> None:
        if silent["on"]:
            return  # accepted, never answered: a stalled link
        server = ws.connect_to_server()
        ws.on_message(server.send)
        server.on_message(lambda frame: None if silent["on"] else ws.send(frame))

    grace.clock.install()
    grace.route_web_socket(re.compile(r"/api/v1/events"), route)
    login(grace, "grace")
    room = make_group(grace, ["ada"], "Night shift")
    ada_box = open_room(ada, room)
    grace_box = open_room(grace, room)
    conn = grace.locator(".conn")

    silent["on"] = True
    text = unique("Sent into a silent link")
    send(grace_box, text)
    expect(message(ada_box, text)).to_have_count(1)  # it reached the server; no ack came back
    grace.clock.fast_forward(29_000)
    expect(conn).to_contain_text("Reconnecting")
    expect(grace_box.locator(".conn-banner")).to_be_visible()

    silent["on"] = False
    grace.clock.fast_forward(29_000)  # the silent new socket is given up on too
    expect(conn).to_have_text("Connected")
    expect(message(grace_box, text)).to_have_count(1)
    expect(grace_box.get_by_role("log").locator("li.msg.pending")).to_have_count(0)
    later = unique("Link is back")
    send(grace_box, later)
    expect(message(ada_box, later)).to_have_count(1)
    expect(message(ada_box, text)).to_have_count(1)
    assert dialogs == []
