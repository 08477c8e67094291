"""Conversations at size (issue #13): a thread of 10,000 replies, and reactions and pins in a
small and a big room, over the real REST API.

A root gets 10,000 replies (quick: 2,000), written straight into the database with Core
executemany, its summary and followers as the send path leaves them. Measured one request at a
time, p50 and p99 of the whole HTTP round trip: the thread's first page of 50, a page from the
middle (`after=`) and its last page. Target: ≤ 10 ms. Then a reaction added and removed and a pin
added and removed, in a group of 3 and one of 100 members: a write whose statements do not grow
with the room (tests/api/test_write_costs.py counts them) takes the same time in both.

On SQLite and on PostgreSQL (unless it is not reachable), each on a fresh database.

    uv run --frozen python -m bench.scenarios.conversations [--quick]
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import insert, select, update
from tests.support import PASSWORD, Org, OrgFactory, org_factory

from bench.common import BenchContext, Row, median, percentile
from bench.scenarios._support import instrumented_server, main, postgres_available, scratch_postgres
from parlour.ids import new_id
from parlour.storage.models import Message, ThreadFollower

SCENARIO = "conversations"
TARGET_MS = 10.0


async def _bulk_replies(factory: OrgFactory, org: Org, room_id: str, root_id: str, n: int) -> str:
    """`n` replies to `root_id` by the org's second member; returns the middle reply's id."""
    assert factory.services is not None
    replier = org[1].user_id
    now = factory.services.clock.now()
    rows: list[dict[str, Any]] = [
        {
            "id": new_id(),
            "room_id": room_id,
            "author_id": replier,
            "content": f"reply {i}",
            "html": f"<p>reply {i}</p>\n",
            "mentions": [],
            "client_id": None,
            "deleted": False,
            "created_at": now + timedelta(milliseconds=i),
            "reply_to": root_id,
        }
        for i in range(n)
    ]
    messages = Message.metadata.tables["messages"]
    async with factory.services.db.writer.begin() as conn:
        for start in range(0, n, 1000):
            await conn.execute(insert(messages), rows[start : start + 1000])
        await conn.execute(
            update(messages)
            .where(messages.c.id == root_id)
            .values(
                reply_count=n,
                last_reply_at=rows[-1]["created_at"],
                thread_participants=[replier],
            )
        )
        await conn.execute(
            insert(ThreadFollower.metadata.tables["thread_followers"]),
            [
                {"root_id": root_id, "user_id": org[0].user_id, "since_seq": 0},
                {"root_id": root_id, "user_id": replier, "since_seq": 0},
            ],
        )
    return str(rows[n // 2]["id"])


async def _timed(count: int, call: Callable[[], Awaitable[httpx.Response]]) -> list[float]:
    samples: list[float] = []
    for _ in range(count):
        start = time.perf_counter()
        response = await call()
        samples.append((time.perf_counter() - start) * 1000)
        if not response.is_success:
            raise RuntimeError(f"{response.status_code} {response.text[:200]}")
    return samples


async def _measure(ctx: BenchContext, base_url: str, factory: OrgFactory, n: int) -> list[Row]:
    count = 50 if ctx.quick else 200
    org = await factory.create(["Ada Admin", "Bea Member", "Cal Member"])
    room = await org[0].client.create_group("Thread at size", [org[1].user_id, org[2].user_id])
    root = await org[0].client.send_message(room.id, "the root")
    middle = await _bulk_replies(factory, org, room.id, root.id, n)
    crowd = await factory.create([f"Member{i} Person" for i in range(100)], login=False)
    await crowd[0].client.login(crowd[0].email, PASSWORD)
    small = await org[0].client.create_group("Small room", [org[1].user_id])
    big = await crowd[0].client.create_group("Big room", [m.user_id for m in crowd.members[1:]])
    headers = {"Authorization": f"Bearer {org[0].client.token}"}
    crowd_headers = {"Authorization": f"Bearer {crowd[0].client.token}"}
    samples: dict[str, list[float]] = {}
    async with httpx.AsyncClient(base_url=base_url) as http:

        def get(path: str, params: dict[str, Any] | None = None) -> Callable[[], Awaitable[Any]]:
            return lambda: http.get(path, params=params, headers=headers)

        thread = f"/api/v1/messages/{root.id}/thread"
        samples["thread: first page"] = await _timed(count, get(thread, {"limit": 50}))
        samples["thread: middle page"] = await _timed(
            count, get(thread, {"after": middle, "limit": 50})
        )
        tail_anchor = await _nth_from_end(factory, root.id, 50)
        samples["thread: last page"] = await _timed(
            count, get(thread, {"after": tail_anchor, "limit": 50})
        )
        for label, room_id, who_headers, client in (
            ("3 members", small.id, headers, org[0].client),
            ("100 members", big.id, crowd_headers, crowd[0].client),
        ):
            message = await client.send_message(room_id, "boost me")
            samples[f"reaction add + remove, {label}"] = await _timed(
                count,
                _toggle(http, who_headers, f"/api/v1/messages/{message.id}/reactions/%F0%9F%91%8D"),
            )
            samples[f"pin + unpin, {label}"] = await _timed(
                count, _toggle(http, who_headers, f"/api/v1/messages/{message.id}/pin")
            )
    return [
        row
        for name, values in samples.items()
        for row in (
            Row(
                SCENARIO,
                name,
                "p50",
                median(values),
                "ms",
                target=_target(name),
                met=_met(name, values),
            ),
            Row(SCENARIO, name, "p99", percentile(values, 0.99), "ms"),
        )
    ]


def _target(name: str) -> str:
    return f"<= {TARGET_MS:g} ms" if name.startswith("thread") else ""


def _met(name: str, values: list[float]) -> bool | None:
    return median(values) <= TARGET_MS if name.startswith("thread") else None


def _toggle(
    http: httpx.AsyncClient, headers: dict[str, str], path: str
) -> Callable[[], Awaitable[httpx.Response]]:
    async def both() -> httpx.Response:
        added = await http.put(path, headers=headers)
        if not added.is_success:
            return added
        return await http.delete(path, headers=headers)

    return both


async def _nth_from_end(factory: OrgFactory, root_id: str, n: int) -> str:
    """The id of the reply `n` from the thread's end: `after=` it reads the last page."""
    assert factory.services is not None
    messages = Message.metadata.tables["messages"]
    async with factory.services.db.writer.connect() as conn:
        found = await conn.scalar(
            select(messages.c.id)
            .where(messages.c.reply_to == root_id)
            .order_by(messages.c.seq.desc())
            .offset(n)
            .limit(1)
        )
    return str(found)


async def run(ctx: BenchContext) -> list[Row]:
    n = 2_000 if ctx.quick else 10_000
    rows: list[Row] = []
    with instrumented_server() as server:
        async with org_factory(server) as factory:
            measured = await _measure(ctx, server.base_url, factory, n)
    rows += [_labelled(row, f"SQLite, {n:,} replies") for row in measured]
    if postgres_available():
        with (
            scratch_postgres("parlour_bench_conversations") as url,
            instrumented_server({"PARLOUR_DATABASE_URL": url}) as server,
        ):
            async with org_factory(server) as factory:
                measured = await _measure(ctx, server.base_url, factory, n)
        rows += [_labelled(row, f"PostgreSQL, {n:,} replies") for row in measured]
    return rows


def _labelled(row: Row, database: str) -> Row:
    row.variant = f"{database}: {row.variant}"
    return row


if __name__ == "__main__":
    main(run)
