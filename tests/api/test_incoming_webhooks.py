"""Incoming webhooks (docs/integrations.md): a room admin's secret URL posts Slack's `{"text"}`
into the room as the webhook's own bot; revoked, unknown or wrong-secret URLs answer 404 alike;
each webhook has its own rate limit; bad bodies get a 4xx and store nothing; the secret is never
written to a log."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import httpx
import pytest

from parlour.api.redact import REDACTED, RedactHookSecrets, redact
from parlour.client import ParlourAPIError
from parlour.client.models import IncomingWebhook, Room
from tests.support import Org, OrgFactory, ServerProcess


@pytest.fixture
async def http(server_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client with no session at all: what CI or a monitoring system holds."""
    async with httpx.AsyncClient(base_url=server_url) as client:
        yield client


async def made_hook(org: Org, name: str = "CI") -> tuple[Room, IncomingWebhook]:
    ada, bea = org[0], org[1]
    room = await ada.client.create_group("Deploys", [bea.user_id])
    hook = await ada.client.create_incoming_webhook(room.id, name)
    return room, hook


def secret_of(hook: IncomingWebhook) -> str:
    assert hook.url is not None
    return hook.url.rsplit("/", 1)[1]


async def test_a_post_appears_in_the_room_as_the_webhooks_bot(
    org: Org, http: httpx.AsyncClient, server_url: str
) -> None:
    ada, bea = org[0], org[1]
    room, hook = await made_hook(org, "Deploy hook")
    assert hook.url is not None
    assert hook.url.startswith(f"{server_url}/api/v1/hooks/{hook.id}/")
    assert (hook.name, hook.room_id) == ("Deploy hook", room.id)

    # Its bot is a member of the room, marked as a bot, and was announced with a system line.
    members = (await ada.client.get_room(room.id)).members
    (bot,) = [m for m in members if m.is_bot]
    assert bot.full_name == "Deploy hook"

    async with bea.client.events() as stream:
        response = await http.post(
            hook.url,
            json={
                "text": "**Deploy** of `main` done <script>alert(1)</script>",
                "username": "GitLab CI",
            },
        )
        assert response.status_code == 200, response.text
        message_id = response.json()["id"]
        live = await stream.wait_for(
            lambda e: e.type == "message.created" and e.message.id == message_id
        )
    assert live.message.author.id == bot.id
    assert live.message.label == "GitLab CI"

    stored = (await bea.client.list_messages(room.id))[-1]
    assert stored.id == message_id
    assert (stored.author.id, stored.author.is_bot, stored.label) == (bot.id, True, "GitLab CI")
    assert "<strong>Deploy</strong>" in stored.html
    assert "<code>main</code>" in stored.html
    assert "<script>" not in stored.html

    listed = await ada.client.list_incoming_webhooks(room.id)
    assert [(h.id, h.name, h.created_by, h.url) for h in listed] == [
        (hook.id, "Deploy hook", ada.user_id, None)
    ]
    assert "url" not in (listed[0].model_extra or {})


async def test_revoked_unknown_and_wrong_secret_urls_all_answer_404(
    org: Org, http: httpx.AsyncClient
) -> None:
    ada = org[0]
    room, hook = await made_hook(org)
    assert hook.url is not None
    base = hook.url.rsplit("/", 2)[0]
    body = {"text": "hello"}
    wrong = [
        f"{base}/{hook.id}/{secret_of(hook)[:-1]}x",
        f"{base}/{hook.id}/short",
        f"{base}/nosuchhook/{secret_of(hook)}",
        f"{base}/{'x' * 300}/{'y' * 300}",
    ]
    answers = [await http.post(url, json=body) for url in wrong]
    assert {(r.status_code, r.json()["error"]["code"]) for r in answers} == {
        (404, "webhook_not_found")
    }
    assert (await http.post(hook.url, json=body)).status_code == 200

    await ada.client.revoke_webhook(hook.id)
    gone = await http.post(hook.url, json=body)
    assert (gone.status_code, gone.json()) == (404, answers[0].json())
    assert await ada.client.list_incoming_webhooks(room.id) == []
    # Its bot is deactivated, and a second revoke finds nothing.
    (bot,) = [m for m in (await ada.client.get_room(room.id)).members if m.is_bot]
    assert not bot.is_active
    with pytest.raises(ParlourAPIError) as again:
        await ada.client.revoke_webhook(hook.id)
    assert again.value.status == 404
    texts = [m.content for m in await ada.client.list_messages(room.id) if m.system is None]
    assert texts == ["hello"]


async def test_each_webhook_has_its_own_rate_limit(org: Org, http: httpx.AsyncClient) -> None:
    ada = org[0]
    room, hook = await made_hook(org)
    second = await ada.client.create_incoming_webhook(room.id, "Monitoring")
    assert hook.url is not None
    assert second.url is not None
    # 20 posts per 10 s (a burst of 20, 2 a second): a quick run of posts soon meets a 429.
    limited = None
    for index in range(100):
        response = await http.post(hook.url, json={"text": f"post {index}"})
        if response.status_code == 429:
            limited = (index, response)
            break
        assert response.status_code == 200, response.text
    assert limited is not None, "100 quick posts were never rate limited"
    index, response = limited
    assert index >= 20  # the burst passes
    assert int(response.headers["Retry-After"]) >= 1
    assert response.json()["error"]["code"] == "rate_limited"
    # Another webhook of the same room (and bot budget of its own) is unaffected.
    assert (await http.post(second.url, json={"text": "disk 91%"})).status_code == 200


async def test_bad_bodies_get_a_4xx_and_store_nothing(org: Org, http: httpx.AsyncClient) -> None:
    ada = org[0]
    room, hook = await made_hook(org)
    assert hook.url is not None
    before = await ada.client.list_messages(room.id)
    json_type = {"Content-Type": "application/json"}
    bad: list[tuple[bytes, int]] = [
        (b"{not json", 422),
        (b'{"text": "x"', 422),
        (b"[]", 422),
        (b"{}", 422),
        (b'{"text": ""}', 422),
        (b'{"text": "   "}', 422),
        (b'{"text": 5}', 422),
        (b'{"text": null}', 422),
        (b'{"text": "hi", "channel": "#general"}', 422),
        (b'{"text": "hi", "username": ""}', 422),
        (b'{"text": "hi", "username": "' + b"u" * 81 + b'"}', 422),
        (b'{"text": "nul \\u0000"}', 422),
        (b'{"text": "' + b"a" * 10_001 + b'"}', 422),
        (b'{"text": "' + b"a" * (1024 * 1024) + b'"}', 413),
    ]
    for content, status in bad:
        response = await http.post(hook.url, content=content, headers=json_type)
        assert response.status_code in ({status, 400} if status == 422 else {status}), content[:40]
        assert "error" in response.json()
    assert await ada.client.list_messages(room.id) == before


async def test_only_room_admins_make_and_list_webhooks(org: Org, orgs: OrgFactory) -> None:
    ada, bea, cal = org[0], org[1], org[2]
    room = await bea.client.create_group("Bea's room", [cal.user_id])
    for attempt1 in (
        cal.client.create_incoming_webhook(room.id, "Cal's"),  # a member, not a room admin
        cal.client.list_incoming_webhooks(room.id),
    ):
        with pytest.raises(ParlourAPIError) as refused:
            await attempt1
        assert (refused.value.status, refused.value.code) == (403, "not_room_admin")
    for attempt2 in (
        ada.client.create_incoming_webhook(room.id, "Ada's"),  # an org admin but no member
        ada.client.list_incoming_webhooks(room.id),
    ):
        with pytest.raises(ParlourAPIError) as refused:
            await attempt2
        assert refused.value.status == 404
    direct = await bea.client.create_direct(cal.user_id)
    with pytest.raises(ParlourAPIError) as refused:
        await bea.client.create_incoming_webhook(direct.id, "In a direct room")
    assert refused.value.code == "not_a_group"

    hook = await bea.client.create_incoming_webhook(room.id, "Bea's hook")
    # Another organization's admin neither sees nor revokes it.
    other = await orgs.create(["Other Admin"])
    for attempt3 in (
        other[0].client.list_incoming_webhooks(room.id),
        other[0].client.revoke_webhook(hook.id),
    ):
        with pytest.raises(ParlourAPIError) as refused:
            await attempt3
        assert refused.value.status == 404
    # A member who is no room admin cannot revoke it; the org admin can, member or not.
    with pytest.raises(ParlourAPIError) as refused:
        await cal.client.revoke_webhook(hook.id)
    assert (refused.value.status, refused.value.code) == (403, "not_room_admin")
    await ada.client.revoke_webhook(hook.id)
    assert await bea.client.list_incoming_webhooks(room.id) == []


async def test_the_secret_is_never_logged(
    org: Org, http: httpx.AsyncClient, server: ServerProcess
) -> None:
    _, hook = await made_hook(org)
    assert hook.url is not None
    assert (await http.post(hook.url, json={"text": "logged?"})).status_code == 200
    assert (await http.post(hook.url, content=b"{", headers={})).status_code in (400, 422)
    log = (server.data_dir / "server.log").read_text(errors="replace")
    assert secret_of(hook) not in log


def test_the_access_log_filter_masks_webhook_secrets() -> None:
    # What uvicorn's access logger logs: the path (with its query) is an argument.
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "POST", "/api/v1/hooks/abc/s3cr3t-_XY?x=1", "1.1", 200),
        None,
    )
    assert RedactHookSecrets().filter(record)
    assert record.getMessage() == (
        f'127.0.0.1:5000 - "POST /api/v1/hooks/abc/{REDACTED}?x=1 HTTP/1.1" 200'
    )
    assert redact("unexpected error on POST /api/v1/hooks/abc/s3cr3t") == (
        f"unexpected error on POST /api/v1/hooks/abc/{REDACTED}"
    )
    assert redact("/api/v1/rooms/abc/messages") == "/api/v1/rooms/abc/messages"
