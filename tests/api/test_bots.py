"""Bots (docs/integrations.md, "Bots"): made by org admins, they use the same REST API, socket and
SDK as people with their token, never log in with a password, and revoking one ends its token and
closes its sockets (4401)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest

from parlour.client import Event, ParlourAPIError, ParlourClient, SessionRevoked
from tests.support import Org, OrgFactory

BotClient = Callable[[str], Awaitable[ParlourClient]]


@pytest.fixture
async def bot_client(server_url: str) -> AsyncIterator[BotClient]:
    """A ParlourClient signed in with a bot's token (closed afterwards)."""
    clients: list[ParlourClient] = []

    async def make(token: str) -> ParlourClient:
        client = ParlourClient(server_url, token=token)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


def is_message(text: str) -> Callable[[Event], bool]:
    def match(event: Event) -> bool:
        return event.type == "message.created" and event.message.content == text

    return match


async def test_an_admins_bot_posts_over_rest_and_receives_over_the_socket(
    org: Org, bot_client: BotClient
) -> None:
    ada, bea = org[0], org[1]
    made = await ada.client.create_bot("Build Bot")
    assert made.user.is_bot
    assert made.user.full_name == "Build Bot"
    assert not made.user.is_admin
    assert made.user.is_active
    assert made.token
    bot = await bot_client(made.token)
    me = await bot.me()
    assert (me.id, me.is_bot) == (made.user.id, True)
    assert [b.id for b in await ada.client.list_bots()] == [made.user.id]

    room = await ada.client.create_group("Builds", [bea.user_id, made.user.id])
    async with bot.events() as bot_stream, bea.client.events() as bea_stream:
        await bea.client.send_message(room.id, "bot, are you there?")
        heard = await bot_stream.wait_for(is_message("bot, are you there?"))
        assert heard.message.author.id == bea.user_id

        answer = await bot.send_message(room.id, "**Build 42** passed")
        assert answer.author.is_bot
        seen = await bea_stream.wait_for(is_message("**Build 42** passed"))
        assert seen.message.author.id == made.user.id
        assert seen.message.author.is_bot
        assert "<strong>Build 42</strong>" in seen.message.html

    # A bot sees only its rooms: another group is "not found" to it.
    other = await ada.client.create_group("People only", [bea.user_id])
    with pytest.raises(ParlourAPIError) as refused:
        await bot.list_messages(other.id)
    assert refused.value.status == 404
    assert [r.id for r in await bot.list_rooms()] == [room.id]
    # People see it marked as a bot wherever users are listed.
    (found,) = [u for u in await bea.client.search_users("Build Bot") if u.id == made.user.id]
    assert found.is_bot


async def test_only_org_admins_make_list_and_revoke_bots(org: Org) -> None:
    ada, bea = org[0], org[1]
    made = await ada.client.create_bot("Admin's bot")
    for attempt in (
        bea.client.create_bot("Mine"),
        bea.client.list_bots(),
        bea.client.revoke_bot(made.user.id),
    ):
        with pytest.raises(ParlourAPIError) as refused:
            await attempt
        assert (refused.value.status, refused.value.code) == (403, "admin_required")
    assert [b.id for b in await ada.client.list_bots()] == [made.user.id]


async def test_bad_bot_names_are_refused(org: Org) -> None:
    ada = org[0]
    for body in ({"name": "   "}, {"name": 5}, {}, {"name": "x", "extra": 1}, {"name": "x" * 201}):
        response = await ada.client._http.post(
            "/api/v1/bots", json=body, headers={"Authorization": f"Bearer {ada.client.token}"}
        )
        assert response.status_code == 422, body
    assert await ada.client.list_bots() == []


async def test_a_bot_never_logs_in_with_a_password(org: Org, server_url: str) -> None:
    made = await org[0].client.create_bot("Login Bot")
    async with httpx.AsyncClient(base_url=server_url) as http:
        for password in ("", "!bot: no password", "correct horse battery"):
            response = await http.post(
                "/api/v1/auth/login", json={"email": made.user.email, "password": password}
            )
            assert response.status_code in (401, 422), password
            if response.status_code == 401:
                assert response.json()["error"]["code"] == "invalid_credentials"


async def test_revoking_a_bot_closes_its_socket_and_ends_its_token(
    org: Org, bot_client: BotClient
) -> None:
    ada = org[0]
    made = await ada.client.create_bot("Short-lived Bot")
    bot = await bot_client(made.token)
    stream = bot.events(reconnect=False)
    await stream.connect()
    try:
        await ada.client.revoke_bot(made.user.id)
        with pytest.raises(SessionRevoked):
            await stream.wait_for("never", timeout=5)
    finally:
        await stream.close()
    with pytest.raises(ParlourAPIError) as refused:
        await bot.me()
    assert refused.value.status == 401
    assert await ada.client.list_bots() == []
    (listed,) = [
        u
        for u in await ada.client.search_users("Short-lived", include_inactive=True)
        if u.id == made.user.id
    ]
    assert not listed.is_active


async def test_revoke_is_for_bots_of_my_organization_only(org: Org, orgs: OrgFactory) -> None:
    ada, bea = org[0], org[1]
    made = await ada.client.create_bot("Sealed Bot")
    other = await orgs.create(["Other Admin"])
    for client, user_id in (
        (ada.client, bea.user_id),  # a person: deactivated elsewhere, not here
        (ada.client, "nobody"),
        (other[0].client, made.user.id),  # another organization's bot
    ):
        with pytest.raises(ParlourAPIError) as refused:
            await client.revoke_bot(user_id)
        assert refused.value.status == 404, user_id
    assert await other[0].client.list_bots() == []
    assert [b.id for b in await ada.client.list_bots()] == [made.user.id]
    assert (await bea.client.me()).is_active
