"""Whether a text shows anything: a name of only invisible characters names nobody.

`str.strip()` removes whitespace but not the characters that render as nothing: zero-width space,
joiners, word joiner, BOM and the other format (Cf) characters, control characters, and the
default-ignorable fillers that look like blanks. A user or room named with only these would be an
empty line in every list, indistinguishable from its neighbours and impossible to search for.
"""

from __future__ import annotations

import unicodedata

# Not Cf, yet they render as nothing (Unicode's Default_Ignorable_Code_Point and the Hangul and
# Braille blanks that are known to be used as "empty" names): combining grapheme joiner, Hangul
# fillers, Khmer inherent vowels, Mongolian variation selectors, variation selectors.
_INVISIBLE_EXTRA = frozenset(
    "\u034f\u115f\u1160\u17b4\u17b5\u180b\u180c\u180d\u180f\u2800\u3164\uffa0"
    + "".join(chr(cp) for cp in range(0xFE00, 0xFE10))
    + "".join(chr(cp) for cp in range(0xE0100, 0xE01F0))
)
# Control, format and (lone) surrogate characters. Not unassigned ones: a newer emoji than this
# Python's Unicode database is unassigned here, and is a fine name.
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs"})


def is_invisible(char: str) -> bool:
    return (
        char.isspace()
        or char in _INVISIBLE_EXTRA
        or unicodedata.category(char) in _INVISIBLE_CATEGORIES
    )


def has_visible(text: str) -> bool:
    """True if some character of `text` is not whitespace or otherwise invisible."""
    return not all(is_invisible(char) for char in text)
