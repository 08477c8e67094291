"""The authorization model's rules for bots and incoming webhooks: only an org admin makes a bot,
and a bot sees only its rooms (a new one: none); only a room admin of a group or channel makes a
webhook, nobody else, and nobody of another organization learns the room exists.

A mixin of `AuthzMachine` (tests/attack/test_authorization_model.py), like `ChannelRules`. The
bots it makes are revoked within their rule and webhooks are only ever refused (a webhook's bot
would join the room: tests/api/test_incoming_webhooks.py covers what it posts), so the model's
people and rooms stay as they were.
"""

from __future__ import annotations

from typing import Any

from hypothesis.stateful import rule

from parlour.client import ParlourClient
from tests.attack.authz_parts import MachineParts
from tests.attack.authz_world import API, INDEX, ok, pick


class BotRules(MachineParts):
    @rule(actor=INDEX, room=INDEX)
    def make_bot(self, actor: int, room: int) -> None:
        """Anyone tries: an org admin gets a bot, which sees no room until one is shared with
        it; everyone else is refused. The bot is revoked at once, and its token dies."""
        self.step()
        who = pick(self.model_users(), actor)
        expect = 401 if not who.active else 201 if who.admin else 403
        status, data = self.req(who, "POST", f"{API}/bots", body={"name": "Model Bot"})
        self.check_verdict("create bot", status, data, expect)
        if not ok(status):
            return
        assert data["user"]["is_bot"]
        assert not data["user"]["is_admin"]
        chosen = self.pick_room(room)
        self.gather([self._bot_sees_nothing(data["token"], chosen.rid if chosen else None)])
        status, gone = self.req(who, "DELETE", f"{API}/bots/{data['user']['id']}")
        self.check_verdict("revoke bot", status, gone, 204)
        self.gather([self._bot_token_dead(data["token"])])

    async def _bot_sees_nothing(self, token: str, room_id: str | None) -> None:
        async with self._bot(token) as bot:
            assert await bot.list_rooms() == []
            assert (await bot.unread()).total == 0
            if room_id is not None:
                response = await bot._http.get(
                    f"{API}/rooms/{room_id}/messages", headers={"Authorization": f"Bearer {token}"}
                )
                assert response.status_code == 404, response.text

    async def _bot_token_dead(self, token: str) -> None:
        async with self._bot(token) as bot:
            response = await bot._http.get(
                f"{API}/users/me", headers={"Authorization": f"Bearer {token}"}
            )
            assert response.status_code == 401, response.text

    def _bot(self, token: str) -> ParlourClient:
        base_url = next(iter(self.users.values())).client.base_url
        return ParlourClient(base_url, token=token)

    @rule(actor=INDEX, room=INDEX)
    def webhook_refused(self, actor: int, room: int) -> None:
        """Anyone but a room admin of a group or channel asks for a webhook: refused, nothing
        made (a room admin's request is not sent: see the module's docstring)."""
        self.step()
        who = pick(self.model_users(), actor)
        chosen = self.pick_room(room)
        if chosen is None:
            return
        expect = self.room_verdict(who, chosen)
        if not expect:
            if chosen.type != "direct" and who.uid in chosen.admins:
                return
            expect = 403
        body: dict[str, Any] = {"name": "Model hook"}
        status, data = self.req(who, "POST", f"{API}/rooms/{chosen.rid}/webhooks", body=body)
        self.check_verdict("create webhook", status, data, expect)
        code = data["error"]["code"]
        assert code == {401: "not_authenticated", 404: "room_not_found"}.get(
            status, "not_a_group" if chosen.type == "direct" else "not_room_admin"
        ), data
