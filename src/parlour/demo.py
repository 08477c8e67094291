"""The demo organization: a handful of colleagues, their rooms and a few dozen messages."""

from __future__ import annotations

from parlour.actions.context import Actor
from parlour.actions.messages import do_send_message
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
    for a, b in [(0, 1), (0, 2), (1, 3), (2, 4)]:
        room, _ = await do_open_direct(services, actors[a], actors[b].user_id)
        for turn, text in enumerate(["Hi! Got a minute?", "Sure, what's up?", "Just saying hi 👋"]):
            await do_send_message(services, actors[(a, b)[turn % 2]], room.id, text)
    return logins
