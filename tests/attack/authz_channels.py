"""The authorization model's rules for channels: anyone of the organization lists and joins them;
nobody of another organization learns they exist.

A mixin of `AuthzMachine` (tests/attack/test_authorization_model.py), like `BoostRules`.
"""

from __future__ import annotations

from hypothesis import strategies as st
from hypothesis.stateful import rule

from tests.attack.authz_parts import MachineParts
from tests.attack.authz_world import API, INDEX, MUser, ok, pick


class ChannelRules(MachineParts):
    @rule(actor=INDEX, members=st.lists(INDEX, max_size=2))
    def create_channel(self, actor: int, members: list[int]) -> None:
        self.create_room("channel", actor, members)

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
            self.learn_line(chosen, who)
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
