"""The authorization model's rule for replies: only a member replies, only to a live message of
the same room; the root's summary reaches the room and the new counts reach its followers.

A mixin of `AuthzMachine` (tests/attack/test_authorization_model.py), like `BoostRules`. The
machine's `counts_for` applies the follower rule to unread and mention counts.
"""

from __future__ import annotations

import uuid

from hypothesis.stateful import rule

from tests.attack.authz_parts import MachineParts
from tests.attack.authz_world import API, INDEX, ok, pick


class ThreadRules(MachineParts):
    @rule(actor=INDEX, message=INDEX, word=INDEX, via=INDEX)
    def reply(self, actor: int, message: int, word: int, via: int) -> None:
        """Reply to any message, from the message's room or (a probe) from another room."""
        self.step()
        if not self.msgs:
            return
        who = pick(self.model_users(), actor)
        target = pick(list(self.msgs.values()), message)
        root = self.msgs[target.reply_to] if target.reply_to else target
        room = self.rooms[target.rid]
        posted_in = room if via % 4 else pick(list(self.rooms.values()), via // 4)
        # A message of another room is as unknown as no message; a deleted root takes no more.
        refusal = 404 if posted_in.rid != room.rid else 422 if root.deleted else 0
        expect = self.room_verdict(who, posted_in) or refusal or 201
        body = {"content": self.content(word), "client_id": uuid.uuid4().hex}
        status, data = self.req(
            who,
            "POST",
            f"{API}/rooms/{posted_in.rid}/messages",
            body={**body, "reply_to": target.mid},
        )
        self.check_verdict("reply", status, data, expect)
        if not ok(status):
            return
        assert data["reply_to"] == root.mid, (data, root)
        self.check_mentions(data, room)
        reply = self.add_message(data, who, room)  # expects its message.created
        reply.reply_to = root.mid
        root.replies += 1
        followers = self.followers.setdefault(root.mid, {})
        followers.setdefault(root.author, root.seq)
        for uid in (who.uid, *reply.mentions):
            followers.setdefault(uid, reply.seq)
        self.expect_message_event("message.updated", root)
        for uid in followers:
            if uid != who.uid and uid in room.members:
                self.expect_unread_event(self.users[uid], room)
