"""What the browser tests share: REST calls as a page's user, rooms made through the API, the
Chatbox and its messages, the Unread badge, pop-ups and screenshots.

Every wait is Playwright's auto-waiting `expect()`; nothing sleeps.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from playwright.sync_api import APIResponse, Locator, Page, expect

from tests.browser.conftest import ARTIFACTS

Person = Callable[..., Page]


def unique(text: str, sep: str = " ") -> str:
    """text plus a random suffix (channel names take sep="-")."""
    return f"{text}{sep}{uuid.uuid4().hex[:10]}"


def call(page: Page, method: str, path: str, data: Any = None) -> APIResponse:
    """A REST call as the page's user (its session cookie, plus the CSRF header writes need)."""
    csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "parlour_csrf")
    return page.request.fetch(
        f"/api/v1{path}", method=method, data=data, headers={"X-CSRF-Token": csrf}
    )


def user_id(page: Page, query: str) -> str:
    users = call(page, "GET", f"/users?q={query}").json()
    return str(users[0]["id"])


@dataclass
class Room:
    id: str
    name: str


def make_group(owner: Page, members: list[str], name: str = "Group") -> Room:
    """A new group (its name made unique) of owner and the demo people named in members."""
    member_ids = [user_id(owner, who) for who in members]
    answer = call(
        owner, "POST", "/rooms", {"type": "group", "name": unique(name), "member_ids": member_ids}
    )
    assert answer.status == 201, answer.text()
    room = answer.json()
    return Room(str(room["id"]), str(room["name"]))


def post_message(page: Page, room: Room, text: str) -> str:
    answer = call(page, "POST", f"/rooms/{room.id}/messages", {"content": text})
    assert answer.status == 201, answer.text()
    return str(answer.json()["id"])


def chatbox(page: Page) -> Locator:
    return page.get_by_role("dialog", name="Chatbox")


def open_chat(page: Page) -> Locator:
    box = chatbox(page)
    if not box.is_visible():
        page.get_by_role("button", name="Chat", exact=True).click()
    expect(box).to_be_visible()
    return box


def open_room(page: Page, room: Room) -> Locator:
    """Opens the Chatbox, finds the room by name and opens it; returns the Chatbox."""
    box = open_chat(page)
    box.get_by_label("Search or start a new chat").fill(room.name)
    box.get_by_role("button", name=room.name, exact=True).click()
    expect(box.get_by_role("heading", name=room.name)).to_be_visible()
    return box


def open_direct(page: Page, query: str, full_name: str) -> Locator:
    """Chat, search, pick the person (existing direct room or a new one); returns the Chatbox."""
    box = open_chat(page)
    box.get_by_label("Search or start a new chat").fill(query)
    box.get_by_role("button", name=full_name, exact=True).first.click()
    expect(box.get_by_role("heading", name=full_name)).to_be_visible()
    expect(box.get_by_label("Message", exact=True)).to_be_visible()
    return box


def send(box: Locator, text: str, label: str = "Message") -> None:
    """Types text into the box named label (the room's "Message" unless told) and presses Enter."""
    composer = box.get_by_label(label, exact=True)
    composer.fill(text)
    composer.press("Enter")


def message(box: Locator, text: str) -> Locator:
    """The settled (not pending) message item of the room's log containing text."""
    return box.get_by_role("log").locator("li.msg:not(.pending)").filter(has_text=text)


def open_page(page: Page, name: str) -> None:
    """Clicks the toolbar's link `name` (Chat Rooms, Saved, Preferences, ...); on a phone the
    links sit in the Menu button's panel, opened first."""
    menu = page.get_by_role("button", name="Menu", exact=True)
    if menu.is_visible() and menu.get_attribute("aria-expanded") != "true":
        menu.click()
    page.get_by_role("link", name=name, exact=True).click()


def unread(page: Page) -> Locator:
    return page.get_by_label("Unread messages")


def synced_unread(page: Page) -> int:
    """The badge once it shows the server's total (the snapshot loads after the socket's hello)."""
    total = int(call(page, "GET", "/unread").json()["total"])
    expect(unread(page)).to_have_text(str(total))
    return total


def popup(page: Page, sender: str, text: str) -> Locator:
    return page.get_by_role("status", name=sender).filter(has_text=text)


def shoot(page: Page, name: str) -> str:
    """A screenshot into test-artifacts/screenshots/<name>.png; returns its path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    return str(path)
