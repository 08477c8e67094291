"""Which reactions are allowed, and the emoji list the web UI's picker searches.

A reaction is one emoji (one grapheme cluster, with its skin tone or ZWJ parts) or a
`:short_name:` of at most 32 characters. A short name that the emoji package knows (`:+1:`,
`:thumbs_up:`) becomes its emoji, so that 👍 and `:+1:` are one reaction, not two; an unknown one
(`:shipit:`) stays as written, for a team's own names.
"""

from __future__ import annotations

import functools
import re
import unicodedata

import emoji

from parlour.errors import InvalidInput

SHORT_NAME_CHARS = 32
_SHORT_NAME = re.compile(r":[a-z0-9_+\-]{1,30}:")
_SKIN_TONES = frozenset(chr(code) for code in range(0x1F3FB, 0x1F400))


def reaction_key(raw: str) -> str:
    """The reaction as stored: an emoji, or a lower-case `:short_name:`; else `invalid_emoji`."""
    text = unicodedata.normalize("NFC", raw.strip())
    if _SHORT_NAME.fullmatch(text.lower()):
        named = emoji.emojize(text.lower(), language="alias")
        return named if emoji.is_emoji(named) else text.lower()
    if emoji.is_emoji(text):
        # The unqualified form (❤ without its variation selector) is the same reaction as ❤️.
        qualified = text + "\ufe0f"
        fully = emoji.EMOJI_DATA.get(qualified, {}).get("status") == emoji.STATUS["fully_qualified"]
        return qualified if fully else text
    raise InvalidInput(
        f"A reaction is one emoji or a :short_name: of at most {SHORT_NAME_CHARS} characters.",
        code="invalid_emoji",
    )


@functools.cache
def picker_catalog() -> list[tuple[str, str]]:
    """Every fully qualified emoji without a skin tone, with its name, in the package's order:
    what the picker lists and searches (text only; no image CDN)."""
    fully_qualified = emoji.STATUS["fully_qualified"]
    return [
        (char, data["en"].strip(":").replace("_", " "))
        for char, data in emoji.EMOJI_DATA.items()
        if data["status"] == fully_qualified and not _SKIN_TONES.intersection(char)
    ]
