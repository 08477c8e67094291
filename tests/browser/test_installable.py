"""The installable app and reaching people who are away, in a real browser: the web app manifest
(linked, served, parsed by Chromium, its icons there), the service worker (registered, active over
the whole app, caching nothing), the E-mail notifications switch, and Enable / Disable push
notifications end to end against the server.

Headless Chromium has no push service, so `PushManager.subscribe` is replaced (an init script)
by one answering a subscription with a real P-256 key and an endpoint of the test's choosing; the
server takes http://127.0.0.1 endpoints because this module's server runs with
PARLOUR_OUTBOUND_ALLOW_NETWORKS=127.0.0.1/32 (a server of its own: the shared one keeps the guard).

Every wait is Playwright's auto-waiting `expect()`; nothing sleeps.
"""

from __future__ import annotations

import base64
import json
import secrets
import struct
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from playwright.sync_api import BrowserContext, ConsoleMessage, Page, Route, expect

from tests.browser.conftest import DESKTOP, demo_server, login
from tests.browser.helpers import call, open_page

pytestmark = pytest.mark.browser

EMAIL_LABEL = "E-mail me about unread direct messages and mentions"
PUSH_ON = "Push notifications are on in this browser"
PUSH_OFF = "Push notifications are off in this browser"
ENABLE = "Enable push notifications"
DISABLE = "Disable push notifications"

# Replaces the Push API's subscribe/getSubscription (headless Chromium has no push service): the
# subscription is `window.__pushStub` ({endpoint, p256dh, auth}), remembered in sessionStorage so a
# reload still finds it; what the page asked for is recorded in `window.__pushCalls`.
PUSH_STUB = """
(() => {
  const cfg = window.__pushStub;
  const KEY = 'test.push.subscribed';
  const calls = (window.__pushCalls = { subscribe: [], unsubscribed: 0 });
  const make = () => ({
    endpoint: cfg.endpoint,
    expirationTime: null,
    options: { userVisibleOnly: true, applicationServerKey: null },
    getKey: () => null,
    toJSON: () => ({ endpoint: cfg.endpoint, expirationTime: null,
                     keys: { p256dh: cfg.p256dh, auth: cfg.auth } }),
    unsubscribe: async () => {
      sessionStorage.removeItem(KEY);
      calls.unsubscribed += 1;
      return true;
    },
  });
  PushManager.prototype.subscribe = async function (options) {
    const key = options.applicationServerKey;
    const bytes = key instanceof ArrayBuffer ? new Uint8Array(key)
      : new Uint8Array(key.buffer, key.byteOffset, key.byteLength);
    calls.subscribe.push({ userVisibleOnly: options.userVisibleOnly, key: Array.from(bytes) });
    sessionStorage.setItem(KEY, '1');
    return make();
  };
  PushManager.prototype.getSubscription = async function () {
    return sessionStorage.getItem(KEY) ? make() : null;
  };
})();
"""

WORKER = """async () => {
  const reg = await navigator.serviceWorker.ready;
  return { script: reg.active.scriptURL, scope: reg.scope, state: reg.active.state };
}"""


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    """This module's own server (overrides the shared one for its tests): push endpoints on
    127.0.0.1 pass the outbound guard, as an intranet's would."""
    with demo_server({"PARLOUR_OUTBOUND_ALLOW_NETWORKS": "127.0.0.1/32"}) as url:
        yield url


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def b64url_bytes(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def browser_subscription(endpoint: str) -> dict[str, Any]:
    """What a browser's PushSubscription.toJSON() gives: a real uncompressed P-256 public key and
    a 16-byte auth secret."""
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    p256dh = key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    return {
        "endpoint": endpoint,
        "expirationTime": None,
        "keys": {"p256dh": b64url(p256dh), "auth": b64url(secrets.token_bytes(16))},
    }


def errors_of(page: Page) -> list[str]:
    """Console errors and uncaught exceptions of the page, as they come."""
    seen: list[str] = []

    def note(msg: ConsoleMessage) -> None:
        if msg.type == "error":
            seen.append(msg.text)

    page.on("console", note)
    page.on("pageerror", lambda err: seen.append(str(err)))
    return seen


def push_page(
    new_context: Callable[..., BrowserContext], who: str, subscription: dict[str, Any]
) -> Page:
    """A logged-in page whose browser allows notifications and answers `subscription` to
    PushManager.subscribe."""
    context = new_context()
    context.grant_permissions(["notifications"])
    page = context.new_page()
    stub = {
        "endpoint": subscription["endpoint"],
        "p256dh": subscription["keys"]["p256dh"],
        "auth": subscription["keys"]["auth"],
    }
    page.add_init_script(f"window.__pushStub = {json.dumps(stub)};\n{PUSH_STUB}")
    return login(page, who)


def preferences(page: Page) -> None:
    open_page(page, "Preferences")
    expect(page.get_by_role("heading", name="When you are away")).to_be_visible()


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


# ---- installable ------------------------------------------------------------------------------


def test_manifest_is_linked_served_and_parsed(new_context: Callable[..., BrowserContext]) -> None:
    page = new_context().new_page()
    errors = errors_of(page)
    page.goto("/")
    expect(page.get_by_label("Email")).to_be_visible()
    expect(page.locator("link[rel=manifest]")).to_have_attribute("href", "/manifest.webmanifest")
    expect(page.locator("meta[name=theme-color]").first).to_have_attribute("content", "#ffffff")
    touch = page.locator("link[rel=apple-touch-icon]").get_attribute("href")
    assert touch is not None

    answer = page.request.get("/manifest.webmanifest")
    assert answer.status == 200
    assert answer.headers["content-type"].startswith("application/manifest+json")
    manifest = json.loads(answer.text())
    assert manifest["name"] == "Parlour"
    assert manifest["short_name"]
    assert (manifest["start_url"], manifest["scope"], manifest["display"]) == (
        "/",
        "/",
        "standalone",
    )
    # The toolbar's and the page's colours (light theme), so a splash screen matches the app.
    assert manifest["theme_color"] == "#ffffff"
    assert manifest["background_color"] == "#f6f7f9"

    pngs: dict[str, tuple[int, int]] = {}
    purposes: set[str] = set()
    for entry in [*manifest["icons"], {"src": touch, "type": "image/png", "sizes": "180x180"}]:
        icon = page.request.get(entry["src"])
        assert icon.status == 200, entry
        assert icon.headers["content-type"].startswith(entry["type"]), entry
        purposes.add(entry.get("purpose", "any"))
        if entry["type"] == "image/png":
            size = png_size(icon.body())
            assert entry["sizes"] == f"{size[0]}x{size[1]}", entry
            assert len(icon.body()) < 20_000, entry  # small: flat colours
            pngs[entry["src"]] = size
        else:
            assert entry["sizes"] == "any"
            assert icon.text().lstrip().startswith("<svg")
    assert {(192, 192), (512, 512)} <= set(pngs.values())
    assert purposes == {"any", "maskable"}

    # Chromium itself fetches and parses it (the CSP allows manifest-src 'self').
    cdp = page.context.new_cdp_session(page)
    parsed = cdp.send("Page.getAppManifest")
    assert parsed["url"].endswith("/manifest.webmanifest")
    assert parsed["errors"] == [], parsed["errors"]
    assert json.loads(parsed["data"])["name"] == "Parlour"
    assert errors == []


def test_service_worker_is_active_over_the_app_and_caches_nothing(
    new_context: Callable[..., BrowserContext], base_url: str
) -> None:
    page = new_context().new_page()
    errors = errors_of(page)
    login(page, "alan")
    worker = page.evaluate(WORKER)
    assert worker["script"] == f"{base_url}/sw.js"
    assert worker["scope"] == f"{base_url}/"
    assert worker["state"] in {"activating", "activated"}

    # From the next load on, the worker controls the page: every request passes it.
    page.reload()
    expect(page.locator(".conn")).to_have_text("Connected")
    assert page.evaluate("() => navigator.serviceWorker.controller?.scriptURL") == worker["script"]
    # Nothing is kept: no Cache Storage at all, and what the server says now is what the page sees.
    assert page.evaluate("async () => await caches.keys()") == []
    renamed = call(page, "PATCH", "/users/me", {"full_name": "Alan M. Turing"})
    assert renamed.status == 200, renamed.text()
    try:
        seen = page.evaluate(
            "async () => (await (await fetch('/api/v1/users/me')).json()).full_name"
        )
        assert seen == "Alan M. Turing"
        page.reload()
        preferences(page)
        expect(page.get_by_label("Full name")).to_have_value("Alan M. Turing")
        expect(page.get_by_text("Signed in as alan@demo.parlour")).to_be_visible()
    finally:
        call(page, "PATCH", "/users/me", {"full_name": "Alan Turing"})
    assert page.evaluate("async () => await caches.keys()") == []
    # The worker's script is revalidated on every load, so a new version reaches everyone.
    script = page.request.get("/sw.js")
    assert script.headers["content-type"].startswith("text/javascript")
    assert script.headers["cache-control"] == "no-cache"
    assert errors == []


# ---- e-mail notifications --------------------------------------------------------------------


def test_email_notifications_switch_round_trips(person: Callable[..., Page]) -> None:
    page = person("katherine")
    errors = errors_of(page)
    preferences(page)
    email = page.get_by_role("checkbox", name=EMAIL_LABEL)
    expect(email).to_be_checked()  # the default: direct messages and mentions

    email.uncheck()
    expect(page.get_by_role("status").filter(has_text="Saved. No more e-mails.")).to_be_visible()
    prefs = call(page, "GET", "/users/me").json()["preferences"]
    assert prefs["email_notifications"] == "never"
    assert prefs["message_preview"] is True  # only the key that changed was sent

    page.reload()
    preferences(page)
    expect(email).not_to_be_checked()

    email.check()
    expect(page.get_by_role("status").filter(has_text="Saved. E-mails are on.")).to_be_visible()
    prefs = call(page, "GET", "/users/me").json()["preferences"]
    assert prefs["email_notifications"] == "direct_and_mentions"
    assert errors == []

    # Refused: the switch goes back and says why.
    def refuse(route: Route) -> None:
        if route.request.method != "PATCH":
            route.fallback()
            return
        body = {"error": {"code": "locked", "message": "Preferences are locked", "details": {}}}
        route.fulfill(status=409, content_type="application/json", body=json.dumps(body))

    page.route("**/api/v1/users/me", refuse)
    email.uncheck()
    expect(page.get_by_role("alert").filter(has_text="Preferences are locked")).to_be_visible()
    expect(email).to_be_checked()
    page.unroute("**/api/v1/users/me", refuse)
    assert call(page, "GET", "/users/me").json()["preferences"]["email_notifications"] == (
        "direct_and_mentions"
    )


# ---- push -------------------------------------------------------------------------------------


def test_enable_and_disable_push_notifications(
    new_context: Callable[..., BrowserContext],
) -> None:
    subscription = browser_subscription(f"http://127.0.0.1:9/push/{secrets.token_hex(8)}")
    page = push_page(new_context, "grace", subscription)
    errors = errors_of(page)
    me = call(page, "GET", "/users/me").json()
    preferences(page)
    enable = page.get_by_role("button", name=ENABLE, exact=True)
    disable = page.get_by_role("button", name=DISABLE, exact=True)
    expect(disable).to_be_hidden()

    enable.click()
    expect(page.get_by_role("status").filter(has_text=PUSH_ON)).to_be_visible()
    expect(disable).to_be_focused()
    expect(enable).to_be_hidden()

    # The browser was asked for a user-visible subscription with the server's VAPID key.
    public_key = call(page, "GET", "/push/key").json()["public_key"]
    asked = page.evaluate("() => window.__pushCalls.subscribe")
    assert len(asked) == 1
    assert asked[0]["userVisibleOnly"] is True
    assert bytes(asked[0]["key"]) == b64url_bytes(public_key)
    # The server has it: the same subscription again is the same row.
    saved_id = page.evaluate(f"() => localStorage.getItem('parlour.push.{me['id']}')")
    assert saved_id
    again = call(page, "POST", "/push/subscriptions", subscription)
    assert again.status == 201, again.text()
    assert again.json()["id"] == saved_id

    # A reload still says so (this browser's subscription, and the id the server gave).
    page.reload()
    preferences(page)
    expect(page.get_by_role("status").filter(has_text=PUSH_ON)).to_be_visible()

    with page.expect_request(
        lambda r: r.method == "DELETE" and r.url.endswith(f"/push/subscriptions/{saved_id}")
    ) as deleted:
        disable.click()
    assert deleted.value.response() is not None
    expect(page.get_by_role("status").filter(has_text=PUSH_OFF)).to_be_visible()
    expect(enable).to_be_focused()
    assert page.evaluate("() => window.__pushCalls.unsubscribed") == 1
    assert page.evaluate(f"() => localStorage.getItem('parlour.push.{me['id']}')") is None
    gone = call(page, "DELETE", f"/push/subscriptions/{saved_id}")
    assert gone.status == 404, gone.text()
    assert errors == []


def test_refused_endpoint_shows_the_servers_reason(
    new_context: Callable[..., BrowserContext],
) -> None:
    # A private address the guard refuses without connecting (only 127.0.0.1 is allowed here).
    subscription = browser_subscription("https://10.0.0.1/push")
    refused = call(
        login(new_context().new_page(), "linus"), "POST", "/push/subscriptions", subscription
    )
    assert refused.status == 422
    assert refused.json()["error"]["code"] == "invalid_endpoint"
    reason = refused.json()["error"]["message"]

    page = push_page(new_context, "linus", subscription)
    preferences(page)
    page.get_by_role("button", name=ENABLE, exact=True).click()
    expect(page.get_by_role("alert").filter(has_text=reason)).to_be_visible()
    expect(page.get_by_role("status").filter(has_text=PUSH_ON)).to_have_count(0)
    expect(page.get_by_role("button", name=ENABLE, exact=True)).to_be_enabled()
    # The browser's subscription, which the server will not use, was dropped again.
    assert page.evaluate("() => window.__pushCalls.unsubscribed") == 1


def test_push_without_support_or_permission_says_so(
    new_context: Callable[..., BrowserContext],
) -> None:
    # A browser without the Push API.
    page = new_context().new_page()
    page.add_init_script("delete window.PushManager;")
    login(page, "margaret")
    preferences(page)
    expect(page.get_by_text("This browser cannot receive push notifications.")).to_be_visible()
    expect(page.get_by_role("button", name=ENABLE, exact=True)).to_be_disabled()

    # The person (or the browser) says no when asked.
    page = new_context(viewport=DESKTOP).new_page()
    page.add_init_script("Notification.requestPermission = async () => 'denied';")
    login(page, "margaret")
    preferences(page)
    page.get_by_role("button", name=ENABLE, exact=True).click()
    expect(page.get_by_role("alert").filter(has_text="Notifications are blocked")).to_be_visible()
    expect(page.get_by_role("status").filter(has_text=PUSH_ON)).to_have_count(0)
