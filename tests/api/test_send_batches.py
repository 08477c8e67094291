"""Sends folded into one write: each keeps its own answer, checks and idempotency.

`store_sends` is what the send coalescer runs for a whole batch. Driving it directly through the
writer pins a mixed batch together (which concurrent HTTP requests cannot promise), then the real
API shows what was stored.
"""

from __future__ import annotations

import asyncio

import pytest

from parlour.actions.context import Actor
from parlour.actions.messages import do_send_message
from parlour.actions.sending import SendRequest, store_sends
from parlour.errors import InvalidInput, NotFound
from parlour.storage.writer import WriteContext
from tests.support import Org, OrgFactory


def actor_of(org: Org, index: int) -> Actor:
    return Actor(user_id=org[index].user_id, org_id=org.org_id, is_admin=index == 0, session_id="")


async def test_a_mixed_batch_answers_each_send_on_its_own(orgs: OrgFactory, org: Org) -> None:
    other = await orgs.create(["Out Sider"])
    room = await org[0].client.create_group("Batch", [org[1].user_id, org[2].user_id])
    await org[0].client.remove_member(room.id, org[2].user_id)
    first = await org[0].client.send_message(room.id, "before", client_id="old")
    requests = [
        SendRequest(actor_of(org, 0), room.id, "one", "a-1"),
        SendRequest(actor_of(org, 1), room.id, "two @Admin Person", "b-1"),
        SendRequest(actor_of(org, 0), room.id, "one again", "a-1"),  # retry inside the batch
        SendRequest(actor_of(org, 0), room.id, "stale retry", "old"),  # retry of a stored send
        SendRequest(actor_of(org, 2), room.id, "removed member", "c-1"),
        SendRequest(actor_of(other, 0), room.id, "other organization", "o-1"),
        SendRequest(actor_of(org, 1), "no-such-room", "nowhere", None),
        SendRequest(actor_of(org, 1), room.id, "no client id", None),
    ]
    assert orgs.services is not None
    services = orgs.services

    async def batch(ctx: WriteContext) -> list[object]:
        return list(await store_sends(services, ctx, requests))

    outcomes = await services.writer.run(batch)

    one, two, one_again, stale, removed, foreign, nowhere, plain = outcomes
    assert isinstance(one, tuple)
    assert one[1] is True
    assert isinstance(one_again, tuple)
    assert one_again == (one[0], False), "a retry in the same batch gets the first copy"
    assert isinstance(stale, tuple)
    assert stale[0].id == first.id
    assert stale[1] is False
    assert stale[0].content == "before"
    for refused in (removed, foreign, nowhere):
        assert isinstance(refused, NotFound)
        assert refused.code == "room_not_found"
    assert isinstance(two, tuple)
    assert two[0].mentions == [org[0].user_id]
    assert isinstance(plain, tuple)
    assert plain[1] is True

    stored = [m for m in await org[1].client.list_messages(room.id) if m.system is None]
    assert [m.content for m in stored] == ["before", "one", "two @Admin Person", "no client id"]
    assert [m.id for m in stored[1:]] == [one[0].id, two[0].id, plain[0].id]


async def test_concurrent_sends_and_retries_store_each_message_once(org: Org) -> None:
    room = await org[0].client.create_group("Busy", [org[1].user_id, org[2].user_id])
    senders = [org[0].client, org[1].client, org[2].client]

    async def send(index: int) -> tuple[str, str]:
        client = senders[index % 3]
        # Every message is sent twice at once under one client_id, as a retrying client would.
        first, second = await asyncio.gather(
            client.send_message(room.id, f"m{index}", client_id=f"k{index}"),
            client.send_message(room.id, f"m{index}", client_id=f"k{index}"),
        )
        assert first.id == second.id
        return first.id, first.content

    sent = await asyncio.gather(*(send(i) for i in range(30)))
    stored = await org[0].client.list_messages(room.id, limit=100)
    assert sorted(m.id for m in stored) == sorted(message_id for message_id, _ in sent)
    assert sorted(m.content for m in stored) == sorted(f"m{i}" for i in range(30))


async def test_what_the_database_would_refuse_is_refused_alone(orgs: OrgFactory, org: Org) -> None:
    """A NUL or an over-long client_id would fail a whole batch in PostgreSQL: refused first."""
    room = await org[0].client.create_group("Guarded", [org[1].user_id])
    assert orgs.services is not None
    with pytest.raises(InvalidInput) as too_long:  # the action itself, whatever the transport
        await do_send_message(orgs.services, actor_of(org, 0), room.id, "fine", "x" * 101)
    assert too_long.value.code == "invalid_client_id"
    async with org[0].client.events() as stream:
        await stream.send(room.id, "nul \x00 inside", "nul-1")
        await stream.send(room.id, "fine", "x" * 101)
        await stream.send(room.id, "fine too", "ok-1")
        errors = [await stream.wait_for("error", timeout=10) for _ in range(2)]
        ack = await stream.wait_for("ack", timeout=10)
    assert sorted(e.data["error"]["code"] for e in errors) == [
        "invalid_characters",
        "invalid_frame",  # the socket layer already refuses an over-long client_id
    ]
    assert ack.data["client_id"] == "ok-1"
    stored = await org[1].client.list_messages(room.id)
    assert [m.content for m in stored] == ["fine too"]


async def test_sends_with_attachments_share_the_batch_and_claim_each_upload_once(
    orgs: OrgFactory, org: Org
) -> None:
    """Attachments take the same folded path as plain sends: one upload is claimed by the first
    send of a batch that names it; a second claim, someone else's upload or an unknown id is
    refused for that send alone."""
    other = await orgs.create(["Up Loader"])
    room = await org[0].client.create_group("Files", [org[1].user_id])
    mine = await org[0].client.upload("a.txt", b"alpha", "text/plain")
    second = await org[0].client.upload("b.txt", b"beta", "text/plain")
    theirs = await org[1].client.upload("c.txt", b"gamma", "text/plain")
    foreign = await other[0].client.upload("d.txt", b"delta", "text/plain")
    requests = [
        SendRequest(actor_of(org, 0), room.id, "", "f-1", (mine.id, second.id)),
        SendRequest(actor_of(org, 0), room.id, "again", "f-2", (mine.id,)),  # already claimed
        SendRequest(actor_of(org, 0), room.id, "not mine", "f-3", (theirs.id,)),
        SendRequest(actor_of(org, 0), room.id, "foreign", "f-4", (foreign.id,)),
        SendRequest(actor_of(org, 1), room.id, "plain beside them", "f-5"),
        SendRequest(actor_of(org, 1), room.id, "own upload", "f-6", (theirs.id,)),
    ]
    assert orgs.services is not None
    services = orgs.services

    async def batch(ctx: WriteContext) -> list[object]:
        return list(await store_sends(services, ctx, requests))

    claimed, twice, not_mine, not_ours, plain, own = await services.writer.run(batch)
    assert isinstance(claimed, tuple)
    assert [a.filename for a in claimed[0].attachments] == ["a.txt", "b.txt"]
    for refused in (twice, not_mine, not_ours):
        assert isinstance(refused, NotFound)
        assert refused.code == "attachment_not_found"
    assert isinstance(plain, tuple)
    assert plain[0].attachments == []
    assert isinstance(own, tuple)
    assert [a.id for a in own[0].attachments] == [theirs.id]

    stored = await org[1].client.list_messages(room.id)
    assert [(m.content, [a.id for a in m.attachments]) for m in stored] == [
        ("", [mine.id, second.id]),
        ("plain beside them", []),
        ("own upload", [theirs.id]),
    ]
    assert await org[1].client.download(stored[0].attachments[0].url) == b"alpha"
