"""Leases: background work that one process at a time does.

Every process runs the away consumer and the digests; each would otherwise read the same events
(or the same due people), decide and compose, and all but one would throw that work away at
commit. The lease makes the others skip the pass instead. It is taken and renewed by a
compare-and-set in the write order, only when there is work (an idle pass writes nothing),
renewed once half of it has gone, and let go when the process stops; a process that dies
holding it is outlived by its expiry (`SECONDS`: the longest a crashed holder delays the work).
Correctness never rests on it: the work it guards stays safe without it (compare-and-set on
the stream position, re-checks inside the write order); it only saves the doubled work.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, select, update

from parlour.services import Services
from parlour.storage.models import Lease as LeaseRow
from parlour.storage.writer import WriteContext

SECONDS = 10.0


class Lease:
    def __init__(self, services: Services, name: str, owner: str) -> None:
        self._services = services
        self._name = name
        self._owner = owner
        self._until: datetime | None = None

    async def hold(self) -> bool:
        """Whether this process may do the work now (taking or renewing the lease if needed)."""
        now = self._services.clock.now()
        life = timedelta(seconds=SECONDS)
        if self._until is not None and now < self._until - life / 2:
            return True
        if self._until is None and not await self._free(now):
            return False  # held by another process: no write to find that out again
        until = now + life
        taken = await self._services.writer.run(lambda ctx: self._take(ctx, now, until))
        self._until = until if taken else None
        return taken

    async def _free(self, now: datetime) -> bool:
        async with self._services.db.read_session() as session:
            row = (
                await session.execute(
                    select(LeaseRow.owner, LeaseRow.until).where(LeaseRow.name == self._name)
                )
            ).first()
        if row is None or row.owner in (None, self._owner):
            return True
        return row.until is not None and row.until < now

    async def _take(self, ctx: WriteContext, now: datetime, until: datetime) -> bool:
        taken = await ctx.session.execute(
            update(LeaseRow)
            .where(
                LeaseRow.name == self._name,
                or_(LeaseRow.owner.is_(None), LeaseRow.owner == self._owner, LeaseRow.until < now),
            )
            .values(owner=self._owner, until=until)
        )
        if taken.rowcount == 1:  # type: ignore[attr-defined]
            return True
        # Write jobs run one at a time (every process): nobody inserts between these two.
        if await ctx.session.get(LeaseRow, self._name) is None:
            ctx.session.add(LeaseRow(name=self._name, owner=self._owner, until=until))
            await ctx.session.flush()
            return True
        return False

    async def release(self) -> None:
        """Let go (this process stops): another takes the work over at its next pass."""
        if self._until is None:
            return
        self._until = None

        async def job(ctx: WriteContext) -> None:
            await ctx.session.execute(
                update(LeaseRow)
                .where(LeaseRow.name == self._name, LeaseRow.owner == self._owner)
                .values(owner=None, until=None)
            )

        await self._services.writer.run(job)
