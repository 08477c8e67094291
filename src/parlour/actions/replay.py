"""What a reconnecting socket missed: where its replay starts, and the replay's pages.

A socket attaches to the hub at position P (live events above P reach it from the hub); what it
missed up to P comes from the database here, page by page, only the events the user was entitled
to (membership spans). Replay and live never overlap and leave no gap.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from parlour.events import stream
from parlour.services import Services

REPLAY_PAGE = 500


@dataclass(frozen=True, slots=True)
class ReplayPlan:
    """`start` is None when the client must resync (unknown, future or pruned cursor)."""

    start: int | None
    first_page: list[stream.StoredEvent] = field(default_factory=list)


async def plan_replay(
    services: Services, user_id: str, since: str | None, position: int
) -> ReplayPlan:
    """Where replay starts and its first page, in one read session."""
    if since is None:
        return ReplayPlan(position)
    since_id = stream.decode_cursor(services.epoch, since)
    if since_id is None:
        return ReplayPlan(None)
    async with services.db.read_session() as session:
        if since_id > position and since_id > await stream.current_position(session):
            return ReplayPlan(None)  # a cursor from the future: not ours
        if since_id < await stream.pruned_before(session) - 1:
            return ReplayPlan(None)  # older than retention: what it missed is gone
        if since_id >= position:
            return ReplayPlan(since_id)
        page = await stream.replay_for_user(session, user_id, since_id, position, REPLAY_PAGE)
    return ReplayPlan(since_id, page)


def is_last_page(page: list[stream.StoredEvent], up_to: int) -> bool:
    return not page or len(page) < REPLAY_PAGE or page[-1].id >= up_to


async def next_replay_page(
    services: Services, user_id: str, after: int, up_to: int
) -> list[stream.StoredEvent] | None:
    """The page after event `after`; None when housekeeping pruned events this replay still
    owed (a replay that started just inside retention): the client must resync, not skip."""
    async with services.db.read_session() as session:
        page = await stream.replay_for_user(session, user_id, after, up_to, REPLAY_PAGE)
        if after < await stream.pruned_before(session) - 1:
            return None
    return page
