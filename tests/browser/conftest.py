"""Browser tests: a demo-loaded `parlour serve` process and Debian's chromium through Playwright.

Run separately from the asyncio suite:
    uv run pytest tests/browser -q -m browser -p no:asyncio
Always SQLite in a fresh data dir (PARLOUR_DATABASE_URL is removed from the server's env).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Dialog,
    Page,
    Playwright,
    expect,
    sync_playwright,
)

from tests.support import free_port, wait_healthy

DEMO_PASSWORD = "parlour-demo"
CHROMIUM = os.environ.get("PARLOUR_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "screenshots"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}

expect.set_options(timeout=10_000)


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    """This run uses `-p no:asyncio`; declare pytest-asyncio's ini keys from pyproject.toml so
    `filterwarnings = error` does not turn "Unknown config option" into a failure."""
    if pluginmanager.has_plugin("asyncio"):
        return
    for key in (
        "asyncio_mode",
        "asyncio_default_fixture_loop_scope",
        "asyncio_default_test_loop_scope",
    ):
        parser.addini(key, "pytest-asyncio option (plugin disabled in the browser run)")


@contextmanager
def demo_server(extra_env: Mapping[str, str] | None = None) -> Iterator[str]:
    """A demo-loaded `parlour serve` in a fresh data dir; yields its URL. extra_env adds settings
    (a module that needs a server of its own, e.g. with PARLOUR_OUTBOUND_ALLOW_NETWORKS)."""
    with tempfile.TemporaryDirectory(prefix="parlour-browser-") as tmp:
        env = dict(os.environ)
        env.pop("PARLOUR_DATABASE_URL", None)
        env.update(
            {
                "PARLOUR_PRESENCE_GRACE_SECONDS": "0.5",
                "PARLOUR_STREAM_POLL_SECONDS": "0.5",
                "PARLOUR_LIMIT_LOGIN_FAILURES_PER_IP": "1000",
                # Links posted by tests must never be fetched (a module that tests previews
                # turns them on with its own allow-list through extra_env).
                "PARLOUR_LINK_PREVIEWS": "false",
                **(extra_env or {}),
            }
        )
        subprocess.run(
            [sys.executable, "-m", "parlour", "demo", "--data-dir", tmp],
            check=True,
            env=env,
            stdout=subprocess.DEVNULL,
        )
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        with (Path(tmp) / "server.log").open("ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "parlour", "serve", "--port", str(port), "--data-dir", tmp],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        try:
            wait_healthy(url, process)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture(scope="session")
def base_url() -> Iterator[str]:
    with demo_server() as url:
        yield url


@pytest.fixture(scope="session")
def playwright_session() -> Iterator[Playwright]:
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="session")
def browser(playwright_session: Playwright) -> Iterator[Browser]:
    browser = playwright_session.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    try:
        yield browser
    finally:
        browser.close()


@pytest.fixture
def new_context(browser: Browser, base_url: str) -> Iterator[Callable[..., BrowserContext]]:
    """Makes fresh browser contexts (separate cookies/storage: separate people); closed after."""
    contexts: list[BrowserContext] = []

    # Any: the keyword arguments are Browser.new_context's own, forwarded as given.
    def make(**kwargs: Any) -> BrowserContext:
        kwargs.setdefault("viewport", DESKTOP)
        context = browser.new_context(base_url=base_url, **kwargs)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


def fail_on_dialog(page: Page) -> list[str]:
    """Records (and dismisses) any alert/confirm/prompt; tests assert the list stays empty."""
    seen: list[str] = []

    def handler(dialog: Dialog) -> None:
        seen.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", handler)
    return seen


def login(page: Page, who: str) -> Page:
    """Logs in as a demo user (who = "ada", "grace", ...) and waits for the toolbar."""
    page.goto("/")
    page.get_by_label("Email").fill(f"{who}@demo.parlour")
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("button", name="Chat", exact=True)).to_be_visible()
    expect(page.locator(".conn")).to_have_text("Connected")
    return page


@pytest.fixture
def person(new_context: Callable[..., BrowserContext]) -> Callable[..., Page]:
    """person("ada") -> a logged-in page in its own context."""

    def make(who: str, **kwargs: object) -> Page:
        page = new_context(**kwargs).new_page()
        return login(page, who)

    return make
