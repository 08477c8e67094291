"""Finding @mentions of room members in message Markdown."""

from __future__ import annotations

import dataclasses
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parlour.domain.markdown import render_message
from parlour.domain.mentions import MentionCandidate, find_mentions

ADA = MentionCandidate(user_id="u-ada", full_name="Ada Lovelace", email="ada@example.com")
ADA_SHORT = MentionCandidate(user_id="u-ada2", full_name="Ada", email="ada2@example.com")
GRACE = MentionCandidate(user_id="u-grace", full_name="Grace Hopper", email="grace@navy.example")
MEMBERS = [ADA, ADA_SHORT, GRACE]


def test_candidate_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        ADA.user_id = "other"  # type: ignore[misc]


def test_finds_full_name() -> None:
    assert find_mentions("hi @Ada Lovelace", MEMBERS) == {"@Ada Lovelace": "u-ada"}


def test_name_matches_case_insensitively_and_keeps_text_as_written() -> None:
    assert find_mentions("hi @ada LOVELACE", MEMBERS) == {"@ada LOVELACE": "u-ada"}


def test_finds_email_case_insensitively() -> None:
    assert find_mentions("cc @Grace@Navy.example", MEMBERS) == {"@Grace@Navy.example": "u-grace"}


def test_longest_name_wins() -> None:
    assert find_mentions("@Ada Lovelace", MEMBERS) == {"@Ada Lovelace": "u-ada"}
    assert find_mentions("@Ada Byron", MEMBERS) == {"@Ada": "u-ada2"}


@pytest.mark.parametrize("after", [",", ".", "!", "?", ":", ";", ")", "'s", "\n", " ", ""])
def test_mention_followed_by_punctuation_or_space(after: str) -> None:
    assert find_mentions(f"(@Grace Hopper{after}", MEMBERS) == {"@Grace Hopper": "u-grace"}


@pytest.mark.parametrize(
    "source",
    [
        "@Grace Hoppers",
        "@Grace Hopper_",
        "@Grace Hopper2",
        "@grace@navy.example.org",
        "@Ada-Marie",
        "bob@Grace Hopper",
        "@ Grace Hopper",
        "Grace Hopper",
        "grace@navy.example",
    ],
)
def test_not_a_mention(source: str) -> None:
    assert find_mentions(source, MEMBERS) == {}


@pytest.mark.parametrize(
    "source",
    [
        "`@Grace Hopper`",
        "``x @Grace Hopper y``",
        "```\n@Grace Hopper\n```",
        "~~~text\n@grace@navy.example\n~~~",
        "    @Grace Hopper",
        "[@Grace Hopper](https://example.com)",
    ],
)
def test_mentions_in_code_or_link_text_are_ignored(source: str) -> None:
    assert find_mentions(source, MEMBERS) == {}


def test_finds_several_mentions_across_blocks() -> None:
    source = "> @Ada Lovelace said\n\n- **@grace@navy.example**\n- `@Ada` @Ada!"
    assert find_mentions(source, MEMBERS) == {
        "@Ada Lovelace": "u-ada",
        "@grace@navy.example": "u-grace",
        "@Ada": "u-ada2",
    }


def test_same_member_written_two_ways() -> None:
    assert find_mentions("@Ada Lovelace and @ada@example.com", MEMBERS) == {
        "@Ada Lovelace": "u-ada",
        "@ada@example.com": "u-ada",
    }


def test_no_members_or_no_at_sign() -> None:
    assert find_mentions("@Ada Lovelace", []) == {}
    assert find_mentions("nobody here", MEMBERS) == {}


def test_blank_names_never_match() -> None:
    ghost = MentionCandidate(user_id="u-ghost", full_name="  ", email="")
    assert find_mentions("@ @ and @", [ghost]) == {}


def test_large_room_and_long_message() -> None:
    # All 2,000 members share the first word "Sam", the worst case for the first-word index;
    # it must still pick the one exact member, among many "@" that name nobody.
    members = [
        MentionCandidate(f"u{i}", f"Sam Person{i}", f"sam{i}@example.com") for i in range(2000)
    ]
    source = "@Sam Person1999 " + "x @nobody " * 900
    assert find_mentions(source, members) == {"@Sam Person1999": "u1999"}


_NAMES = ["Ada", "Ada Lovelace", "Grace Hopper", "ada@example.com", "grace@navy.example"]
_PIECES = [
    *[f"@{name}" for name in _NAMES],
    *[f"@{name.upper()}" for name in _NAMES],
    "`", "```\n", "\n", "[", "](https://x.example)", " ", ",", "s", "**", "@", "    ",
]  # fmt: skip


@settings(max_examples=200, derandomize=True, deadline=None, database=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=14).map("".join))
def test_render_highlights_exactly_the_found_mentions(source: str) -> None:
    found = find_mentions(source, MEMBERS)
    html = render_message(source, found)
    highlighted = set(re.findall(r'<span class="mention" data-user-id="([^"]*)">', html))
    assert highlighted == set(found.values())
