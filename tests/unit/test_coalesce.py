"""The coalescer against a real database: concurrent requests fold into one writer job, and each
request still gets its own answer."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from sqlalchemy import insert, select

from parlour.errors import Conflict, ParlourError
from parlour.ids import new_id
from parlour.storage.coalesce import Coalescer
from parlour.storage.engine import Database
from parlour.storage.models import Organization
from parlour.storage.writer import WriteContext, Writer

REFUSE = "refuse me"


class OrgMaker:
    """A coalesced handler that stores one organization per name, set-wise, and refuses REFUSE."""

    def __init__(self, writer: Writer) -> None:
        self.calls: list[list[str]] = []
        # Set when the handler runs; `hold`, if given, keeps it inside the writer's transaction
        # until the test releases it.
        self.entered = asyncio.Event()
        self.hold: asyncio.Event | None = None
        self.coalescer: Coalescer[str, str] = Coalescer(writer, self.handle)

    async def handle(
        self, ctx: WriteContext, names: Sequence[str]
    ) -> Sequence[str | BaseException]:
        self.calls.append(list(names))
        self.entered.set()
        if self.hold is not None:
            await self.hold.wait()
        outcomes: list[str | BaseException] = []
        rows = []
        for name in names:
            if name.startswith(REFUSE):
                outcomes.append(Conflict(f"{name} is refused", code="test_refused"))
                continue
            org_id = new_id()
            rows.append({"id": org_id, "name": name, "created_at": ctx.clock.now()})
            outcomes.append(org_id)
        if rows:
            await ctx.session.execute(insert(Organization), rows)
        return outcomes


async def stored_ids(db: Database, names: Sequence[str]) -> dict[str, str]:
    async with db.read_session() as session:
        rows = await session.execute(
            select(Organization.name, Organization.id).where(Organization.name.in_(names))
        )
        return {name: org_id for name, org_id in rows}


async def test_concurrent_requests_fold_into_one_job_and_each_gets_its_answer(
    db: Database, writer: Writer
) -> None:
    maker = OrgMaker(writer)
    tag = new_id()
    names = [f"folded {tag} {i}" for i in range(3)]
    asked = [names[0], f"{REFUSE} {tag}", names[1], names[2]]
    batches = writer.batches
    outcomes = await asyncio.gather(
        *(maker.coalescer.submit(name) for name in asked), return_exceptions=True
    )
    assert maker.calls == [asked], "one handler call with every request, in order"
    assert writer.batches == batches + 1
    refused = outcomes[1]
    assert isinstance(refused, ParlourError)
    assert refused.code == "test_refused"
    assert refused.message == f"{REFUSE} {tag} is refused", "its own error, not another's"
    answered = [outcomes[0], outcomes[2], outcomes[3]]
    assert dict(zip(names, answered, strict=True)) == await stored_ids(db, names)


async def test_requests_arriving_while_a_job_runs_wait_for_the_next_job(writer: Writer) -> None:
    maker = OrgMaker(writer)
    maker.hold = asyncio.Event()
    tag = new_id()
    first = asyncio.ensure_future(maker.coalescer.submit(f"first {tag}"))
    async with asyncio.timeout(5):
        await maker.entered.wait()  # the first job is running inside the writer's transaction
    later = [asyncio.ensure_future(maker.coalescer.submit(f"later {tag} {i}")) for i in range(2)]
    maker.hold.set()
    async with asyncio.timeout(5):
        await asyncio.gather(first, *later)
    assert maker.calls == [[f"first {tag}"], [f"later {tag} 0", f"later {tag} 1"]]
