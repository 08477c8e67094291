"""Replies (threads) in a real browser: Reply opens the Thread panel beside the room (over it on a
phone); a root shows "N replies" with who took part; replies go live to an open panel and never
into the room's log; a reply counts as unread (and pops up) only for the thread's followers; an
outsider can read neither the room nor the thread.

Every wait is Playwright's auto-waiting `expect()`; nothing sleeps. "Nothing counted" is shown by
a later message that does count: events reach a page in order, so the earlier one was handled.
"""

from __future__ import annotations

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
    open_room,
    popup,
    post_message,
    send,
    shoot,
    synced_unread,
    unique,
    unread,
)

pytestmark = pytest.mark.browser


def thread_panel(box: Locator) -> Locator:
    return box.get_by_role("region", name="Thread")


def reply_item(panel: Locator, text: str) -> Locator:
    """A settled reply in the Thread panel."""
    return panel.locator(".thread-replies li.msg:not(.pending)").filter(has_text=text)


def post_reply(page: Page, room: Room, root_id: str, text: str) -> str:
    body = {"content": text, "reply_to": root_id}
    answer = call(page, "POST", f"/rooms/{room.id}/messages", body)
    assert answer.status == 201, answer.text()
    assert answer.json()["reply_to"] == root_id
    return str(answer.json()["id"])


def room_row(box: Locator, room: Room) -> Locator:
    box.get_by_label("Search or start a new chat").fill(room.name)
    return box.get_by_role("button", name=room.name, exact=True)


def test_reply_is_live_in_the_thread_and_counts_for_followers_only(person: Person) -> None:
    alan = person("alan")
    grace = person("grace")
    margaret = person("margaret")  # a member who does not follow the thread
    dialogs = fail_on_dialog(alan) + fail_on_dialog(grace) + fail_on_dialog(margaret)
    room = make_group(grace, ["alan", "margaret"], "Budget")
    root_text = unique("Who can review the budget before Friday?")
    post_message(grace, room, root_text)
    grace_box = open_room(grace, room)
    alan_box = open_room(alan, room)
    expect(message(grace_box, root_text)).to_be_visible()
    grace_before = synced_unread(grace)
    margaret_before = synced_unread(margaret)

    # Alan: Reply on Grace's message opens the Thread panel with the root and its own box.
    root = message(alan_box, root_text)
    root.get_by_role("button", name="Reply", exact=True).click()
    panel = thread_panel(alan_box)
    expect(panel).to_be_visible()
    expect(panel.locator(".thread-root")).to_contain_text(root_text)
    expect(panel.get_by_label("Reply in thread", exact=True)).to_be_focused()
    reply = unique("I can take it")
    send(panel, reply, "Reply in thread")
    expect(reply_item(panel, reply)).to_be_visible()
    expect(root.get_by_role("button", name="1 reply", exact=True)).to_be_visible()

    # Grace, the root's author: "1 reply" live with Alan in it, a pop-up, and her badge counts it.
    grace_root = message(grace_box, root_text)
    summary = grace_root.get_by_role("button", name="1 reply", exact=True)
    expect(summary).to_be_visible()
    expect(grace_root.locator(".thread-sum")).to_contain_text("Alan Turing")
    expect(grace_root.locator(".thread-people [title='Alan Turing']")).to_have_count(1)
    expect(popup(grace, "Alan Turing", reply)).to_be_visible()
    expect(unread(grace)).to_have_text(str(grace_before + 1))
    for box in (grace_box, alan_box):
        expect(message(box, reply)).to_have_count(0)  # never in the room's log

    # Margaret follows nothing here: a later plain message counts, the reply did not.
    later = unique("Lunch is at noon")
    post_message(alan, room, later)
    expect(popup(margaret, "Alan Turing", later)).to_be_visible()
    expect(popup(margaret, "Alan Turing", reply)).to_have_count(0)
    expect(unread(margaret)).to_have_text(str(margaret_before + 1))
    row = room_row(open_chat(margaret), room)
    expect(row.locator(".count")).to_have_text("2 unread")  # the root and the later message
    expect(row).not_to_contain_text(reply)
    assert call(margaret, "GET", "/unread").json()["rooms"][room.id] == 2

    # Grace opens the thread: the reply is there and reading it clears what it added.
    grace.bring_to_front()
    summary.click()
    grace_panel = thread_panel(grace_box)
    expect(reply_item(grace_panel, reply)).to_be_visible()
    expect(unread(grace)).to_have_text(str(grace_before))

    # Grace answers in the thread; Alan sees it live in his open panel, never in the log.
    answer = unique("Thanks, the numbers are in the wiki")
    send(grace_panel, answer, "Reply in thread")
    expect(reply_item(panel, answer)).to_be_visible()
    expect(root.get_by_role("button", name="2 replies", exact=True)).to_be_visible()
    expect(message(alan_box, answer)).to_have_count(0)
    expect(message(grace_box, answer)).to_have_count(0)

    # Replies take the same actions: Alan edits his, reacts to Grace's; both live for Grace.
    alan.bring_to_front()
    edited = unique("I can take it on Thursday")
    reply_item(panel, reply).get_by_role("button", name="Edit", exact=True).click()
    edit_box = panel.get_by_label("Edit message")
    expect(edit_box).to_be_focused()
    edit_box.fill(edited)
    edit_box.press("Enter")
    expect(reply_item(grace_panel, edited)).to_contain_text("(edited)")
    reply_item(panel, answer).get_by_role("button", name="React", exact=True).click()
    picker = alan.get_by_role("dialog", name="React")
    picker.get_by_label("Search emoji").fill("party")
    picker.get_by_role("button", name="🎉", exact=True).click()
    expect(picker).to_be_hidden()
    chip = reply_item(grace_panel, answer).get_by_role("group", name="Reactions")
    expect(chip.get_by_role("button", name="🎉 1", exact=True)).to_be_visible()

    # The server agrees: the room's page has no replies, the thread has both, oldest first.
    page = call(grace, "GET", f"/rooms/{room.id}/messages").json()
    assert [m["content"] for m in page] == [root_text, later]
    assert page[0]["thread"]["reply_count"] == 2
    replies = call(grace, "GET", f"/messages/{page[0]['id']}/thread").json()
    assert [m["content"] for m in replies] == [edited, answer]

    # Close thread puts the focus back on the summary.
    grace_panel.get_by_role("button", name="Close thread").click()
    expect(grace_panel).to_have_count(0)
    expect(grace_root.get_by_role("button", name="2 replies", exact=True)).to_be_focused()
    assert dialogs == []


def test_outsider_sees_neither_the_room_nor_the_thread(person: Person) -> None:
    grace = person("grace")
    barbara = person("barbara")
    room = make_group(grace, ["alan"], "Private thread")
    root_id = post_message(grace, room, unique("Salary review"))
    post_reply(grace, room, root_id, unique("Numbers attached"))

    box = open_chat(barbara)
    box.get_by_label("Search or start a new chat").fill(room.name)
    expect(box.get_by_role("button", name=room.name, exact=True)).to_have_count(0)
    script = """async (path) => (await fetch('/api/v1' + path)).status"""
    assert barbara.evaluate(script, f"/messages/{root_id}/thread") == 404
    assert barbara.evaluate(script, f"/rooms/{room.id}/messages") == 404


@pytest.mark.parametrize(("size", "viewport"), [("desktop", DESKTOP), ("phone", PHONE)])
def test_screenshots(person: Person, size: str, viewport: dict[str, int]) -> None:
    grace = person("grace", viewport=viewport)
    alan = person("alan")
    ada = person("ada")
    room = make_group(grace, ["alan", "ada"], "Release 2.0")
    post_message(ada, room, "Morning! The release candidate is building now.")
    root_id = post_message(grace, room, "Who can review the release notes before Friday?")
    post_reply(alan, room, root_id, "I can take the first half tomorrow morning.")
    post_reply(ada, room, root_id, "I'll do the rest, and the **upgrade guide**.")
    post_reply(grace, room, root_id, "Thank you both! Comments in the doc, please.")
    post_message(alan, room, "Build is green ✅")

    # Grace follows her thread, so its replies popped up; dismissed for the pictures.
    expect(popup(grace, "Alan Turing", "Build is green")).to_be_visible()
    dismiss = grace.locator(".popups").get_by_role("button", name="Dismiss")
    while dismiss.count():
        dismiss.first.click()
    box = open_room(grace, room)
    root = message(box, "review the release notes")
    summary = root.get_by_role("button", name="3 replies", exact=True)
    expect(summary).to_be_visible()
    expect(message(box, "Build is green")).to_be_visible()
    shoot(grace, f"{size}-thread-summary")

    summary.click()
    panel = thread_panel(box)
    expect(reply_item(panel, "Thank you both")).to_be_visible()
    expect(panel.get_by_label("Reply in thread", exact=True)).to_be_visible()
    shoot(grace, f"{size}-thread-panel")

    # Closing (the back arrow on a phone) shows the room again.
    panel.get_by_role("button", name="Close thread").click()
    expect(panel).to_have_count(0)
    expect(chatbox(grace).get_by_label("Message", exact=True)).to_be_visible()
