"""Never lose someone's attention, and show what is true, in a real browser: read receipts that
change live (✓ Sent → ✓✓ Seen in a direct room, "Seen by N" with the names in a group), mentions
of me that stand out (in the text, the row, a pop-up of their own and a tone of their own), two
tabs of one person making one pop-up and one sound, automatic Away that follows real input,
previews and pop-ups that show text rather than Markdown, "(edited)" on the Chat Messages page,
drafts and the outbox surviving a reload, long pop-ups kept in their card, and a clean console.

Every wait is Playwright's auto-waiting `expect()`; nothing sleeps. "Nothing more happened" is
shown by a later event: events reach a page in order, so anything caused by an earlier one has
happened by the time a later one shows.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Locator,
    Page,
    Request,
    Response,
    ViewportSize,
    WebSocket,
    WebSocketRoute,
    expect,
)

from tests.browser.conftest import DESKTOP, PHONE, demo_server, fail_on_dialog, login
from tests.browser.helpers import (
    Person,
    Room,
    call,
    chatbox,
    make_group,
    message,
    open_chat,
    open_direct,
    open_room,
    post_message,
    send,
    shoot,
    synced_unread,
    unique,
    unread,
)

pytestmark = pytest.mark.browser

# Records the notes the page plays instead of playing them: one frequency per note.
FAKE_AUDIO = """
(() => {
  window.__tones = [];
  class Param {
    constructor() { this.value = 0; }
    setValueAtTime() {}
    exponentialRampToValueAtTime() {}
  }
  class Node { connect(n) { return n; } disconnect() {} }
  class Osc extends Node {
    constructor() { super(); this.frequency = new Param(); }
    start() { window.__tones.push(this.frequency.value); }
    stop() {}
  }
  class Gain extends Node { constructor() { super(); this.gain = new Param(); } }
  window.AudioContext = class {
    constructor() { this.currentTime = 0; this.destination = new Node(); }
    createOscillator() { return new Osc(); }
    createGain() { return new Gain(); }
  };
})();
"""
DESKTOP_SIZE: ViewportSize = {"width": DESKTOP["width"], "height": DESKTOP["height"]}
PHONE_SIZE: ViewportSize = {"width": PHONE["width"], "height": PHONE["height"]}
BEEP = [880]
MENTION_TONE = [660, 988]


def tones(page: Page) -> list[int]:
    return [int(f) for f in page.evaluate("window.__tones")]


def receipt(item: Locator) -> Locator:
    return item.locator(".receipt")


def popups_of(pages: list[Page], sender: str, text: str) -> int:
    """How many pop-ups from sender with text the pages show between them."""
    return sum(p.get_by_role("status", name=sender).filter(has_text=text).count() for p in pages)


def shoot_both(page: Page, name: str) -> None:
    """A desktop and a phone screenshot of the page as it is."""
    page.set_viewport_size(DESKTOP_SIZE)
    shoot(page, f"desktop-{name}")
    page.set_viewport_size(PHONE_SIZE)
    shoot(page, f"phone-{name}")
    page.set_viewport_size(DESKTOP_SIZE)


# ---- read receipts -------------------------------------------------------------------------------


def test_direct_receipt_turns_from_sent_to_seen_when_the_other_reads(person: Person) -> None:
    kat = person("katherine")
    linus = person("linus")
    dialogs = fail_on_dialog(kat) + fail_on_dialog(linus)
    box = open_direct(kat, "Linus", "Linus Pauling")
    first = unique("Orbit numbers are ready")
    send(box, first)
    mine = message(box, first)
    expect(receipt(mine)).to_have_text("✓ Sent")

    # Linus opens the conversation (reading it): Katherine's ✓ turns into ✓✓ Seen, live.
    linus_box = open_direct(linus, "Katherine", "Katherine Johnson")
    expect(message(linus_box, first)).to_be_visible()
    expect(receipt(mine)).to_have_text("✓✓ Seen")
    expect(receipt(mine)).to_have_attribute("title", "Seen by Linus Pauling")
    shoot_both(kat, "receipt-direct-seen")

    # Her next message is the one the receipt sits under; Linus, still in the room, sees it.
    second = unique("And the re-entry angle")
    send(box, second)
    expect(receipt(message(box, second))).to_have_text("✓✓ Seen")
    expect(receipt(mine)).to_have_count(0)

    # Linus closes the Chatbox: her next one stays ✓ Sent until he opens the room again.
    linus.keyboard.press("Escape")
    expect(chatbox(linus)).to_be_hidden()
    third = unique("Call me when you can")
    send(box, third)
    expect(receipt(message(box, third))).to_have_text("✓ Sent")
    shoot_both(kat, "receipt-direct-sent")
    open_direct(linus, "Katherine", "Katherine Johnson")
    expect(receipt(message(box, third))).to_have_text("✓✓ Seen")
    assert dialogs == []


def test_group_shows_seen_by_n_with_names_on_hover_and_focus(person: Person) -> None:
    ada = person("ada")
    grace = person("grace")
    alan = person("alan")
    dialogs = fail_on_dialog(ada) + fail_on_dialog(grace) + fail_on_dialog(alan)
    room = make_group(ada, ["grace", "alan"], "Receipts")
    box = open_room(ada, room)
    text = unique("Draft of the note is up")
    send(box, text)
    mine = message(box, text)
    expect(receipt(mine)).to_have_text("✓ Sent")

    open_room(grace, room)
    seen_by_one = mine.get_by_role("button", name="Seen by 1: Grace Hopper", exact=True)
    expect(seen_by_one).to_be_visible()
    expect(seen_by_one).to_have_text("✓✓ Seen by 1")

    open_room(alan, room)
    both = re.compile(r"^Seen by 2: (Grace Hopper, Alan Turing|Alan Turing, Grace Hopper)$")
    seen_by_two = mine.get_by_role("button", name=both)
    expect(seen_by_two).to_be_visible()
    names = mine.locator(".receipt-tip")
    expect(names).to_be_hidden()
    seen_by_two.hover()
    expect(names).to_be_visible()
    expect(names).to_contain_text("Grace Hopper")
    expect(names).to_contain_text("Alan Turing")
    shoot_both(ada, "receipt-group-seen-by")

    # By keyboard too: focus shows the names, Esc hides them and leaves the Chatbox open.
    box.get_by_label("Message", exact=True).focus()
    ada.mouse.move(0, 0)
    expect(names).to_be_hidden()
    box.get_by_label("Message", exact=True).press("Shift+Tab")
    while not seen_by_two.evaluate("el => el === document.activeElement"):
        ada.keyboard.press("Shift+Tab")
    expect(seen_by_two).to_be_focused()
    expect(names).to_be_visible()
    ada.keyboard.press("Escape")
    expect(names).to_be_hidden()
    expect(box).to_be_visible()
    assert dialogs == []


# ---- mentions ------------------------------------------------------------------------------------


def test_a_mention_of_me_stands_out_in_text_row_popup_and_sound(
    person: Person, new_context: Callable[..., BrowserContext]
) -> None:
    context = new_context()
    context.add_init_script(FAKE_AUDIO)
    barbara = login(context.new_page(), "barbara")
    linus = person("linus")
    dialogs = fail_on_dialog(barbara) + fail_on_dialog(linus)
    room = make_group(linus, ["barbara"], "Type systems")
    plain = unique("Lunch is in the usual place")
    post_message(linus, room, plain)
    plain_popup = barbara.get_by_role("status", name="Linus Pauling").filter(has_text=plain)
    expect(plain_popup).to_be_visible()
    expect(plain_popup).not_to_have_class(re.compile(r"popup-mention"))
    expect(plain_popup).not_to_contain_text("mentioned you")
    assert tones(barbara) == BEEP  # played with the pop-up, before it showed

    mention = unique("@Barbara Liskov can you review the proof")
    post_message(linus, room, mention)
    words = mention.removeprefix("@Barbara Liskov ")
    mention_popup = barbara.get_by_role("status", name="Linus Pauling").filter(has_text=words)
    expect(mention_popup).to_be_visible()
    expect(mention_popup).to_have_class(re.compile(r"\bpopup-mention\b"))
    expect(mention_popup).to_contain_text(f"mentioned you in {room.name}")
    expect(mention_popup.locator(".popup-at")).to_have_text("@")
    assert tones(barbara) == BEEP + MENTION_TONE
    shoot_both(barbara, "popup-mention")

    # In the room: the mention naming me is marked, and its whole message is tinted.
    box = open_room(barbara, room)
    item = message(box, words)
    expect(item.locator(".mention.mention-me")).to_have_text("@Barbara Liskov")
    other = message(box, plain)
    row_bg = item.evaluate("el => getComputedStyle(el).backgroundColor")
    plain_bg = other.evaluate("el => getComputedStyle(el).backgroundColor")
    assert row_bg != plain_bg
    shoot_both(barbara, "mention-in-room")
    # A mention of someone else is not marked as mine.
    someone_else = unique("@Linus Pauling noted")
    send(box, someone_else)
    expect(message(box, "noted").locator(".mention")).to_have_text("@Linus Pauling")
    expect(message(box, "noted").locator(".mention-me")).to_have_count(0)
    assert dialogs == []


def test_a_long_popup_wraps_and_stays_in_its_card(person: Person) -> None:
    grace = person("grace")
    tim = person("tim", viewport=PHONE)
    room = make_group(grace, ["tim"], "Long lines")
    text = unique("Start") + " " + "x" * 300 + " " + " ".join(["word"] * 120)
    post_message(grace, room, text)
    card = tim.get_by_role("status", name="Grace Hopper").filter(has_text="Start")
    expect(card).to_be_visible()
    box = card.bounding_box()
    body = card.locator(".popup-text").bounding_box()
    close = card.get_by_role("button", name="Dismiss").bounding_box()
    assert box is not None
    assert body is not None
    assert close is not None
    assert box["width"] <= 340.5
    for part in (body, close):
        assert part["x"] >= box["x"] - 0.5
        assert part["x"] + part["width"] <= box["x"] + box["width"] + 0.5
        assert part["y"] + part["height"] <= box["y"] + box["height"] + 0.5
    line = float(
        card.locator(".popup-text").evaluate("el => parseFloat(getComputedStyle(el).lineHeight)")
    )
    assert body["height"] <= 3 * line + 1  # clamped to three lines
    shoot(tim, "phone-popup-long")


# ---- one tab speaks for all ----------------------------------------------------------------------


def row_of(page: Page, room: Room) -> Locator:
    """The room's row in the page's Chatbox room list."""
    return chatbox(page).locator(f'button.row[data-room="{room.id}"]')


def test_two_tabs_make_one_popup_and_one_sound_and_both_badges_agree(
    person: Person, new_context: Callable[..., BrowserContext]
) -> None:
    context = new_context()
    context.add_init_script(FAKE_AUDIO)
    first = login(context.new_page(), "margaret")
    second = context.new_page()
    second.goto("/")
    expect(second.locator(".conn")).to_have_text("Connected")
    tabs = [first, second]
    dialogs = fail_on_dialog(first) + fail_on_dialog(second)
    tim = person("tim")
    room = make_group(tim, ["margaret"], "Two tabs")
    other_room = make_group(tim, ["margaret"], "Elsewhere")
    for tab in tabs:
        open_chat(tab)
        expect(row_of(tab, other_room)).to_be_visible()

    one = unique("First of two")
    two = unique("Second of two")
    post_message(tim, room, one)
    post_message(tim, room, two)
    for tab in tabs:
        expect(row_of(tab, room)).to_contain_text(two)  # both tabs have had both messages
    assert popups_of(tabs, "Tim Berners-Lee", one) == 1
    assert popups_of(tabs, "Tim Berners-Lee", two) == 1
    assert len(tones(first)) + len(tones(second)) == 2
    for tab in tabs:
        synced_unread(tab)

    # The first tab reads the room: a new message there pops up in no tab, and the other tab's
    # counts leave it out too once the read reaches it from the server.
    box = open_room(first, room)
    box.get_by_label("Search or start a new chat").fill("")  # every room in the list again
    read_here = unique("Read where it lands")
    post_message(tim, room, read_here)
    expect(message(box, read_here)).to_be_visible()
    later = unique("Somewhere else")
    post_message(tim, other_room, later)
    for tab in tabs:
        expect(row_of(tab, other_room)).to_contain_text(later)
    assert popups_of(tabs, "Tim Berners-Lee", read_here) == 0
    assert popups_of(tabs, "Tim Berners-Lee", later) == 1
    assert len(tones(first)) + len(tones(second)) == 3
    expect(row_of(second, room).locator(".count")).to_have_count(0)
    for tab in tabs:
        synced_unread(tab)
    assert unread(first).inner_text() == unread(second).inner_text()
    assert dialogs == []


# ---- previews, the Chat Messages page ------------------------------------------------------------


def test_previews_show_text_not_markdown(person: Person) -> None:
    alan = person("alan")
    kat = person("katherine")
    room = make_group(kat, ["alan"], "Previews")
    marker = unique("Launch")
    post_message(
        kat, room, f"**{marker}** at `noon`, see [the plan](https://example.com/plan) @Alan Turing"
    )
    shown = f"{marker} at noon, see the plan @Alan Turing"
    card = alan.get_by_role("status", name="Katherine Johnson").filter(has_text=marker)
    expect(card.locator(".popup-text")).to_have_text(shown)
    open_chat(alan)
    expect(row_of(alan, room).locator(".preview")).to_have_text(shown)

    # A message that is only an attachment says so, with the file's name.
    csrf = next(c["value"] for c in kat.context.cookies() if c["name"] == "parlour_csrf")
    upload = kat.request.post(
        "/api/v1/attachments",
        multipart={"file": {"name": "orbit.csv", "mimeType": "text/csv", "buffer": b"t,x\n0,1\n"}},
        headers={"X-CSRF-Token": csrf},
    )
    assert upload.ok, upload.text()
    answer = call(
        kat,
        "POST",
        f"/rooms/{room.id}/messages",
        {"content": "", "attachment_ids": [upload.json()["id"]]},
    )
    assert answer.status == 201, answer.text()
    expect(row_of(alan, room).locator(".preview")).to_have_text(
        re.compile(r"^(📎 |Attachment: )orbit\.csv$")
    )


def test_chat_messages_page_says_edited_and_a_deleted_message_takes_one_line(
    person: Person,
) -> None:
    grace = person("grace")
    room = make_group(grace, ["ada"], "Edits")
    kept = unique("Kept as written")
    edited = unique("Written twice")
    gone = unique("Soon gone")
    post_message(grace, room, kept)
    edited_id = post_message(grace, room, edited)
    gone_id = post_message(grace, room, gone)
    assert call(grace, "PATCH", f"/messages/{edited_id}", {"content": f"{edited} (better)"}).ok
    grace.get_by_role("link", name="Chat Messages").click()
    expect(grace.get_by_role("heading", name="Chat Messages")).to_be_visible()
    grace.get_by_label("Room").select_option(label=room.name)
    rows = grace.get_by_role("row")
    expect(rows.filter(has_text=f"{edited} (better)")).to_contain_text("(edited)")
    expect(rows.filter(has_text=kept)).to_be_visible()
    expect(rows.filter(has_text=kept)).not_to_contain_text("(edited)")
    shoot(grace, "desktop-chat-messages-edited")

    # In the room, a message deleted meanwhile becomes one line of text.
    box = open_room(grace, room)
    expect(message(box, gone)).to_be_visible()
    assert call(grace, "DELETE", f"/messages/{gone_id}").ok
    note = box.get_by_role("log").get_by_text("This message was deleted.")
    expect(note).to_be_visible()
    height = float(note.evaluate("el => el.getBoundingClientRect().height"))
    line = float(note.evaluate("el => parseFloat(getComputedStyle(el).lineHeight)"))
    margins = note.evaluate(
        "el => getComputedStyle(el).marginTop + ' ' + getComputedStyle(el).marginBottom"
    )
    assert height <= line * 1.2
    assert margins == "0px 0px"


# ---- drafts and the outbox -----------------------------------------------------------------------


def test_drafts_survive_a_reload_per_room_and_thread(person: Person) -> None:
    tim = person("tim")
    room = make_group(tim, ["barbara"], "Drafts")
    other = make_group(tim, ["barbara"], "Other drafts")
    root = unique("Root of the thread")
    post_message(tim, room, root)
    box = open_room(tim, room)
    draft = unique("Half a thought")
    box.get_by_label("Message", exact=True).fill(draft)
    message(box, root).get_by_role("button", name="Reply").click()
    thread = box.get_by_role("region", name="Thread")
    reply_draft = unique("Half a reply")
    thread.get_by_label("Reply in thread", exact=True).fill(reply_draft)

    tim.reload()
    expect(tim.locator(".conn")).to_have_text("Connected")
    box = open_room(tim, room)
    expect(box.get_by_label("Message", exact=True)).to_have_value(draft)
    message(box, root).get_by_role("button", name="Reply").click()
    thread = box.get_by_role("region", name="Thread")
    expect(thread.get_by_label("Reply in thread", exact=True)).to_have_value(reply_draft)
    # Per room: another room's box is empty.
    other_box = open_room(tim, other)
    expect(other_box.get_by_label("Message", exact=True)).to_have_value("")

    # Sent: gone from the box, and a reload does not bring it back.
    box = open_room(tim, room)
    box.get_by_label("Message", exact=True).press("Enter")
    expect(message(box, draft)).to_be_visible()
    expect(box.get_by_label("Message", exact=True)).to_have_value("")
    tim.reload()
    expect(tim.locator(".conn")).to_have_text("Connected")
    box = open_room(tim, room)
    expect(message(box, draft)).to_be_visible()
    expect(box.get_by_label("Message", exact=True)).to_have_value("")


def test_a_message_queued_offline_goes_out_once_after_a_reload(person: Person) -> None:
    blocked = {"on": False}

    def route(ws: WebSocketRoute) -> None:
        # While blocked the page's socket reaches nobody: no hello, so nothing is sent.
        if not blocked["on"]:
            ws.connect_to_server()

    alan = person("alan")
    linus = person("linus")
    alan.route_web_socket(re.compile(r"/api/v1/events"), route)
    room = make_group(linus, ["alan"], "Outbox")
    box = open_room(alan, room)
    blocked["on"] = True
    alan.context.set_offline(True)
    expect(alan.locator(".conn")).to_contain_text("Reconnecting")
    text = unique("Queued on the plane")
    send(box, text)
    waiting = box.get_by_role("log").locator("li.msg.pending").filter(has_text=text)
    expect(waiting).to_be_visible()
    alan.context.set_offline(False)
    expect(waiting).to_be_visible()  # the link is still dead: it waits

    blocked["on"] = False
    alan.reload()
    expect(alan.locator(".conn")).to_have_text("Connected")
    box = open_room(alan, room)
    expect(message(box, text)).to_have_count(1)
    linus_box = open_room(linus, room)
    later = unique("Landed")
    send(linus_box, later)
    expect(message(box, later)).to_be_visible()
    expect(message(box, text)).to_have_count(1)
    stored = call(linus, "GET", f"/rooms/{room.id}/messages").json()
    assert [m["content"] for m in stored].count(text) == 1


# ---- a clean console -----------------------------------------------------------------------------


class Problems:
    """Console errors and warnings, page errors, failed requests and 4xx/5xx answers of a page."""

    def __init__(self, page: Page) -> None:
        self.seen: list[str] = []
        page.on("console", self.console)
        page.on("pageerror", lambda error: self.seen.append(f"pageerror: {error}"))
        page.on("response", self.response)
        page.on("requestfailed", self.failed)

    def console(self, msg: ConsoleMessage) -> None:
        if msg.type in ("error", "warning"):
            self.seen.append(f"console.{msg.type}: {msg.text}")

    def response(self, response: Response) -> None:
        if response.status >= 400:
            self.seen.append(f"{response.status} {response.request.method} {response.url}")

    def failed(self, request: Request) -> None:
        self.seen.append(f"failed {request.method} {request.url}: {request.failure}")


def test_console_is_clean_on_load_logged_out_and_logged_in(
    new_context: Callable[..., BrowserContext],
) -> None:
    page = new_context().new_page()
    problems = Problems(page)
    page.goto("/")
    expect(page.get_by_role("button", name="Log in")).to_be_visible()
    page.wait_for_load_state("networkidle")
    assert problems.seen == []

    login(page, "barbara")
    open_chat(page)
    page.reload()
    expect(page.locator(".conn")).to_have_text("Connected")
    open_chat(page)
    page.wait_for_load_state("networkidle")
    assert problems.seen == []


# ---- automatic Away from real activity -----------------------------------------------------------


@pytest.fixture(scope="module")
def quick_away_url() -> Iterator[str]:
    """A server of its own whose people go Away after 5 s without activity."""
    with demo_server({"PARLOUR_PRESENCE_AWAY_SECONDS": "5"}) as url:
        yield url


def test_input_brings_me_back_from_away_for_me_and_for_others(
    browser: Browser, quick_away_url: str
) -> None:
    """Idle, Ada goes Away for Grace and, at the client's idle check (30 s), in her own status
    menu too; moving the mouse brings her back for both, with one report, not one per move."""

    def fresh() -> BrowserContext:
        return browser.new_context(base_url=quick_away_url, viewport=DESKTOP_SIZE)

    contexts = [fresh(), fresh()]
    try:
        ada = contexts[0].new_page()
        frames: list[str] = []

        def watch(ws: WebSocket) -> None:
            ws.on("framesent", lambda payload: frames.append(str(payload)))

        ada.on("websocket", watch)
        login(ada, "ada")
        grace = login(contexts[1].new_page(), "grace")
        # Ada reads something (so she has a read pointer), then leaves her mouse alone.
        open_direct(ada, "Grace", "Grace Hopper")
        box = open_direct(grace, "Ada", "Ada Lovelace")
        header = box.locator(".room-head .sub")
        status = ada.get_by_label("Status")
        expect(header).to_contain_text("Away", timeout=20_000)
        expect(status).to_have_value("away", timeout=45_000)
        shoot(ada, "desktop-away-own-menu")

        # Moving the mouse over the page is activity: Online again, for her and for Grace.
        before = len(frames)
        for x in range(8):
            ada.mouse.move(100 + x * 20, 200 + x * 10)
        expect(header).to_contain_text("Online", timeout=20_000)
        expect(status).to_have_value("online")
        reports = [f for f in frames[before:] if '"type":"read"' in f.replace(" ", "")]
        assert len(reports) == 1, reports  # throttled: not one per mousemove
    finally:
        for context in contexts:
            context.close()
