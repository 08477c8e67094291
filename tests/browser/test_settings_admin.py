"""Preferences (profile, picture, password) and Administration (people: create, deactivate,
reactivate), group admins (Make admin / Remove admin) and membership lines in the log.

People changed here are made for the test (by Ada, the demo's admin), so the demo people other
tests rely on keep their names and passwords."""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Callable

import pytest
from playwright.sync_api import BrowserContext, FilePayload, Locator, Page, expect

from tests.browser.conftest import PHONE, fail_on_dialog
from tests.browser.helpers import (
    Person,
    call,
    make_group,
    open_page,
    open_room,
    unique,
    user_id,
)

pytestmark = pytest.mark.browser

Context = Callable[..., BrowserContext]


def png(width: int = 8, height: int = 8, rgb: tuple[int, int, int] = (31, 95, 191)) -> bytes:
    """A small solid-colour PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


FIRST_PASSWORD = "first-password-1"  # a test user's first password


def new_person(admin: Page, name: str = "Pat Example", password: str = FIRST_PASSWORD) -> str:
    """A new user of the demo organization (made by an admin); returns the email."""
    email = f"{unique('pat', '-')}@demo.parlour"
    made = call(admin, "POST", "/users", {"email": email, "full_name": name, "password": password})
    assert made.status == 201, made.text()
    return email


def login_form(page: Page, email: str, password: str) -> None:
    page.goto("/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def logged_in(new_context: Context, email: str, password: str, **kwargs: object) -> Page:
    page = new_context(**kwargs).new_page()
    login_form(page, email, password)
    expect(page.get_by_role("button", name="Chat", exact=True)).to_be_visible()
    return page


def refused(new_context: Context, email: str, password: str) -> None:
    page = new_context().new_page()
    login_form(page, email, password)
    expect(page.get_by_role("alert")).to_have_text("Wrong email or password.")


def section(page: Page, name: str) -> Locator:
    return page.get_by_role("region", name=name)


def test_rename_and_picture(person: Person, new_context: Context) -> None:
    admin = person("ada")
    email = new_person(admin)
    pat = logged_in(new_context, email, "first-password-1")
    open_page(pat, "Preferences")
    expect(pat.get_by_role("heading", name="Preferences", level=1)).to_be_visible()
    profile = section(pat, "Profile")
    name = unique("Patricia Renamed")
    profile.get_by_label("Full name").fill(name)
    profile.get_by_role("button", name="Save name").click()
    expect(profile.get_by_role("status").filter(has_text="Name saved.")).to_be_visible()
    expect(pat.get_by_role("button", name="Account")).to_contain_text(name)
    assert call(pat, "GET", "/users/me").json()["full_name"] == name

    # A picture: shown as an <img> named by the person, in the page and the toolbar.
    expect(profile.locator("img")).to_have_count(0)
    upload = profile.get_by_label("Profile picture file")
    upload.set_input_files(FilePayload(name="me.png", mimeType="image/png", buffer=png()))
    expect(profile.get_by_role("img", name=name)).to_be_visible()
    expect(pat.locator(f'header.toolbar img[alt="{name}"]')).to_have_count(1)
    url = call(pat, "GET", "/users/me").json()["avatar_url"]
    assert url
    expect(profile.get_by_role("img", name=name)).to_have_attribute("src", url)

    # Not an image: the server's refusal is told; the picture stays.
    upload.set_input_files(FilePayload(name="bad.png", mimeType="image/png", buffer=b"not a png"))
    expect(profile.get_by_role("alert")).to_contain_text("not an image")
    expect(profile.get_by_role("img", name=name)).to_be_visible()

    # Others see it where they see Pat: Ada's Administration list.
    open_page(admin, "Administration")
    expect(admin.locator(f'main img[alt="{name}"]')).to_be_visible()

    profile.get_by_role("button", name="Remove picture").click()
    expect(profile.get_by_role("img", name=name)).to_have_count(0)
    expect(profile.get_by_role("button", name="Remove picture")).to_be_hidden()
    assert call(pat, "GET", "/users/me").json()["avatar_url"] is None


def test_password_change(person: Person, new_context: Context) -> None:
    admin = person("ada")
    email = new_person(admin, password="first-password-1")
    pat = logged_in(new_context, email, "first-password-1")
    dialogs = fail_on_dialog(pat)
    open_page(pat, "Preferences")
    form = section(pat, "Password")

    # A wrong current password: the server's message beside the field, nothing changed.
    form.get_by_label("Current password").fill("not-my-password")
    form.get_by_label("New password", exact=True).fill("second-password-2")
    form.get_by_label("Repeat new password").fill("second-password-2")
    form.get_by_role("button", name="Change password").click()
    current = form.get_by_label("Current password")
    expect(current).to_have_accessible_description(re.compile("current password is wrong", re.I))

    current.fill("first-password-1")
    form.get_by_role("button", name="Change password").click()
    expect(form.get_by_role("status").filter(has_text="Password changed")).to_be_visible()
    expect(current).to_have_value("")
    expect(pat.locator(".conn")).to_have_text("Connected")  # this session goes on

    refused(new_context, email, "first-password-1")
    logged_in(new_context, email, "second-password-2")
    assert not dialogs


def test_admin_creates_deactivates_and_reactivates(person: Person, new_context: Context) -> None:
    ada = person("ada")
    dialogs = fail_on_dialog(ada)
    open_page(ada, "Administration")
    expect(ada.get_by_role("heading", name="Administration", level=1)).to_be_visible()
    create = section(ada, "Create user")
    email = f"{unique('new', '-')}@demo.parlour"
    name = unique("Nora New")
    create.get_by_label("Email").fill(email)
    create.get_by_label("Full name").fill(name)
    create.get_by_label("Password").fill("welcome-aboard-1")
    create.get_by_role("button", name="Create user").click()
    expect(create.get_by_role("status")).to_contain_text(f"Created {name}")
    users = section(ada, "Users")
    line = users.locator("tr").filter(has_text=email)
    expect(line).to_contain_text(name)
    expect(line).to_contain_text("Active")

    nora = logged_in(new_context, email, "welcome-aboard-1")
    expect(nora.get_by_role("link", name="Administration")).to_have_count(0)

    # The same email again: 409, told at the Email field.
    create.get_by_label("Email").fill(email)
    create.get_by_label("Full name").fill("Someone Else")
    create.get_by_label("Password").fill("welcome-aboard-2")
    create.get_by_role("button", name="Create user").click()
    expect(create.get_by_label("Email")).to_have_accessible_description(
        re.compile("already uses", re.I)
    )

    line.get_by_role("button", name="Deactivate").click()
    expect(line).to_contain_text("Deactivated")
    expect(line.get_by_role("button", name="Reactivate")).to_be_visible()
    refused(new_context, email, "welcome-aboard-1")
    # Her open session ends too (the server revokes it).
    expect(nora.get_by_role("button", name="Log in")).to_be_visible()

    # Reloaded, the list still has her (include_inactive), and she can come back.
    ada.reload()
    line = section(ada, "Users").locator("tr").filter(has_text=email)
    expect(line).to_contain_text("Deactivated")
    line.get_by_role("button", name="Reactivate").click()
    expect(line.get_by_role("button", name="Deactivate")).to_be_visible()
    logged_in(new_context, email, "welcome-aboard-1")
    assert not dialogs


def test_non_admins_see_no_administration(person: Person) -> None:
    grace = person("grace")
    expect(grace.get_by_role("link", name="Preferences")).to_be_visible()
    expect(grace.get_by_role("link", name="Administration")).to_have_count(0)
    grace.goto("/#/admin")
    expect(grace.get_by_text("Only administrators")).to_be_visible()
    expect(grace.get_by_role("button", name="Create user")).to_have_count(0)
    phone = person("grace", viewport=PHONE)
    phone.get_by_role("button", name="Menu").click()
    expect(phone.get_by_role("link", name="Preferences")).to_be_visible()
    expect(phone.get_by_role("link", name="Administration")).to_be_hidden()


def test_make_and_remove_group_admin_live(person: Person) -> None:
    ada = person("ada")
    grace = person("grace")
    dialogs = fail_on_dialog(ada) + fail_on_dialog(grace)
    room = make_group(ada, ["grace", "alan"], name="Admins")
    ada_box = open_room(ada, room)
    grace_box = open_room(grace, room)
    ada_box.get_by_role("button", name="Manage", exact=True).click()
    grace_box.get_by_role("button", name="Manage", exact=True).click()

    def member(box: Locator, full_name: str) -> Locator:
        return box.locator("ul.members > li").filter(has_text=full_name)

    # Grace is no admin: no admin controls for her yet.
    expect(member(grace_box, "Alan Turing").get_by_role("button")).to_have_count(0)
    member(ada_box, "Grace Hopper").get_by_role("button", name="Make admin").click()
    expect(member(ada_box, "Grace Hopper").locator(".tag")).to_have_text("admin")
    # Live on Grace's side (room.updated): she is admin now and gets the controls.
    expect(member(grace_box, "Grace Hopper").locator(".tag")).to_have_text("admin")
    expect(
        member(grace_box, "Alan Turing").get_by_role("button", name="Make admin")
    ).to_be_visible()

    member(grace_box, "Ada Lovelace").get_by_role("button", name="Remove admin").click()
    expect(member(ada_box, "Ada Lovelace").locator(".tag")).to_have_count(0)
    expect(member(ada_box, "Alan Turing").get_by_role("button")).to_have_count(0)

    # The last admin cannot step down.
    member(grace_box, "Grace Hopper").get_by_role("button", name="Remove admin").click()
    expect(grace_box.locator(".manage .field-error")).to_contain_text("at least one admin")
    expect(member(grace_box, "Grace Hopper").locator(".tag")).to_have_text("admin")
    assert not dialogs


def test_membership_lines_appear_live(person: Person) -> None:
    ada = person("ada")
    grace = person("grace")
    room = make_group(ada, ["grace"], name="Lines")
    grace_box = open_room(grace, room)
    log = grace_box.get_by_role("log")
    expect(grace_box.get_by_label("Message", exact=True)).to_be_visible()

    alan = user_id(ada, "alan")
    assert call(ada, "POST", f"/rooms/{room.id}/members", {"user_ids": [alan]}).status == 200
    line = log.locator("li.msg.system").filter(has_text="added Alan Turing")
    expect(line).to_be_visible()
    expect(line).to_contain_text(re.compile(r"^Ada Lovelace added Alan Turing · \d"))
    expect(line.get_by_role("button")).to_have_count(0)
    expect(line.locator(".avatar")).to_have_count(0)
    # No pop-up, no unread for a line.
    expect(grace.get_by_role("status", name="Ada Lovelace")).to_have_count(0)

    new_name = unique("Renamed lines")
    assert call(ada, "PATCH", f"/rooms/{room.id}", {"name": new_name}).status == 200
    expect(
        log.locator("li.msg.system").filter(has_text=f"renamed the group to {new_name}")
    ).to_be_visible()
    expect(grace_box.get_by_role("heading", name=new_name)).to_be_visible()
