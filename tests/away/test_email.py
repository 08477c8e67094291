"""E-mail digests for people who are away (API.md, "Reaching people who are away"), through a real
SMTP server: one digest per delay, only what is still unread, nothing twice, nothing lost across
an SMTP outage or a restart, a one-click unsubscribe that needs no login."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import httpx
from sqlalchemy import select

from parlour.client import ParlourClient
from parlour.storage.models import EmailOutbox, OwedEmail
from tests.away.conftest import DELAY_SECONDS, Mail, SmtpSink
from tests.support import Member, OrgFactory, ServerProcess

DELAY = timedelta(seconds=DELAY_SECONDS)


async def digests_written(orgs: OrgFactory, member: Member) -> list[datetime]:
    """When each digest to `member` was written, oldest first (the outbox's own record)."""
    assert orgs.services is not None
    async with orgs.services.db.read_session() as session:
        return list(
            await session.scalars(
                select(EmailOutbox.created_at)
                .where(EmailOutbox.user_id == member.user_id)
                .order_by(EmailOutbox.created_at)
            )
        )


async def email_preference(member: Member) -> str:
    me = await member.client.me()
    assert me.model_extra is not None
    return str(me.model_extra["preferences"]["email_notifications"])


async def next_mail(smtp: SmtpSink, member: Member) -> Mail:
    return await asyncio.to_thread(smtp.for_address, member.email)


async def test_a_digest_lists_what_waits_and_the_next_waits_a_delay(
    away_orgs: OrgFactory, smtp: SmtpSink
) -> None:
    org = await away_orgs.create(["Ada Sender", "Bea Away", "Cal Other"])
    ada, bea, cal = org[0], org[1], org[2]
    direct = await ada.client.create_direct(bea.user_id)
    group = await ada.client.create_group("Launch <team>", [bea.user_id, cal.user_id])
    first_sent = await ada.client.send_message(
        direct.id, "Are you **there**? <script>alert(1)</script>"
    )
    await cal.client.send_message(group.id, "@Bea Away please look at the plan")

    mail = await next_mail(smtp, bea)
    message = mail.message
    assert message["To"] == bea.email
    assert message["Subject"] == "2 unread messages in Parlour"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["List-Unsubscribe"].startswith("<http://127.0.0.1:")
    text, page = mail.part("plain"), mail.part("html")
    assert "Ada Sender: Are you **there**? <script>alert(1)</script>" in text
    assert f"/#/room/{direct.id}" in text
    assert f"/#/room/{group.id}" in text
    assert "Cal Other in Launch <team>: @Bea Away please look at the plan" in text
    # The HTML part escapes everything people wrote or named.
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "Launch &lt;team&gt;" in page

    # More messages now wait a whole delay after that digest, then come as one.
    await ada.client.send_message(direct.id, "one more")
    await ada.client.send_message(direct.id, "and another")
    second = await next_mail(smtp, bea)
    # Timed by the server's own clock: each digest was written a whole delay after what it
    # waited for (the message, then the digest before it).
    first_at, second_at = await digests_written(away_orgs, bea)
    assert first_at - datetime.fromisoformat(first_sent.created_at) >= DELAY
    assert second_at - first_at >= DELAY
    assert second.message["Subject"] == "2 unread messages in Parlour"
    body = second.part("plain")
    assert "one more" in body
    assert "and another" in body
    assert "Are you" not in body


async def test_a_message_read_in_time_is_never_mailed(
    away_orgs: OrgFactory, smtp: SmtpSink
) -> None:
    org = await away_orgs.create(["Ada Sender", "Bea Reader"])
    ada, bea = org[0], org[1]
    room = await ada.client.create_direct(bea.user_id)
    early = await ada.client.send_message(room.id, "read me quickly")
    await bea.client.mark_read(room.id, early.id)
    await ada.client.send_message(room.id, "this one waits")
    mail = await next_mail(smtp, bea)
    assert mail.message["Subject"] == "Ada Sender: this one waits"
    assert "read me quickly" not in mail.part("plain")


async def test_nobody_connected_deactivated_or_unsubscribed_gets_one(
    away_orgs: OrgFactory, smtp: SmtpSink, away_server: ServerProcess
) -> None:
    org = await away_orgs.create(["Ada Admin", "Bea Online", "Cal Gone", "Dee Quit", "Eve Away"])
    ada, bea, cal, dee, eve = org[0], org[1], org[2], org[3], org[4]
    group = await ada.client.create_group(
        "Everyone", [bea.user_id, cal.user_id, dee.user_id, eve.user_id]
    )
    await ada.client.deactivate_user(cal.user_id)
    await dee.client.update_me(preferences={"email_notifications": "never"})
    # A bot is owed nothing, even one that asks for e-mail (its address is not a mailbox).
    bot = await ada.client.create_bot("Standup Bot")
    async with ParlourClient(ada.client.base_url, token=bot.token) as bot_client:
        await bot_client.update_me(preferences={"email_notifications": "direct_and_mentions"})
    await ada.client.add_members(group.id, [bot.user.id])
    async with bea.client.events() as stream:
        await stream.wait_for(lambda e: e.type == "hello")
        await ada.client.send_message(
            group.id, "@Bea Online @Cal Gone @Dee Quit @Eve Away @Standup Bot standup"
        )
        # Eve, away and subscribed, gets hers: by then every decision about the message was made.
        mail = await next_mail(smtp, eve)
        assert "standup" in mail.part("plain")
    services = away_orgs.services
    assert services is not None
    async with services.db.read_session() as session:
        mailed = set(await session.scalars(select(EmailOutbox.user_id)))
        owed = set(await session.scalars(select(OwedEmail.user_id)))
    assert eve.user_id in mailed
    assert {cal.user_id, dee.user_id, bot.user.id}.isdisjoint(mailed | owed)
    # Bea was connected when it fell due: held, not sent, while she is there.
    assert bea.user_id not in mailed


async def test_the_unsubscribe_link_works_once_clicked_and_needs_no_login(
    away_orgs: OrgFactory, smtp: SmtpSink
) -> None:
    org = await away_orgs.create(["Ada Sender", "Bea Unsubscribes"])
    ada, bea = org[0], org[1]
    room = await ada.client.create_direct(bea.user_id)
    await ada.client.send_message(room.id, "hello there")
    mail = await next_mail(smtp, bea)
    link = mail.message["List-Unsubscribe"].strip("<>")
    async with httpx.AsyncClient() as anonymous:
        page = await anonymous.get(link)  # what a mail scanner does: changes nothing
        assert page.status_code == 200
        assert "Stop e-mail notifications" in page.text
        assert await email_preference(bea) == "direct_and_mentions"
        forged = await anonymous.post(link.replace("&t=", "&t=x"), content=b"")
        assert forged.status_code == 404
        clicked = await anonymous.post(
            link,
            content=b"List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert clicked.status_code == 200
    assert await email_preference(bea) == "never"


async def test_smtp_refusing_for_a_while_delays_mail_and_loses_none(
    away_orgs: OrgFactory, smtp: SmtpSink
) -> None:
    org = await away_orgs.create(["Ada Sender", "Bea Patient"])
    ada, bea = org[0], org[1]
    room = await ada.client.create_direct(bea.user_id)
    refused = smtp.refuse_next(2)  # "451 try again later", twice
    sent = await ada.client.send_message(room.id, "sent while mail was down")
    # Everything else goes on: the message is stored and readable at once.
    assert [m.id for m in await bea.client.list_messages(room.id)] == [sent.id]
    assert await asyncio.to_thread(refused.wait, 30)
    mail = await next_mail(smtp, bea)
    assert "sent while mail was down" in mail.part("plain")


async def test_a_crash_neither_loses_nor_repeats_a_digest(
    away_orgs: OrgFactory, smtp: SmtpSink, away_server: ServerProcess
) -> None:
    org = await away_orgs.create(["Ada Sender", "Bea Restarted"])
    ada, bea = org[0], org[1]
    room = await ada.client.create_direct(bea.user_id)
    await ada.client.send_message(room.id, "before the restart")
    away_server.stop(kill=True)  # a crash: whatever was owed, written or claimed stays so
    away_server.start()
    first = await next_mail(smtp, bea)
    assert "before the restart" in first.part("plain")
    await ada.client.send_message(room.id, "after the restart")
    second = await next_mail(smtp, bea)  # the next one to Bea: never the first again
    assert "after the restart" in second.part("plain")
    assert "before the restart" not in second.part("plain")


async def test_a_preference_change_keeps_the_others(away_orgs: OrgFactory) -> None:
    """A client that knows only some preferences never resets the others (e-mail included)."""
    bea = (await away_orgs.create(["Bea Prefs"]))[0]
    await bea.client.update_me(preferences={"email_notifications": "never"})
    await bea.client.update_me(preferences={"notification_sound": False})
    me = await bea.client.me()
    assert me.model_extra is not None
    prefs = me.model_extra["preferences"]
    assert (prefs["email_notifications"], prefs["notification_sound"]) == ("never", False)
    assert prefs["message_preview"] is True
