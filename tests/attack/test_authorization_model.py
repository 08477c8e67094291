"""A Hypothesis stateful model of authorization, run against a real `parlour serve` process.

Two organizations; users join (created by an admin), are removed from rooms, leave, log out and
are deactivated; rooms are created, renamed and re-membered; messages are sent (REST and socket),
edited, deleted and read; attachments are uploaded and posted. Every rule acts through the public
HTTP API as a chosen actor, including actions the model says must be refused, and checks the
server's verdict against the model's. After every step the invariants compare, for every user,
what the server lets them list, fetch, search, download and count as unread with what the model
says they may see, and what arrived on their socket with the events the model says they are owed.

The socket barrier is deterministic: a per-organization "beacon" user posts a marker message into
a "barrier" group that every user of the organization is in. The hub delivers events in stream
order, so once a user's socket has shown the marker, every earlier event owed to them has arrived.

Knobs for the long run: PARLOUR_MODEL_EXAMPLES, PARLOUR_MODEL_STEPS, and PARLOUR_MODEL_REPORT (a
file to which a JSON line {"examples", "steps", "rules", "trace", "mode", "seed"} is appended when
the run ends). The examples are the same on every run unless PARLOUR_EXPLORE=1
(tests/attack/exploring.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from typing import Any, TypeVar

import httpx
import pytest
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import select
from websockets.exceptions import ConnectionClosed, InvalidStatus

from parlour.client import ConnectionLost, Event, ParlourClient, SessionRevoked
from parlour.storage.models import Message
from tests.attack.authz_boosts import BoostRules
from tests.attack.authz_bots import BotRules
from tests.attack.authz_channels import ChannelRules
from tests.attack.authz_checks import ViewChecks
from tests.attack.authz_threads import ThreadRules
from tests.attack.authz_world import (
    API,
    INDEX,
    MAX_USERS_PER_ORG,
    PROBE,
    WAIT,
    WORDS,
    Env,
    LoopThread,
    MAtt,
    MMsg,
    MRoom,
    MUser,
    ok,
    pick,
)
from tests.attack.exploring import attack_settings, failure_info, run_info
from tests.support import PASSWORD, OrgFactory, ServerProcess

T = TypeVar("T")

EXAMPLES = int(os.environ.get("PARLOUR_MODEL_EXAMPLES", "10"))
STEPS = int(os.environ.get("PARLOUR_MODEL_STEPS", "20"))
REPORT = os.environ.get("PARLOUR_MODEL_REPORT")


class AuthzMachine(
    ViewChecks, BoostRules, BotRules, ChannelRules, ThreadRules, RuleBasedStateMachine
):
    env: Env  # set by the test before the run

    def __init__(self) -> None:
        super().__init__()
        self.users: dict[str, MUser] = {}
        self.rooms: dict[str, MRoom] = {}
        self.msgs: dict[str, MMsg] = {}
        self.followers: dict[str, dict[str, int]] = {}  # root → follower → since seq
        self.atts: dict[str, MAtt] = {}
        self.seq = 0
        self.counter = 0
        self.tick = 0
        self.touched: set[str] = set()  # attachments whose visibility may have changed
        self.beacons: list[MUser] = []
        self.barrier_rooms: list[str] = []
        self.allowed_before: dict[str, set[str]] = {}
        self.members_before: dict[str, set[str]] = {}
        self.env.examples += 1

    # -- plumbing ------------------------------------------------------------------------------

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.env.loop.run(coro)

    def fresh(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    async def _req(
        self,
        user: MUser,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        files: dict[str, tuple[str, bytes, str]] | None = None,
    ) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {user.token}"} if user.token else {}
        response = await user.client._http.request(
            method, path, json=body, params=params, files=files, headers=headers
        )
        data: Any = None
        if response.content:
            try:
                data = response.json()
            except json.JSONDecodeError:
                data = response.content
        return response.status_code, data

    def req(self, user: MUser, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        return self.run(self._req(user, method, path, **kwargs))

    def gather(self, calls: list[Awaitable[T]]) -> list[T]:
        async def all_of() -> list[T]:
            return list(await asyncio.gather(*calls))

        return self.run(all_of())

    def step(self) -> None:
        """Called first thing by every rule: counts it, and traces it with its arguments."""
        self.env.steps += 1
        caller = sys._getframe(1)
        name = caller.f_code.co_name
        self.env.rules[name] = self.env.rules.get(name, 0) + 1
        arguments = sorted((k, v) for k, v in caller.f_locals.items() if k != "self")
        self.env.trace.add(self.env.examples, name, arguments)

    def model_users(self, org: int | None = None) -> list[MUser]:
        return [u for u in self.users.values() if not u.beacon and (org is None or u.org == org)]

    def active_users(self) -> list[MUser]:
        return [u for u in self.users.values() if u.active and not u.beacon]

    def listening(self) -> list[MUser]:
        return [u for u in self.users.values() if u.stream is not None]

    def rooms_of(self, user: MUser) -> set[str]:
        return {r.rid for r in self.rooms.values() if user.uid in r.members}

    def counts_for(self, user: MUser, msg: MMsg) -> bool:
        """Whether `msg` counts as unread for `user` once past their pointer: others' live
        messages; a reply only for the thread's followers, from when they began following."""
        if msg.author == user.uid or msg.deleted:
            return False
        if msg.reply_to is None:
            return True
        return self.followers.get(msg.reply_to, {}).get(user.uid, msg.seq + 1) <= msg.seq

    def unread(self, user: MUser, room: MRoom) -> int:
        pointer = room.read[user.uid]
        return sum(
            1
            for m in self.msgs.values()
            if m.rid == room.rid and m.seq > pointer and self.counts_for(user, m)
        )

    def unread_map(self, user: MUser) -> dict[str, int]:
        counts = {rid: self.unread(user, self.rooms[rid]) for rid in self.rooms_of(user)}
        return {rid: n for rid, n in counts.items() if n}

    def mention_count(self, user: MUser, room: MRoom) -> int:
        """Unread messages that mention `user` (the server's `mention_count`)."""
        pointer = room.read[user.uid]
        return sum(
            1
            for m in self.msgs.values()
            if m.rid == room.rid
            and m.seq > pointer
            and self.counts_for(user, m)
            and user.uid in m.mentions
        )

    def room_name(self, room: MRoom, viewer: MUser) -> str:
        if room.type != "direct":
            return room.name
        other = next(uid for uid in room.members if uid != viewer.uid)
        return self.users[other].name

    def expect_room_event(self, kind: str, room: MRoom, recipients: list[str]) -> None:
        for uid in recipients:
            self.users[uid].expected.append((kind, room.rid, frozenset(room.members)))

    def expect_message_event(self, kind: str, msg: MMsg) -> None:
        for uid in self.rooms[msg.rid].members:
            self.users[uid].expected.append((kind, msg.mid, msg.content, msg.deleted))

    def expect_unread_event(self, user: MUser, room: MRoom) -> None:
        total = sum(self.unread_map(user).values())
        user.expected.append(("unread.updated", room.rid, self.unread(user, room), total))

    def add_message(self, data: dict[str, Any], author: MUser, room: MRoom) -> MMsg:
        self.seq += 1
        msg = MMsg(
            data["id"],
            room.rid,
            author.uid,
            self.seq,
            [data["content"]],
            client_id=data.get("client_id"),
            attachments=[a["id"] for a in data.get("attachments", [])],
            mentions=list(data.get("mentions", [])),
        )
        self.msgs[msg.mid] = msg
        for aid in msg.attachments:
            self.atts[aid].mid = msg.mid
            self.touched.add(aid)
        self.expect_message_event("message.created", msg)
        return msg

    def check_verdict(self, what: str, status: int, data: Any, expected: int | set[int]) -> None:
        allowed = {expected} if isinstance(expected, int) else expected
        assert status in allowed, f"{what}: server answered {status} {data!r}, model says {allowed}"
        if not ok(status):
            assert isinstance(data, dict), f"{what}: error without a body"
            assert isinstance(data.get("error", {}).get("code"), str), f"{what}: {data!r}"

    # -- sockets -------------------------------------------------------------------------------

    async def _collect(self, user: MUser, until: Callable[[Event], bool]) -> Event:
        stream = user.stream
        assert stream is not None

        def record(event: Event) -> bool:
            user.pending.append(event)
            return until(event)

        return await stream.wait_for(record, timeout=WAIT)

    def collect(self, user: MUser, until: Callable[[Event], bool]) -> Event:
        return self.run(self._collect(user, until))

    async def _open_stream(self, user: MUser) -> None:
        stream = user.client.events(reconnect=False)
        await stream.connect()
        hello = await stream.wait_for("hello", timeout=WAIT)
        assert hello["user"]["id"] == user.uid
        user.stream = stream

    def login(self, user: MUser) -> None:
        self.run(self._login(user))

    async def _login(self, user: MUser) -> None:
        await user.client.login(user.email, user.password)
        user.token = user.client.token
        await self._open_stream(user)

    def ws_frame(self, user: MUser, frame: dict[str, Any]) -> list[Event]:
        """Send a frame, then a ping; return the error frames that came before the pong."""
        assert user.stream is not None
        start = len(user.pending)

        async def go() -> None:
            assert user.stream is not None
            await user.stream._send_frame(frame)
            await user.stream.ping()

        self.run(go())
        self.collect(user, lambda e: e.type == "pong")
        errors = [e for e in user.pending[start:] if e.type == "error"]
        user.pending[start:] = [e for e in user.pending[start:] if e.type not in ("error", "pong")]
        return errors

    def close_stream_revoked(self, user: MUser) -> None:
        """The user's socket must be closed with 4401 (revoked) within the wait."""
        stream = user.stream
        assert stream is not None

        def never(event: Event) -> bool:
            return False

        async def until_closed() -> None:
            with contextlib.suppress(SessionRevoked):
                await stream.wait_for(never, timeout=WAIT)
                raise AssertionError("the stream ended without a 4401 close")

        self.run(until_closed())
        self.run(stream.close())
        user.stream = None
        user.pending.clear()
        user.expected.clear()

    # -- setup ---------------------------------------------------------------------------------

    @initialize()
    def setup(self) -> None:
        """Two organizations, each: an org admin, two members the admin creates over REST, and
        the beacon with its barrier room. Built concurrently: argon2 makes users expensive."""
        slots: list[Any] = [None, None]
        self.beacons = list(slots)
        self.barrier_rooms = list(slots)

        async def both() -> None:
            await asyncio.gather(self._setup_org(0), self._setup_org(1))

        self.run(both())
        self.allowed_before = {u.uid: self.rooms_of(u) for u in self.users.values()}
        self.members_before = {r.rid: set(r.members) for r in self.rooms.values()}

    async def _setup_org(self, org_index: int) -> None:
        factory = self.env.factory
        org = await factory.create([], login=False)
        admin_member = await factory.add_user(org, "Ada Admin", is_admin=True, login=False)
        beacon_member = await factory.add_user(org, "Bea Beacon", login=False)
        admin = self.new_user(org_index, admin_member.user_id, "Ada Admin", admin_member.email)
        admin.admin = True
        beacon = self.new_user(org_index, beacon_member.user_id, "Bea Beacon", beacon_member.email)
        beacon.beacon = True
        self.beacons[org_index] = beacon
        await asyncio.gather(
            admin.client.login(admin.email, PASSWORD), beacon.client.login(beacon.email, PASSWORD)
        )
        admin.token, beacon.token = admin.client.token, beacon.client.token
        extra = await asyncio.gather(
            *(self._create_user_as(admin, name, expect=201) for name in ("Cyd Cole", "Dov Dunn"))
        )
        members = [u for u in extra if u is not None]
        # Sockets first: every event of the seeding below is owed to them.
        await asyncio.gather(self._open_stream(admin), *(self._login(u) for u in members))
        cyd, dov = members
        barrier = await self._seed_group(beacon, f"Barrier {org_index}", [admin, cyd, dov])
        barrier.barrier = True
        self.barrier_rooms[org_index] = barrier.rid
        # Something to act on from the first step: a group without Dov, a direct room, messages
        # (one with an attachment, one with the probe word).
        group = await self._seed_group(admin, f"Seed {org_index}", [cyd])
        status, data = await self._req(
            cyd, "POST", f"{API}/rooms", body={"type": "direct", "user_id": dov.uid}
        )
        assert status == 201, data
        direct = MRoom(data["id"], org_index, "direct", "", [cyd.uid, dov.uid], set(), {})
        direct.read = dict.fromkeys(direct.members, 0)
        self.rooms[direct.rid] = direct
        self.expect_room_event("room.created", direct, direct.members)
        attachment = await self._upload(admin)
        for author, room, content, files in (
            (admin, group, f"{PROBE} seed {org_index}", [attachment.aid]),
            (cyd, group, f"hello seed {org_index}", []),
            (dov, direct, f"{PROBE} direct seed {org_index}", []),
        ):
            body = {"content": content, "client_id": uuid.uuid4().hex, "attachment_ids": files}
            status, data = await self._req(
                author, "POST", f"{API}/rooms/{room.rid}/messages", body=body
            )
            assert status == 201, data
            self.add_message(data, author, room)

    async def _seed_group(self, creator: MUser, name: str, others: list[MUser]) -> MRoom:
        body = {"type": "group", "name": name, "member_ids": [u.uid for u in others]}
        status, data = await self._req(creator, "POST", f"{API}/rooms", body=body)
        assert status == 201, data
        everyone = [creator.uid] + [u.uid for u in others]
        room = MRoom(data["id"], creator.org, "group", name, everyone, {creator.uid}, {})
        room.read = dict.fromkeys(everyone, 0)
        self.rooms[room.rid] = room
        self.expect_room_event("room.created", room, room.members)
        return room

    def new_user(self, org: int, uid: str, name: str, email: str) -> MUser:
        # Drop idle connections well before the server's keep-alive timeout (5 s), so a request
        # never races the server closing the connection it is about to reuse.
        transport = httpx.AsyncHTTPTransport(limits=httpx.Limits(keepalive_expiry=1.0))
        client = ParlourClient(self.env.server.base_url, timeout=30, transport=transport)
        user = MUser(uid, org, name, email, False, client)
        self.users[uid] = user
        return user

    def create_user_as(self, actor: MUser, name: str, *, expect: int) -> MUser | None:
        return self.run(self._create_user_as(actor, name, expect=expect))

    async def _create_user_as(self, actor: MUser, name: str, *, expect: int) -> MUser | None:
        email = f"{name.split()[0].lower()}.{uuid.uuid4().hex[:12]}@example.test"
        status, data = await self._req(
            actor,
            "POST",
            f"{API}/users",
            body={"email": email, "full_name": name, "password": PASSWORD},
        )
        self.check_verdict("create user", status, data, expect)
        if not ok(status):
            return None
        assert data["email"] == email
        assert data["is_active"]
        assert not data["is_admin"]
        return self.new_user(actor.org, data["id"], name, email)

    def teardown(self) -> None:
        async def close_all() -> None:
            for user in self.users.values():
                if user.stream is not None:
                    await user.stream.close()
                await user.client.aclose()

        self.run(close_all())

    # -- rules: users --------------------------------------------------------------------------

    @precondition(lambda self: len(self.model_users()) < 2 * MAX_USERS_PER_ORG)
    @rule(actor=INDEX, name=st.sampled_from(["Eve Joiner", "Fay Joiner", "Gil Joiner"]))
    def user_joins(self, actor: int, name: str) -> None:
        """An org admin creates a user; anyone else is refused. The beacon adds them to the
        barrier room, so they hear the barrier like everyone."""
        self.step()
        who = pick(self.model_users(), actor)
        if len(self.model_users(who.org)) >= MAX_USERS_PER_ORG:
            return
        expect = 401 if not who.active else (201 if who.admin else 403)
        user = self.create_user_as(who, name, expect=expect)
        if user is None:
            return
        self.login(user)
        beacon = self.beacons[user.org]
        barrier = self.rooms[self.barrier_rooms[user.org]]
        status, data = self.req(
            beacon, "POST", f"{API}/rooms/{barrier.rid}/members", body={"user_ids": [user.uid]}
        )
        assert status == 200, data
        barrier.members.append(user.uid)
        barrier.read[user.uid] = self.last_seq(barrier)
        self.expect_room_event("room.member_added", barrier, barrier.members)
        self.learn_line(barrier, beacon)

    def touch_room(self, rid: str) -> None:
        for att in self.atts.values():
            if att.mid is not None and self.msgs[att.mid].rid == rid:
                self.touched.add(att.aid)

    async def _newest_line(self, rid: str) -> tuple[str, str]:
        services = self.env.factory.services
        assert services is not None
        async with services.db.read_session() as session:
            row = (
                await session.execute(
                    select(Message.id, Message.content)
                    .where(Message.room_id == rid, Message.system.is_not(None))
                    .order_by(Message.seq.desc())
                    .limit(1)
                )
            ).one()
        return str(row[0]), str(row[1])

    def learn_line(self, room: MRoom, author: MUser) -> None:
        """A membership change also wrote a system line (docs/conversations.md): the model
        learns its server-chosen id from the database, then treats it as a message of `author`
        that the room's current members receive."""
        mid, content = self.run(self._newest_line(room.rid))
        self.add_message({"id": mid, "content": content}, author, room).system = True

    def last_seq(self, room: MRoom) -> int:
        return max((m.seq for m in self.msgs.values() if m.rid == room.rid), default=0)

    @staticmethod
    def admin_refusal(who: MUser, whom: MUser) -> int | None:
        """The status an org admin's action on `whom` gets before its own rules: 401 logged
        out, 403 not an admin, 404 someone of another organization."""
        if not who.active:
            return 401
        if not who.admin:
            return 403
        if whom.org != who.org:
            return 404
        return None

    @rule(actor=INDEX, other=INDEX)
    def deactivate(self, actor: int, other: int) -> None:
        self.step()
        who = pick(self.model_users(), actor)
        whom = pick(self.model_users(), other)
        refused = self.admin_refusal(who, whom)
        if refused is not None:
            expect = refused
        elif whom.uid == who.uid:
            expect = 409
        else:
            expect = 200
        status, data = self.req(who, "PATCH", f"{API}/users/{whom.uid}", body={"is_active": False})
        self.check_verdict("deactivate", status, data, expect)
        if ok(status):
            assert data["id"] == whom.uid
            assert data["is_active"] is False
            if whom.active:
                whom.active = False
                self.close_stream_revoked(whom)

    @rule(actor=INDEX)
    def logout_and_back(self, actor: int) -> None:
        """Logout revokes the token at once and closes the socket (4401); a new login works, a
        deactivated user's login is refused."""
        self.step()
        who = pick(self.model_users(), actor)
        if not who.active:
            status, data = self.req(
                who,
                "POST",
                f"{API}/auth/login",
                body={"email": who.email, "password": who.password},
            )
            # 429 once the per-account failure limit is hit: still a refusal.
            self.check_verdict("deactivated login", status, data, {401, 429})
            self.check_revoked_socket(who)
            return
        old = who.token
        status, data = self.req(who, "POST", f"{API}/auth/logout")
        self.check_verdict("logout", status, data, 204)
        self.close_stream_revoked(who)
        status, data = self.req(who, "GET", f"{API}/users/me")
        self.check_verdict("me after logout", status, data, 401)
        self.check_revoked_socket(who)
        self.login(who)
        assert who.token != old

    def check_revoked_socket(self, user: MUser) -> None:
        async def attempt() -> None:
            stream = user.client.events(reconnect=False)
            stream._token = user.token
            try:
                await stream.connect()
            except (SessionRevoked, InvalidStatus, ConnectionClosed, ConnectionLost):
                return
            finally:
                await stream.close()
            raise AssertionError(f"a revoked token opened a socket for {user.name}")

        self.run(attempt())

    # -- rules: rooms --------------------------------------------------------------------------

    @rule(actor=INDEX, other=INDEX)
    def open_direct(self, actor: int, other: int) -> None:
        self.step()
        who = pick(self.model_users(), actor)
        whom = pick(self.model_users(), other)
        existing = next(
            (
                r
                for r in self.rooms.values()
                if r.type == "direct" and set(r.members) == {who.uid, whom.uid}
            ),
            None,
        )
        if not who.active:
            expect: int | set[int] = 401
        elif whom.uid == who.uid:
            expect = {400, 422}
        elif whom.org != who.org or not whom.active:
            expect = 404
        else:
            expect = 200 if existing else 201
        status, data = self.req(
            who, "POST", f"{API}/rooms", body={"type": "direct", "user_id": whom.uid}
        )
        self.check_verdict("open direct", status, data, expect)
        if status == 200:
            assert existing is not None
            assert data["id"] == existing.rid
        elif status == 201:
            room = MRoom(data["id"], who.org, "direct", "", [who.uid, whom.uid], set(), {})
            room.read = {who.uid: 0, whom.uid: 0}
            self.rooms[room.rid] = room
            self.expect_room_event("room.created", room, room.members)

    @rule(actor=INDEX, members=st.lists(INDEX, max_size=3))
    def create_group(self, actor: int, members: list[int]) -> None:
        self.create_room("group", actor, members)

    def create_room(self, kind: str, actor: int, members: list[int]) -> None:
        """A group or a channel, by anyone, with anyone (refused for outsiders and the
        deactivated)."""
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
        name = self.fresh(f"{kind.title()} ")
        status, data = self.req(
            who,
            "POST",
            f"{API}/rooms",
            body={"type": kind, "name": name, "member_ids": [u.uid for u in chosen]},
        )
        self.check_verdict(f"create {kind}", status, data, expect)
        if ok(status):
            room = MRoom(data["id"], who.org, kind, name, everyone, {who.uid}, {})
            room.read = dict.fromkeys(everyone, 0)
            self.rooms[room.rid] = room
            self.expect_room_event("room.created", room, room.members)

    def pick_room(self, index: int, *, barrier: bool = True) -> MRoom | None:
        rooms = [r for r in self.rooms.values() if barrier or not r.barrier]
        return pick(rooms, index) if rooms else None

    def room_verdict(self, who: MUser, room: MRoom) -> int:
        """401 for a dead session, 404 for anyone not a member now, else 0 (go on)."""
        if not who.active:
            return 401
        if who.uid not in room.members:
            return 404
        return 0

    @rule(actor=INDEX, room=INDEX)
    def rename(self, actor: int, room: int) -> None:
        self.step()
        who = pick(self.model_users(), actor)
        target = self.pick_room(room)
        if target is None:
            return
        expect = self.room_verdict(who, target)
        if not expect:
            expect = 403 if target.type == "direct" or who.uid not in target.admins else 200
        name = self.fresh("Renamed ")
        status, data = self.req(who, "PATCH", f"{API}/rooms/{target.rid}", body={"name": name})
        self.check_verdict("rename", status, data, expect)
        if ok(status):
            assert data["name"] == name
            target.name = name
            self.expect_room_event("room.updated", target, target.members)
            self.learn_line(target, who)

    @rule(actor=INDEX, room=INDEX, other=INDEX)
    def add_member(self, actor: int, room: int, other: int) -> None:
        self.step()
        who = pick(self.model_users(), actor)
        whom = pick(self.model_users(), other)
        chosen = self.pick_room(room, barrier=False)
        if chosen is None:
            return
        expect = self.room_verdict(who, chosen)
        if not expect:
            # Any member of a channel may bring people in; a group's admins only.
            if chosen.type == "direct" or (chosen.type == "group" and who.uid not in chosen.admins):
                expect = 403
            elif whom.org != who.org or not whom.active:
                expect = 404
            else:
                expect = 200
        status, data = self.req(
            who, "POST", f"{API}/rooms/{chosen.rid}/members", body={"user_ids": [whom.uid]}
        )
        self.check_verdict("add member", status, data, expect)
        if ok(status) and whom.uid not in chosen.members:
            chosen.members.append(whom.uid)
            self.touch_room(chosen.rid)
            chosen.read[whom.uid] = self.last_seq(chosen)
            self.expect_room_event("room.member_added", chosen, chosen.members)
            self.learn_line(chosen, who)
        if ok(status):
            assert {u["id"] for u in data["members"]} == set(chosen.members)

    @rule(actor=INDEX, room=INDEX, other=INDEX, leave=st.booleans())
    def remove_member(self, actor: int, room: int, other: int, leave: bool) -> None:
        self.step()
        who = pick(self.model_users(), actor)
        whom = who if leave else pick(self.model_users(), other)
        chosen = self.pick_room(room, barrier=False)
        if chosen is None:
            return
        expect = self.room_verdict(who, chosen)
        if not expect:
            if whom.uid != who.uid:
                if chosen.type == "direct" or who.uid not in chosen.admins:
                    expect = 403
            elif chosen.type == "direct":
                expect = 409
        if not expect:
            expect = 204 if whom.uid in chosen.members else 404
        status, data = self.req(who, "DELETE", f"{API}/rooms/{chosen.rid}/members/{whom.uid}")
        self.check_verdict("remove member", status, data, expect)
        if ok(status):
            recipients = list(chosen.members)
            chosen.members.remove(whom.uid)
            self.touch_room(chosen.rid)
            chosen.admins.discard(whom.uid)
            del chosen.read[whom.uid]
            if chosen.members and not chosen.admins:
                chosen.admins.add(chosen.members[0])
            self.expect_room_event("room.member_removed", chosen, recipients)
            self.learn_line(chosen, who)

    # -- rules: messages -----------------------------------------------------------------------

    def content(self, word: int) -> str:
        text = f"{pick(WORDS, word)} {self.fresh('m')}"
        if word % 3 == 0:
            # Mention someone, maybe outside the room or the organization.
            text += f" @{pick(list(self.users.values()), word // 3).name}"
        return text

    def check_mentions(self, data: dict[str, Any], room: MRoom) -> None:
        """Mentions resolve only to current members of the room: naming anyone else leaks
        nothing about them (no id, no notification)."""
        mentions = set(data["mentions"])
        assert mentions <= set(room.members), (data["content"], mentions, room.members)
        named = data["content"].split("@", 1)[1] if "@" in data["content"] else None
        if named is not None:
            holders = [uid for uid in room.members if self.users[uid].name == named]
            if holders:
                assert mentions == {holders[0]}, (data["content"], mentions, holders)
            else:
                assert mentions == set(), (data["content"], mentions)

    @rule(actor=INDEX, room=INDEX, word=INDEX, attach=st.sampled_from(["none", "own", "stolen"]))
    def send_rest(self, actor: int, room: int, word: int, attach: str) -> None:
        self.step()
        who = pick(self.model_users(), actor)
        chosen = self.pick_room(room)
        if chosen is None:
            return
        attachment_ids: list[str] = []
        if attach == "own" and who.active:
            attachment_ids = [self.upload(who).aid]
        elif attach == "stolen":
            taken = [a for a in self.atts.values() if a.uploader != who.uid or a.mid is not None]
            if taken:
                attachment_ids = [pick(taken, word).aid]
        expect = self.room_verdict(who, chosen)
        if not expect:
            expect = 404 if attach == "stolen" and attachment_ids else 201
        body: dict[str, Any] = {"content": self.content(word), "client_id": uuid.uuid4().hex}
        if attachment_ids:
            body["attachment_ids"] = attachment_ids
        status, data = self.req(who, "POST", f"{API}/rooms/{chosen.rid}/messages", body=body)
        self.check_verdict("send", status, data, expect)
        if ok(status):
            assert data["room_id"] == chosen.rid
            assert data["content"] == body["content"]
            assert [a["id"] for a in data["attachments"]] == attachment_ids
            self.check_mentions(data, chosen)
            self.add_message(data, who, chosen)

    def upload(self, who: MUser) -> MAtt:
        return self.run(self._upload(who))

    async def _upload(self, who: MUser) -> MAtt:
        payload = f"file {self.fresh('a')}".encode()
        status, data = await self._req(
            who, "POST", f"{API}/attachments", files={"file": ("note.txt", payload, "text/plain")}
        )
        self.check_verdict("upload", status, data, 401 if not who.active else 201)
        att = MAtt(data["id"], who.org, who.uid, data["url"], payload)
        self.atts[att.aid] = att
        self.touched.add(att.aid)
        return att

    @precondition(lambda self: self.active_users())
    @rule(actor=INDEX)
    def upload_only(self, actor: int) -> None:
        self.step()
        self.upload(pick(self.active_users(), actor))

    @rule(actor=INDEX, message=INDEX)
    def retry_client_id(self, actor: int, message: int) -> None:
        """The same client_id from its sender returns the first message (200), wherever the
        retry is aimed; it never stores a second one."""
        self.step()
        mine = [m for m in self.msgs.values() if m.client_id]
        if not mine:
            return
        msg = pick(mine, message)
        who = self.users[msg.author]
        room = pick(list(self.rooms.values()), message)
        status, data = self.req(
            who,
            "POST",
            f"{API}/rooms/{room.rid}/messages",
            body={"content": "retry", "client_id": msg.client_id},
        )
        self.check_verdict("retry", status, data, 401 if not who.active else 200)
        if ok(status):
            assert data["id"] == msg.mid
            assert data["room_id"] == msg.rid

    @rule(actor=INDEX, room=INDEX, word=INDEX)
    def send_socket(self, actor: int, room: int, word: int) -> None:
        self.step()
        listeners = self.listening()
        chosen = self.pick_room(room)
        if chosen is None or not listeners:
            return
        who = pick(listeners, actor)
        client_id = uuid.uuid4().hex
        content = self.content(word)
        assert who.stream is not None
        self.run(who.stream.send(chosen.rid, content, client_id))
        answer = self.collect(
            who, lambda e: e.type in ("ack", "error") and e.get("client_id") == client_id
        )
        who.pending.remove(answer)
        if who.uid in chosen.members:
            assert answer.type == "ack", answer.data
            data = answer["message"]
            assert data["room_id"] == chosen.rid
            assert data["content"] == content
            self.check_mentions(data, chosen)
            self.add_message(data, who, chosen)
        else:
            assert answer.type == "error", answer.data
            assert answer["error"]["code"] == "room_not_found", answer.data

    @rule(actor=INDEX, room=INDEX)
    def typing(self, actor: int, room: int) -> None:
        self.step()
        listeners = self.listening()
        chosen = self.pick_room(room)
        if chosen is None or not listeners:
            return
        who = pick(listeners, actor)
        errors = self.ws_frame(who, {"type": "typing", "room_id": chosen.rid})
        if who.uid in chosen.members:
            assert errors == [], [e.data for e in errors]
        else:
            assert [e["error"]["code"] for e in errors] == ["room_not_found"]

    @rule(actor=INDEX, room=INDEX, message=INDEX, socket=st.booleans())
    def mark_read(self, actor: int, room: int, message: int, socket: bool) -> None:
        self.step()
        chosen = self.pick_room(room)
        if chosen is None or not self.msgs:
            return
        in_room = [m for m in self.msgs.values() if m.rid == chosen.rid]
        msg = (
            pick(in_room, message)
            if in_room and message % 4
            else pick(list(self.msgs.values()), message)
        )
        listeners = self.listening()
        if socket and listeners:
            who = pick(listeners, actor)
        else:
            socket = False
            who = pick(self.model_users(), actor)
        expect = self.room_verdict(who, chosen)
        if not expect:
            expect = 404 if msg.rid != chosen.rid else 204
        if socket:
            errors = self.ws_frame(
                who, {"type": "read", "room_id": chosen.rid, "message_id": msg.mid}
            )
            if expect == 204:
                assert errors == [], [e.data for e in errors]
            else:
                codes = [e["error"]["code"] for e in errors]
                assert codes in (["room_not_found"], ["message_not_found"]), codes
            status = 204 if not errors else 404
        else:
            status, data = self.req(
                who, "POST", f"{API}/rooms/{chosen.rid}/read", body={"message_id": msg.mid}
            )
            self.check_verdict("mark read", status, data, expect)
        if ok(status) and msg.seq > chosen.read[who.uid]:
            chosen.read[who.uid] = msg.seq
            self.expect_unread_event(who, chosen)

    @rule(actor=INDEX, message=INDEX, word=INDEX)
    def edit(self, actor: int, message: int, word: int) -> None:
        self.step()
        if not self.msgs:
            return
        who = pick(self.model_users(), actor)
        msg = pick(list(self.msgs.values()), message)
        expect = self.room_verdict(who, self.rooms[msg.rid])
        if not expect:
            expect = 403 if msg.author != who.uid else (422 if msg.deleted or msg.system else 200)
        content = self.content(word)
        status, data = self.req(
            who, "PATCH", f"{API}/messages/{msg.mid}", body={"content": content}
        )
        self.check_verdict("edit", status, data, {400, 422} if expect == 422 else expect)
        if ok(status):
            assert data["content"] == content
            assert data["edited_at"]
            self.check_mentions(data, self.rooms[msg.rid])
            msg.versions.append(content)
            msg.mentions = list(data["mentions"])
            self.expect_message_event("message.updated", msg)

    @rule(actor=INDEX, message=INDEX)
    def delete(self, actor: int, message: int) -> None:
        self.step()
        if not self.msgs:
            return
        who = pick(self.model_users(), actor)
        msg = pick(list(self.msgs.values()), message)
        room = self.rooms[msg.rid]
        expect = self.room_verdict(who, room)
        if not expect:
            may = msg.author == who.uid or (room.type != "direct" and who.uid in room.admins)
            expect = 204 if may else 403
        status, data = self.req(who, "DELETE", f"{API}/messages/{msg.mid}")
        self.check_verdict("delete", status, data, expect)
        if ok(status) and not msg.deleted:
            affected = [
                uid for uid in room.members if room.read[uid] < msg.seq and uid != msg.author
            ]
            msg.deleted = True
            msg.reactions.clear()
            self.touch_room(msg.rid)
            self.expect_message_event("message.deleted", msg)
            if msg.pinned:
                msg.pinned = False
                self.expect_to_members(room, ("message.unpinned", msg.mid))
            for uid in affected:
                self.expect_unread_event(self.users[uid], room)

    @rule(actor=INDEX, message=INDEX)
    def history(self, actor: int, message: int) -> None:
        self.step()
        if not self.msgs:
            return
        who = pick(self.model_users(), actor)
        msg = pick(list(self.msgs.values()), message)
        expect = self.room_verdict(who, self.rooms[msg.rid]) or 200
        status, data = self.req(who, "GET", f"{API}/messages/{msg.mid}/history")
        self.check_verdict("history", status, data, expect)
        if ok(status):
            versions = [v["content"] for v in data]
            # Deleting blanks the current version; the earlier ones stay.
            want = [*msg.versions[:-1], ""] if msg.deleted else msg.versions
            assert versions == want, (versions, msg)

    @rule(
        actor=INDEX,
        frame=st.sampled_from(
            [
                "not json",
                "[1, 2]",
                '{"type": "subscribe", "room_id": "x"}',
                '{"type": "send", "room_id": 5}',
                '{"type": "read", "room_id": "nope"}',
                '{"no": "type"}',
            ]
        ),
    )
    def bad_frame(self, actor: int, frame: str) -> None:
        """A malformed or unknown frame gets an error frame; the socket stays up."""
        self.step()
        listeners = self.listening()
        if not listeners:
            return
        who = pick(listeners, actor)
        assert who.stream is not None
        start = len(who.pending)

        async def go() -> None:
            assert who.stream is not None
            assert who.stream._ws is not None
            await who.stream._ws.send(frame)
            await who.stream.ping()

        self.run(go())
        self.collect(who, lambda e: e.type == "pong")
        errors = [e for e in who.pending[start:] if e.type == "error"]
        who.pending[start:] = [e for e in who.pending[start:] if e.type not in ("error", "pong")]
        assert len(errors) == 1, [e.data for e in errors]

    @rule(actor=INDEX, room=INDEX, word=INDEX, leave=st.booleans())
    def resume_after_gap(self, actor: int, room: int, word: int, leave: bool) -> None:
        """A listener drops its socket; meanwhile it may leave a room, and someone posts there.
        Reconnecting with `since` must replay exactly what it is owed: its own removal notice,
        never the message posted after it left."""
        self.step()
        listeners = self.listening()
        chosen = self.pick_room(room, barrier=False)
        if not listeners or chosen is None:
            return
        who = pick(listeners, actor)
        assert who.stream is not None
        cursor = who.stream.last_cursor
        self.run(who.stream.close())
        who.stream = None
        if leave and chosen.type != "direct" and who.uid in chosen.members:
            status, data = self.req(who, "DELETE", f"{API}/rooms/{chosen.rid}/members/{who.uid}")
            self.check_verdict("leave while away", status, data, 204)
            recipients = list(chosen.members)
            chosen.members.remove(who.uid)
            self.touch_room(chosen.rid)
            chosen.admins.discard(who.uid)
            del chosen.read[who.uid]
            if chosen.members and not chosen.admins:
                chosen.admins.add(chosen.members[0])
            self.expect_room_event("room.member_removed", chosen, recipients)
            self.learn_line(chosen, who)
        posters = [self.users[uid] for uid in chosen.members if self.users[uid].active]
        if posters:
            poster = pick(posters, word)
            body = {"content": self.content(word), "client_id": uuid.uuid4().hex}
            status, data = self.req(poster, "POST", f"{API}/rooms/{chosen.rid}/messages", body=body)
            self.check_verdict("post while away", status, data, 201)
            self.add_message(data, poster, chosen)

        async def reopen() -> None:
            stream = who.client.events(since=cursor, reconnect=False)
            await stream.connect()
            hello = await stream.wait_for("hello", timeout=WAIT)
            assert hello.cursor == cursor
            who.stream = stream

        self.run(reopen())

    @precondition(lambda self: self.active_users())
    @rule(actor=INDEX, status=st.sampled_from(["online", "away", "busy", "offline"]))
    def set_status(self, actor: int, status: str) -> None:
        """Presence goes only to people who share a room (checked on every socket)."""
        self.step()
        who = pick(self.active_users(), actor)
        code, data = self.req(who, "PATCH", f"{API}/users/me", body={"status": status})
        self.check_verdict("set status", code, data, 200)
        assert data["id"] == who.uid

    @rule(actor=INDEX, other=INDEX, admin=st.booleans())
    def set_admin(self, actor: int, other: int, admin: bool) -> None:
        """Org admins promote and demote others of their org (not themselves down)."""
        self.step()
        who = pick(self.model_users(), actor)
        whom = pick(self.model_users(), other)
        refused = self.admin_refusal(who, whom)
        if refused is not None:
            expect = refused
        elif whom.uid == who.uid and not admin:
            expect = 409
        else:
            expect = 200
        status, data = self.req(who, "PATCH", f"{API}/users/{whom.uid}", body={"is_admin": admin})
        self.check_verdict("set admin", status, data, expect)
        if ok(status):
            assert data["is_admin"] is admin
            whom.admin = admin

    @precondition(lambda self: self.active_users())
    @rule(actor=INDEX, right=st.booleans())
    def change_password(self, actor: int, right: bool) -> None:
        """Needs the current password; this session (token and socket) lives on."""
        self.step()
        who = pick(self.active_users(), actor)
        new = f"{self.fresh('pw')} staple battery horse"
        current = who.password if right else "not my password at all"
        status, data = self.req(
            who,
            "POST",
            f"{API}/users/me/password",
            body={"current_password": current, "new_password": new},
        )
        self.check_verdict("change password", status, data, 204 if right else {400, 401, 403, 422})
        if ok(status):
            who.password = new
        status, data = self.req(who, "GET", f"{API}/users/me")
        self.check_verdict("me after password change", status, data, 200)

    @rule(actor=INDEX, other=INDEX)
    def duplicate_email(self, actor: int, other: int) -> None:
        """An email is unique on the whole server: 409 even for another org's user (for an
        admin), and nothing is created."""
        self.step()
        who = pick(self.model_users(), actor)
        taken = pick(list(self.users.values()), other)
        status, data = self.req(
            who,
            "POST",
            f"{API}/users",
            body={"email": taken.email, "full_name": "Copy Cat", "password": PASSWORD},
        )
        expect = 401 if not who.active else (409 if who.admin else 403)
        self.check_verdict("duplicate email", status, data, expect)


@pytest.fixture(scope="module")
def env(server: ServerProcess) -> Iterator[Env]:
    loop = LoopThread()
    factory = OrgFactory(server)
    loop.run(factory.start())
    try:
        yield Env(server, loop, factory)
    finally:
        loop.run(factory.stop())
        loop.close()


def test_authorization_model(env: Env, pytestconfig: pytest.Config) -> None:
    AuthzMachine.env = env
    error: BaseException | None = None
    try:
        run_state_machine_as_test(
            AuthzMachine,
            settings=attack_settings(max_examples=EXAMPLES, stateful_step_count=STEPS),
        )
    except BaseException as exc:
        error = exc
        raise
    finally:
        trace = env.trace.hexdigest()
        print(f"model: {env.examples} examples, {env.steps} steps, trace {trace}")
        if REPORT:
            with open(REPORT, "a") as handle:
                line = {
                    "examples": env.examples,
                    "steps": env.steps,
                    "rules": env.rules,
                    "trace": trace,
                    **run_info(pytestconfig),
                    **failure_info(error),
                }
                handle.write(json.dumps(line) + "\n")
