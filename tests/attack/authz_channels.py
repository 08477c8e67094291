"""The authorization model's rules for channels: anyone of the organization lists and joins them;
nobody of another organization learns they exist.

A mixin of `AuthzMachine` (tests/attack/test_authorization_model.py), like `BoostRules`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hypothesis import strategies as st
from hypothesis.stateful import rule

from tests.attack.authz_world import API, INDEX, MRoom, MUser, ok, pick


class ChannelRules:
    if TYPE_CHECKING:
        users: dict[str, MUser]
        rooms: dict[str, MRoom]

        def step(self) -> None: ...
        def fresh(self, prefix: str) -> str: ...
        def model_users(self, org: int | None = None) -> list[MUser]: ...
        def last_seq(self, room: MRoom) -> int: ...
        def touch_room(self, rid: str) -> None: ...
        def pick_room(self, index: int, *, barrier: bool = True) -> MRoom | None: ...
        def expect_room_event(self, kind: str, room: MRoom, recipients: list[str]) -> None: ...
        def req(self, user: MUser, method: str, path: str, **kwargs: Any) -> tuple[int, Any]: ...
        async def _req(
            self,
            user: MUser,
            method: str,
            path: str,
            body: dict[str, Any] | None = None,
            params: dict[str, Any] | None = None,
            files: dict[str, tuple[str, bytes, str]] | None = None,
        ) -> tuple[int, Any]: ...
        def check_verdict(
            self, what: str, status: int, data: Any, expected: int | set[int]
        ) -> None: ...

    @rule(actor=INDEX, members=st.lists(INDEX, max_size=2))
    def create_channel(self, actor: int, members: list[int]) -> None:
        self.step()
        who = pick(self.model_users(), actor)
        chosen = [pick(self.model_users(), i) for i in members]
        everyone = list(dict.fromkeys([who.uid, *(u.uid for u in chosen)]))
        if not who.active:
            expect = 401
        elif any(self.users[uid].org != who.org or not self.users[uid].active for uid in everyone):
            expect = 404
        else:
            expect = 201
        name = self.fresh("Channel ")
        body = {"type": "channel", "name": name, "member_ids": [u.uid for u in chosen]}
        status, data = self.req(who, "POST", f"{API}/rooms", body=body)
        self.check_verdict("create channel", status, data, expect)
        if ok(status):
            room = MRoom(data["id"], who.org, "channel", name, everyone, {who.uid}, {})
            room.read = dict.fromkeys(everyone, 0)
            self.rooms[room.rid] = room
            self.expect_room_event("room.created", room, room.members)

    @rule(actor=INDEX, room=INDEX)
    def join(self, actor: int, room: int) -> None:
        """Any room, by anyone: only a channel of one's own organization lets a stranger in."""
        self.step()
        who = pick(self.model_users(), actor)
        chosen = self.pick_room(room, barrier=False)
        if chosen is None:
            return
        if not who.active:
            expect = 401
        elif who.uid in chosen.members or (chosen.type == "channel" and chosen.org == who.org):
            expect = 200
        else:
            expect = 404
        status, data = self.req(who, "POST", f"{API}/rooms/{chosen.rid}/join")
        self.check_verdict("join", status, data, expect)
        if ok(status) and who.uid not in chosen.members:
            chosen.members.append(who.uid)
            chosen.read[who.uid] = self.last_seq(chosen)
            self.touch_room(chosen.rid)
            self.expect_room_event("room.member_added", chosen, chosen.members)
        if ok(status):
            assert {u["id"] for u in data["members"]} == set(chosen.members)

    async def check_channels(self, user: MUser) -> None:
        status, channels = await self._req(user, "GET", f"{API}/channels")
        assert status == 200
        want = {
            room.rid: (len(room.members), user.uid in room.members)
            for room in self.rooms.values()
            if room.type == "channel" and room.org == user.org
        }
        got = {c["id"]: (c["member_count"], c["joined"]) for c in channels}
        assert got == want, (user.name, got, want)
