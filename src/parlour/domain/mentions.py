"""Who a message mentions: ``@Full Name`` or ``@email`` of a room member."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from parlour.domain.markdown import MentionIndex, mentionable_text_runs

__all__ = ["MentionCandidate", "find_mentions"]


@dataclass(frozen=True, slots=True)
class MentionCandidate:
    """A user who may be mentioned (typically a member of the message's room)."""

    user_id: str
    full_name: str
    email: str


def find_mentions(source: str, members: Sequence[MentionCandidate]) -> dict[str, str]:
    """Map each mention as written in ``source`` (``"@ada lovelace"``) to the user id it names.

    Names and emails match case-insensitively and the longest wins, so "@Ada Lovelace" names
    "Ada Lovelace" even when a member "Ada" exists; between two members of the same name, the
    first listed wins. A mention must be followed by the end, a space or punctuation. Mentions
    in code or link text do not count: they are exactly the ones that ``render_message``
    highlights, given this result.
    """
    index = MentionIndex(
        (needle, member.user_id)
        for member in members
        for needle in (member.full_name.strip(), member.email.strip())
    )
    if not index:
        return {}
    found: dict[str, str] = {}
    for text in mentionable_text_runs(source):
        for start, end, user_id in index.scan(text):
            found.setdefault(text[start:end], user_id)
    return found
