"""A reusable load generator for the fault suites, and the checks that follow a fault run.

A `Fleet` is a handful of users of one organization, each with a REST client and a resumable
`EventStream`, sharing one group room and a ring of direct rooms. While it runs, every user sends
messages continuously (over the socket or over REST, with a fresh client_id per message, several
in flight) and retries each one, with the same client_id, until it is acknowledged: across a server
kill, a database restart or a rate limit. Each user's reader records every `message.created` frame
it is given, with its cursor.

`Fleet.verify()` then compares all of it with the history stored on the server:
- every acknowledged message is stored exactly once, with the acknowledged id and content;
- no client_id is stored twice, and nothing is stored that the fleet never sent;
- each user's event log, per room, is exactly the stored history of that room: no gap, no
  duplicate, same order; and no durable cursor was delivered twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from parlour.client import (
    Backoff,
    Event,
    EventStream,
    Message,
    ParlourAPIError,
    ParlourClient,
    is_retryable,
)
from tests.support import Member, Org

Via = Literal["ws", "rest"]
# How long one socket send waits for its ack before sending again (same client_id). A reconnect
# triggers the resend at once; this only bounds an ack lost without any visible reconnect.
ACK_TIMEOUT = 30.0
PAGE = 200


def seed_from_env() -> int:
    """The run's seed: PARLOUR_FAULT_SEED if set, else a fresh one (printed by the caller)."""
    value = os.environ.get("PARLOUR_FAULT_SEED")
    return int(value) if value else random.SystemRandom().randrange(2**32)


def report(suite: str, figures: dict[str, Any]) -> None:
    """Append one JSON line of figures to PARLOUR_FAULT_REPORT, when it names a file."""
    path = os.environ.get("PARLOUR_FAULT_REPORT")
    if not path:
        return
    line = {"suite": suite, "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **figures}
    with open(path, "a", encoding="utf-8") as out:
        out.write(json.dumps(line, sort_keys=True) + "\n")


@dataclass
class Attempt:
    """One logical message: sent (perhaps several times, one client_id) until acknowledged."""

    client_id: str
    room_id: str
    content: str
    sender: int
    tries: int = 0
    acked_id: str | None = None


@dataclass
class Seen:
    """One `message.created` frame as a user's reader received it."""

    room_id: str
    message_id: str
    client_id: str | None
    cursor: str | None


@dataclass
class Failure:
    """A send that came back with an error (kept for the assertions on error shapes)."""

    via: Via
    status: int | None  # HTTP status for REST, None for a socket error frame
    code: str
    retryable: bool
    retry_after: float | None


class Agent:
    """One user: REST client, event stream, and a reader task that records what arrives."""

    def __init__(
        self,
        index: int,
        member: Member,
        rooms: Sequence[str],
        via: Via,
        on_failure: Callable[[Failure], None] | None = None,
    ) -> None:
        self.index = index
        self.on_failure = on_failure
        self.member = member
        self.client: ParlourClient = member.client
        self.rooms = list(rooms)
        self.via: Via = via
        # Fast reconnects: the server comes back within a second or two of a kill.
        self.stream: EventStream = EventStream(
            self._events_url(), self.client.token, backoff=Backoff(base=0.05, cap=1.0)
        )
        self.log: list[Seen] = []
        self.hellos = 0
        self.failures: list[Failure] = []
        self.ack_timeouts = 0
        self._waiters: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._changed = asyncio.Condition()
        self._hello = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None
        self.reader_error: BaseException | None = None

    def _events_url(self) -> str:
        return self.client.base_url.replace("http://", "ws://") + "/api/v1/events"

    async def start(self) -> None:
        await self.stream.connect()
        self._reader = asyncio.create_task(self._read(), name=f"reader-{self.index}")

    async def stop(self) -> None:
        await self.stream.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader

    async def _read(self) -> None:
        try:
            async for event in self.stream:
                self._on_event(event)
                async with self._changed:
                    self._changed.notify_all()
        except Exception as error:  # surfaced by verify(): a reader must never die
            self.reader_error = error

    def _on_event(self, event: Event) -> None:
        if event.type == "hello":
            self.hellos += 1
            # Wake every send waiting on the old connection: its frame may have died with it.
            self._hello.set()
            self._hello = asyncio.Event()
        elif event.type == "message.created":
            message = event.data["message"]
            self.log.append(
                Seen(message["room_id"], message["id"], message.get("client_id"), event.cursor)
            )
        elif event.type in ("ack", "error"):
            client_id = event.get("client_id")
            waiter = self._waiters.get(client_id) if isinstance(client_id, str) else None
            if waiter is not None and not waiter.done():
                waiter.set_result(event.data)
        elif event.type == "resync_required":
            # The stream lost its place: that is a gap by definition.
            self.log.append(Seen("", "resync_required", None, None))

    async def wait(self, predicate: Callable[[], bool], timeout: float) -> None:
        """Until `predicate` holds, re-checked after every frame the reader records."""
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(predicate)

    # -- sending -----------------------------------------------------------------------------

    async def send_until_acked(self, attempt: Attempt) -> None:
        if self.via == "ws":
            await self._send_ws(attempt)
        else:
            await self._send_rest(attempt)

    async def _send_ws(self, attempt: Attempt) -> None:
        loop = asyncio.get_running_loop()
        errors = 0
        while True:
            waiter: asyncio.Future[dict[str, Any]] = loop.create_future()
            self._waiters[attempt.client_id] = waiter
            reconnected = self._hello
            attempt.tries += 1
            await self.stream.send(attempt.room_id, attempt.content, attempt.client_id)
            hello = asyncio.ensure_future(reconnected.wait())
            either: set[asyncio.Future[Any]] = {waiter, hello}
            try:
                await asyncio.wait(either, timeout=ACK_TIMEOUT, return_when="FIRST_COMPLETED")
            finally:
                hello.cancel()
            if not waiter.done():
                if not hello.done():
                    self.ack_timeouts += 1
                continue  # the connection changed (or the ack never came): send again
            frame = waiter.result()
            if frame["type"] == "ack":
                attempt.acked_id = frame["message"]["id"]
                del self._waiters[attempt.client_id]
                return
            error = frame["error"]
            retry_after = error.get("details", {}).get("retry_after")
            self._failed(
                Failure("ws", None, error["code"], bool(frame.get("retryable")), retry_after)
            )
            if not frame.get("retryable"):
                raise AssertionError(f"send refused for good: {frame}")
            await asyncio.sleep(self.client.backoff.delay(errors))  # retry pacing, not a wait
            errors += 1

    def _failed(self, failure: Failure) -> None:
        self.failures.append(failure)
        if self.on_failure is not None:
            self.on_failure(failure)

    async def _send_rest(self, attempt: Attempt) -> None:
        errors = 0
        while True:
            attempt.tries += 1
            try:
                message = await self.client.send_message(
                    attempt.room_id, attempt.content, attempt.client_id
                )
            except (httpx.TransportError, ParlourAPIError) as exc:
                if isinstance(exc, ParlourAPIError):
                    self._failed(
                        Failure("rest", exc.status, exc.code, is_retryable(exc), exc.retry_after)
                    )
                if not is_retryable(exc):
                    raise
                delay = self.client.backoff.delay(errors)
                if isinstance(exc, ParlourAPIError) and exc.retry_after is not None:
                    delay = max(delay, min(exc.retry_after, 2.0))
                await asyncio.sleep(delay)  # retry pacing, not a wait
                errors += 1
                continue
            attempt.acked_id = message.id
            return


@dataclass
class Fleet:
    """Users of one organization sending into shared rooms; see the module docstring."""

    org: Org
    rng: random.Random
    window: int = 3
    agents: list[Agent] = field(default_factory=list)
    attempts: list[Attempt] = field(default_factory=list)
    room_members: dict[str, list[int]] = field(default_factory=dict)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _workers: list[asyncio.Task[None]] = field(default_factory=list)
    _acked: asyncio.Condition = field(default_factory=asyncio.Condition)
    acked: int = 0
    failed: int = 0
    _failure_seen: asyncio.Event = field(default_factory=asyncio.Event)

    async def setup(self, vias: Sequence[Via] | None = None) -> None:
        """Create the rooms (one group, a ring of direct rooms) and connect every stream."""
        members = self.org.members
        count = len(members)
        owner = members[0].client
        group = await owner.create_group("Fault load", [m.user_id for m in members[1:]])
        self.room_members[group.id] = list(range(count))
        for i in range(count):
            j = (i + 1) % count
            if count > 2 or i == 0:
                room = await members[i].client.create_direct(members[j].user_id)
                self.room_members[room.id] = [i, j]
        for i, member in enumerate(members):
            rooms = [r for r, who in self.room_members.items() if i in who]
            via: Via = vias[i % len(vias)] if vias else ("ws" if i % 2 == 0 else "rest")
            agent = Agent(i, member, rooms, via, self._on_failure)
            await agent.start()
            self.agents.append(agent)

    def start(self) -> None:
        for agent in self.agents:
            for lane in range(self.window):
                self._workers.append(
                    asyncio.create_task(self._work(agent, lane), name=f"send-{agent.index}-{lane}")
                )

    async def _work(self, agent: Agent, lane: int) -> None:
        number = 0
        while not self._stop.is_set():
            number += 1
            room_id = self.rng.choice(agent.rooms)
            client_id = f"f{agent.index}-{lane}-{number}-{self.rng.randrange(16**8):08x}"
            attempt = Attempt(client_id, room_id, f"load {client_id}", agent.index)
            self.attempts.append(attempt)
            await agent.send_until_acked(attempt)
            async with self._acked:
                self.acked += 1
                self._acked.notify_all()

    def _on_failure(self, failure: Failure) -> None:
        self.failed += 1
        self._failure_seen.set()

    async def wait_failure(self, timeout: float) -> None:
        """Until some send fails (again) with an error answer: the outage is visible."""
        self._failure_seen.clear()
        async with asyncio.timeout(timeout):
            await self._failure_seen.wait()

    def failures(self) -> list[Failure]:
        return [f for agent in self.agents for f in agent.failures]

    async def wait_acked(self, count: int, timeout: float) -> None:
        async with asyncio.timeout(timeout), self._acked:
            await self._acked.wait_for(lambda: self.acked >= count)

    async def stop(self, timeout: float = 60) -> None:
        """Stop starting new messages; those in flight are retried until acknowledged."""
        self._stop.set()
        async with asyncio.timeout(timeout):
            await asyncio.gather(*self._workers)

    async def close(self) -> None:
        for worker in self._workers:
            worker.cancel()
        for agent in self.agents:
            await agent.stop()

    # -- checks ------------------------------------------------------------------------------

    async def stored(self, room_id: str) -> list[Message]:
        """A room's whole history, oldest first, paging back from the newest."""
        client = self.agents[self.room_members[room_id][0]].client
        history: list[Message] = []
        before: str | None = None
        while True:
            page = await client.list_messages(room_id, before=before, limit=PAGE)
            history[:0] = page
            if len(page) < PAGE:
                return history
            before = page[0].id

    async def verify(self, *, catch_up_timeout: float = 30) -> dict[str, Any]:
        """Run every check; returns figures (lost, duplicates, gaps...) and asserts they are 0."""
        stored = {room_id: await self.stored(room_id) for room_id in self.room_members}
        by_client_id: dict[str, list[Message]] = {}
        for messages in stored.values():
            for message in messages:
                by_client_id.setdefault(message.client_id or "", []).append(message)
        acked = [a for a in self.attempts if a.acked_id is not None]
        sent = {a.client_id for a in self.attempts}
        lost = [a for a in acked if a.client_id not in by_client_id]
        duplicates = {cid: len(ms) for cid, ms in by_client_id.items() if len(ms) > 1}
        wrong = [
            a
            for a in acked
            if a.client_id in by_client_id
            and (
                by_client_id[a.client_id][0].id != a.acked_id
                or by_client_id[a.client_id][0].content != a.content
                or by_client_id[a.client_id][0].room_id != a.room_id
            )
        ]
        strangers = [cid for cid in by_client_id if cid not in sent]

        # Every reader must catch up with the stored history of each of its rooms.
        def counts(agent: Agent) -> Counter[str]:
            return Counter(seen.room_id for seen in agent.log)

        def caught_up(agent: Agent) -> Callable[[], bool]:
            expected = {room_id: len(stored[room_id]) for room_id in agent.rooms}
            return lambda: all(counts(agent)[r] >= n for r, n in expected.items())

        for agent in self.agents:
            with contextlib.suppress(TimeoutError):  # the assertions below say what is missing
                await agent.wait(caught_up(agent), catch_up_timeout)
        gaps = 0
        repeats = 0
        for agent in self.agents:
            cursors = [seen.cursor for seen in agent.log if seen.cursor is not None]
            repeats += len(cursors) - len(set(cursors))
            for room_id in agent.rooms:
                got = [seen.message_id for seen in agent.log if seen.room_id == room_id]
                want = [m.id for m in stored[room_id]]
                repeats += len(got) - len(set(got))
                gaps += len(set(want) - set(got))
            resyncs = sum(1 for seen in agent.log if seen.message_id == "resync_required")
            gaps += resyncs
        order_errors = sum(
            1
            for agent in self.agents
            for room_id in agent.rooms
            if [s.message_id for s in agent.log if s.room_id == room_id]
            != [m.id for m in stored[room_id]]
        )
        failures = [f for agent in self.agents for f in agent.failures]
        figures: dict[str, Any] = {
            "users": len(self.agents),
            "rooms": len(self.room_members),
            "messages_sent": len(self.attempts),
            "messages_acked": len(acked),
            "send_attempts": sum(a.tries for a in self.attempts),
            "retried_messages": sum(1 for a in self.attempts if a.tries > 1),
            "stored": sum(len(ms) for ms in stored.values()),
            "lost": len(lost),
            "duplicates": sum(n - 1 for n in duplicates.values()),
            "mismatched": len(wrong),
            "strangers": len(strangers),
            "event_gaps": gaps,
            "event_duplicates": repeats,
            "event_order_errors": order_errors,
            "reconnects": sum(agent.stream.reconnects for agent in self.agents),
            "send_errors": len(failures),
            "ack_timeouts": sum(agent.ack_timeouts for agent in self.agents),
        }
        reader_errors = [repr(a.reader_error) for a in self.agents if a.reader_error is not None]
        assert not reader_errors, f"a reader died: {reader_errors}"
        assert not lost, f"acknowledged but not stored: {[a.client_id for a in lost][:10]}"
        assert not duplicates, f"stored more than once: {list(duplicates.items())[:10]}"
        assert not wrong, f"stored differently than acknowledged: {wrong[:5]}"
        assert not strangers, f"stored but never sent: {strangers[:10]}"
        assert gaps == 0, f"event logs miss {gaps} stored messages (or had to resync)"
        assert repeats == 0, f"event logs repeat {repeats} events"
        assert order_errors == 0, f"{order_errors} event logs differ in order from the history"
        return figures
