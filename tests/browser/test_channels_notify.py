"""Channels and notification levels in a real browser: one person creates a channel through
New → Channel, another finds it in Browse channels, joins and reads its history; a third person
sees it in Browse but cannot read it before joining. Levels (All / Mentions / None) decide the
pop-ups and the toolbar badge, and follow the person across devices.

Every wait is Playwright's auto-waiting `expect()`; nothing sleeps. "Nothing popped up" is shown by
a later message that does pop up: events reach a page in order, so the earlier one was handled.
Demo people other than Ada play here, so the other files' pictures of Ada's rooms stay the same.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import DESKTOP, PHONE, fail_on_dialog
from tests.browser.helpers import (
    Person,
    Room,
    call,
    chatbox,
    make_group,
    message,
    open_chat,
    open_page,
    popup,
    post_message,
    send,
    shoot,
    synced_unread,
    unique,
    unread,
    user_id,
)

pytestmark = pytest.mark.browser


def make_channel(owner: Page, name: str, topic: str | None, members: list[str]) -> Room:
    body: dict[str, Any] = {
        "type": "channel",
        "name": name,
        "member_ids": [user_id(owner, who) for who in members],
    }
    if topic is not None:
        body["topic"] = topic
    answer = call(owner, "POST", "/rooms", body)
    assert answer.status == 201, answer.text()
    return Room(str(answer.json()["id"]), name)


def ensure_channel(owner: Page, name: str, topic: str | None, members: list[str]) -> Room | None:
    """The channel `name`, made now (returned) or already there from an earlier run (None)."""
    body: dict[str, Any] = {"type": "channel", "name": name, "topic": topic}
    body["member_ids"] = [user_id(owner, who) for who in members]
    answer = call(owner, "POST", "/rooms", body)
    if answer.status == 409:
        assert answer.json()["error"]["code"] == "name_taken"
        return None
    assert answer.status == 201, answer.text()
    return Room(str(answer.json()["id"]), name)


def close_chat(page: Page) -> None:
    """Esc closes the Chatbox (a phone shows no Close button in a room); with the focus in the
    Notifications panel, the first Esc closes only that panel."""
    box = chatbox(page)
    levels = box.get_by_role("radiogroup", name="Notifications")
    if levels.is_visible():
        page.keyboard.press("Escape")
        expect(levels).to_be_hidden()
        expect(box).to_be_visible()
    page.keyboard.press("Escape")
    expect(box).to_be_hidden()


def row(box: Locator, room: Room) -> Locator:
    """A channel's row in the Chatbox list ("# name")."""
    return box.get_by_role("button", name=f"# {room.name}", exact=True)


def open_channel(page: Page, room: Room) -> Locator:
    box = open_chat(page)
    search = box.get_by_label("Search or start a new chat")
    if not search.is_visible():  # a phone shows one pane at a time: back to the list
        box.get_by_role("button", name="Back").click()
    search.fill(room.name)
    row(box, room).click()
    expect(box.get_by_role("heading", name=f"# {room.name}", exact=True)).to_be_visible()
    return box


def browse(page: Page, query: str | None = None) -> Locator:
    """Chatbox → Browse channels (optionally searched); returns the Browse channels pane."""
    box = open_chat(page)
    box.get_by_role("button", name="Browse channels").click()
    pane = box.get_by_role("region", name="Browse channels")
    expect(pane).to_be_visible()
    if query is not None:
        pane.get_by_label("Search channels").fill(query)
    return pane


def listed(pane: Locator, room: Room) -> Locator:
    return pane.get_by_role("listitem").filter(
        has=pane.page.get_by_role("button", name=f"# {room.name}", exact=True)
    )


def set_level(box: Locator, label: str) -> None:
    """Header → Notifications → the level's radio, and the server's answer (so that what happens
    next comes after the change on the event stream); the panel stays open."""
    button = box.get_by_role("button", name="Notifications", exact=True)
    if button.get_attribute("aria-expanded") != "true":
        button.click()
    levels = box.get_by_role("radiogroup", name="Notifications")
    expect(levels).to_be_visible()
    radio = levels.get_by_role("radio", name=label, exact=True)
    if not radio.is_checked():
        with box.page.expect_response(lambda r: r.url.endswith("/settings")) as answer:
            radio.check()
        assert answer.value.ok, answer.value.text()
    expect(radio).to_be_checked()


# First in the file, so Browse channels shows these channels rather than the other tests' ones.
@pytest.mark.parametrize(("size", "viewport"), [("desktop", DESKTOP), ("phone", PHONE)])
def test_screenshots(person: Person, size: str, viewport: dict[str, int]) -> None:
    margaret = person("margaret", viewport=viewport)
    tim = person("tim")
    launch = ensure_channel(
        margaret,
        "launch-plans",
        "Go/no-go for the 2.0 launch: Friday 14:00, big meeting room. Notes in the wiki.",
        ["tim", "katherine"],
    )
    if launch:  # made by this run: its conversation too (the phone run reuses it)
        post_message(margaret, launch, "Agenda for Friday: open bugs, the release notes, rollback.")
        post_message(tim, launch, "The **release notes** are ready for review.")
        post_message(tim, launch, "@Margaret Hamilton can you confirm the rollback plan?")
    support = ensure_channel(
        margaret, "support", "Customer questions. Answer within one working day.", ["tim"]
    )
    if support:
        assert call(margaret, "PATCH", f"/rooms/{support.id}/settings", {"notify": "none"}).ok
        post_message(tim, support, "Ticket 4411: a customer cannot log in after a reset.")
    for name, topic in [
        ("web-platform", "Browsers, standards and the new front end"),
        ("design-reviews", "Mockups and the style guide. Post links, not files."),
        ("random", None),
    ]:
        ensure_channel(tim, name, topic, [])

    pane = browse(margaret)
    for name in ["design-reviews", "launch-plans", "random", "support", "web-platform"]:
        expect(listed(pane, Room("", name))).to_be_visible()
    web = Room("", "web-platform")
    expect(listed(pane, web).get_by_role("button", name="Join", exact=True)).to_be_visible()
    expect(listed(pane, Room("", "launch-plans"))).to_contain_text("Joined")
    shoot(margaret, f"{size}-browse-channels")

    listed(pane, web).get_by_role("button", name="# web-platform").click()
    box = chatbox(margaret)
    expect(box.get_by_role("heading", name="# web-platform")).to_be_visible()
    expect(box.get_by_role("button", name="Join", exact=True)).to_be_visible()
    shoot(margaret, f"{size}-channel-join")

    box = open_channel(margaret, Room("", "launch-plans"))
    expect(box.locator(".room-head .topic")).to_contain_text("Go/no-go")
    expect(message(box, "rollback plan")).to_be_visible()
    shoot(margaret, f"{size}-channel-topic")

    set_level(box, "Mentions")
    shoot(margaret, f"{size}-notifications")
    box.get_by_role("button", name="Manage", exact=True).click()
    expect(box.get_by_label("Topic", exact=True)).to_have_value(re.compile("^Go/no-go"))
    expect(box.get_by_role("radiogroup", name="Notifications")).to_be_hidden()
    shoot(margaret, f"{size}-channel-manage")
    close_chat(margaret)

    box = open_chat(margaret)
    box.get_by_role("button", name="New", exact=True).click()
    dlg = margaret.get_by_role("dialog", name="New conversation")
    dlg.get_by_label("Channel", exact=True).check()
    dlg.get_by_label("Channel name").fill("Launch-Plans")
    dlg.get_by_role("button", name="Create").click()
    expect(dlg.get_by_text("There is already a channel named")).to_be_visible()
    shoot(margaret, f"{size}-new-channel-taken")
    dlg.get_by_role("button", name="Cancel").click()
    close_chat(margaret)

    open_page(margaret, "Chat Rooms")
    expect(margaret.get_by_role("link", name="# support")).to_be_visible()
    shoot(margaret, f"{size}-rooms-levels")


def test_channel_made_through_new_is_found_joined_and_live(person: Person) -> None:
    katherine = person("katherine")
    linus = person("linus")
    dialogs = fail_on_dialog(katherine) + fail_on_dialog(linus)
    channel = Room("", unique("orbit-math", "-"))
    topic = unique("Trajectories, launch windows and the numbers behind them")

    # New → Channel: name and topic; the channel opens with its topic in the header.
    box = open_chat(katherine)
    box.get_by_role("button", name="New", exact=True).click()
    dlg = katherine.get_by_role("dialog", name="New conversation")
    dlg.get_by_label("Channel", exact=True).check()
    dlg.get_by_label("Channel name").fill(channel.name)
    dlg.get_by_label("Topic").fill(topic)
    dlg.get_by_role("button", name="Create").click()
    expect(dlg).to_be_hidden()
    expect(box.get_by_role("heading", name=f"# {channel.name}", exact=True)).to_be_visible()
    head = box.locator(".room-head")
    expect(head).to_contain_text(topic)
    expect(head).to_contain_text("1 member")
    expect(row(box, channel)).to_be_visible()
    history = unique("Posted before anyone joined")
    send(box, history)
    expect(message(box, history)).to_be_visible()

    # The same name again (any case) is refused, and the dialog says why.
    box.get_by_role("button", name="New", exact=True).click()
    dlg.get_by_label("Channel", exact=True).check()
    dlg.get_by_label("Channel name").fill(channel.name.upper())
    dlg.get_by_role("button", name="Create").click()
    expect(dlg.get_by_text("There is already a channel named")).to_be_visible()
    expect(dlg.get_by_label("Channel name")).to_have_attribute("aria-invalid", "true")
    dlg.get_by_role("button", name="Cancel").click()
    expect(dlg).to_be_hidden()

    # Linus finds it by searching Browse channels: topic and member count, and Join.
    pane = browse(linus, channel.name[-8:])
    item = listed(pane, channel)
    expect(pane.get_by_role("listitem")).to_have_count(1)
    expect(item).to_contain_text(topic)
    expect(item).to_contain_text("1 member")
    item.get_by_role("button", name="Join", exact=True).click()
    linus_box = chatbox(linus)
    expect(linus_box.get_by_role("heading", name=f"# {channel.name}", exact=True)).to_be_visible()
    expect(message(linus_box, history)).to_be_visible()  # the history before he joined
    expect(linus_box.locator(".room-head")).to_contain_text("2 members")
    expect(head).to_contain_text("2 members")  # live for Katherine
    expect(row(linus_box, channel)).to_be_visible()

    # Messages reach both live.
    hello = unique("Hello from Linus")
    send(linus_box, hello)
    expect(message(box, hello)).to_be_visible()
    reply = unique("Welcome, Linus")
    send(box, reply)
    expect(message(linus_box, reply)).to_be_visible()

    # Any member sets the topic; Katherine sees it at once.
    new_topic = unique("Launch windows for the next mission")
    linus_box.get_by_role("button", name="Manage", exact=True).click()
    linus_box.get_by_label("Topic", exact=True).fill(new_topic)
    linus_box.get_by_role("button", name="Set topic").click()
    expect(head).to_contain_text(new_topic)
    expect(linus_box.locator(".room-head")).to_contain_text(new_topic)

    # Browse now shows it joined: no Join button, and a click opens the channel.
    pane = browse(linus, channel.name)
    item = listed(pane, channel)
    expect(item).to_contain_text("Joined")
    expect(item.get_by_role("button", name="Join", exact=True)).to_have_count(0)
    expect(item).to_contain_text("2 members")
    item.get_by_role("button", name=f"# {channel.name}").click()
    expect(message(linus_box, reply)).to_be_visible()
    assert dialogs == []


def test_notification_levels_decide_popups_and_badge(person: Person) -> None:
    katherine = person("katherine")
    linus = person("linus")
    linus_phone = person("linus", viewport=PHONE)  # another device of his
    dialogs = fail_on_dialog(linus) + fail_on_dialog(linus_phone)
    channel = make_channel(katherine, unique("flight-dynamics", "-"), "Orbits", ["linus"])
    # At "all": its pop-ups mark that the earlier ones ran.
    side = make_group(katherine, ["linus"], "Side room")

    # The phone shows the level; a channel starts at Mentions.
    phone_box = open_channel(linus_phone, channel)
    phone_box.get_by_role("button", name="Notifications", exact=True).click()
    phone_levels = phone_box.get_by_role("radiogroup", name="Notifications")
    expect(phone_levels.get_by_role("radio", name="Mentions", exact=True)).to_be_checked()

    box = open_channel(linus, channel)
    set_level(box, "None")
    expect(phone_levels.get_by_role("radio", name="None", exact=True)).to_be_checked()  # live
    expect(box.get_by_role("button", name="Notifications", exact=True)).to_have_attribute(
        "title", "Notifications: off"
    )
    assert call(linus, "GET", f"/rooms/{channel.id}").json()["notify"] == "none"
    close_chat(linus)
    close_chat(linus_phone)
    before = synced_unread(linus)

    # At None: no pop-up and not in the badge, though the room keeps its own count.
    quiet = unique("A quiet update")
    post_message(katherine, channel, quiet)
    marker = unique("Side note")
    post_message(katherine, side, marker)
    expect(popup(linus, "Katherine Johnson", marker)).to_be_visible()
    expect(popup(linus, "Katherine Johnson", quiet)).to_have_count(0)
    expect(unread(linus)).to_have_text(str(before + 1))
    counts = call(linus, "GET", "/unread").json()
    assert counts["total"] == before + 1
    assert counts["rooms"][channel.id] == 1
    box = open_chat(linus)
    box.get_by_label("Search or start a new chat").fill(channel.name)
    expect(row(box, channel)).to_have_class(re.compile(r"\bnotify-off\b"))
    expect(row(box, channel).locator(".count.off")).to_have_text("1 unread")

    # At Mentions: a plain message makes no pop-up; one mentioning him does, with an @ badge.
    row(box, channel).click()
    expect(message(box, quiet)).to_be_visible()
    set_level(box, "Mentions")
    close_chat(linus)
    before = synced_unread(linus)
    plain = unique("Numbers are in")
    post_message(katherine, channel, plain)
    mention = unique("@Linus Pauling please check the burn time")
    post_message(katherine, channel, mention)
    called = popup(linus, "Katherine Johnson", "please check the burn time")
    expect(called).to_be_visible()
    expect(called).to_contain_text(f"mentioned you in # {channel.name}")
    expect(popup(linus, "Katherine Johnson", plain)).to_have_count(0)
    expect(unread(linus)).to_have_text(str(before + 2))
    box = open_chat(linus)
    box.get_by_label("Search or start a new chat").fill(channel.name)
    expect(row(box, channel).locator(".mention")).to_contain_text("@1")
    expect(row(box, channel).locator(".count")).to_have_text("2 unread")
    expect(row(box, channel)).not_to_have_class(re.compile(r"\bnotify-off\b"))
    assert call(linus, "GET", "/unread").json()["mentions"][channel.id] == 1

    # The Chat Rooms page shows the level and the @ badge too.
    close_chat(linus)
    linus.get_by_role("link", name="Chat Rooms").click()
    line = linus.get_by_role("row").filter(
        has=linus.get_by_role("link", name=f"# {channel.name}", exact=True)
    )
    expect(line).to_contain_text("Mentions")
    expect(line.locator(".mention")).to_contain_text("@1")

    # Back at All (from the phone): every message pops up again on the desktop.
    phone_box = open_channel(linus_phone, channel)
    set_level(phone_box, "All")
    close_chat(linus_phone)
    expect(line.get_by_role("cell").nth(4)).to_have_text("All")  # notify.updated, live
    loud = unique("Everyone look at this")
    post_message(katherine, channel, loud)
    expect(popup(linus, "Katherine Johnson", loud)).to_be_visible()
    assert dialogs == []


def test_outsider_sees_the_channel_but_cannot_read_it(person: Person) -> None:
    katherine = person("katherine")
    barbara = person("barbara")
    dialogs = fail_on_dialog(barbara)
    topic = unique("Members only talk")
    channel = make_channel(katherine, unique("mission-control", "-"), topic, [])
    secret = unique("Only members read this")
    post_message(katherine, channel, secret)

    # Browse lists it with its topic and member count; opening it shows Join, not the messages.
    pane = browse(barbara, channel.name)
    item = listed(pane, channel)
    expect(item).to_contain_text(topic)
    expect(item).to_contain_text("1 member")
    item.get_by_role("button", name=f"# {channel.name}").click()
    box = chatbox(barbara)
    expect(box.get_by_role("heading", name=f"# {channel.name}", exact=True)).to_be_visible()
    expect(box.get_by_role("button", name="Join", exact=True)).to_be_visible()
    expect(box).to_contain_text(topic)
    expect(box.get_by_role("log")).to_have_count(0)
    expect(box.get_by_label("Message", exact=True)).to_have_count(0)
    expect(box).not_to_contain_text(secret)

    # The server agrees: its messages and the room are "not found" from her page.
    script = """async (path) => (await fetch('/api/v1' + path)).status"""
    assert barbara.evaluate(script, f"/rooms/{channel.id}/messages") == 404
    assert barbara.evaluate(script, f"/rooms/{channel.id}") == 404

    # Its address, opened afresh, also offers Join (the room is unknown, the channel is not).
    fresh = barbara.context.new_page()
    fresh.goto(f"/#/room/{channel.id}")
    box = chatbox(fresh)
    expect(box.get_by_role("heading", name=f"# {channel.name}", exact=True)).to_be_visible()
    join = box.get_by_role("button", name="Join", exact=True)
    expect(join).to_be_visible()
    expect(box.get_by_role("log")).to_have_count(0)

    # Joining there shows the history and the composer.
    join.click()
    expect(message(box, secret)).to_be_visible()
    expect(box.get_by_label("Message", exact=True)).to_be_visible()
    expect(box.get_by_role("button", name="Join", exact=True)).to_have_count(0)
    assert dialogs == []
