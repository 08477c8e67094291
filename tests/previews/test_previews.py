"""Link previews end to end: a real server process fetches from the page server on 127.0.0.2
after the send, and announces the previews with `message.updated` over the real WebSocket;
pages (GET messages) show them too."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from parlour.actions.context import Actor
from parlour.actions.messages import do_send_message
from parlour.client import EventStream, Message
from parlour.config import Settings
from parlour.services import close_services, open_services
from tests.previews.conftest import PAGE_HOST, LocalListener, PageServer
from tests.support import Member, OrgFactory, ServerProcess

WAIT = 20.0  # seconds a preview may take on a loaded machine; reaching it is a failure


def preview(pages: PageServer, name: str, image: str | None = None) -> dict[str, Any]:
    query = f"?image={image}" if image else ""
    return {
        "url": pages.url(f"/og/{name}{query}"),
        "title": f"Title {name}",
        "description": f"A page about {name}",
        "image_url": image if image and image.startswith("https://") else None,
    }


async def updates(stream: EventStream, message_ids: Iterable[str]) -> dict[str, Message]:
    """The next `message.updated` of each of `message_ids`."""
    waiting = set(message_ids)
    found: dict[str, Message] = {}
    while waiting:
        event = await stream.wait_for(
            lambda e: e.type == "message.updated" and e.message.id in waiting, timeout=WAIT
        )
        found[event.message.id] = event.message
        waiting.discard(event.message.id)
    return found


def previews_of(message: Message) -> list[dict[str, Any]]:
    return [p.model_dump() for p in message.previews]


async def room_of(org_members: list[Member], name: str) -> str:
    ada = org_members[0]
    room = await ada.client.create_group(name, [m.user_id for m in org_members[1:]])
    return room.id


async def test_a_link_gets_its_preview_over_the_socket_and_in_the_page(
    previews_orgs: OrgFactory, pages: PageServer
) -> None:
    org = await previews_orgs.create(["Ada Poster", "Bea Reader"])
    ada, bea = org[0], org[1]
    room_id = await room_of(org.members, "Links")
    image = f"https://{PAGE_HOST}:{pages.port}/image.png"
    async with bea.client.events() as stream:
        sent = await ada.client.send_message(
            room_id,
            f"Read {pages.url(f'/og/first?image={image}')} (not `{pages.url('/og/quoted')}`)",
        )
        assert sent.previews == []  # the send's answer never waits for a fetch
        updated = (await updates(stream, [sent.id]))[sent.id]
    assert previews_of(updated) == [preview(pages, "first", image)]
    assert updated.content == sent.content
    assert updated.edited_at is None
    assert pages.count("/og/quoted") == 0  # a link in code is quoted, not previewed
    [listed] = await bea.client.list_messages(room_id)
    assert previews_of(listed) == [preview(pages, "first", image)]

    # No OpenGraph: <title> and <meta name="description">; an http image is left out.
    http_image = f"http://{PAGE_HOST}:{pages.port}/image.png"
    async with bea.client.events() as stream:
        second = await ada.client.send_message(
            room_id,
            f"{pages.url('/plain/second')} and {pages.url(f'/og/second?image={http_image}')}",
        )
        updated = (await updates(stream, [second.id]))[second.id]
    assert previews_of(updated) == [
        {
            "url": pages.url("/plain/second"),
            "title": "Plain & simple",
            "description": "Described plainly",
            "image_url": None,
        },
        preview(pages, "second", http_image),
    ]


async def test_the_same_link_posted_many_times_is_fetched_once(
    previews_orgs: OrgFactory, pages: PageServer
) -> None:
    org = await previews_orgs.create(["Ada Poster", "Bea Reader"])
    ada, bea = org[0], org[1]
    room_id = await room_of(org.members, "Popular")
    link = pages.url("/og/popular")
    async with bea.client.events() as stream:
        sent = await asyncio.gather(
            *(ada.client.send_message(room_id, f"#{n} {link}") for n in range(20))
        )
        updated = await updates(stream, [m.id for m in sent])
        assert all(previews_of(m) == [preview(pages, "popular")] for m in updated.values())
        later = await ada.client.send_message(room_id, f"again: {link}")
        again = (await updates(stream, [later.id]))[later.id]
    assert previews_of(again) == [preview(pages, "popular")]
    assert pages.count("/og/popular") == 1


async def test_pages_that_give_no_preview_leave_only_the_good_ones(
    previews_orgs: OrgFactory, pages: PageServer, local_listener: LocalListener
) -> None:
    org = await previews_orgs.create(["Ada Poster", "Bea Reader"])
    ada, bea = org[0], org[1]
    room_id = await room_of(org.members, "Bad pages")
    async with bea.client.events() as stream:
        # A message's update comes once all its links are done: the good link's preview alone
        # says the bad ones were tried and gave nothing.
        first = await ada.client.send_message(
            room_id, f"{pages.url('/text/a')} {pages.url('/big/a')} {pages.url('/og/good-a')}"
        )
        second = await ada.client.send_message(
            room_id, f"{pages.url('/slow/b')} {pages.url('/to-local/b')} {pages.url('/og/good-b')}"
        )
        third = await ada.client.send_message(
            room_id,
            f"{pages.url('/hop/4/far')} {pages.url('/hop/2/near')} {pages.url('/og/fourth-link')}"
            f" {pages.url('/og/good-c')}",
        )
        updated = await updates(stream, [first.id, second.id, third.id])
    assert previews_of(updated[first.id]) == [preview(pages, "good-a")]
    assert previews_of(updated[second.id]) == [preview(pages, "good-b")]
    near = preview(pages, "near") | {"url": pages.url("/hop/2/near")}
    assert previews_of(updated[third.id]) == [near, preview(pages, "fourth-link")]
    for path in ("/text/a", "/big/a", "/slow/b", "/to-local/b"):
        assert pages.count(path) == 1, path
    assert pages.count("/og/far") == 0  # four redirects: the fourth is not followed
    assert pages.count("/og/good-c") == 0  # only the first three links of a message
    assert local_listener.accepted == 0  # the redirect to 127.0.0.1 was refused at the guard


async def test_an_edit_keeps_the_previews_of_links_it_keeps_and_previews_new_ones(
    previews_orgs: OrgFactory, pages: PageServer
) -> None:
    org = await previews_orgs.create(["Ada Poster", "Bea Reader"])
    ada, bea = org[0], org[1]
    room_id = await room_of(org.members, "Edits")
    old, new = pages.url("/og/edit-old"), pages.url("/og/edit-new")
    async with bea.client.events() as stream:
        sent = await ada.client.send_message(room_id, f"see {old}")
        await updates(stream, [sent.id])
        edited = await ada.client.edit_message(sent.id, f"see {old} and {new}")
        assert previews_of(edited) == [preview(pages, "edit-old")]  # kept, not refetched
        (await updates(stream, [sent.id]))  # the edit's own message.updated
        later = (await updates(stream, [sent.id]))[sent.id]
        assert previews_of(later) == [preview(pages, "edit-old"), preview(pages, "edit-new")]
        dropped = await ada.client.edit_message(sent.id, f"only {new} now")
        assert previews_of(dropped) == [preview(pages, "edit-new")]
        gone = await ada.client.edit_message(sent.id, "no links at all")
        assert gone.previews == []
    assert pages.count("/og/edit-old") == 1
    assert pages.count("/og/edit-new") == 1
    [listed] = await bea.client.list_messages(room_id)
    assert listed.previews == []


async def test_a_deleted_message_shows_no_previews(
    previews_orgs: OrgFactory, pages: PageServer
) -> None:
    org = await previews_orgs.create(["Ada Poster", "Bea Reader"])
    ada, bea = org[0], org[1]
    room_id = await room_of(org.members, "Deleted")
    async with bea.client.events() as stream:
        sent = await ada.client.send_message(room_id, pages.url("/og/deleted"))
        await updates(stream, [sent.id])
    await ada.client.delete_message(sent.id)
    [listed] = await bea.client.list_messages(room_id)
    assert listed.deleted
    assert listed.previews == []


async def test_previews_turned_off_fetch_nothing(
    previews_server: ServerProcess, previews_orgs: OrgFactory, pages: PageServer
) -> None:
    org = await previews_orgs.create(["Ada Poster", "Bea Reader"])
    room_id = await room_of(org.members, "Off")
    base = previews_server.settings()
    settings = Settings(
        data_dir=base.data_dir,
        database_url=base.database_url,
        outbound_allow_networks=[f"{PAGE_HOST}/32"],
        link_previews=False,
    )
    services = await open_services(settings, migrate=False)
    try:
        actor = Actor(org[0].user_id, org.org_id, True, session_id="previews-off")
        sent, created = await do_send_message(services, actor, room_id, pages.url("/og/off"))
        assert created
        # Nothing was queued, so nothing can fetch: no worker, no client, no request.
        assert services.link_previews is None
    finally:
        await close_services(services)
    assert pages.count("/og/off") == 0
    [listed] = await org[1].client.list_messages(room_id)
    assert listed.id == sent.id
    assert listed.previews == []
