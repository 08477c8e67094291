"""Integrations in the web UI: Bots and Outgoing webhooks on the Administration page (made,
listed, their token or secret shown once, revoked), a room's Incoming webhooks in its Manage panel,
a webhook's post arriving live under its label with the BOT badge, and link preview cards.

Messages here carry no links: the previews are served to the page by the test (the server's
fetcher is tested in tests/previews/, and end to end in the browser in test_link_previews_live.py),
so the test server never looks anything up.

Every request goes to the test's own server on 127.0.0.1 (httpx for what a CI job or a bot would
send). First in the file: the screenshots under docs/screenshots/."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from playwright.sync_api import BrowserContext, Locator, Page, Route, expect

from tests.browser.conftest import DESKTOP, PHONE, ROOT, login
from tests.browser.helpers import (
    Person,
    Room,
    call,
    make_group,
    message,
    open_page,
    open_room,
    shoot,
    unique,
)

# A revoked token is refused by every worker within a second (API.md); this leaves room.
REVOKED_WITHIN = 5.0

pytestmark = pytest.mark.browser

DOCS = ROOT / "docs" / "screenshots"
Context = Callable[..., BrowserContext]
# A picture served by the test itself (Playwright answers the request: nothing leaves the machine).
PICTURE_URL = "https://127.0.0.1:9/og-image.png"


def gradient_png(size: int = 96) -> bytes:
    """A small blue-to-teal PNG (the preview's picture)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(
        b"\x00" + b"".join(bytes((40, 90 + y, 200 - x)) for x in range(size)) for y in range(size)
    )
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


PICTURE = gradient_png()


@pytest.fixture
def web() -> Iterator[httpx.Client]:
    """What a CI job or a bot uses: plain HTTP to the test server (loopback only)."""
    with httpx.Client(timeout=10) as client:
        yield client


def region(page: Page | Locator, name: str) -> Locator:
    return page.get_by_role("region", name=name)


def accept_dialogs(page: Page) -> list[str]:
    """Accepts every confirm() (Revoke, Delete), recording its question."""
    seen: list[str] = []

    def handle(dialog: Any) -> None:
        seen.append(dialog.message)
        dialog.accept()

    page.on("dialog", handle)
    return seen


def create_bot(admin: Page, name: str) -> str:
    """Administration → Bots → Create bot; returns the token the page shows once."""
    bots = region(admin, "Bots")
    bots.get_by_label("Bot name").fill(name)
    bots.get_by_role("button", name="Create bot").click()
    once = region(bots, f"Token of {name}")
    expect(once).to_be_visible()
    expect(once).to_contain_text("will not be shown again")
    token = once.locator("code").inner_text().strip()
    assert len(token) >= 20
    return token


def create_incoming(admin: Page, box: Locator, name: str) -> str:
    """Manage → Incoming webhooks → Create webhook; returns the URL shown once."""
    manage = box.get_by_role("button", name="Manage")
    if manage.get_attribute("aria-expanded") != "true":
        manage.click()
    hooks = region(box, "Incoming webhooks")
    hooks.get_by_label("Webhook name").fill(name)
    hooks.get_by_role("button", name="Create webhook").click()
    once = region(hooks, f"URL of {name}")
    expect(once).to_contain_text("will not be shown again")
    url = once.locator("code").inner_text().strip()
    assert url.startswith(admin.url.split("/#")[0].rstrip("/") + "/api/v1/hooks/"), url
    expect(once.locator("pre")).to_contain_text("curl -X POST")
    expect(once.locator("pre")).to_contain_text(url)
    return url


def with_previews(page: Page, room: Room, previews: dict[str, list[dict[str, Any]]]) -> None:
    """Serves the room's messages with `previews` set (by message id) and answers the preview
    picture's request itself: the server's fetcher is not under test here, only the cards."""

    def messages(route: Route) -> None:
        response = route.fetch()
        data = response.json()
        for m in data:
            m["previews"] = previews.get(m["id"], m.get("previews") or [])
        route.fulfill(response=response, body=json.dumps(data))

    page.route(f"**/api/v1/rooms/{room.id}/messages**", messages)
    page.route(PICTURE_URL, lambda route: route.fulfill(body=PICTURE, content_type="image/png"))


# Shown in the docs' screenshots: plain words (test_preview_cards passes markup to prove it
# stays text).
PLAIN_DESCRIPTION = "Faster sync, bots and webhooks, and a new look."
MARKUP_DESCRIPTION = "Faster sync, <b>bots</b> and webhooks, and a new look."


def preview_of(
    url: str = "https://docs.example.org/releases/2.0", description: str = PLAIN_DESCRIPTION
) -> list[Any]:
    return [
        {
            "url": url,
            "title": "Release 2.0 — what changed",
            "description": description,
            "image_url": PICTURE_URL,
        }
    ]


# First in the file, so the pictures show few other tests' bots.
def test_screenshots(person: Person, new_context: Context, web: httpx.Client) -> None:
    """Desktop and phone pictures of the Administration page (a bot and an outgoing webhook
    listed) and of a room with a webhook's post and a link preview card."""
    DOCS.mkdir(parents=True, exist_ok=True)
    ada = person("ada")
    open_page(ada, "Administration")
    create_bot(ada, "Deploy Bot")
    region(ada, "Bots").get_by_role("button", name="Done").click()
    made = call(
        ada,
        "POST",
        "/webhooks",
        {"url": "http://127.0.0.1:9/parlour-events", "events": ["message.created"]},
    )
    assert made.status == 201, made.text()

    room = make_group(ada, ["grace", "alan"], "Releases")
    box = open_room(ada, room)
    url = create_incoming(ada, box, "CI")
    build = {"text": "Build **#512** passed on `main` ✅", "username": "Jenkins"}
    posted = web.post(url, json=build)
    assert posted.status_code == 200, posted.text
    notes = {"content": "Release notes are out, see the docs"}
    note = call(ada, "POST", f"/rooms/{room.id}/messages", notes)
    assert note.status == 201, note.text()
    note_id = str(note.json()["id"])

    for size, viewport in [("desktop", DESKTOP), ("phone", PHONE)]:
        page = login(new_context(viewport=viewport).new_page(), "ada")
        open_page(page, "Administration")
        bots = region(page, "Bots")
        expect(bots.get_by_text("Deploy Bot")).to_be_visible()
        bots.scroll_into_view_if_needed()
        page.evaluate(
            """() => {
              const el = document.querySelector('#admin-bots');
              const bar = document.querySelector('.toolbar')?.getBoundingClientRect().height || 0;
              window.scrollTo(0, el.getBoundingClientRect().top + window.scrollY - bar - 12);
            }"""
        )
        page.screenshot(path=str(DOCS / f"{size}-admin-integrations.png"))

        with_previews(page, room, {note_id: preview_of()})
        box = open_room(page, room)
        expect(message(box, "Build").locator(".author")).to_have_text("Jenkins")
        expect(box.locator(".link-card img")).to_be_visible()
        page.mouse.move(0, 0)
        page.screenshot(path=str(DOCS / f"{size}-webhook-post.png"))
        if size == "desktop":  # the dark theme, for a look (not kept in docs)
            page.emulate_media(color_scheme="dark")
            shoot(page, "integrations-dark-room")
            page.keyboard.press("Escape")
            shoot(page, "integrations-dark-admin")


def token_refused_soon(web: httpx.Client, base: str, token: str) -> bool:
    """Whether the token gets 401 within REVOKED_WITHIN seconds. The server runs a worker per
    core: the one that revoked it forgets it at once, the others when the revocation reaches them
    through the event stream (within a second, API.md): until then they still know the token."""
    deadline = time.monotonic() + REVOKED_WITHIN
    while True:
        answer = web.get(f"{base}/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})
        if answer.status_code == 401:
            return True
        assert answer.status_code == 200, answer.text
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)  # the next request; the revocation is on its way, not awaited here


def test_admin_creates_a_bot_sees_its_token_once_and_revokes_it(
    person: Person, web: httpx.Client
) -> None:
    ada = person("ada")
    asked = accept_dialogs(ada)
    open_page(ada, "Administration")
    name = unique("Build Bot")
    token = create_bot(ada, name)
    bots = region(ada, "Bots")
    line = bots.locator("tr").filter(has_text=name)
    expect(line.get_by_role("img", name="bot")).to_have_text("BOT")

    # The token is the bot's: it reads the API as a bot.
    base = ada.url.split("/#")[0].rstrip("/")
    me = web.get(f"{base}/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200, me.text
    assert me.json()["full_name"] == name
    assert me.json()["is_bot"] is True

    # Done hides it, and nothing shows it again (a reload lists the bot, not its token).
    region(bots, f"Token of {name}").get_by_role("button", name="Done").click()
    expect(region(bots, f"Token of {name}")).to_have_count(0)
    ada.reload()
    line = region(ada, "Bots").locator("tr").filter(has_text=name)
    expect(line).to_be_visible()
    assert token not in ada.content()

    # The bot is marked wherever people are picked: the Users list and people search.
    users = region(ada, "Users")
    users.get_by_label("Filter people").fill(name)
    expect(users.locator("tr").filter(has_text=name).get_by_role("img", name="bot")).to_be_visible()

    line.get_by_role("button", name="Revoke").click()
    expect(line).to_have_count(0)
    assert "Revoke" in asked[0]
    assert token_refused_soon(web, base, token)
    ada.reload()
    expect(region(ada, "Bots")).to_be_visible()
    expect(region(ada, "Bots").locator("tr").filter(has_text=name)).to_have_count(0)


def test_room_admin_makes_an_incoming_webhook_and_its_posts_arrive_live(
    person: Person, web: httpx.Client
) -> None:
    ada = person("ada")
    grace = person("grace")
    asked = accept_dialogs(ada)
    room = make_group(ada, ["grace"], "Builds")
    box = open_room(ada, room)
    watcher = open_room(grace, room)

    url = create_incoming(ada, box, "CI")
    hooks = region(box, "Incoming webhooks")
    expect(hooks.locator("li").filter(has_text="CI")).to_be_visible()
    # The webhook's bot joined the room: listed among the people, marked BOT.
    people = box.locator("ul.members li").filter(has_text="CI")
    expect(people.get_by_role("img", name="bot")).to_be_visible()

    # A CI job posts Slack's shape: it shows live, under its label, marked BOT, Markdown rendered.
    text = unique("Build passed")
    answer = web.post(url, json={"text": f"**{text}** on `main`", "username": "Jenkins"})
    assert answer.status_code == 200, answer.text
    posted = message(watcher, text)
    expect(posted.locator(".author")).to_have_text("Jenkins")
    expect(posted.locator(".msg-head").get_by_role("img", name="bot")).to_have_text("BOT")
    expect(posted.locator("strong")).to_have_text(text)
    # Without a username: the webhook's own name.
    plain = unique("Deploy started")
    assert web.post(url, json={"text": plain}).status_code == 200
    expect(message(watcher, plain).locator(".author")).to_have_text("CI")
    expect(message(watcher, plain).get_by_role("img", name="bot")).to_be_visible()

    # Grace is no admin of the group: her Manage has no webhooks.
    watcher.get_by_role("button", name="Manage").click()
    expect(watcher.get_by_role("heading", name="People")).to_be_visible()
    expect(region(watcher, "Incoming webhooks")).to_have_count(0)

    # Revoke: the URL answers 404 and posts nothing.
    hooks.locator("li").filter(has_text="CI").get_by_role("button", name="Revoke").click()
    expect(hooks.get_by_text("None yet.")).to_be_visible()
    assert "Revoke" in asked[0]
    assert web.post(url, json={"text": "too late"}).status_code == 404
    # Reopening Manage loads the list again from the server: still none.
    box.get_by_role("button", name="Manage").click()
    box.get_by_role("button", name="Manage").click()
    expect(region(box, "Incoming webhooks").get_by_text("None yet.")).to_be_visible()


class Receiver:
    """An outgoing webhook's receiver on 127.0.0.1: answers 200 and keeps what it got."""

    def __init__(self) -> None:
        self.got: list[tuple[bytes, str]] = []  # (body, X-Parlour-Signature)
        self.arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.arrived:
                    receiver.got.append((body, self.headers.get("X-Parlour-Signature", "")))
                    receiver.arrived.notify_all()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/events"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait_for(self, text: str, timeout: float = 20) -> tuple[bytes, str]:
        """The first delivery whose body contains text (waits on the condition, with a deadline)."""
        with self.arrived:
            found = self.arrived.wait_for(
                lambda: next((g for g in self.got if text.encode() in g[0]), None), timeout
            )
        assert found, f"no delivery with {text!r}"
        return found

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    made = Receiver()
    try:
        yield made
    finally:
        made.close()


def test_outgoing_webhook_delivers_and_the_admin_sees_its_status(
    person: Person, receiver: Receiver
) -> None:
    """Made in the page; its secret (shown once) signs what the receiver gets; the list then
    shows the receiver's answer."""
    ada = person("ada")
    open_page(ada, "Administration")
    hooks = region(ada, "Outgoing webhooks")
    hooks.get_by_label("Receiver URL").fill(receiver.url)
    hooks.get_by_role("button", name="Create webhook").click()  # message.created is ticked
    once = region(hooks, f"Signing secret for {receiver.url}")
    secret = once.locator("code").inner_text().strip()
    line = hooks.locator("tr").filter(has_text=receiver.url)
    expect(line).to_contain_text("Not delivered yet")

    # A webhook naming no rooms hears the organization's channels (never groups or DMs).
    made = call(
        ada, "POST", "/rooms", {"type": "channel", "name": unique("hooked"), "member_ids": []}
    )
    assert made.status == 201, made.text()
    room = Room(str(made.json()["id"]), str(made.json()["name"]))
    text = unique("Delivered")
    assert call(ada, "POST", f"/rooms/{room.id}/messages", {"content": text}).status == 201
    body, signed = receiver.wait_for(text)
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    assert signed == f"sha256={expected}"
    assert json.loads(body)["type"] == "message.created"

    # The server records the answer just after it: wait for it there, then look at the page.
    ada.wait_for_function(
        """async (url) => {
          const hooks = await (await fetch('/api/v1/webhooks')).json();
          return hooks.some((w) => w.url === url && w.last_status === 200);
        }""",
        arg=receiver.url,
        polling=200,
    )
    ada.reload()
    line = region(ada, "Outgoing webhooks").locator("tr").filter(has_text=receiver.url)
    expect(line.locator(".hook-status")).to_contain_text("HTTP 200")
    expect(line.locator(".hook-error")).to_have_count(0)
    # Leave nothing delivering to a receiver that is about to stop.
    hook_id = line.get_attribute("data-hook")
    assert call(ada, "DELETE", f"/webhooks/{hook_id}").status == 204


def test_admin_creates_and_deletes_an_outgoing_webhook(person: Person) -> None:
    ada = person("ada")
    asked = accept_dialogs(ada)
    open_page(ada, "Administration")
    hooks = region(ada, "Outgoing webhooks")
    expect(hooks.get_by_role("button", name="Create webhook")).to_be_visible()

    # Nothing chosen: told at the fields, nothing sent.
    hooks.get_by_label("Receiver URL").fill("not a url")
    hooks.get_by_role("checkbox", name=re.compile("message.created")).uncheck()
    hooks.get_by_role("button", name="Create webhook").click()
    expect(hooks.get_by_label("Receiver URL")).to_have_accessible_description(
        re.compile("http", re.I)
    )
    expect(hooks.get_by_text("Choose at least one event.")).to_be_visible()

    target = f"http://127.0.0.1:9/{unique('events', '-')}"
    hooks.get_by_label("Receiver URL").fill(target)
    hooks.get_by_role("checkbox", name=re.compile("message.created")).check()
    hooks.get_by_role("checkbox", name=re.compile("room.member_added")).check()
    hooks.get_by_role("button", name="Create webhook").click()
    once = region(hooks, f"Signing secret for {target}")
    expect(once).to_contain_text("will not be shown again")
    secret = once.locator("code").inner_text().strip()
    assert len(secret) >= 16

    line = hooks.locator("tr").filter(has_text=target)
    expect(line).to_contain_text("message.created")
    expect(line).to_contain_text("room.member_added")
    listed = [w for w in call(ada, "GET", "/webhooks").json() if w["url"] == target]
    assert len(listed) == 1
    assert sorted(listed[0]["events"]) == ["message.created", "room.member_added"]
    assert "secret" not in listed[0]

    ada.reload()
    line = region(ada, "Outgoing webhooks").locator("tr").filter(has_text=target)
    expect(line).to_be_visible()
    assert secret not in ada.content()
    line.get_by_role("button", name="Delete").click()
    expect(line).to_have_count(0)
    assert target in asked[0]
    assert not [w for w in call(ada, "GET", "/webhooks").json() if w["url"] == target]


def test_preview_cards(person: Person, web: httpx.Client) -> None:
    """A message's previews as cards: the title a safe link, the description as text, the
    picture only from https; and a message.updated that brings previews shows them at once."""
    ada = person("ada")
    room = make_group(ada, ["grace"], "Links")
    first = call(ada, "POST", f"/rooms/{room.id}/messages", {"content": "See the release notes"})
    second = call(ada, "POST", f"/rooms/{room.id}/messages", {"content": "Older page here"})
    first_id, second_id = str(first.json()["id"]), str(second.json()["id"])
    plain = [
        {
            "url": "http://b.example/",
            "title": "<script>alert(1)</script>",
            "description": None,
            "image_url": "http://b.example/insecure.png",
        }
    ]
    marked_up = preview_of(description=MARKUP_DESCRIPTION)
    with_previews(ada, room, {first_id: marked_up, second_id: plain})
    box = open_room(ada, room)

    card = message(box, "See").locator(".link-card")
    link = card.get_by_role("link", name="Release 2.0 — what changed")
    expect(link).to_have_attribute("href", "https://docs.example.org/releases/2.0")
    expect(link).to_have_attribute("target", "_blank")
    expect(link).to_have_attribute("rel", "noopener noreferrer nofollow")
    expect(card.locator(".link-desc")).to_have_text(MARKUP_DESCRIPTION)  # as text, not markup
    expect(card.locator(".link-desc b")).to_have_count(0)
    image = card.locator("img")
    expect(image).to_have_attribute("referrerpolicy", "no-referrer")
    expect(image).to_have_attribute("loading", "lazy")
    expect(image).to_have_attribute("alt", "")
    assert image.evaluate("(img) => img.complete && img.naturalWidth") == 96

    other = message(box, "Older page").locator(".link-card")
    expect(other.get_by_role("link", name="<script>alert(1)</script>")).to_be_visible()
    expect(other.locator("img")).to_have_count(0)  # not https: no picture
    assert box.locator(".link-card script").count() == 0

    # Live: the store applies a message.updated carrying previews (as the server's fetcher
    # announces them) and the log shows the card without a reload.
    fresh = call(ada, "POST", f"/rooms/{room.id}/messages", {"content": "Live one"})
    fresh_msg = fresh.json()
    expect(message(box, "Live")).to_be_visible()
    expect(message(box, "Live").locator(".link-card")).to_have_count(0)
    fresh_msg["previews"] = [
        {"url": "https://c.example/", "title": "C", "description": "d", "image_url": None}
    ]
    ada.evaluate(
        """async (m) => {
          const store = await import('/static/js/store.js');
          store.applyEvent({ type: 'message.updated', message: m });
        }""",
        fresh_msg,
    )
    expect(message(box, "Live").get_by_role("link", name="C", exact=True)).to_be_visible()
