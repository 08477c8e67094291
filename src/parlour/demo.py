"""The demo organization: a handful of colleagues, their rooms and a few dozen messages."""

from __future__ import annotations

from parlour.actions.channels import do_create_channel, do_join
from parlour.actions.context import Actor
from parlour.actions.messages import do_send_message
from parlour.actions.reactions import do_pin, do_react
from parlour.actions.rooms import do_create_group, do_open_direct
from parlour.actions.users import do_create_org, do_create_user
from parlour.errors import Conflict
from parlour.services import Services

DEMO_ORG = "Demo"
# Bandit B105 / ruff S105: the demo's well-known password, printed to the user on purpose.
DEMO_PASSWORD = "parlour-demo"  # noqa: S105  # nosec B105
PEOPLE = [
    ("Ada Lovelace", "ada@demo.parlour"),
    ("Grace Hopper", "grace@demo.parlour"),
    ("Alan Turing", "alan@demo.parlour"),
    ("Katherine Johnson", "katherine@demo.parlour"),
    ("Linus Pauling", "linus@demo.parlour"),
    ("Margaret Hamilton", "margaret@demo.parlour"),
    ("Tim Berners-Lee", "tim@demo.parlour"),
    ("Barbara Liskov", "barbara@demo.parlour"),
]
GROUPS = [
    ("General", list(range(8))),
    ("Launch planning", [0, 1, 3, 5]),
    ("Web team", [0, 6, 7]),
]
TALK = [
    "Morning all! Coffee is on in the kitchen.",
    "Has anyone seen the **quarterly numbers**?",
    "They're in the shared drive, under `reports/2026`.",
    "Thanks! @Grace Hopper can you check the totals?",
    "On it. Looks like a rounding issue in row 12.",
    "Lunch at 12:30?",
    "Count me in.",
    "Reminder: stand-up moves to 10:15 tomorrow.",
]


async def load_demo(services: Services) -> list[tuple[str, str, str]]:
    """Create the demo (once; a second run only prints the logins)."""
    logins = [(name, email, DEMO_PASSWORD) for name, email in PEOPLE]
    try:
        org_id = await do_create_org(services, DEMO_ORG)
    except Conflict:
        return logins
    actors = []
    for index, (name, email) in enumerate(PEOPLE):
        user = await do_create_user(
            services,
            org_id,
            email=email,
            full_name=name,
            password=DEMO_PASSWORD,
            is_admin=index == 0,
        )
        actors.append(Actor(user.id, org_id, user.is_admin, session_id="demo"))
    for title, members in GROUPS:
        creator = actors[members[0]]
        room = await do_create_group(
            services, creator, title, [actors[i].user_id for i in members[1:]]
        )
        for turn, text in enumerate(TALK):
            author = actors[members[turn % len(members)]]
            await do_send_message(services, author, room.id, text)
    await _demo_channels(services, actors)
    for a, b in [(0, 1), (0, 2), (1, 3), (2, 4)]:
        room, _ = await do_open_direct(services, actors[a], actors[b].user_id)
        for turn, text in enumerate(["Hi! Got a minute?", "Sure, what's up?", "Just saying hi 👋"]):
            await do_send_message(services, actors[(a, b)[turn % 2]], room.id, text)
    return logins


async def _demo_channels(services: Services, actors: list[Actor]) -> None:
    """Two channels: one with a topic that some have joined, its talk with reactions, a pin and a
    thread; one nobody but its creator has joined yet (to find under Browse channels)."""
    ada, grace, alan, katherine = actors[:4]
    channel = await do_create_channel(
        services, ada, "announcements", "Company news: releases, events, office life"
    )
    for someone in (grace, alan, katherine):
        await do_join(services, someone, channel.id)
    news, _ = await do_send_message(
        services, ada, channel.id, "Parlour 2.0 ships on **Friday**: channels, reactions, pins."
    )
    party, _ = await do_send_message(services, grace, channel.id, "Release party at 5 in the lab!")
    await do_send_message(services, alan, channel.id, "I'll bring the cake 🎂")
    for someone, emoji in [(grace, "🎉"), (alan, "🎉"), (katherine, "👍"), (alan, "🚀")]:
        await do_react(services, someone, news.id, emoji)
    await do_react(services, ada, party.id, "❤️")
    await do_pin(services, ada, news.id)
    # A thread under the party announcement.
    for someone, text in [
        (katherine, "Can we move it to 5:30? I have a review until 5."),
        (grace, "Sure, 5:30 it is."),
        (alan, "Works for me. @Katherine Johnson I'll save you some cake."),
    ]:
        await do_send_message(services, someone, channel.id, text, reply_to=party.id)
    await do_create_channel(services, katherine, "random", "Anything goes: links, jokes, lunch")
