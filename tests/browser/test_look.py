"""The finished look: SVG icons with accessible names (no emoji glyphs in controls), a favicon,
message runs grouped under one header, actions on hover/focus only, the theme toggle, and the
phone layout (a one-row toolbar, pages without sideways scrolling, the log anchored at its bottom).
First in the file: the screenshots under docs/screenshots/."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import BrowserContext, FilePayload, Page, Response, Route, expect

from tests.browser.conftest import DESKTOP, PHONE, ROOT, fail_on_dialog, login
from tests.browser.helpers import (
    Person,
    Room,
    call,
    make_group,
    message,
    open_page,
    open_room,
    post_message,
    unique,
    user_id,
)

pytestmark = pytest.mark.browser

DOCS = ROOT / "docs" / "screenshots"
# Pictographs and the old control glyphs (📎 📌 🔔 ⚙ ✎ ☺ ★ ↩ ←, the multiplication sign); emoji in
# messages, reaction chips, room previews and the picker's emoji buttons are content, not controls.
GLYPHS = r"[\p{Extended_Pictographic}\u2190-\u21ff\u2600-\u27bf\u00d7]"
CONTROL_TEXT = """(pattern) => {
  const re = new RegExp(pattern, 'u');
  return [...document.querySelectorAll('button, a, [role=button]')]
    .filter((el) => !el.closest('.reactions, .emo-grid, .body, .popups, .row, .channel-open'))
    .map((el) => el.textContent.trim()).filter((t) => re.test(t));
}"""

# Scrolls the window so that the element's card starts just below the sticky toolbar.
UNDER_TOOLBAR = """(el) => {
  const bar = document.querySelector('.toolbar')?.getBoundingClientRect().height || 0;
  window.scrollTo(0, el.closest('section').getBoundingClientRect().top + window.scrollY - bar - 12);
}"""


def iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def shift_times(page: Page, room: Room, shifts: dict[str, timedelta]) -> None:
    """Serves the room's messages with some created_at moved (by id): the server stamps messages
    now, and runs of 5+ minutes or other days must be shown without waiting for them."""

    def handle(route: Route) -> None:
        response = route.fetch()
        data = response.json()
        for m in data:
            if m["id"] in shifts:
                at = datetime.fromisoformat(m["created_at"].replace("Z", "+00:00"))
                m["created_at"] = iso(at + shifts[m["id"]])
        route.fulfill(response=response, body=json.dumps(data))

    page.route(f"**/api/v1/rooms/{room.id}/messages**", handle)


# First in the file, so the pictures show the demo data rather than other tests' rooms.
def test_screenshots(new_context: Callable[..., BrowserContext], person: Person) -> None:
    """Desktop and phone pictures into docs/screenshots/ (kept small: PNGs of the viewport)."""
    DOCS.mkdir(parents=True, exist_ok=True)
    grace = person("grace")
    ada_desktop = person("ada")
    members = [user_id(ada_desktop, who) for who in ("grace", "alan")]
    made = call(
        ada_desktop,
        "POST",
        "/rooms",
        {"type": "group", "name": "Launch review", "member_ids": members},
    )
    assert made.status == 201, made.text()
    room = Room(str(made.json()["id"]), "Launch review")
    post_message(ada_desktop, room, "Morning all! Plan for **Friday**:")
    post_message(
        ada_desktop,
        room,
        "1. Freeze the branch\n2. Tag `v2.0.0`\n3. Publish the notes\n\n> Ship small, ship often.",
    )
    notes = post_message(grace, room, "Release notes are ready: https://example.com/notes")
    post_message(grace, room, "```\nmake release VERSION=2.0.0\n```")
    post_message(ada_desktop, room, "Thanks @Grace Hopper, looks great!")
    for who, emoji in [(ada_desktop, "👍"), (grace, "🎉")]:
        assert call(who, "PUT", f"/messages/{notes}/reactions/{emoji}").status == 204

    for size, viewport in [("desktop", DESKTOP), ("phone", PHONE)]:
        page = login(new_context(viewport=viewport).new_page(), "ada")
        open_page(page, "Chat Rooms")
        expect(page.get_by_role("heading", name="Chat Rooms")).to_be_visible()
        page.screenshot(path=str(DOCS / f"{size}-rooms-page.png"))
        box = open_room(page, room)
        expect(message(box, "Thanks")).to_be_visible()
        if size == "desktop":  # the list beside the room shows every room again
            box.get_by_label("Search or start a new chat").fill("")
        page.mouse.move(0, 0)
        page.screenshot(path=str(DOCS / f"{size}-conversation.png"))
        page.keyboard.press("Escape")
        expect(box).to_be_hidden()
        open_page(page, "Preferences")
        expect(page.get_by_role("heading", name="Preferences", level=1)).to_be_visible()
        # Its notifications and "When you are away" (e-mail, push), just under the sticky toolbar.
        expect(page.get_by_role("button", name="Enable push notifications")).to_be_visible()
        page.get_by_role("heading", name="Notifications", level=2).evaluate(UNDER_TOOLBAR)
        page.screenshot(path=str(DOCS / f"{size}-settings.png"))
        open_page(page, "Administration")
        expect(page.get_by_text("grace@demo.parlour")).to_be_visible()
        page.screenshot(path=str(DOCS / f"{size}-admin.png"))
        if size == "desktop":
            page.emulate_media(color_scheme="dark")
            box = open_room(page, room)
            expect(message(box, "Thanks")).to_be_visible()
            box.get_by_label("Search or start a new chat").fill("")
            page.mouse.move(0, 0)
            page.screenshot(path=str(DOCS / "desktop-dark.png"))
            page.keyboard.press("Escape")
        else:
            box = open_room(page, room)
            box.get_by_role("button", name="Back", exact=True).click()
            box.get_by_label("Search or start a new chat").fill("")
            expect(box.locator("button.row").nth(3)).to_be_visible()
            page.screenshot(path=str(DOCS / "phone-room-list.png"))


def test_controls_are_svg_icons_with_names_and_favicon(
    new_context: Callable[..., BrowserContext],
) -> None:
    page = new_context().new_page()
    failed: list[str] = []

    def note(response: Response) -> None:
        if response.status >= 400 and "/api/" not in response.url:
            failed.append(f"{response.status} {response.url}")

    page.on("response", note)
    login(page, "ada")
    assert page.locator("link[rel=icon]").get_attribute("href") == "/static/favicon.svg"
    favicon = page.request.get("/static/favicon.svg")
    assert favicon.status == 200
    assert favicon.headers["content-type"].startswith("image/svg+xml")

    room = make_group(page, ["grace"], name="Icons")
    text = unique("Icons everywhere")
    post_message(page, room, text)
    box = open_room(page, room)
    item = message(box, text)
    expect(item).to_be_visible()
    controls = [
        box.get_by_role("button", name="Send", exact=True),
        box.get_by_role("button", name="Attach files", exact=True),
        box.get_by_role("button", name="Close", exact=True),
        box.get_by_role("button", name="New", exact=True),
        box.get_by_role("button", name="Notifications", exact=True),
        box.get_by_role("button", name="Pinned", exact=True),
        box.get_by_role("button", name="Manage", exact=True),
        page.get_by_role("button", name="Chat", exact=True),
        page.get_by_role("button", name="Account", exact=True),
        page.get_by_role("link", name="Preferences", exact=True),
        page.get_by_role("link", name="Administration", exact=True),
    ] + [
        item.get_by_role("button", name=name, exact=True)
        for name in ("Reply", "React", "Pin", "Save", "Edit", "Delete")
    ]
    for control in controls:
        expect(control).to_have_count(1)
        svg = control.locator("svg")
        expect(svg.first).to_have_attribute("aria-hidden", "true")
        expect(svg.first).to_have_attribute("stroke", "currentColor")
    assert page.evaluate(CONTROL_TEXT, GLYPHS) == []
    assert not failed, failed


def test_runs_share_one_header_and_days_are_separated(person: Person) -> None:
    ada = person("ada")
    grace = person("grace")
    room = make_group(ada, ["grace"], name="Runs")
    first = post_message(ada, room, unique("Run one, first"))
    post_message(ada, room, unique("Run one, second"))
    post_message(grace, room, unique("Grace answers"))
    post_message(grace, room, unique("Grace again"))
    post_message(ada, room, unique("Ada back"))
    late = post_message(ada, room, unique("Ada much later"))
    # The first message yesterday; the last one six minutes after the one before it.
    shift_times(ada, room, {first: timedelta(days=-1), late: timedelta(minutes=6)})
    box = open_room(ada, room)
    log = box.get_by_role("log")
    expect(message(box, "Ada much later")).to_be_visible()

    def header(text: str) -> None:
        item = message(box, text)
        expect(item.locator(".author")).to_have_count(1)
        expect(item.locator(".avatar")).to_have_count(1)
        expect(item).not_to_have_class(re.compile(r"\bgrouped\b"))

    def continued(text: str) -> None:
        item = message(box, text)
        expect(item.locator(".author")).to_have_count(0)
        expect(item.locator(".avatar")).to_have_count(0)
        expect(item).to_have_class(re.compile(r"\bgrouped\b"))

    header("Run one, first")
    header("Run one, second")  # the day changed between them
    header("Grace answers")  # another person
    continued("Grace again")
    header("Ada back")
    header("Ada much later")  # 6 minutes later
    expect(log.locator("li.day")).to_have_text(["Yesterday", "Today"])

    # A continued message shows its time on hover, not before.
    later = message(box, "Grace again")
    gutter = later.locator(".gutter-time")
    ada.mouse.move(0, 0)
    expect(gutter).to_have_css("opacity", "0")
    later.hover()
    expect(gutter).to_have_css("opacity", "1")

    # Live: Ada's next message joins the run of "Ada back" (the shifted one stays after it, 5+
    # minutes later, with its own header).
    post_message(ada, room, unique("Ada live"))
    expect(message(box, "Ada live")).to_be_visible()
    continued("Ada live")
    header("Ada much later")


def test_actions_show_on_hover_and_keyboard_focus_only(person: Person) -> None:
    ada = person("ada")
    room = make_group(ada, ["grace"], name="Hover")
    text = unique("Hover me")
    post_message(ada, room, text)
    box = open_room(ada, room)
    item = message(box, text)
    tools = item.locator(".msg-tools")
    ada.mouse.move(0, 0)
    expect(tools).to_have_css("opacity", "0")
    item.hover()
    expect(tools).to_have_css("opacity", "1")
    ada.mouse.move(0, 0)
    expect(tools).to_have_css("opacity", "0")
    box.get_by_label("Message", exact=True).focus()
    ada.keyboard.press("Shift+Tab")  # Attach files
    ada.keyboard.press("Shift+Tab")  # the last message's last action: Delete
    expect(item.get_by_role("button", name="Delete", exact=True)).to_be_focused()
    expect(tools).to_have_css("opacity", "1")
    # A compact bar at the message's top right.
    bar = tools.bounding_box()
    row = item.bounding_box()
    assert bar
    assert row
    assert bar["height"] <= 40
    assert bar["x"] + bar["width"] > row["x"] + row["width"] - 20


def test_theme_toggle_switches_and_survives_reload(person: Person) -> None:
    ada = person("ada")
    html = ada.locator("html")
    body = html  # the page's background is the root's
    light, dark = "rgb(246, 247, 249)", "rgb(18, 20, 24)"
    ada.emulate_media(color_scheme="light")
    open_page(ada, "Preferences")
    expect(ada.get_by_role("heading", name="Preferences", level=1)).to_be_visible()
    themes = ada.get_by_role("radiogroup", name="Theme")
    expect(themes.get_by_role("radio", name="System")).to_be_checked()
    expect(body).to_have_css("background-color", light)

    themes.get_by_role("radio", name="Dark").check()
    expect(html).to_have_attribute("data-theme", "dark")
    expect(body).to_have_css("background-color", dark)
    ada.reload()
    expect(
        ada.get_by_role("radiogroup", name="Theme").get_by_role("radio", name="Dark")
    ).to_be_checked()
    expect(body).to_have_css("background-color", dark)

    # Light wins over a dark device; System follows the device again.
    ada.emulate_media(color_scheme="dark")
    themes.get_by_role("radio", name="Light").check()
    expect(body).to_have_css("background-color", light)
    themes.get_by_role("radio", name="System").check()
    expect(html).not_to_have_attribute("data-theme", re.compile(".*"))
    expect(body).to_have_css("background-color", dark)
    ada.emulate_media(color_scheme="light")
    expect(body).to_have_css("background-color", light)


def test_phone_toolbar_is_one_row_and_pages_fit(person: Person) -> None:
    ada = person("ada", viewport=PHONE)
    dialogs = fail_on_dialog(ada)
    toolbar = ada.locator("header.toolbar")
    box = toolbar.bounding_box()
    assert box
    assert box["height"] <= 64, box
    menu = ada.get_by_role("button", name="Menu", exact=True)
    expect(menu).to_have_attribute("aria-expanded", "false")
    expect(ada.get_by_role("link", name="Chat Messages", exact=True)).to_be_hidden()
    pages = [
        ("Chat Rooms", "Chat Rooms"),
        ("Chat Messages", "Chat Messages"),
        ("Chat Profile Report", "Chat Profile Report"),
        ("Saved", "Saved messages"),
        ("Preferences", "Preferences"),
        ("Administration", "Administration"),
    ]
    for link, heading in pages:
        open_page(ada, link)
        expect(ada.get_by_role("heading", name=heading, level=1)).to_be_visible()
        expect(ada.get_by_text("Loading…")).to_have_count(0)
        expect(menu).to_have_attribute("aria-expanded", "false")  # navigating closed it
        width = ada.evaluate("document.scrollingElement.scrollWidth")
        assert width <= PHONE["width"], f"{link}: {width}px wide"
        box = toolbar.bounding_box()
        assert box
        assert box["height"] <= 64, (link, box)
        if link in ("Chat Rooms", "Chat Messages", "Chat Profile Report"):
            # Cards, not a table cut at the edge: every cell is a block with its column's name.
            cell = ada.locator("main table td[data-label]").first
            expect(cell).to_have_css("display", "block")
    assert not dialogs


def test_phone_log_stays_anchored_when_panels_and_attachments_open(person: Person) -> None:
    ada = person("ada", viewport=PHONE)
    room = make_group(ada, ["grace", "alan"], name="Anchor")
    for i in range(25):
        post_message(ada, room, f"Filler line {i} " + "so the log scrolls " * 3)
    newest = unique("The newest message")
    post_message(ada, room, newest)
    box = open_room(ada, room)
    last = message(box, newest)
    expect(last).to_be_in_viewport()

    box.get_by_role("button", name="Manage", exact=True).click()
    expect(box.get_by_role("heading", name="People")).to_be_visible()
    expect(last).to_be_in_viewport()
    box.get_by_role("button", name="Manage", exact=True).click()
    expect(box.get_by_role("heading", name="People")).to_be_hidden()

    box.locator("form.composer input[type=file]").set_input_files(
        [
            FilePayload(name=f"notes-{i}.txt", mimeType="text/plain", buffer=b"hello " * 10)
            for i in range(3)
        ]
    )
    expect(box.get_by_role("list", name="Attachments").get_by_role("listitem")).to_have_count(3)
    expect(last).to_be_in_viewport()
