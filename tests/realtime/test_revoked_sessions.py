"""A session revoked around a socket's life stores nothing and keeps no socket (attack run).

The hub closes a session's sockets when it passes the revocation event. Around that moment two
holes were open: a send on a socket whose close had not been processed yet was stored, and a
socket that authenticated just before the revocation and attached just after it was never closed.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, update

from parlour.actions.context import Actor
from parlour.actions.messages import do_send_message
from parlour.client import ParlourAPIError
from parlour.client.errors import SessionRevoked
from parlour.errors import NotLoggedIn
from parlour.services import Services
from parlour.storage.models import Session
from parlour.storage.writer import WriteContext
from tests.support import (
    Member,
    Org,
    OrgFactory,
    ServerProcess,
    free_port,
    org_factory,
)


def services_of(orgs: OrgFactory) -> Services:
    assert orgs.services is not None
    return orgs.services


async def actor_with_session(services: Services, org: Org, member: Member) -> Actor:
    """The member's actor as the server builds it, with the id of their one live session."""
    async with services.db.read_session() as session:
        session_id = await session.scalar(
            select(Session.id).where(
                Session.user_id == member.user_id, Session.revoked_at.is_(None)
            )
        )
    assert session_id is not None
    return Actor(member.user_id, org.org_id, is_admin=False, session_id=session_id)


async def revoke_in_database(services: Services, user_id: str) -> None:
    """The revocation's database half, without its stream event: what a send sees in the moment
    before the hub processes the event (that event, not this row, is what closes sockets)."""

    async def job(ctx: WriteContext) -> None:
        await ctx.session.execute(
            update(Session)
            .where(Session.user_id == user_id, Session.revoked_at.is_(None))
            .values(revoked_at=ctx.clock.now())
        )

    await services.writer.run(job)


async def test_a_send_on_a_socket_of_a_revoked_session_is_refused(
    orgs: OrgFactory, org: Org
) -> None:
    ada, bea = org[0].client, org[1].client
    room = await ada.create_group("Revoked", [org[1].user_id])
    async with bea.events(reconnect=False) as stream:
        await revoke_in_database(services_of(orgs), org[1].user_id)
        await stream.send(room.id, "after the revocation", "revoked-1")
        # Refused, and the socket closed as the hub would close it: no ack comes.
        with pytest.raises(SessionRevoked):
            await stream.wait_for("ack", timeout=10)
    assert [m.content for m in await ada.list_messages(room.id)] == []


async def test_the_send_actions_refuse_a_revoked_session(orgs: OrgFactory, org: Org) -> None:
    """Both send paths (coalesced plain text, and with attachments) read the session."""
    services = services_of(orgs)
    ada, bea = org[0].client, org[1].client
    room = await ada.create_group("Revoked actions", [org[1].user_id])
    attachment = await bea.upload("note.txt", b"a note", "text/plain")
    actor = await actor_with_session(services, org, org[1])
    await do_send_message(services, actor, room.id, "while live")  # the actor is a good one

    await revoke_in_database(services, org[1].user_id)
    with pytest.raises(NotLoggedIn) as plain:
        await do_send_message(services, actor, room.id, "plain, revoked", "plain-1")
    with pytest.raises(NotLoggedIn) as attached:
        await do_send_message(
            services, actor, room.id, "attached, revoked", "file-1", [attachment.id]
        )

    assert plain.value.code == attached.value.code == "not_authenticated"
    assert [m.content for m in await ada.list_messages(room.id)] == ["while live"]
    with pytest.raises(ParlourAPIError) as rest:
        await bea.send_message(room.id, "over REST")
    assert rest.value.status == 401


class RevokingServer(ServerProcess):
    """A real server process whose sockets are revoked between authentication and attach."""

    module = "tests.realtime.revoking_server"


@pytest.fixture(scope="module")
def revoking_server() -> Iterator[ServerProcess]:
    with tempfile.TemporaryDirectory(prefix="parlour-test-") as tmp:
        # Tests log in many times from one address, and on PostgreSQL every test server of the
        # run shares the failed-login table: the default per-address budget would run out.
        env = dict(os.environ, PARLOUR_LIMIT_LOGIN_FAILURES_PER_IP="1000")
        if os.environ.get("PARLOUR_TEST_DATABASE_URL"):
            env["PARLOUR_DATABASE_URL"] = os.environ["PARLOUR_TEST_DATABASE_URL"]
        port = free_port()
        server = RevokingServer(f"http://127.0.0.1:{port}", Path(tmp), env, port=port)
        server.start()
        try:
            yield server
        finally:
            server.stop()


@pytest.fixture(scope="module")
async def revoking_orgs(revoking_server: ServerProcess) -> AsyncIterator[OrgFactory]:
    async with org_factory(revoking_server) as factory:
        yield factory


async def test_a_socket_revoked_between_authentication_and_attach_is_closed(
    revoking_orgs: OrgFactory,
) -> None:
    org = await revoking_orgs.create(["Ada Admin", "Bea Member"])
    stream = org[1].client.events(reconnect=False)

    async def connect_and_listen() -> None:
        # Without the check after attaching, hello comes and then nothing, ever: a timeout.
        await stream.connect()
        await stream.wait_for("never", timeout=5)

    with pytest.raises(SessionRevoked):
        await connect_and_listen()
    await stream.close()
