"""The authorization model's rules for reactions, pins and saved messages.

A mixin of `AuthzMachine` (tests/attack/test_authorization_model.py), like `ViewChecks`:
Hypothesis collects `@rule`s from base classes too. The model tracks each message's reactions
(emoji → reactors, in chip order) and pin, and each user's saves; the invariants compare them with
every member's pages, pins and saved lists, and the frames with what each listener is owed.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from hypothesis import strategies as st
from hypothesis.stateful import rule

from tests.attack.authz_parts import MachineParts
from tests.attack.authz_world import API, INDEX, MMsg, MRoom, MUser, ok, pick

# Raw emoji as a client may send them, and what the server stores for each (None: refused).
EMOJI = {"👍": "👍", ":+1:": "👍", "🎉": "🎉", ":shipit:": ":shipit:", "no emoji": None}


class BoostRules(MachineParts):
    def _target(self, actor: int, message: int) -> tuple[MUser, MMsg, MRoom] | None:
        if not self.msgs:
            return None
        who = pick(self.model_users(), actor)
        msg = pick(list(self.msgs.values()), message)
        return who, msg, self.rooms[msg.rid]

    def expect_to_members(self, room: MRoom, frame: tuple[Any, ...]) -> None:
        for uid in room.members:
            self.users[uid].expected.append(frame)

    @rule(actor=INDEX, message=INDEX, raw=st.sampled_from(sorted(EMOJI)), remove=st.booleans())
    def react(self, actor: int, message: int, raw: str, remove: bool) -> None:
        self.step()
        target = self._target(actor, message)
        if target is None:
            return
        who, msg, room = target
        emoji = EMOJI[raw]
        expect = 401 if not who.active else (422 if emoji is None else self.room_verdict(who, room))
        if not expect:
            expect = 422 if msg.deleted and not remove else 204
        path = f"{API}/messages/{msg.mid}/reactions/{quote(raw, safe='')}"
        status, data = self.req(who, "DELETE" if remove else "PUT", path)
        self.check_verdict("unreact" if remove else "react", status, data, expect)
        if not ok(status) or emoji is None:
            return
        reactors = msg.reactions.get(emoji, [])
        if remove and who.uid in reactors:
            reactors.remove(who.uid)
            if not reactors:
                del msg.reactions[emoji]
            self.expect_to_members(room, ("reaction.removed", msg.mid, emoji, who.uid))
        elif not remove and who.uid not in reactors:
            msg.reactions[emoji] = [*reactors, who.uid]
            self.expect_to_members(room, ("reaction.added", msg.mid, emoji, who.uid))

    @rule(actor=INDEX, message=INDEX, unpin=st.booleans())
    def pin(self, actor: int, message: int, unpin: bool) -> None:
        self.step()
        target = self._target(actor, message)
        if target is None:
            return
        who, msg, room = target
        expect = self.room_verdict(who, room) or (422 if msg.deleted and not unpin else 204)
        status, data = self.req(who, "DELETE" if unpin else "PUT", f"{API}/messages/{msg.mid}/pin")
        self.check_verdict("unpin" if unpin else "pin", status, data, expect)
        if ok(status) and msg.pinned == unpin:
            msg.pinned = not unpin
            kind = "message.unpinned" if unpin else "message.pinned"
            self.expect_to_members(room, (kind, msg.mid))

    @rule(actor=INDEX, message=INDEX, unsave=st.booleans())
    def save(self, actor: int, message: int, unsave: bool) -> None:
        self.step()
        target = self._target(actor, message)
        if target is None:
            return
        who, msg, room = target
        expect = self.room_verdict(who, room) or (422 if msg.deleted and not unsave else 204)
        path = f"{API}/messages/{msg.mid}/save"
        status, data = self.req(who, "DELETE" if unsave else "PUT", path)
        self.check_verdict("unsave" if unsave else "save", status, data, expect)
        if ok(status) and (msg.mid in who.saved) == unsave:
            if unsave:
                who.saved.remove(msg.mid)
            else:
                who.saved.append(msg.mid)
            who.expected.append(("saved.updated", msg.mid, not unsave))
