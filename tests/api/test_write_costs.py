"""Writes whose cost must not grow with a room's size: counted in SQL statements.

The actions run in-process against the test server's own database (through the factory's
services), with a statement counter on the writer's engine; the real API shows the outcome.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from sqlalchemy import event

from parlour.actions.context import Actor
from parlour.actions.messages import do_delete_message
from parlour.actions.reactions import do_pin, do_react, do_save, do_unpin, do_unreact
from parlour.events import stream
from parlour.services import Services
from tests.support import PASSWORD, Org, OrgFactory


@contextlib.contextmanager
def counting_statements(services: Services) -> Iterator[list[str]]:
    statements: list[str] = []
    engine = services.db.writer.sync_engine

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


async def _delete_cost(orgs: OrgFactory, size: int) -> tuple[int, Org, str, list[str]]:
    assert orgs.services is not None
    org = await orgs.create([f"Member{n} Person" for n in range(size)], login=False)
    await org[0].client.login(org[0].email, PASSWORD)
    room = await org[0].client.create_group(f"Size {size}", [m.user_id for m in org.members[1:]])
    kept = await org[0].client.send_message(room.id, "stays unread")
    doomed = await org[0].client.send_message(room.id, "to be deleted")
    actor = Actor(user_id=org[0].user_id, org_id=org.org_id, is_admin=True, session_id="")
    async with orgs.services.db.read_session() as session:
        before = await stream.current_position(session)
    with counting_statements(orgs.services) as statements:
        await do_delete_message(orgs.services, actor, doomed.id)
    events = await stream.fetch_after(orgs.services.db.hot, before, 1000)
    told = [
        e.user_id or ""
        for e in events
        if e.type == "unread.updated" and f'"room_id":"{room.id}"' in e.payload
    ]
    assert '"unread_count":1' in next(e.payload for e in events if e.user_id == org[1].user_id)
    assert kept.content == "stays unread"
    return len(statements), org, room.id, told


async def test_deleting_a_message_costs_the_same_in_a_small_and_a_large_group(
    orgs: OrgFactory,
) -> None:
    small, _, _, _ = await _delete_cost(orgs, 3)
    large, org, room_id, told = await _delete_cost(orgs, 24)
    assert large == small, f"{small} statements for 3 members, {large} for 24"
    # Each member who had it unread (everyone but its author) is told their new count.
    assert sorted(told) == sorted(m.user_id for m in org.members[1:])

    # Every member who had it unread still hears their new count.
    member = org[5]
    await member.client.login(member.email, PASSWORD)
    unread = await member.client.unread()
    assert unread.rooms.get(room_id) == 1


async def _boost_cost(orgs: OrgFactory, size: int) -> dict[str, int]:
    """Statements of a reaction, an unreaction, a pin, an unpin and a save in a room of `size`."""
    assert orgs.services is not None
    services = orgs.services
    org = await orgs.create([f"Booster{n} Person" for n in range(size)], login=False)
    await org[0].client.login(org[0].email, PASSWORD)
    room = await org[0].client.create_group(f"Boosts {size}", [m.user_id for m in org.members[1:]])
    message = await org[0].client.send_message(room.id, "boost me")
    actor = Actor(user_id=org[0].user_id, org_id=org.org_id, is_admin=True, session_id="")
    costs: dict[str, int] = {}
    steps: dict[str, Callable[[], Awaitable[None]]] = {
        "react": lambda: do_react(services, actor, message.id, "👍"),
        "react again": lambda: do_react(services, actor, message.id, "🎉"),
        "unreact": lambda: do_unreact(services, actor, message.id, "👍"),
        "pin": lambda: do_pin(services, actor, message.id),
        "unpin": lambda: do_unpin(services, actor, message.id),
        "save": lambda: do_save(services, actor, message.id, saved=True),
    }
    for name, step in steps.items():
        with counting_statements(services) as statements:
            await step()
        costs[name] = len(statements)
    shown = (await org[0].client.list_messages(room.id))[-1]
    assert [r.emoji for r in shown.reactions] == ["🎉"]
    return costs


async def test_reactions_pins_and_saves_cost_the_same_in_a_small_and_a_large_room(
    orgs: OrgFactory,
) -> None:
    small = await _boost_cost(orgs, 3)
    large = await _boost_cost(orgs, 40)
    assert large == small, (small, large)
    # A handful each (the message, the membership, the row, the event): none per member.
    assert max(small.values()) <= 12, small
