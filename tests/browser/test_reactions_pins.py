"""Reactions, pins and saved messages in a real browser: two members of a room in two browser
contexts see each other's changes live; a third person outside the room sees none of it.

Every wait is Playwright's auto-waiting `expect()`; nothing sleeps. Each test makes its own group
(unique name, unique message texts), so tests do not see each other's reactions or pins.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from playwright.sync_api import BrowserContext, Locator, Page, WebSocket, expect

from tests.browser.conftest import DESKTOP, PHONE, fail_on_dialog, login
from tests.browser.helpers import (
    Person,
    call,
    chatbox,
    make_group,
    message,
    open_page,
    open_room,
    post_message,
    shoot,
    unique,
)

pytestmark = pytest.mark.browser


def chip(item: Locator, emoji: str) -> Locator:
    """A reaction chip ("🎉 2") under a message."""
    return item.get_by_role("group", name="Reactions").get_by_role(
        "button", name=f"{emoji} ", exact=False
    )


def picker(page: Page) -> Locator:
    return page.get_by_role("dialog", name="React")


def pinned_panel(box: Locator) -> Locator:
    return box.get_by_role("region", name="Pinned messages")


def test_reaction_through_the_picker_is_live_for_both(person: Person) -> None:
    ada = person("ada")
    grace = person("grace")
    dialogs = fail_on_dialog(ada) + fail_on_dialog(grace)
    room = make_group(ada, ["grace"], "Reactions")
    text = unique("Ship it on Friday?")
    post_message(ada, room, text)
    ada_box = open_room(ada, room)
    grace_box = open_room(grace, room)
    ada_msg = message(ada_box, text)
    grace_msg = message(grace_box, text)
    expect(grace_msg).to_be_visible()

    # React opens a picker; searching by name finds 🎉 ("party popper"); choosing it closes it.
    ada_msg.get_by_role("button", name="React", exact=True).click()
    expect(picker(ada)).to_be_visible()
    search = picker(ada).get_by_label("Search emoji")
    expect(search).to_be_focused()
    search.fill("party")
    expect(picker(ada).get_by_role("button", name="😀", exact=True)).to_have_count(0)
    picker(ada).get_by_role("button", name="🎉", exact=True).click()
    expect(picker(ada)).to_be_hidden()
    expect(chatbox(ada)).to_be_visible()

    mine = chip(ada_msg, "🎉")
    expect(mine).to_have_accessible_name("🎉 1")
    expect(mine).to_have_attribute("aria-pressed", "true")
    theirs = chip(grace_msg, "🎉")
    expect(theirs).to_have_accessible_name("🎉 1")
    expect(theirs).to_have_attribute("aria-pressed", "false")

    # Who reacted: a tooltip on hover, and on keyboard focus; it is also the chip's description.
    expect(theirs).to_have_accessible_description("Ada Lovelace reacted with 🎉")
    tip = grace_msg.get_by_role("tooltip")
    expect(tip).to_be_hidden()
    theirs.hover()
    expect(tip).to_be_visible()
    expect(tip).to_have_text("Ada Lovelace reacted with 🎉")
    grace.mouse.move(0, 0)
    expect(tip).to_be_hidden()
    grace_box.get_by_label("Message", exact=True).focus()
    grace.keyboard.press("Shift+Tab")  # Attach files
    grace.keyboard.press("Shift+Tab")  # the last message's last action: Save
    expect(grace_msg.get_by_role("button", name="Save", exact=True)).to_be_focused()
    expect(grace_msg.locator(".msg-tools")).to_have_css("opacity", "1")
    for _ in range(4):  # Pin, React, Reply, then the chip
        grace.keyboard.press("Shift+Tab")
    expect(theirs).to_be_focused()
    expect(tip).to_be_visible()

    # A click on the chip adds mine; both see the count and the names.
    theirs.click()
    expect(theirs).to_have_accessible_name("🎉 2")
    expect(theirs).to_have_attribute("aria-pressed", "true")
    expect(mine).to_have_accessible_name("🎉 2")
    expect(mine).to_have_accessible_description("You and Grace Hopper reacted with 🎉")
    expect(theirs).to_have_accessible_description("You and Ada Lovelace reacted with 🎉")

    # By keyboard: React, type a name, Enter picks the first match.
    grace_msg.get_by_role("button", name="React", exact=True).focus()
    grace.keyboard.press("Enter")
    expect(picker(grace)).to_be_visible()
    grace.keyboard.type("thumbs up")
    expect(picker(grace).get_by_role("button", name="👍", exact=True)).to_be_visible()
    grace.keyboard.press("Enter")
    expect(picker(grace)).to_be_hidden()
    expect(chip(ada_msg, "👍")).to_have_accessible_name("👍 1")
    expect(chip(ada_msg, "👍")).to_have_accessible_description("Grace Hopper reacted with 👍")

    # Toggling off removes the chips live for both.
    chip(grace_msg, "👍").click()
    theirs.click()
    expect(chip(ada_msg, "👍")).to_have_count(0)
    expect(mine).to_have_accessible_name("🎉 1")
    mine.click()
    for item in (ada_msg, grace_msg):
        expect(item.get_by_role("group", name="Reactions")).to_have_count(0)

    # Recently used emoji lead the picker's first row (kept in localStorage); Esc closes only it.
    ada_msg.get_by_role("button", name="React", exact=True).click()
    recent = picker(ada).get_by_role("group", name="Frequently used").get_by_role("button")
    expect(recent.first).to_have_accessible_name("🎉")
    ada.keyboard.press("Escape")
    expect(picker(ada)).to_be_hidden()
    expect(chatbox(ada)).to_be_visible()
    expect(ada_msg.get_by_role("button", name="React", exact=True)).to_be_focused()
    assert dialogs == []


def test_too_many_reactions_is_told(person: Person) -> None:
    ada = person("ada")
    grace = person("grace")
    room = make_group(ada, ["grace"], "Reactions")
    text = unique("React to this a lot")
    message_id = post_message(ada, room, text)
    twenty = ["😀", "😃", "😄", "😁", "😆", "😅", "🤣", "😂", "🙂", "🙃"]
    twenty += ["😉", "😊", "😇", "🥰", "😍", "🤩", "😘", "😗", "😚", "😙"]
    for emoji in twenty:
        assert call(grace, "PUT", f"/messages/{message_id}/reactions/{emoji}").status == 204
    box = open_room(ada, room)
    item = message(box, text)
    expect(item.get_by_role("group", name="Reactions").get_by_role("button")).to_have_count(20)

    item.get_by_role("button", name="React", exact=True).click()
    picker(ada).get_by_label("Search emoji").fill("party popper")
    picker(ada).get_by_role("button", name="🎉", exact=True).click()
    alert = ada.get_by_role("alert").filter(has_text="🎉")
    expect(alert).to_be_visible()
    expect(alert).to_contain_text("at most 20 different reactions")
    expect(chip(item, "🎉")).to_have_count(0)

    # The tooltip of a chip near the right edge opens leftwards, inside the log.
    last = chip(item, "😙")
    last.hover()
    tip = item.get_by_role("tooltip").filter(has_text="reacted with 😙")
    expect(tip).to_be_visible()
    expect(tip).to_have_text("Grace Hopper reacted with 😙")
    tip_box, log_box = tip.bounding_box(), box.get_by_role("log").bounding_box()
    assert tip_box
    assert log_box
    assert tip_box["x"] + tip_box["width"] <= log_box["x"] + log_box["width"]
    shoot(ada, "desktop-too-many-reactions")


def test_pin_and_unpin_are_live(person: Person) -> None:
    ada = person("ada")
    grace = person("grace")
    room = make_group(ada, ["grace"], "Reactions")
    first = unique("Agenda for Monday")
    second = unique("Minutes of the last meeting")
    post_message(ada, room, first)
    post_message(grace, room, second)
    ada_box = open_room(ada, room)
    grace_box = open_room(grace, room)

    # Grace keeps the Pinned list open: it fills as Ada pins.
    grace_box.get_by_role("button", name="Pinned", exact=True).click()
    expect(grace_box.get_by_role("button", name="Pinned", exact=True)).to_have_attribute(
        "aria-expanded", "true"
    )
    expect(pinned_panel(grace_box)).to_contain_text("Nothing is pinned")

    message(ada_box, first).get_by_role("button", name="Pin", exact=True).click()
    expect(message(ada_box, first).get_by_role("button", name="Unpin", exact=True)).to_be_visible()
    expect(message(ada_box, first).locator(".pin-mark")).to_have_text("Pinned")
    expect(message(grace_box, first).locator(".pin-mark")).to_be_visible()
    expect(message(grace_box, second).locator(".pin-mark")).to_have_count(0)
    pins = pinned_panel(grace_box).get_by_role("listitem")
    expect(pins).to_have_count(1)
    expect(pins.first).to_contain_text(first)

    # By keyboard: the focus stays on the same action, now named Unpin.
    message(ada_box, second).get_by_role("button", name="Pin", exact=True).focus()
    ada.keyboard.press("Enter")
    expect(message(ada_box, second).get_by_role("button", name="Unpin", exact=True)).to_be_focused()
    expect(pins).to_have_count(2)
    expect(pins.first).to_contain_text(second)  # newest pin first

    # "Show" jumps to the message in the log and closes the list.
    pins.filter(has_text=first).get_by_role("button", name="Show the message").click()
    expect(pinned_panel(grace_box)).to_be_hidden()
    expect(message(grace_box, first)).to_be_in_viewport()

    # Unpinning from the list is live for the other person too.
    ada_box.get_by_role("button", name="Pinned", exact=True).click()
    ada_pins = pinned_panel(ada_box).get_by_role("listitem")
    expect(ada_pins).to_have_count(2)
    grace_box.get_by_role("button", name="Pinned", exact=True).click()
    pins.filter(has_text=first).get_by_role("button", name="Unpin", exact=True).click()
    expect(pins).to_have_count(1)
    expect(ada_pins).to_have_count(1)
    expect(ada_pins.first).to_contain_text(second)
    expect(message(ada_box, first).locator(".pin-mark")).to_have_count(0)
    expect(message(ada_box, first).get_by_role("button", name="Pin", exact=True)).to_have_count(1)

    message(ada_box, second).get_by_role("button", name="Unpin", exact=True).click()
    for box in (ada_box, grace_box):
        expect(pinned_panel(box)).to_contain_text("Nothing is pinned")
        expect(box.get_by_role("log").locator(".pin-mark")).to_have_count(0)


def test_deleting_a_message_clears_its_reactions_and_pin(person: Person) -> None:
    ada = person("ada")
    grace = person("grace")
    room = make_group(ada, ["grace"], "Reactions")
    text = unique("Posted in the wrong room")
    message_id = post_message(ada, room, text)
    assert call(grace, "PUT", f"/messages/{message_id}/reactions/👀").status == 204
    assert call(grace, "PUT", f"/messages/{message_id}/pin").status == 204
    ada_box = open_room(ada, room)
    grace_box = open_room(grace, room)
    grace_box.get_by_role("button", name="Pinned", exact=True).click()
    expect(pinned_panel(grace_box).get_by_role("listitem")).to_have_count(1)
    expect(chip(message(grace_box, text), "👀")).to_have_accessible_name("👀 1")

    ada.once("dialog", lambda dialog: dialog.accept())
    message(ada_box, text).get_by_role("button", name="Delete", exact=True).click()
    log = grace_box.get_by_role("log")
    expect(log).to_contain_text("This message was deleted.")
    expect(log).not_to_contain_text(text)
    expect(log.get_by_role("group", name="Reactions")).to_have_count(0)
    expect(log.locator(".pin-mark")).to_have_count(0)
    expect(pinned_panel(grace_box)).to_contain_text("Nothing is pinned")
    deleted = ada_box.get_by_role("log").locator("li.msg.deleted")
    expect(deleted).to_have_count(1)
    expect(deleted.get_by_role("button")).to_have_count(0)  # nothing to react to, pin or save


def test_saved_messages_are_mine_only(person: Person) -> None:
    ada = person("ada")
    ada_phone = person("ada", viewport=PHONE)  # another device of mine
    grace = person("grace")
    room = make_group(ada, ["grace"], "Reactions")
    text = unique("Remember the release checklist")
    post_message(grace, room, text)
    open_page(ada_phone, "Saved")
    expect(ada_phone.get_by_role("heading", name="Saved messages")).to_be_visible()
    expect(ada_phone.locator("main")).not_to_contain_text(text)

    box = open_room(ada, room)
    item = message(box, text)
    item.get_by_role("button", name="Save", exact=True).click()
    expect(item.get_by_role("button", name="Unsave", exact=True)).to_be_visible()
    expect(item.locator(".save-mark")).to_be_visible()
    # saved.updated reaches my other device, and its Saved page shows the message at once.
    saved_on_phone = ada_phone.locator("main li.saved-item").filter(has_text=text)
    expect(saved_on_phone).to_be_visible()
    expect(saved_on_phone).to_contain_text(room.name)

    box.get_by_role("button", name="Close").click()
    expect(box).to_be_hidden()
    ada.get_by_role("link", name="Saved", exact=True).click()
    expect(ada.get_by_role("link", name="Saved", exact=True)).to_have_attribute(
        "aria-current", "page"
    )
    saved = ada.locator("main li.saved-item")
    expect(saved.first).to_contain_text(text)  # newest save first
    expect(saved.first).to_contain_text(f"Grace Hopper in {room.name}")

    # Private: Grace's Saved page and her view of the message show nothing of it.
    grace.get_by_role("link", name="Saved", exact=True).click()
    expect(grace.get_by_role("heading", name="Saved messages")).to_be_visible()
    expect(grace.get_by_text("Loading…")).to_have_count(0)
    expect(grace.locator("main")).not_to_contain_text(text)
    grace_box = open_room(grace, room)
    expect(message(grace_box, text).get_by_role("button", name="Save", exact=True)).to_have_count(1)
    expect(message(grace_box, text).locator(".save-mark")).to_have_count(0)

    # Open shows the message in its room.
    saved.first.get_by_role("link", name="Open").click()
    expect(chatbox(ada).get_by_role("heading", name=room.name)).to_be_visible()
    expect(message(chatbox(ada), text)).to_be_in_viewport()
    chatbox(ada).get_by_role("button", name="Close").click()

    # Unsave from the page: gone here and on the other device.
    saved.filter(has_text=text).get_by_role("button", name="Unsave", exact=True).click()
    expect(saved.filter(has_text=text)).to_have_count(0)
    expect(saved_on_phone).to_have_count(0)
    box = open_room(ada, room)
    expect(message(box, text).get_by_role("button", name="Save", exact=True)).to_have_count(1)


def test_outsider_sees_no_reactions_or_pins(
    person: Person, new_context: Callable[..., BrowserContext]
) -> None:
    ada = person("ada")
    grace = person("grace")
    alan = new_context().new_page()
    frames: list[str] = []

    def watch(ws: WebSocket) -> None:
        ws.on("framereceived", lambda payload: frames.append(str(payload)))

    alan.on("websocket", watch)
    login(alan, "alan")
    room = make_group(ada, ["grace"], name="Private review")
    text = unique("Only for Ada and Grace")
    message_id = post_message(ada, room, text)
    ada_box = open_room(ada, room)
    grace_box = open_room(grace, room)

    item = message(ada_box, text)
    item.get_by_role("button", name="React", exact=True).click()
    picker(ada).get_by_role("group", name="Frequently used").get_by_role(
        "button", name="👍", exact=True
    ).click()
    item.get_by_role("button", name="Pin", exact=True).click()
    expect(chip(message(grace_box, text), "👍")).to_have_accessible_name("👍 1")
    expect(message(grace_box, text).locator(".pin-mark")).to_be_visible()

    # Alan is not a member: the room is not in his Chatbox nor on his Chat Rooms page...
    alan.get_by_role("button", name="Chat", exact=True).click()
    alan_box = chatbox(alan)
    alan_box.get_by_label("Search or start a new chat").fill(room.name)
    expect(alan_box.get_by_text("No conversations match.")).to_be_visible()
    expect(alan_box.get_by_role("button", name=room.name)).to_have_count(0)
    alan_box.get_by_role("button", name="Close").click()
    expect(alan.get_by_role("link", name=room.name)).to_have_count(0)

    # ...its pins, its message and reacting to it are all "not found" from his page...
    script = """async ([path, method]) => {
        const csrf = (document.cookie.match(/parlour_csrf=([^;]*)/) || [])[1] || '';
        const res = await fetch('/api/v1' + path, {method, headers: {'X-CSRF-Token': csrf}});
        return res.status;
    }"""
    for path, method in [
        (f"/rooms/{room.id}/pins", "GET"),
        (f"/rooms/{room.id}/messages", "GET"),
        (f"/messages/{message_id}/reactions/%F0%9F%91%8D", "PUT"),
        (f"/messages/{message_id}/pin", "PUT"),
        (f"/messages/{message_id}/save", "PUT"),
    ]:
        assert alan.evaluate(script, [path, method]) == 404, (path, method)

    # ...and none of its events reached his socket (Grace got hers above).
    events = [json.loads(frame) for frame in frames]
    assert any(event.get("type") == "hello" for event in events)
    assert not [event for event in events if room.id in json.dumps(event)]
    assert text not in "".join(frames)


@pytest.mark.parametrize(("size", "viewport"), [("desktop", DESKTOP), ("phone", PHONE)])
def test_screenshots(person: Person, size: str, viewport: dict[str, int]) -> None:
    ada = person("ada", viewport=viewport)
    grace = person("grace")
    room = make_group(ada, ["grace", "alan"], name="Launch review")
    agenda = unique("Agenda: go/no-go for the 2.0 launch")
    post_message(ada, room, agenda)
    notes = unique("Release notes are ready for review")
    notes_id = post_message(grace, room, notes)
    last = unique("Great work, everyone. Let's ship it on Friday")
    last_id = post_message(ada, room, last)
    for page, emoji, target in [
        (ada, "👍", notes_id),
        (grace, "👍", notes_id),
        (grace, "🎉", last_id),
        (ada, "❤️", notes_id),
    ]:
        assert call(page, "PUT", f"/messages/{target}/reactions/{emoji}").status == 204
    assert call(grace, "PUT", f"/messages/{notes_id}/pin").status == 204

    box = open_room(ada, room)
    item = message(box, last)
    expect(chip(message(box, notes), "👍")).to_have_accessible_name("👍 2")
    expect(message(box, notes).locator(".pin-mark")).to_be_visible()
    chip(message(box, notes), "👍").hover()
    expect(message(box, notes).get_by_role("tooltip").first).to_be_visible()
    shoot(ada, f"{size}-reactions")

    item.get_by_role("button", name="React", exact=True).click()
    expect(picker(ada).get_by_role("button", name="😀", exact=True)).to_be_visible()
    shoot(ada, f"{size}-reaction-picker")
    picker(ada).get_by_label("Search emoji").fill("party")
    expect(picker(ada).get_by_role("button", name="🥳", exact=True)).to_be_visible()
    shoot(ada, f"{size}-reaction-picker-search")
    ada.keyboard.press("Escape")
    expect(picker(ada)).to_be_hidden()

    item.get_by_role("button", name="Save", exact=True).click()
    message(box, notes).get_by_role("button", name="Save", exact=True).click()
    expect(message(box, notes).locator(".save-mark")).to_be_visible()
    box.get_by_role("button", name="Pinned", exact=True).click()
    expect(pinned_panel(box).get_by_role("listitem")).to_have_count(1)
    shoot(ada, f"{size}-pinned")

    ada.keyboard.press("Escape")  # closes the Chatbox (a phone shows no Close button in a room)
    expect(box).to_be_hidden()
    open_page(ada, "Saved")
    expect(ada.locator("main li.saved-item").first).to_contain_text(notes)
    shoot(ada, f"{size}-saved")
