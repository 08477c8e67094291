"""Message Markdown → safe HTML.

Two layers of defence, so that a bug in one is not an XSS: markdown-it never emits raw HTML from
the source (``html=False``) and only accepts http/https/mailto/relative link targets; nh3 then
re-parses the output and keeps only an allowlist of tags, attributes and URL schemes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import nh3
from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.renderer import RendererHTML
from markdown_it.rules_core import StateCore
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict

__all__ = [
    "ALLOWED_TAGS",
    "ALLOWED_URL_SCHEMES",
    "MentionIndex",
    "linked_urls",
    "mentionable_text_runs",
    "render_markdown",
    "render_message",
]

ALLOWED_TAGS = frozenset(
    {
        "p", "br", "strong", "em", "del", "s", "code", "pre", "blockquote", "ul", "ol", "li",
        "a", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "table", "thead", "tbody", "tr", "th",
        "td", "span",
    }
)  # fmt: skip
ALLOWED_URL_SCHEMES = frozenset({"http", "https", "mailto"})

_ALIGNMENTS = frozenset({"left", "center", "right"})
_ENV_MENTIONS = "parlour_mentions"

# A colon before the first "/", "?" or "#" makes the text before it a URL scheme (WHATWG URL);
# treating every such prefix as a scheme is what stops "java%09script:" style tricks from being
# accepted as relative links.
_SCHEME_RE = re.compile(r"^([^/?#]*):")
_WORD_PREFIX_RE = re.compile(r"\w*")
_WORD_CHAR_RE = re.compile(r"\w")
# Characters that continue an address or a hyphenated name when a word character follows them, so
# "@ada@example.com.au" is not a mention of ada@example.com and "@Ada-Marie" not one of "Ada".
_JOINERS = frozenset(".-@+")

_SANITIZER = nh3.Cleaner(
    tags=set(ALLOWED_TAGS),
    # Kept empty so that nothing outside the allowlist can survive by being "content-cleaned".
    clean_content_tags=set(),
    attributes={"a": {"href", "title"}, "span": {"data-user-id"}, "ol": {"start"}},
    tag_attribute_values={
        "span": {"class": {"mention"}},
        "th": {"align": set(_ALIGNMENTS)},
        "td": {"align": set(_ALIGNMENTS)},
    },
    set_tag_attribute_values={"a": {"target": "_blank"}},
    link_rel="noopener noreferrer nofollow",
    url_schemes=set(ALLOWED_URL_SCHEMES),
    strip_comments=True,
)


def _is_word_char(char: str) -> bool:
    return _WORD_CHAR_RE.match(char) is not None


def _first_word(text: str) -> str:
    match = _WORD_PREFIX_RE.match(text)
    return match.group().casefold() if match else ""


@dataclass(frozen=True, slots=True)
class _Needle:
    text: str
    folded: str
    user_id: str


class MentionIndex:
    """Finds ``@<needle>`` in plain text, case-insensitively, longest needle first.

    Needles are bucketed by their first word, so a scan costs O(len(text) * bucket size) rather
    than O(len(text) * number of members).
    """

    def __init__(self, needles: Iterable[tuple[str, str]]) -> None:
        """``needles`` are (text after the "@", user id) pairs."""
        buckets: dict[str, list[_Needle]] = {}
        for text, user_id in needles:
            if text:
                needle = _Needle(text, text.casefold(), user_id)
                buckets.setdefault(_first_word(text), []).append(needle)
        for bucket in buckets.values():
            bucket.sort(key=lambda needle: len(needle.text), reverse=True)
        self._buckets = buckets

    def __bool__(self) -> bool:
        return bool(self._buckets)

    def scan(self, text: str) -> Iterator[tuple[int, int, str]]:
        """Yield non-overlapping (start, end, user id); ``text[start]`` is the "@"."""
        at = text.find("@")
        while at != -1:
            match = self._match_at(text, at)
            if match is None:
                at = text.find("@", at + 1)
            else:
                end, user_id = match
                yield at, end, user_id
                at = text.find("@", end)

    def _match_at(self, text: str, at: int) -> tuple[int, str] | None:
        # "bob@ada" is an address, not a mention of ada.
        if at > 0 and _is_word_char(text[at - 1]):
            return None
        start = at + 1
        word = _first_word(text[start : start + 256])
        candidates = self._buckets.get(word, [])
        if word:
            # Needles that start with a non-word character are bucketed under "".
            candidates = candidates + self._buckets.get("", [])
        for needle in candidates:
            end = start + len(needle.text)
            if text[start:end].casefold() == needle.folded and _ends_mention(text, end):
                return end, needle.user_id
        return None


def _ends_mention(text: str, end: int) -> bool:
    if end == len(text):
        return True
    char = text[end]
    if _is_word_char(char):
        return False
    return not (char in _JOINERS and end + 1 < len(text) and _is_word_char(text[end + 1]))


def _inside_link(tokens: Sequence[Token], idx: int) -> bool:
    depth = 0
    for token in tokens[:idx]:
        if token.type == "link_open":
            depth += 1
        elif token.type == "link_close":
            depth -= 1
    return depth > 0


class _Renderer(RendererHTML):
    """Render rules are looked up by token type from this class's method names."""

    def image(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        # Images are never embedded: an <img> would fetch a third-party URL (tracking) as soon as
        # the message is displayed. A link keeps the reference one click away.
        token = tokens[idx]
        href = str(token.attrs.get("src", ""))
        label = escapeHtml(self.renderInlineAsText(token.children, options, env) or href)
        if not href or _inside_link(tokens, idx):
            return label
        title = token.attrGet("title")
        title_attr = f' title="{escapeHtml(str(title))}"' if title else ""
        return f'<a href="{escapeHtml(href)}"{title_attr}>{label}</a>'

    def mention(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        token = tokens[idx]
        user_id = escapeHtml(str(token.meta["user_id"]))
        return f'<span class="mention" data-user-id="{user_id}">{escapeHtml(token.content)}</span>'

    def th_open(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        return _table_cell_open(tokens[idx])

    def td_open(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        return _table_cell_open(tokens[idx])


def _table_cell_open(token: Token) -> str:
    # markdown-it aligns cells with a style attribute, and style is never allowed through.
    style = str(token.attrs.get("style", ""))
    align = style.removeprefix("text-align:")
    align_attr = f' align="{align}"' if align in _ALIGNMENTS else ""
    return f"<{token.tag}{align_attr}>"


class _Parser(MarkdownIt):
    def validateLink(self, url: str) -> bool:
        # Receives the destination after entity decoding and percent-encoding of whitespace and
        # control characters, so the scheme cannot be hidden from this check.
        match = _SCHEME_RE.match(url.strip())
        return match is None or match.group(1).lower() in ALLOWED_URL_SCHEMES


def _mentionable_tokens(children: Sequence[Token]) -> Iterator[tuple[int, Token]]:
    """Text tokens that may hold a mention: not code (a separate token type), not link text."""
    link_depth = 0
    for position, token in enumerate(children):
        if token.type == "link_open":
            link_depth += 1
        elif token.type == "link_close":
            link_depth -= 1
        elif token.type == "text" and link_depth == 0:
            yield position, token


def _split_mentions(token: Token, index: MentionIndex) -> list[Token]:
    pieces: list[Token] = []
    text = token.content
    last = 0
    for start, end, user_id in index.scan(text):
        if start > last:
            pieces.append(Token("text", "", 0, level=token.level, content=text[last:start]))
        pieces.append(
            Token(
                "mention",
                "span",
                0,
                level=token.level,
                content=text[start:end],
                meta={"user_id": user_id},
            )
        )
        last = end
    if not pieces:
        return [token]
    if last < len(text):
        pieces.append(Token("text", "", 0, level=token.level, content=text[last:]))
    return pieces


def _highlight_mentions(state: StateCore) -> None:
    index = state.env.get(_ENV_MENTIONS)
    if not isinstance(index, MentionIndex) or not index:
        return
    for block_token in state.tokens:
        if block_token.type != "inline" or not block_token.children:
            continue
        children = list(block_token.children)
        # Right to left, so earlier positions stay valid while tokens are replaced.
        for position, token in reversed(list(_mentionable_tokens(children))):
            children[position : position + 1] = _split_mentions(token, index)
        block_token.children = children


def _build_parser() -> MarkdownIt:
    # linkify: a bare URL is a link, as every chat makes it; only with its scheme written
    # (fuzzy "example.com" or e-mail guesses would link ordinary words joined by a dot).
    parser = _Parser("commonmark", {"html": False, "linkify": True}, renderer_cls=_Renderer)
    parser.enable(["table", "strikethrough", "linkify"])
    assert parser.linkify is not None
    parser.linkify.set({"fuzzy_link": False, "fuzzy_email": False, "fuzzy_ip": False})
    # After text_join, so escapes and entities are already merged into whole text runs.
    parser.core.ruler.after("text_join", "parlour_mentions", _highlight_mentions)
    return parser


_PARSER = _build_parser()


def mentionable_text_runs(source: str) -> Iterator[str]:
    """The runs of plain text in which ``render_message`` highlights mentions.

    Code spans, code blocks, link text and image descriptions are excluded, so a mention found
    here is exactly one that renders highlighted.
    """
    for block_token in _PARSER.parse(source):
        if block_token.type == "inline" and block_token.children:
            for _, token in _mentionable_tokens(block_token.children):
                yield token.content


# A letter, then letters, digits and punctuation without Markdown or HTML meaning anywhere in a
# single line (no "*_`[]<>&#\\|~", no newline), not ending in a space. ([^\W_]: letter or digit.)
_PLAIN_LINE = re.compile(r"[^\W\d_](?:[^\W_]|[ ,.;:?!()'/])*(?<! )")


def _is_plain_sentence(source: str) -> bool:
    """True for the common chat line that Markdown renders as one paragraph of itself.

    Such a line skips the parser (most messages; a tenth of a send's cost): the result is what
    the full path gives, which tests/unit/test_markdown.py checks on generated lines.
    """
    return "://" not in source and _PLAIN_LINE.fullmatch(source) is not None  # (a URL links)


def render_message(source: str, mentions: Mapping[str, str]) -> str:
    """Render message Markdown to sanitized HTML, highlighting ``mentions``.

    ``mentions`` maps mention text as written (``"@Ada Lovelace"``) to a user id, as returned by
    ``parlour.domain.mentions.find_mentions``; keys not starting with "@" are ignored.
    """
    if not mentions and _is_plain_sentence(source):
        return f"<p>{source}</p>\n"
    index = MentionIndex(
        (text.removeprefix("@"), user_id)
        for text, user_id in mentions.items()
        if text.startswith("@")
    )
    html = _PARSER.render(source, {_ENV_MENTIONS: index})
    return _SANITIZER.clean(str(html))


def render_markdown(source: str) -> str:
    """Render message Markdown to sanitized HTML; raw HTML in ``source`` is shown as text."""
    return render_message(source, {})


# A bare http(s) URL in plain text: up to whitespace or a character that cannot end one unquoted.
_BARE_URL = re.compile(r"https?://[^\s<>\"'`]+", re.IGNORECASE)
_URL_TRAILERS = ".,;:!?'\"*_~"


def _trim_url(url: str) -> str:
    """Drops the sentence's punctuation after a URL, and a ")" that closes an aside rather
    than the URL's own "(" (as GitHub's autolinks do)."""
    while url and (
        url[-1] in _URL_TRAILERS or (url[-1] == ")" and url.count(")") > url.count("("))
    ):
        url = url[:-1]
    return url


def linked_urls(source: str) -> Iterator[str]:
    """The http(s) URLs of a message in reading order: link targets and bare URLs in plain
    text; never those in code spans or code blocks (quoted there, not linked)."""
    for block_token in _PARSER.parse(source):
        if block_token.type != "inline" or not block_token.children:
            continue
        link_depth = 0
        for token in block_token.children:
            if token.type == "link_open":
                link_depth += 1
                href = str(token.attrs.get("href", ""))
                if href.lower().startswith(("http://", "https://")):
                    yield href
            elif token.type == "link_close":
                link_depth -= 1
            elif token.type == "text" and link_depth == 0:
                for match in _BARE_URL.finditer(token.content):
                    url = _trim_url(match.group())
                    if "://" in url and not url.endswith("://"):
                        yield url
