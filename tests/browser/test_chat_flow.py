"""End-to-end chat flows in a real browser: two people in two browser contexts.

Every wait is Playwright's auto-waiting `expect()`; nothing sleeps.
"""

from __future__ import annotations

import re
import shutil
import uuid
from collections.abc import Callable

import pytest
from playwright.sync_api import BrowserContext, Request, WebSocketRoute, expect

from tests.browser.conftest import ARTIFACTS, DESKTOP, PHONE, ROOT, fail_on_dialog, login
from tests.browser.helpers import (
    Person,
    chatbox,
    message,
    open_chat,
    open_direct,
    open_page,
    send,
    shoot,
    synced_unread,
    unique,
    unread,
)

pytestmark = pytest.mark.browser


# First in the file, so the pictures show the demo data rather than other tests' messages.
@pytest.mark.parametrize(("size", "viewport"), [("desktop", DESKTOP), ("phone", PHONE)])
def test_screenshots(
    new_context: Callable[..., BrowserContext], size: str, viewport: dict[str, int]
) -> None:
    page = login(new_context(viewport=viewport).new_page(), "ada")
    for link, slug in [
        ("Chat Rooms", "rooms"),
        ("Chat Messages", "messages"),
        ("Chat Profile Report", "profiles"),
    ]:
        open_page(page, link)
        # (On a phone the link is in the Menu panel, closed again by the navigation.)
        current = page.get_by_role("link", name=link, include_hidden=True)
        expect(current).to_have_attribute("aria-current", "page")
        expect(page.get_by_role("heading", name=link).first).to_be_visible()
        expect(page.get_by_text("Loading…")).to_have_count(0)
        shoot(page, f"{size}-{slug}")

    box = open_chat(page)
    expect(box.locator("button.row").first).to_be_visible()
    shoot(page, f"{size}-chatbox")

    box.locator("button.row").first.click()
    expect(box.get_by_label("Message", exact=True)).to_be_visible()
    expect(box.get_by_role("log").locator("li.msg").first).to_be_visible()
    shoot(page, f"{size}-room")

    docs = ROOT / "docs" / "screenshots"
    docs.mkdir(parents=True, exist_ok=True)
    picks = {"desktop": ["room", "profiles"], "phone": ["chatbox"]}[size]
    for slug in picks:
        shutil.copyfile(ARTIFACTS / f"{size}-{slug}.png", docs / f"{size}-{slug}.png")


def test_direct_message_popup_unread_and_edit(person: Person) -> None:
    ada = person("ada")
    grace = person("grace")
    dialogs = fail_on_dialog(ada) + fail_on_dialog(grace)
    before = synced_unread(grace)

    ada_box = open_direct(ada, "Grace", "Grace Hopper")
    text = unique("Hello Grace")
    send(ada_box, text)
    expect(message(ada_box, text)).to_be_visible()

    popup = grace.get_by_role("status", name="Ada Lovelace").filter(has_text=text)
    expect(popup).to_be_visible()
    expect(unread(grace)).to_have_text(str(before + 1))
    # Opening the room reads everything in it, including older demo messages left unread.
    room_id = ada.url.split("#/room/", 1)[1].split("/", 1)[0]
    in_room = int(grace.request.get("/api/v1/unread").json()["rooms"][room_id])
    assert in_room >= 1

    grace.bring_to_front()
    popup.get_by_role("button").filter(has_text=text).click()
    grace_box = chatbox(grace)
    expect(grace_box).to_be_visible()
    expect(message(grace_box, text)).to_be_visible()
    expect(unread(grace)).to_have_text(str(before + 1 - in_room))

    edited = unique("Hello Grace, edited")
    ada.bring_to_front()
    message(ada_box, text).get_by_role("button", name="Edit").click()
    edit_box = ada_box.get_by_label("Edit message")
    expect(edit_box).to_be_focused()
    edit_box.fill(edited)
    edit_box.press("Enter")
    expect(message(ada_box, edited)).to_be_visible()
    expect(message(grace_box, edited)).to_be_visible()
    expect(message(grace_box, edited)).to_contain_text("(edited)")
    expect(message(grace_box, text)).to_have_count(0)
    assert dialogs == []


def test_group_created_through_new(person: Person) -> None:
    ada = person("ada")
    alan = person("alan")
    box = open_chat(ada)
    box.get_by_role("button", name="New", exact=True).click()
    dlg = ada.get_by_role("dialog", name="New conversation")
    expect(dlg).to_be_visible()
    dlg.get_by_label("Group", exact=True).check()
    name = unique("Analytical Engine")
    dlg.get_by_label("Group name").fill(name)
    members = dlg.get_by_label("Members")
    for query, full_name in [("Alan", "Alan Turing"), ("Grace", "Grace Hopper")]:
        members.fill(query)
        dlg.get_by_role("option").filter(has_text=full_name).click()
        expect(dlg.get_by_role("list", name="Chosen people")).to_contain_text(full_name)
    dlg.get_by_role("button", name="Create").click()
    expect(dlg).to_be_hidden()
    expect(box.get_by_role("heading", name=name)).to_be_visible()

    text = unique("First note in the group")
    send(box, text)
    expect(message(box, text)).to_be_visible()

    popup = alan.get_by_role("status", name="Ada Lovelace").filter(has_text=text)
    expect(popup).to_be_visible()
    expect(popup).to_contain_text(name)
    popup.get_by_role("button").filter(has_text=text).click()
    alan_box = chatbox(alan)
    expect(alan_box.get_by_role("heading", name=name)).to_be_visible()
    expect(message(alan_box, text)).to_be_visible()


def test_markup_in_a_message_is_literal_text(person: Person) -> None:
    ada = person("ada")
    grace = person("grace")
    dialogs = fail_on_dialog(ada) + fail_on_dialog(grace)
    payload = "<img src=x onerror=alert(1)>"
    marker = unique("xss")
    text = f"{payload} {marker}"

    ada_box = open_direct(ada, "Grace", "Grace Hopper")
    send(ada_box, text)
    grace_box = open_direct(grace, "Ada", "Ada Lovelace")
    for box in (ada_box, grace_box):
        item = message(box, marker)
        expect(item).to_be_visible()
        expect(item).to_contain_text(payload)
        expect(item.locator("img")).to_have_count(0)
    # The pop-up shows the preview as text too.
    expect(grace.locator(".popups img")).to_have_count(0)
    assert dialogs == []


class Link:
    """A switch for a context's WebSocket, via Playwright's WebSocket routing.

    `context.set_offline()` alone leaves an open WebSocket alone, so dropping the connection also
    closes both ends of every routed socket and refuses new ones until `restore()`.
    """

    def __init__(self, context: BrowserContext) -> None:
        self.context = context
        self.up = True
        self.open: list[tuple[WebSocketRoute, WebSocketRoute]] = []
        context.route_web_socket(re.compile(r"/api/v1/events"), self._handle)

    def _handle(self, ws: WebSocketRoute) -> None:
        if not self.up:
            ws.close(code=1001, reason="offline")
            return
        self.open.append((ws, ws.connect_to_server()))

    def drop(self) -> None:
        self.up = False
        self.context.set_offline(True)
        for page_side, server_side in self.open:
            server_side.close(code=1001, reason="offline")
            page_side.close(code=1001, reason="offline")
        self.open.clear()

    def restore(self) -> None:
        self.up = True
        self.context.set_offline(False)


def test_messages_cross_a_dropped_connection(
    person: Person, new_context: Callable[..., BrowserContext]
) -> None:
    ada = person("ada")
    grace_ctx = new_context()
    link = Link(grace_ctx)
    grace = login(grace_ctx.new_page(), "grace")
    ada_box = open_direct(ada, "Grace", "Grace Hopper")
    grace_box = open_direct(grace, "Ada", "Ada Lovelace")

    link.drop()
    expect(grace.locator(".conn")).not_to_have_text("Connected")

    from_ada = unique("Sent while Grace was away")
    send(ada_box, from_ada)
    expect(message(ada_box, from_ada)).to_be_visible()

    from_grace = unique("Written while offline")
    send(grace_box, from_grace)
    pending = grace_box.locator("li.msg.pending").filter(has_text=from_grace)
    expect(pending).to_be_visible()
    expect(message(grace_box, from_ada)).to_have_count(0)
    expect(message(ada_box, from_grace)).to_have_count(0)

    link.restore()
    expect(grace.locator(".conn")).to_have_text("Connected", timeout=30_000)
    expect(message(grace_box, from_ada)).to_have_count(1)
    expect(message(grace_box, from_grace)).to_have_count(1)
    expect(pending).to_have_count(0)
    expect(message(ada_box, from_grace)).to_have_count(1)
    # Exactly once, also in what the server stored.
    room_id = ada.url.split("#/room/", 1)[1].split("/", 1)[0]
    stored = ada.request.get(f"/api/v1/rooms/{room_id}/messages", params={"limit": 50}).json()
    assert [m["content"] for m in stored].count(from_grace) == 1
    assert [m["content"] for m in stored].count(from_ada) == 1


def test_reading_a_busy_room_posts_few_read_pointers(person: Person) -> None:
    """A room read live while messages pour in posts its read pointer at most about once a
    second, not once per message, and the last pointer still reaches the server."""
    ada = person("ada")
    grace = person("grace")
    grace_box = open_direct(grace, "Ada", "Ada Lovelace")
    room_id = grace.url.split("#/room/", 1)[1].split("/", 1)[0]
    grace.bring_to_front()
    reads: list[str] = []
    answered: list[str] = []

    def is_read(request: Request) -> bool:
        return request.method == "POST" and request.url.endswith(f"/rooms/{room_id}/read")

    grace.on(
        "request",
        lambda request: reads.append(request.post_data or "") if is_read(request) else None,
    )
    grace.on(
        "response",
        lambda response: (
            answered.append(response.request.post_data or "") if is_read(response.request) else None
        ),
    )
    token = ada.request.post(
        "/api/v1/auth/login",
        data={"email": "ada@demo.parlour", "password": "parlour-demo"},
    ).json()["token"]
    burst = 12
    texts = [unique(f"burst {n}") for n in range(burst)]
    ids: list[str] = []
    for text in texts:
        answer = ada.request.post(
            f"/api/v1/rooms/{room_id}/messages",
            data={"content": text, "client_id": uuid.uuid4().hex},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert answer.status == 201
        ids.append(answer.json()["id"])
    expect(message(grace_box, texts[-1])).to_be_visible()
    # The pointer of the newest message is posted last (within the coalescing delay).
    if not any(ids[-1] in body for body in answered):
        grace.wait_for_event(
            "response",
            lambda response: (
                is_read(response.request) and ids[-1] in (response.request.post_data or "")
            ),
            timeout=10_000,
        )
    assert 1 <= len(reads) < burst // 2, reads
    rooms = grace.request.get("/api/v1/unread").json()["rooms"]
    assert rooms.get(room_id, 0) == 0
