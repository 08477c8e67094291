"""History at size: reads against a database holding a million messages, over the real REST API.

The database is made by `parlour migrate`, then filled directly with SQLAlchemy Core executemany
in big transactions (the FTS triggers fill the search index as a real send would), and cached in
build/bench/history-<n>-<schema>-s<seed format>.sqlite3 so a rerun only copies it. One reader is
in 200 rooms (40 direct, 160 group; 20 more rooms hold messages the reader may not see); one group
room holds a fifth of all messages, the rest follow a Zipf-like spread. Read pointers are
realistic: most rooms read to the end, some a few messages behind, a few far behind.

Measured, one request at a time from one client, each p50 and p99 of the whole HTTP round trip:
the latest page of 50 of the biggest room and of random rooms, a page deep in the biggest room's
history (`before=`), the reader's unread counts (`GET /unread`, 200 rooms), and full-text search
for a common, a medium and a rare word. The SQL behind each is also timed in-process with its
`EXPLAIN QUERY PLAN` (SQLite) / `EXPLAIN ANALYZE` (PostgreSQL), written to
<out_dir>/history-plans.txt.

Then the same on PostgreSQL (unless PARLOUR_BENCH_HISTORY_POSTGRES=0 or it is not reachable): the
seeded database is kept as `parlour_bench_history_<n>_<schema>_s<format>` (the cache, VACUUM
ANALYZEd as autovacuum would have) and each run works on a throwaway copy made from it as a
template, dropped afterwards.

    uv run --frozen python -m bench.scenarios.history [--quick]
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import (
    Connection,
    Table,
    bindparam,
    create_engine,
    event,
    insert,
    select,
    update,
)
from sqlalchemy.ext.asyncio import create_async_engine
from tests.support import PASSWORD

from bench.common import ROOT, BenchContext, Row, median, percentile
from bench.scenarios._support import (
    CHEAP_HASHER,
    PG_ADMIN,
    instrumented_server,
    main,
    postgres_available,
    scratch_postgres,
)
from parlour.client import ParlourClient
from parlour.ids import new_id
from parlour.storage import hot_messages
from parlour.storage.hot import HotQuery
from parlour.storage.models import Base, Membership, Message, Organization, Room, User
from parlour.storage.rooms import direct_key

SCENARIO = "history at size"
SEED_FORMAT = 2  # bump when the generator below changes: the cache key includes it
CACHE_DIR = ROOT / "build" / "bench"
USERS = 50
READER_ROOMS = 200
DIRECT_ROOMS = 40
OTHER_ROOMS = 20  # rooms the reader is not in
BIG_ROOM_SHARE = 0.2
PAGE = 50
RARE_WORD = "zephyrine"
RARE_EVERY = 10_000  # one message in this many carries the rare word
BASE_TIME = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class SeedInfo:
    n: int
    reader_email: str
    reader_rooms: list[str]
    big_room: str
    big_room_messages: int
    deep_ids: list[str]  # message ids 1%..5% into the big room's history
    common_word: str
    common_share: float  # fraction of messages holding the common word
    medium_word: str
    medium_share: float
    rare_word: str
    unread_total: int


def schema_head() -> str:
    from alembic.script import ScriptDirectory

    from parlour.storage.migrate import alembic_config

    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    return head or "none"


def cache_paths(n: int) -> tuple[Path, Path]:
    stem = f"history-{n}-{schema_head()}-s{SEED_FORMAT}"
    return CACHE_DIR / f"{stem}.sqlite3", CACHE_DIR / f"{stem}.json"


def _vocabulary(rng: random.Random, size: int = 4000) -> list[str]:
    syllables = ["ka", "lo", "mi", "ne", "ra", "tu", "shi", "po", "ve", "da", "zi", "or", "en"]
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(syllables) for _ in range(rng.randint(2, 4))))
    return sorted(words)


def _seed_sqlite(db_path: Path, n: int, progress: Callable[[float], None]) -> SeedInfo:
    """Fill a freshly migrated SQLite file (synchronous: runs in a thread)."""
    engine = create_engine(f"sqlite:///{db_path}")

    @event.listens_for(engine, "connect")
    def _fast(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA synchronous=OFF")  # a cache file: rebuilt if a crash spoils it
        cursor.execute("PRAGMA cache_size=-262144")
        cursor.close()

    with engine.connect() as conn:
        info = _fill(conn, n, progress)
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return info


async def _seed_postgres(url: str, n: int, progress: Callable[[float], None]) -> SeedInfo:
    engine = create_async_engine(async_url(url))
    async with engine.connect() as conn:
        info = await conn.run_sync(_fill, n, progress)
        # Rows came with explicit ids: move the sequence past them, then plan from real stats
        # (autovacuum would have analyzed a live database of this size long ago).
        await conn.exec_driver_sql(
            "SELECT setval(pg_get_serial_sequence('messages', 'seq'), "
            "(SELECT max(seq) FROM messages))"
        )
        await conn.commit()
    async with engine.connect() as conn:
        autocommit = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await autocommit.exec_driver_sql("VACUUM ANALYZE")
    await engine.dispose()
    return info


def _table(model: type[Base]) -> Table:
    """The model's Core table (typed as any FromClause on the class; each model maps one Table)."""
    table = model.__table__
    assert isinstance(table, Table)
    return table


def _fill(conn: Connection, n: int, progress: Callable[[float], None]) -> SeedInfo:
    """Insert the org, users, rooms, memberships and `n` messages, committing in big chunks."""
    rng = random.Random(6)
    password_hash = CHEAP_HASHER.hash(PASSWORD)
    org_id = new_id()
    users: list[dict[str, Any]] = [
        {
            "id": new_id(),
            "org_id": org_id,
            "email": f"user{i}.{org_id.lower()}@history.bench",
            "full_name": f"History User{i}",
            "password_hash": password_hash,
            "is_admin": i == 0,
            "is_active": True,
            "status": "online",
            "preferences": {},
            "created_at": BASE_TIME,
        }
        for i in range(USERS)
    ]
    reader = users[0]["id"]
    others = [u["id"] for u in users[1:]]
    rooms: list[dict[str, Any]] = []
    members: list[list[str]] = []
    for i in range(READER_ROOMS + OTHER_ROOMS):
        room: dict[str, Any] = {
            "id": new_id(),
            "org_id": org_id,
            "created_at": BASE_TIME,
            "last_message_seq": None,  # set once the messages are in
            "last_activity_at": BASE_TIME,
        }
        if i < DIRECT_ROOMS:
            other = others[i % len(others)]
            room.update(type="direct", name="", direct_key=direct_key(reader, other))
            members.append([reader, other])
        else:
            count = 30 if i == DIRECT_ROOMS else rng.randint(3, 15)
            group = rng.sample(others, count)
            room.update(type="group", name=f"Group {i}", direct_key=None)
            members.append([reader, *group] if i < READER_ROOMS else group)
        rooms.append(room)
    big = DIRECT_ROOMS  # the first group room
    weights = [1.0 / (i + 1) ** 0.9 for i in range(len(rooms))]
    spread = sum(weights) - weights[big]
    weights = [
        BIG_ROOM_SHARE if i == big else (1 - BIG_ROOM_SHARE) * w / spread
        for i, w in enumerate(weights)
    ]
    vocab = _vocabulary(rng)
    word_weights = [1.0 / (rank + 3) for rank in range(len(vocab))]
    common_word, medium_word = vocab[0], vocab[136]
    room_of = rng.choices(range(len(rooms)), weights=weights, k=n)
    lengths = [rng.randint(4, 16) for _ in range(n)]
    words = iter(rng.choices(vocab, weights=word_weights, k=sum(lengths)))
    seqs: list[list[int]] = [[] for _ in rooms]
    authored_by_reader: list[list[int]] = [[] for _ in rooms]
    common = medium = 0
    chunk = 50_000
    conn.execute(
        insert(_table(Organization)),
        [{"id": org_id, "name": f"History {org_id}", "created_at": BASE_TIME}],
    )
    conn.execute(insert(_table(User)), users)
    conn.execute(insert(_table(Room)), rooms)
    conn.commit()
    for start in range(0, n, chunk):
        rows = []
        for index in range(start, min(n, start + chunk)):
            seq = index + 1
            room_index = room_of[index]
            author = rng.choice(members[room_index])
            text = " ".join(next(words) for _ in range(lengths[index]))
            if seq % RARE_EVERY == 0:
                text += f" {RARE_WORD}"
            tokens = text.split()
            common += common_word in tokens
            medium += medium_word in tokens
            seqs[room_index].append(seq)
            if author == reader:
                authored_by_reader[room_index].append(seq)
            rows.append(
                {
                    "seq": seq,
                    "id": new_id(),
                    "room_id": rooms[room_index]["id"],
                    "author_id": author,
                    "content": text,
                    "html": f"<p>{text}</p>",
                    "mentions": [],
                    "client_id": None,
                    "deleted": False,
                    "created_at": BASE_TIME + timedelta(seconds=seq * 2),
                }
            )
        conn.execute(insert(_table(Message)), rows)
        conn.commit()
        progress(min(n, start + chunk) / n * 0.95)
    memberships = []
    unread_total = 0
    for room, room_members, room_seqs, mine in zip(
        rooms, members, seqs, authored_by_reader, strict=True
    ):
        last = room_seqs[-1] if room_seqs else None
        room["last_message_seq"] = last
        room["last_activity_at"] = BASE_TIME + timedelta(seconds=2 * last) if last else BASE_TIME
        for user in room_members:
            read_to = last or 0
            if user == reader and room_seqs:
                behind = min(_behind(rng), len(room_seqs))
                read_to = room_seqs[-behind - 1] if behind < len(room_seqs) else 0
                unread_total += behind - sum(1 for seq in mine if seq > read_to)
            memberships.append(
                {
                    "room_id": room["id"],
                    "user_id": user,
                    "is_admin": user == room_members[0],
                    "start_event_id": 0,
                    "end_event_id": None,
                    "last_read_seq": read_to,
                    "joined_at": BASE_TIME,
                }
            )
    conn.execute(insert(_table(Membership)), memberships)
    room_table = _table(Room)
    conn.execute(
        update(room_table).where(room_table.c.id == bindparam("room")),
        [
            {
                "room": room["id"],
                "last_message_seq": room["last_message_seq"],
                "last_activity_at": room["last_activity_at"],
            }
            for room in rooms
        ],
    )
    conn.commit()
    progress(1.0)
    big_seqs = seqs[big]
    wanted = [big_seqs[int(len(big_seqs) * f / 100)] for f in range(1, 6)]
    deep_ids = list(conn.scalars(select(Message.id).where(Message.seq.in_(wanted))))
    return SeedInfo(
        n=n,
        reader_email=users[0]["email"],
        reader_rooms=[room["id"] for room in rooms[:READER_ROOMS]],
        big_room=rooms[big]["id"],
        big_room_messages=len(big_seqs),
        deep_ids=deep_ids,
        common_word=common_word,
        common_share=common / n,
        medium_word=medium_word,
        medium_share=medium / n,
        rare_word=RARE_WORD,
        unread_total=unread_total,
    )


def _behind(rng: random.Random) -> int:
    """How many messages behind the reader is in a room: mostly none, sometimes many."""
    roll = rng.random()
    if roll < 0.6:
        return 0
    if roll < 0.9:
        return rng.randint(1, 30)
    if roll < 0.98:
        return rng.randint(30, 300)
    return rng.randint(300, 5000)


def async_url(url: str) -> str:
    return "postgresql+asyncpg://" + url.split("://", 1)[1]


def _migrate(data_dir: Path, database_url: str = "") -> None:
    env = dict(os.environ)
    env.pop("PARLOUR_DATABASE_URL", None)
    if database_url:
        env["PARLOUR_DATABASE_URL"] = database_url
    subprocess.run(
        [sys.executable, "-m", "parlour", "migrate", "--data-dir", str(data_dir)],
        check=True,
        capture_output=True,
        cwd=ROOT,
        env=env,
    )


def _psql(sql: str, *options: str) -> str:
    done = subprocess.run([*PG_ADMIN, sql, *options], capture_output=True, text=True, check=True)
    return done.stdout.strip()


async def seeded_postgres(ctx: BenchContext, n: int) -> tuple[str, SeedInfo]:
    """A PostgreSQL database of `n` messages kept as a template (the cache); made if missing."""
    name = f"parlour_bench_history_{n}_{schema_head()}_s{SEED_FORMAT}".lower()
    info_file = CACHE_DIR / f"history-pg-{n}-{schema_head()}-s{SEED_FORMAT}.json"
    query = f"SELECT 1 FROM pg_database WHERE datname = '{name}'"  # noqa: S608 - our own name
    exists = await asyncio.to_thread(_psql, query, "-tA")
    if exists == "1" and info_file.exists():
        return name, SeedInfo(**json.loads(info_file.read_text()))
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    task = ctx.task(f"{SCENARIO}: seeding PostgreSQL with {n:,} messages (kept)", total=1.0)
    await asyncio.to_thread(_psql, f"DROP DATABASE IF EXISTS {name}")
    await asyncio.to_thread(_psql, f"CREATE DATABASE {name}")
    url = f"postgresql://postgres@127.0.0.1:5432/{name}"
    started = time.perf_counter()
    try:
        await asyncio.to_thread(_migrate, ctx.out_dir, url)
        info = await _seed_postgres(url, n, lambda done: ctx.progress.update(task, completed=done))
    except BaseException:
        await asyncio.to_thread(_psql, f"DROP DATABASE IF EXISTS {name}")
        raise
    info_file.write_text(json.dumps(asdict(info)))
    ctx.notes.append(
        f"{SCENARIO}: seeded PostgreSQL database {name} with {n:,} messages in "
        f"{time.perf_counter() - started:.0f} s; it is kept as the template of later runs "
        f"(drop it to reclaim the space)."
    )
    return name, info


async def seeded_database(ctx: BenchContext, n: int) -> tuple[Path, SeedInfo]:
    """The cached database of `n` messages, made first if missing."""
    db_file, info_file = cache_paths(n)
    if db_file.exists() and info_file.exists():
        return db_file, SeedInfo(**json.loads(info_file.read_text()))
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    task = ctx.task(f"{SCENARIO}: seeding {n:,} messages (cached afterwards)", total=1.0)
    work = CACHE_DIR / f"seeding-{n}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    started = time.perf_counter()
    await asyncio.to_thread(_migrate, work)
    info = await asyncio.to_thread(
        _seed_sqlite,
        work / "parlour.db",
        n,
        lambda done: ctx.progress.update(task, completed=done),
    )
    (work / "parlour.db").replace(db_file)
    info_file.write_text(json.dumps(asdict(info)))
    shutil.rmtree(work, ignore_errors=True)
    ctx.notes.append(f"{SCENARIO}: seeded {n:,} messages in {time.perf_counter() - started:.0f} s.")
    return db_file, info


async def _timed(
    count: int, request: Callable[[int], Awaitable[httpx.Response]], check: Callable[[Any], None]
) -> list[float]:
    """`count` timed requests after 10 warm-ups; fewer (at least 50) if they take over 20 s."""
    samples: list[float] = []
    deadline = time.monotonic() + 20.0
    for i in range(count + 10):
        if len(samples) >= 50 and time.monotonic() > deadline:
            break
        started = time.perf_counter()
        response = await request(i)
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            raise AssertionError(f"{response.status_code}: {response.text[:200]}")
        if i < 10:  # warm-up, and the answer's shape checked once
            check(response.json())
        else:
            samples.append(elapsed)
    return samples


async def _measure_rest(
    ctx: BenchContext, base_url: str, info: SeedInfo, count: int
) -> dict[str, list[float]]:
    client = ParlourClient(base_url)
    await client.login(info.reader_email, PASSWORD)
    rng = random.Random(7)
    api = "/api/v1"
    results: dict[str, list[float]] = {}
    headers = {"Authorization": f"Bearer {client.token}"}

    def page_of(expected: int) -> Callable[[Any], None]:
        def check(body: Any) -> None:
            if len(body) != expected:
                raise AssertionError(f"a page of {len(body)}, not {expected}")

        return check

    def unread_check(body: Any) -> None:
        if body["total"] != info.unread_total:
            raise AssertionError(f"unread total {body['total']}, seeded {info.unread_total}")

    def found(body: Any) -> None:
        if not body:
            raise AssertionError("search found nothing")

    room_ids = info.reader_rooms
    cases: list[tuple[str, Callable[[int], str], Callable[[Any], None]]] = [
        (
            "page: latest 50, biggest room",
            lambda i: f"{api}/rooms/{info.big_room}/messages?limit={PAGE}",
            page_of(PAGE),
        ),
        (
            "page: 50 deep in history (before=)",
            lambda i: (
                f"{api}/rooms/{info.big_room}/messages?limit={PAGE}"
                f"&before={info.deep_ids[i % len(info.deep_ids)]}"
            ),
            page_of(PAGE),
        ),
        (
            "page: latest 50, random room",
            lambda i: f"{api}/rooms/{rng.choice(room_ids)}/messages?limit={PAGE}",
            lambda body: None,
        ),
        ("unread counts, 200 rooms", lambda i: f"{api}/unread", unread_check),
        (
            f"search: common word ({info.common_share:.0%} of messages)",
            lambda i: f"{api}/messages?q={info.common_word}&limit={PAGE}",
            found,
        ),
        (
            f"search: medium word ({info.medium_share:.1%} of messages)",
            lambda i: f"{api}/messages?q={info.medium_word}&limit={PAGE}",
            found,
        ),
        (
            f"search: rare word (1 in {RARE_EVERY:,})",
            lambda i: f"{api}/messages?q={info.rare_word}&limit={PAGE}",
            found,
        ),
    ]
    task = ctx.task(f"{SCENARIO}: REST reads", total=len(cases) * (count + 10))
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=60) as http:
        for name, path, check in cases:

            async def request(i: int, path: Callable[[int], str] = path) -> httpx.Response:
                response = await http.get(path(i))
                ctx.progress.advance(task)
                return response

            results[name] = await _timed(count, request, check)
    await client.aclose()
    return results


async def run(ctx: BenchContext) -> list[Row]:
    n = 100_000 if ctx.quick else 1_000_000
    count = 100 if ctx.quick else 300
    db_file, info = await seeded_database(ctx, n)
    data_dir = ctx.out_dir / "history-data"
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(parents=True)
    await asyncio.to_thread(shutil.copyfile, db_file, data_dir / "parlour.db")
    with instrumented_server(data_dir=data_dir) as server:
        samples = await _measure_rest(ctx, server.base_url, info, count)
    db_url = f"sqlite+aiosqlite:///{data_dir / 'parlour.db'}"
    plans = [await _explain_all(db_url, info, "sqlite")]
    shutil.rmtree(data_dir, ignore_errors=True)  # a copy of the cache: hundreds of MB
    rows = _rows(ctx, f"SQLite, {n:,} messages", samples)
    _note(ctx, "SQLite", info)
    if os.environ.get("PARLOUR_BENCH_HISTORY_POSTGRES", "1") != "0" and postgres_available():
        template, pg_info = await seeded_postgres(ctx, n)
        with scratch_postgres("parlour_bench_history_run", template=template) as url:
            with instrumented_server({"PARLOUR_DATABASE_URL": url}) as server:
                samples = await _measure_rest(ctx, server.base_url, pg_info, count)
            plans.append(await _explain_all(async_url(url), pg_info, "postgresql"))
        rows += _rows(ctx, f"PostgreSQL, {n:,} messages", samples)
        _note(ctx, "PostgreSQL", pg_info)
    (ctx.out_dir / "history-plans.txt").write_text("\n\n".join(plans))
    ctx.notes.append(f"{SCENARIO}: query plans in {ctx.out_dir / 'history-plans.txt'}.")
    if ctx.quick:
        ctx.notes.append(f"{SCENARIO}: quick run ({n:,} messages); the 10 ms target is for 1M.")
    return rows


def _rows(ctx: BenchContext, variant_base: str, samples: dict[str, list[float]]) -> list[Row]:
    rows: list[Row] = []
    for name, values in samples.items():
        p99 = percentile(values, 0.99)
        is_page = name.startswith("page")
        rows += [
            Row(SCENARIO, f"{variant_base}: {name}", "p50", median(values), "ms"),
            Row(
                SCENARIO,
                f"{variant_base}: {name}",
                "p99",
                p99,
                "ms",
                target="<= 10 ms" if is_page else "",
                met=(p99 <= 10.0) if is_page and not ctx.quick else None,
                note=f"{len(values)} requests over REST, one at a time",
            ),
        ]
    return rows


def _note(ctx: BenchContext, database: str, info: SeedInfo) -> None:
    ctx.notes.append(
        f"{SCENARIO}, {database}: biggest room {info.big_room_messages:,} messages; the reader's "
        f"unread total {info.unread_total:,} over {READER_ROOMS} rooms (checked against the seed)."
    )


async def _explain_all(url: str, info: SeedInfo, dialect: str) -> str:
    """The real read paths' SQL, timed in-process, with EXPLAIN QUERY PLAN / EXPLAIN ANALYZE."""
    from sqlalchemy.ext.asyncio import AsyncSession

    from parlour.storage import messages as queries

    engine = create_async_engine(url)
    captured: list[tuple[str, Any]] = []

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def capture(_conn: Any, _cursor: Any, statement: str, params: Any, *_rest: Any) -> None:
        captured.append((statement, params))

    out: list[str] = [f"# {dialect}, {info.n:,} messages\n"]
    async with AsyncSession(engine) as session:
        reader_id = (
            await session.execute(_table(User).select().where(User.email == info.reader_email))
        ).first()
        assert reader_id is not None
        user_id = reader_id.id
        anchor = await queries.by_id(session, info.deep_ids[0])
        assert anchor is not None
        # The server's own statements for a page and the unread counts (storage/hot*.py), run as
        # the driver runs them, by a member of the biggest room.
        member = (
            await session.execute(
                select(Membership.user_id, Room.org_id)
                .join(Room, Room.id == Membership.room_id)
                .where(Membership.room_id == info.big_room, Membership.end_event_id.is_(None))
                .limit(1)
            )
        ).one()
        conn = await session.connection()

        async def hot(query: HotQuery, *args: Any) -> Any:
            sql = query.sqlite if dialect == "sqlite" else query.postgresql
            return await conn.exec_driver_sql(sql, args)

        def page_before(ceiling: int) -> Callable[[], Awaitable[Any]]:
            return lambda: hot(
                hot_messages.PAGE_NEWEST,
                info.big_room,
                0,
                ceiling,
                info.big_room,
                member.org_id,
                member.user_id,
                PAGE,
            )

        calls: list[tuple[str, Callable[[], Awaitable[Any]]]] = [
            ("page: latest 50", page_before(hot_messages.NO_BOUND)),
            ("page: deep (before=)", page_before(anchor.seq)),
            ("unread counts", lambda: hot(hot_messages.UNREAD_BY_ROOM, user_id)),
            (
                "search: common word",
                lambda: queries.search(
                    session,
                    user_id=user_id,
                    query=info.common_word,
                    room_id=None,
                    author_id=None,
                    before_seq=None,
                    limit=PAGE,
                    dialect=dialect,
                ),
            ),
            (
                "search: medium word",
                lambda: queries.search(
                    session,
                    user_id=user_id,
                    query=info.medium_word,
                    room_id=None,
                    author_id=None,
                    before_seq=None,
                    limit=PAGE,
                    dialect=dialect,
                ),
            ),
            (
                "search: rare word",
                lambda: queries.search(
                    session,
                    user_id=user_id,
                    query=info.rare_word,
                    room_id=None,
                    author_id=None,
                    before_seq=None,
                    limit=PAGE,
                    dialect=dialect,
                ),
            ),
        ]
        for name, call in calls:
            captured.clear()
            await call()
            statements = list(captured)
            times = []
            for _ in range(7):
                started = time.perf_counter()
                await call()
                times.append((time.perf_counter() - started) * 1000)
            out.append(f"## {name}: median {median(times):.2f} ms in-process\n")
            for statement, params in statements:
                conn = await session.connection()
                explain = "EXPLAIN QUERY PLAN" if dialect == "sqlite" else "EXPLAIN ANALYZE"
                plan = await conn.exec_driver_sql(f"{explain} {statement}", params)
                out.append(statement.strip())
                out.append(f"-- params: {params!r}"[:300])
                out.extend(f"--   {row[-1]}" for row in plan)
                out.append("")
            session.expunge_all()
    await engine.dispose()
    return "\n".join(out)


if __name__ == "__main__":
    main(run)
