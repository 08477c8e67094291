"""What the server stored, as the ground truth a fault test's "lost" and "duplicates" count against.

A client's own stream can only say what it was shown; a message the server acknowledged and then
failed to store (or stored twice) shows only in the stored history. So the fault tests read a
room's whole history back over REST and compare it with the sends the server acknowledged.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from parlour.client import Message, ParlourClient

PAGE = 200


async def stored_history(client: ParlourClient, room_id: str) -> list[Message]:
    """Every message of the room, oldest first, paging back with `before` until a page is empty
    (not until a short page: the server may clamp `limit` below PAGE)."""
    history: list[Message] = []
    before: str | None = None
    while page := await client.list_messages(room_id, before=before, limit=PAGE):
        history[:0] = page
        before = page[0].id
    return history


class Stored(Protocol):
    """What reconciling reads of a stored message (a `Message` has more)."""

    @property
    def id(self) -> str: ...
    @property
    def client_id(self) -> str | None: ...


@dataclass(frozen=True)
class Reconciled:
    """Acknowledged sends against the stored history, by client_id."""

    lost: list[str]  # acknowledged, not stored
    duplicates: int  # stored copies beyond the first, of any client_id
    unacknowledged: list[str]  # stored, never acknowledged (a refused send that was kept)
    wrong_id: list[str]  # stored under another id than the one acknowledged


def reconcile(
    acked: dict[str, str], stored: Iterable[Stored], prefix: str | tuple[str, ...]
) -> Reconciled:
    """`acked` maps client_id -> acknowledged message id; the stored messages whose client_id
    starts with `prefix` (one of them) are the sends under test."""
    stored_ids: dict[str, list[str]] = {}
    for message in stored:
        if message.client_id is not None and message.client_id.startswith(prefix):
            stored_ids.setdefault(message.client_id, []).append(message.id)
    return Reconciled(
        lost=sorted(cid for cid in acked if cid not in stored_ids),
        duplicates=sum(len(ids) - 1 for ids in stored_ids.values()),
        unacknowledged=sorted(cid for cid in stored_ids if cid not in acked),
        wrong_id=sorted(
            cid for cid, mid in acked.items() if cid in stored_ids and mid not in stored_ids[cid]
        ),
    )
