"""One request the database refuses never fails the others it was batched with.

A coalesced job handles many requests with shared set-wise statements, so one value the database
refuses fails the statement for all of them; and a writer batch runs many jobs in one transaction.
Both are driven here through a real Writer on the test database (SQLite or PostgreSQL), with a
real constraint violation: an organization name that already exists (names are unique).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError, OperationalError

from parlour.errors import Unavailable
from parlour.ids import new_id
from parlour.services import Services
from parlour.storage.coalesce import Coalescer
from parlour.storage.models import Organization
from parlour.storage.writer import WriteContext
from tests.support import Org, OrgFactory


def services_of(orgs: OrgFactory) -> Services:
    assert orgs.services is not None
    return orgs.services


async def insert_orgs(ctx: WriteContext, names: Sequence[str]) -> list[str]:
    """Every name in one multi-row INSERT, as the send coalescer inserts messages."""
    ids = [new_id() for _ in names]
    rows = [
        {"id": org_id, "name": name, "created_at": ctx.clock.now()}
        for org_id, name in zip(ids, names, strict=True)
    ]
    await ctx.session.execute(insert(Organization), rows)
    return ids


async def stored_names(services: Services, names: Sequence[str]) -> dict[str, str]:
    async with services.db.read_session() as session:
        rows = await session.execute(
            select(Organization.name, Organization.id).where(Organization.name.in_(list(names)))
        )
        return {name: org_id for name, org_id in rows}


async def test_a_refused_request_is_answered_alone_and_the_rest_are_stored(
    orgs: OrgFactory, org: Org
) -> None:
    services = services_of(orgs)
    calls: list[list[str]] = []

    async def handle(ctx: WriteContext, names: Sequence[str]) -> list[str | BaseException]:
        calls.append(list(names))
        return list(await insert_orgs(ctx, names))

    coalescer: Coalescer[str, str] = Coalescer(services.writer, handle)
    fresh = [f"Isolated {new_id()}" for _ in range(5)]
    names = [*fresh[:2], org.name, *fresh[2:]]  # org.name exists: the database refuses it

    outcomes = await asyncio.gather(
        *(coalescer.submit(name) for name in names), return_exceptions=True
    )

    assert calls[0] == names, "the requests were folded into one job first"
    assert sorted(calls[1:]) == sorted([name] for name in names), "then each ran alone, once"
    refused = outcomes[2]
    assert isinstance(refused, Unavailable), refused
    assert isinstance(refused.__cause__, IntegrityError), "the database's own refusal"
    stored = await stored_names(services, fresh)
    answered = [outcome for index, outcome in enumerate(outcomes) if index != 2]
    assert answered == [stored[name] for name in fresh], "every other request stored and answered"


async def test_a_lost_connection_is_shared_and_not_retried_request_by_request(
    orgs: OrgFactory,
) -> None:
    """Alone, each request would meet the same dead connection: one error for all, one job."""
    services = services_of(orgs)
    calls: list[list[str]] = []

    async def handle(ctx: WriteContext, names: Sequence[str]) -> list[str | BaseException]:
        calls.append(list(names))
        raise OperationalError("SELECT 1", {}, ConnectionResetError("connection reset"))

    coalescer: Coalescer[str, str] = Coalescer(services.writer, handle)
    outcomes = await asyncio.gather(
        *(coalescer.submit(f"Lost {index}") for index in range(3)), return_exceptions=True
    )

    assert len(calls) == 1
    assert all(isinstance(outcome, Unavailable) for outcome in outcomes), outcomes


async def test_a_failing_job_does_not_poison_its_batch_transaction(
    orgs: OrgFactory, org: Org
) -> None:
    """On PostgreSQL a failed statement aborts the transaction; each job's savepoint contains it."""
    services = services_of(orgs)
    before, after = f"Before {new_id()}", f"After {new_id()}"
    batches = services.writer.batches

    async def one(name: str) -> str:
        async def job(ctx: WriteContext) -> str:
            (org_id,) = await insert_orgs(ctx, [name])
            return org_id

        return await services.writer.run(job)

    first, refused, last = await asyncio.gather(
        one(before), one(org.name), one(after), return_exceptions=True
    )

    assert services.writer.batches == batches + 1, "the three jobs shared one transaction"
    assert isinstance(refused, Unavailable)
    assert await stored_names(services, [before, after]) == {before: first, after: last}
