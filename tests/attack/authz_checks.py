"""The authorization model's invariants: after every step, each user's view equals the model's.

A mixin of `AuthzMachine` (tests/attack/test_authorization_model.py), which holds the model state
and the helpers these checks use; Hypothesis collects `@invariant`s from base classes too.
"""

from __future__ import annotations

import zlib
from collections.abc import Awaitable
from typing import Any, TypeVar

from hypothesis.stateful import invariant

from tests.attack.authz_parts import MachineParts
from tests.attack.authz_world import API, PROBE, MAtt, MRoom, MUser

T = TypeVar("T")


def stable_hash(*parts: str) -> int:
    """A hash that is the same in every process (str hashes are salted per process): which
    probes a step makes must follow from the seed alone."""
    return zlib.crc32("\x00".join(parts).encode())


class ViewChecks(MachineParts):
    # -- invariants ----------------------------------------------------------------------------

    @invariant()
    def sockets_match_model(self) -> None:
        """Barrier, then: every durable event each listener got is exactly what they are owed,
        and no frame names a room they could not see during the step."""
        if not self.barrier_rooms:
            return
        markers: dict[int, str] = {}
        for org, beacon in enumerate(self.beacons):
            room = self.rooms[self.barrier_rooms[org]]
            status, data = self.req(
                beacon,
                "POST",
                f"{API}/rooms/{room.rid}/messages",
                body={"content": self.fresh("barrier ")},
            )
            assert status == 201, data
            markers[org] = data["id"]
            self.add_message(data, beacon, room)
        listeners = self.listening()

        async def drain(user: MUser) -> None:
            marker = markers[user.org]
            await self._collect(
                user, lambda e: e.type == "message.created" and e["message"]["id"] == marker
            )

        self.gather([drain(u) for u in listeners])
        for user in listeners:
            self.check_frames(user)
        for user in self.users.values():
            user.pending.clear()
            user.expected.clear()
        self.allowed_before = {u.uid: self.rooms_of(u) for u in self.users.values()}
        self.members_before = {r.rid: set(r.members) for r in self.rooms.values()}

    def check_frames(self, user: MUser) -> None:
        allowed = self.allowed_before.get(user.uid, set()) | self.rooms_of(user)
        got: list[tuple[Any, ...]] = []
        for event in user.pending:
            kind = event.type
            if kind in ("message.pinned", "message.unpinned"):
                assert event["room_id"] in allowed, (user.name, event.data)
                got.append((kind, event["message_id"]))
            elif kind.startswith("message."):
                message = event["message"]
                assert message["room_id"] in allowed, (user.name, event.data)
                got.append((kind, message["id"], message["content"], message["deleted"]))
            elif kind.startswith("room."):
                room = event["room"]
                assert room["id"] in allowed, (user.name, event.data)
                got.append((kind, room["id"], frozenset(u["id"] for u in room["members"])))
            elif kind.startswith("reaction."):
                assert event["room_id"] in allowed, (user.name, event.data)
                got.append((kind, event["message_id"], event["emoji"], event["user_id"]))
            elif kind == "saved.updated":
                got.append((kind, event["message_id"], event["saved"]))
            elif kind == "unread.updated":
                assert event["room_id"] in allowed, (user.name, event.data)
                got.append((kind, event["room_id"], event["unread_count"], event["total"]))
            elif kind == "typing":
                assert event["room_id"] in allowed, (user.name, event.data)
                room = self.rooms[event["room_id"]]
                typist = event["user_id"]
                assert typist in room.members or typist in self.members_before.get(
                    room.rid, set()
                ), (user.name, event.data)
            elif kind == "receipt.updated":
                # Not durable, not owed: only checked to be of a room the listener could see,
                # and of someone who was in it.
                assert event["room_id"] in allowed, (user.name, event.data)
                reader = event["user_id"]
                room = self.rooms[event["room_id"]]
                assert reader in room.members or reader in self.members_before.get(
                    room.rid, set()
                ), (user.name, event.data)
            elif kind == "presence.updated":
                other = self.users.get(event["user_id"])
                assert other is not None, (user.name, event.data)
                assert other.org == user.org, (user.name, event.data)
            else:
                raise AssertionError(f"{user.name} got an unexpected frame {event.data!r}")
        assert got == user.expected, (user.name, got, user.expected)

    @invariant()
    def rest_views_match_model(self) -> None:
        if not self.barrier_rooms:
            return
        calls: list[Awaitable[None]] = []
        for user in self.model_users():
            calls.append(self.check_user(user))
            for room in self.rooms.values():
                calls.append(self.check_room(user, room))
            for att in self.atts.values():
                # Every pairing every other step, and any attachment touched this step.
                if att.aid in self.touched or (self.tick + stable_hash(att.aid, user.uid)) % 2 == 0:
                    calls.append(self.check_download(user, att))
        self.gather(calls)
        self.tick += 1
        self.touched.clear()

    async def check_user(self, user: MUser) -> None:
        if not user.active:
            paths = (
                "/users/me",
                "/rooms",
                "/unread",
                "/messages",
                "/users",
                "/reports/chat-profiles",
            )
            path = paths[self.tick % len(paths)]
            status, _ = await self._req(user, "GET", API + path)
            assert status == 401, (user.name, path, status)
            return
        status, rooms = await self._req(user, "GET", f"{API}/rooms")
        assert status == 200
        mine = self.rooms_of(user)
        assert {r["id"] for r in rooms} == mine, (user.name, rooms)
        for data in rooms:
            room = self.rooms[data["id"]]
            assert data["type"] == room.type
            assert data["name"] == self.room_name(room, user), (data["name"], room)
            assert {u["id"] for u in data["members"]} == set(room.members), (data, room)
            if room.type != "direct":
                assert set(data["admins"]) == room.admins, (data["admins"], room)
            assert data["mention_count"] == self.mention_count(user, room), (user.name, data)
            assert data["unread_count"] == self.unread(user, room), (user.name, data, room)
            in_room = [m for m in self.msgs.values() if m.rid == room.rid and m.reply_to is None]
            last = max(in_room, key=lambda m: m.seq) if in_room else None
            shown = data["last_message"]
            if last is None:
                assert shown is None, (user.name, data)
            else:
                assert shown is not None, (user.name, data)
                assert (shown["id"], shown["content"]) == (last.mid, last.content), (data, last)
        if self.tick % 2:
            await self.check_people(user)
        else:
            await self.check_filters(user, mine)
        status, unread = await self._req(user, "GET", f"{API}/unread")
        expected = self.unread_map(user)
        mentions = {rid: self.mention_count(user, self.rooms[rid]) for rid in expected}
        assert unread == {
            "total": sum(expected.values()),
            "rooms": expected,
            "mentions": mentions,
        }, (
            user.name,
            unread,
        )
        await self.check_channels(user)
        status, found = await self._req(
            user, "GET", f"{API}/messages", params={"q": PROBE, "limit": 200}
        )
        assert status == 200
        want = sorted(
            (
                m
                for m in self.msgs.values()
                if m.rid in mine and not m.deleted and PROBE in m.content.split()
            ),
            key=lambda m: -m.seq,
        )
        assert [m["id"] for m in found] == [m.mid for m in want], (user.name, found, want)
        status, saved = await self._req(user, "GET", f"{API}/saved", params={"limit": 200})
        assert status == 200
        still_mine = [mid for mid in user.saved if self.msgs[mid].rid in mine]
        assert [m["id"] for m in saved] == still_mine[::-1], (user.name, saved, user.saved)

    async def check_filters(self, user: MUser, mine: set[str]) -> None:
        status, filtered = await self._req(user, "GET", f"{API}/rooms", params={"q": "Dunn"})
        assert status == 200
        found_ids = {r["id"] for r in filtered}
        assert found_ids <= mine, (user.name, filtered)
        with_dunn = {
            rid
            for rid in mine
            if any(
                self.users[uid].name == "Dov Dunn" and uid != user.uid
                for uid in self.rooms[rid].members
            )
        }
        assert with_dunn <= found_ids, (user.name, with_dunn, found_ids)
        outsiders = [u for u in self.users.values() if u.org != user.org]
        status, by_outsider = await self._req(
            user, "GET", f"{API}/messages", params={"author_id": outsiders[0].uid}
        )
        assert (status, by_outsider) == (200, []), (user.name, by_outsider)

    async def check_people(self, user: MUser) -> None:
        status, people = await self._req(user, "GET", f"{API}/users", params={"limit": 100})
        assert status == 200
        org_active = {u.uid for u in self.users.values() if u.org == user.org and u.active}
        assert {p["id"] for p in people} == org_active, (user.name, people)
        status, profiles = await self._req(user, "GET", f"{API}/reports/chat-profiles")
        assert status == 200
        assert {p["user"]["id"] for p in profiles} == org_active - {user.uid}
        for profile in profiles:
            direct = next(
                (
                    r.rid
                    for r in self.rooms.values()
                    if r.type == "direct" and set(r.members) == {user.uid, profile["user"]["id"]}
                ),
                None,
            )
            assert profile["direct_room_id"] == direct, (user.name, profile)

    async def check_room(self, user: MUser, room: MRoom) -> None:
        expect = self.room_verdict(user, room) or 200
        if expect != 200:
            # Outsiders: one of the room's read endpoints per step, in rotation (cheaper than
            # all three every time, and over a run each is tried for every pairing).
            probes: list[tuple[str, dict[str, Any] | None]] = [
                (f"{API}/rooms/{room.rid}/messages", None),
                (f"{API}/rooms/{room.rid}", None),
                (f"{API}/messages", {"room_id": room.rid}),
                (f"{API}/rooms/{room.rid}/pins", None),
            ]
            in_room = [m for m in self.msgs.values() if m.rid == room.rid]
            if in_room:  # a thread of the room: the newest message's
                probes.append((f"{API}/messages/{in_room[-1].mid}/thread", None))
            path, params = probes[(self.tick + stable_hash(room.rid, user.uid)) % len(probes)]
            status, data = await self._req(user, "GET", path, params=params)
            assert status == expect, (user.name, room, path, status, data)
            allowed_codes = ("room_not_found", "message_not_found", "not_authenticated")
            assert data["error"]["code"] in allowed_codes, data
            return
        status, data = await self._req(
            user, "GET", f"{API}/rooms/{room.rid}/messages", params={"limit": 200}
        )
        assert status == expect, (user.name, room, status, data)
        want = sorted(
            (m for m in self.msgs.values() if m.rid == room.rid and m.reply_to is None),
            key=lambda m: m.seq,
        )
        got = [
            (
                m["id"],
                m["content"],
                m["deleted"],
                [a["id"] for a in m["attachments"]],
                [(r["emoji"], r["user_ids"]) for r in m["reactions"]],
                m["pinned"],
                m["thread"]["reply_count"] if m["thread"] else 0,
            )
            for m in data
        ]
        assert got == [
            (
                m.mid,
                m.content,
                m.deleted,
                [] if m.deleted else m.attachments,
                list(m.reactions.items()),
                m.pinned,
                m.replies,
            )
            for m in want
        ], (user.name, got, want)
        if self.tick % 2:
            status, pins = await self._req(user, "GET", f"{API}/rooms/{room.rid}/pins")
            assert status == 200
            assert {m["id"] for m in pins} == {m.mid for m in want if m.pinned}, (user.name, pins)

    async def check_download(self, user: MUser, att: MAtt) -> None:
        if not user.active:
            expect = 401
        elif att.org != user.org:
            expect = 404
        elif att.mid is None:
            expect = 200 if att.uploader == user.uid else 404
        else:
            msg = self.msgs[att.mid]
            visible = not msg.deleted and user.uid in self.rooms[msg.rid].members
            expect = 200 if visible else 404
        headers = {"Authorization": f"Bearer {user.token}"}
        response = await user.client._http.get(att.url, headers=headers)
        assert response.status_code == expect, (user.name, att, response.status_code)
        if expect == 200:
            assert response.content == att.data
