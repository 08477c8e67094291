"""The authorization model's world: what the model believes exists, and its plumbing.

Used by tests/attack/test_authorization_model.py: the users, rooms, messages and attachments of
two organizations as the model tracks them, the constants of the run, and a private event loop
in a thread (the Hypothesis state machine is sync, the SDK async).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

from hypothesis import strategies as st

from parlour.client import Event, EventStream, ParlourClient
from tests.attack.exploring import Trace
from tests.support import PASSWORD, OrgFactory, ServerProcess

T = TypeVar("T")

API = "/api/v1"
PROBE = "zebra"
WORDS = [PROBE, "plain", "hello", "quiet"]
MAX_USERS_PER_ORG = 5  # model users, the beacon not counted
WAIT = 10.0  # seconds a frame we are owed may take; reaching it is a failure, not a pause
DURABLE = frozenset(
    {
        "message.created",
        "message.updated",
        "message.deleted",
        "room.created",
        "room.updated",
        "room.member_added",
        "room.member_removed",
        "unread.updated",
        "reaction.added",
        "reaction.removed",
        "message.pinned",
        "message.unpinned",
        "saved.updated",
    }
)
ROOM_SCOPED = frozenset({"typing"})


# -- a private event loop in a thread: the machine is sync, the SDK async ---------------------


class LoopThread:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@dataclass
class Env:
    server: ServerProcess
    loop: LoopThread
    factory: OrgFactory
    examples: int = 0
    steps: int = 0
    rules: dict[str, int] = field(default_factory=dict)
    trace: Trace = field(default_factory=Trace)


# -- the model ---------------------------------------------------------------------------------


@dataclass
class MUser:
    uid: str
    org: int
    name: str
    email: str
    admin: bool
    client: ParlourClient
    beacon: bool = False
    active: bool = True
    password: str = PASSWORD
    token: str | None = None
    stream: EventStream | None = None
    pending: list[Event] = field(default_factory=list)
    expected: list[tuple[Any, ...]] = field(default_factory=list)
    saved: list[str] = field(default_factory=list)  # message ids, oldest save first


@dataclass
class MRoom:
    rid: str
    org: int
    type: str
    name: str
    members: list[str]  # membership order (the server's membership id order)
    admins: set[str]
    read: dict[str, int]  # member -> last read seq
    barrier: bool = False


@dataclass
class MMsg:
    mid: str
    rid: str
    author: str
    seq: int
    versions: list[str]
    deleted: bool = False
    attachments: list[str] = field(default_factory=list)
    client_id: str | None = None
    reactions: dict[str, list[str]] = field(default_factory=dict)  # emoji → reactors, chip order
    mentions: list[str] = field(default_factory=list)
    reply_to: str | None = None  # a reply: its root
    replies: int = 0  # a root: how many replies it got
    pinned: bool = False
    system: bool = False  # a system line (a membership change): never edited

    @property
    def content(self) -> str:
        return "" if self.deleted else self.versions[-1]


@dataclass
class MAtt:
    aid: str
    org: int
    uploader: str
    url: str
    data: bytes
    mid: str | None = None


def ok(status: int) -> bool:
    return 200 <= status < 300


def pick(items: list[T], index: int) -> T:
    return items[index % len(items)]


INDEX = st.integers(min_value=0, max_value=10_000)
