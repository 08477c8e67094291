"""Message rendering: Markdown features, raw HTML as text, images as links, mentions, XSS."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parlour.domain.markdown import _is_plain_sentence, render_markdown, render_message

# Written out here rather than imported, so that widening the production allowlist has to be a
# deliberate change to this test too.
ALLOWED_ATTRIBUTES: dict[str, frozenset[str]] = {
    "p": frozenset(),
    "br": frozenset(),
    "strong": frozenset(),
    "em": frozenset(),
    "del": frozenset(),
    "s": frozenset(),
    "code": frozenset(),
    "pre": frozenset(),
    "blockquote": frozenset(),
    "ul": frozenset(),
    "ol": frozenset({"start"}),
    "li": frozenset(),
    "a": frozenset({"href", "title", "rel", "target"}),
    **{f"h{level}": frozenset() for level in range(1, 7)},
    "hr": frozenset(),
    "table": frozenset(),
    "thead": frozenset(),
    "tbody": frozenset(),
    "tr": frozenset(),
    "th": frozenset({"align"}),
    "td": frozenset({"align"}),
    "span": frozenset({"class", "data-user-id"}),
}
SAFE_SCHEMES = frozenset({"http", "https", "mailto"})
# Browsers drop tabs and newlines anywhere in a URL and C0 controls and spaces around it, so
# "java\tscript:" is javascript:. Removing every such character is the conservative reading.
_IGNORED_URL_CHARS = re.compile(r"[\x00-\x20\x7f-\x9f]")
_SCHEME = re.compile(r"^([^/?#]*):")
REL = "noopener noreferrer nofollow"

PAYLOADS_FILE = Path(__file__).with_name("xss_payloads.txt")
PAYLOADS = [
    line.replace("\\n", "\n")
    for line in PAYLOADS_FILE.read_text(encoding="utf-8").splitlines()
    if line.strip() and not line.startswith("#")
]


class _TagCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, attrs))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, attrs))


def unsafe_parts(html: str) -> list[str]:
    """Everything in ``html`` that a browser could turn into script, style or an unsafe link."""
    collector = _TagCollector()
    collector.feed(html)
    collector.close()
    problems: list[str] = []
    for tag, attrs in collector.elements:
        allowed = ALLOWED_ATTRIBUTES.get(tag)
        if allowed is None:
            problems.append(f"tag <{tag}>")
            continue
        for name, value in attrs:
            if name.startswith("on") or name == "style" or name not in allowed:
                problems.append(f"attribute {name!r} on <{tag}>")
            elif name == "href":
                # html.parser has already decoded character references in the value.
                url = _IGNORED_URL_CHARS.sub("", value or "").lower()
                scheme = _SCHEME.match(url)
                if scheme is not None and scheme.group(1) not in SAFE_SCHEMES:
                    problems.append(f"href {value!r}")
    return problems


def assert_safe(html: str) -> None:
    assert unsafe_parts(html) == [], html


def elements(html: str) -> list[tuple[str, dict[str, str | None]]]:
    collector = _TagCollector()
    collector.feed(html)
    collector.close()
    return [(tag, dict(attrs)) for tag, attrs in collector.elements]


# --- the checker itself must be able to fail -------------------------------------------------


@pytest.mark.parametrize(
    "html",
    [
        "<script>alert(1)</script>",
        "<img src=x>",
        '<p onclick="alert(1)">x</p>',
        '<p style="color:red">x</p>',
        '<a href="javascript:alert(1)">x</a>',
        '<a href="&#106;avascript:alert(1)">x</a>',
        '<a href=" JAVA\tSCRIPT:alert(1)">x</a>',
        '<a href="data:text/html,x">x</a>',
        '<span class="mention" id="x">x</span>',
    ],
)
def test_checker_rejects_unsafe_html(html: str) -> None:
    assert unsafe_parts(html) != []


@pytest.mark.parametrize(
    "html",
    [
        '<p><a href="https://example.com/a:b" rel="x">x</a></p>',
        '<a href="/relative/path?q=a:b#c">x</a>',
        '<a href="mailto:ada@example.com">x</a>',
        '<span class="mention" data-user-id="u1">@Ada</span>',
    ],
)
def test_checker_accepts_safe_html(html: str) -> None:
    assert unsafe_parts(html) == []


# --- ordinary Markdown -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("**bold**", "<p><strong>bold</strong></p>\n"),
        ("*em* and _em_", "<p><em>em</em> and <em>em</em></p>\n"),
        ("~~gone~~", "<p><s>gone</s></p>\n"),
        ("use `x < y`", "<p>use <code>x &lt; y</code></p>\n"),
        ("# Title", "<h1>Title</h1>\n"),
        ("> quoted", "<blockquote>\n<p>quoted</p>\n</blockquote>\n"),
        ("- a\n- b", "<ul>\n<li>a</li>\n<li>b</li>\n</ul>\n"),
        ("3. c\n4. d", '<ol start="3">\n<li>c</li>\n<li>d</li>\n</ol>\n'),
        ("a  \nb", "<p>a<br>\nb</p>\n"),
        ("---", "<hr>\n"),
        (
            "```python\nif a < b:\n    pass\n```",
            "<pre><code>if a &lt; b:\n    pass\n</code></pre>\n",
        ),
        ("    indented <code>", "<pre><code>indented &lt;code&gt;\n</code></pre>\n"),
    ],
)
def test_renders_markdown(source: str, expected: str) -> None:
    assert render_markdown(source) == expected


def test_renders_table_with_alignment_but_no_style() -> None:
    html = render_markdown("| a | b |\n|:--|--:|\n| 1 | 2 |")
    assert '<th align="left">a</th>' in html
    assert '<td align="right">2</td>' in html
    assert "style" not in html


@pytest.mark.parametrize(
    ("source", "href", "text"),
    [
        ("[docs](https://example.com/docs)", "https://example.com/docs", "docs"),
        ("<https://example.com>", "https://example.com", "https://example.com"),
        ("[mail](mailto:ada@example.com)", "mailto:ada@example.com", "mail"),
        ("<ada@example.com>", "mailto:ada@example.com", "ada@example.com"),
        ("[rel](/rooms/1)", "/rooms/1", "rel"),
    ],
)
def test_links_open_safely(source: str, href: str, text: str) -> None:
    html = render_markdown(source)
    [(block, _), (tag, attrs)] = elements(html)
    assert (block, tag) == ("p", "a")
    assert attrs == {"href": href, "target": "_blank", "rel": REL}
    assert f">{text}</a>" in html


def test_bare_urls_with_their_scheme_are_links() -> None:
    assert render_markdown("see https://example.com/a?b=1.") == (
        '<p>see <a href="https://example.com/a?b=1" target="_blank"'
        ' rel="noopener noreferrer nofollow">https://example.com/a?b=1</a>.</p>\n'
    )
    # Only with a scheme it allows: no guesses from words joined by a dot, nothing else linked.
    for text in ("see example.com", "www.example.com", "ada@example.com", "ftp://example.com/x"):
        assert "<a " not in render_markdown(text), text
    assert "<a " not in render_markdown("`https://example.com` in code")


@pytest.mark.parametrize(
    "source",
    [
        "[x](javascript:alert(1))",
        "[x](vbscript:msgbox(1))",
        "[x](data:text/html;base64,PHNjcmlwdD4=)",
        "[x](file:///etc/passwd)",
        "[x](java&#09;script:alert(1))",
    ],
)
def test_unsafe_link_targets_stay_text(source: str) -> None:
    html = render_markdown(source)
    assert "<a" not in html
    assert html == f"<p>{source.replace('&#09;', chr(9))}</p>\n"


# --- raw HTML is text --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("<img src=x onerror=alert(1)>", "<p>&lt;img src=x onerror=alert(1)&gt;</p>\n"),
        ("<script>alert(1)</script>", "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>\n"),
        ("a <b>bold</b> claim", "<p>a &lt;b&gt;bold&lt;/b&gt; claim</p>\n"),
        ("<!-- hidden -->", "<p>&lt;!-- hidden --&gt;</p>\n"),
        ("Tom &amp; Jerry", "<p>Tom &amp; Jerry</p>\n"),
    ],
)
def test_raw_html_is_shown_as_text(source: str, expected: str) -> None:
    assert render_markdown(source) == expected


# --- images become links -----------------------------------------------------------------------


def test_image_becomes_link_with_alt_text() -> None:
    html = render_markdown('![a cat](https://example.com/cat.png "Cat")')
    assert html == (
        '<p><a href="https://example.com/cat.png" title="Cat" target="_blank" '
        f'rel="{REL}">a cat</a></p>\n'
    )


def test_image_without_alt_is_labelled_with_its_url() -> None:
    html = render_markdown("![](https://example.com/cat.png)")
    assert '<a href="https://example.com/cat.png"' in html
    assert ">https://example.com/cat.png</a>" in html
    assert "<img" not in html


def test_image_alt_markup_is_flattened_to_text() -> None:
    html = render_markdown("![**bold** <b>x</b>](https://example.com/cat.png)")
    assert ">bold &lt;b&gt;x&lt;/b&gt;</a>" in html


@pytest.mark.parametrize(
    "source",
    ["![x](javascript:alert(1))", "![x](data:image/png;base64,iVBORw0KGgo=)"],
)
def test_image_with_unsafe_url_is_not_linked(source: str) -> None:
    html = render_markdown(source)
    assert "<a" not in html
    assert "<img" not in html


def test_image_inside_link_does_not_nest_links() -> None:
    html = render_markdown("[![logo](https://example.com/i.png)](https://example.com)")
    assert [tag for tag, _ in elements(html)] == ["p", "a"]
    assert elements(html)[1][1]["href"] == "https://example.com"


# --- mentions ----------------------------------------------------------------------------------

MENTIONS = {"@Ada Lovelace": "u-ada", "@ada@example.com": "u-ada", "@Ada": "u-other"}


def mention_spans(html: str) -> list[str | None]:
    return [
        attrs.get("data-user-id")
        for tag, attrs in elements(html)
        if tag == "span" and attrs.get("class") == "mention"
    ]


def test_mention_by_name_is_highlighted() -> None:
    html = render_message("hi @Ada Lovelace!", MENTIONS)
    assert html == ('<p>hi <span class="mention" data-user-id="u-ada">@Ada Lovelace</span>!</p>\n')


def test_mention_by_email_is_highlighted() -> None:
    html = render_message("cc @ada@example.com.", MENTIONS)
    assert '<span class="mention" data-user-id="u-ada">@ada@example.com</span>.' in html


def test_longest_mention_wins() -> None:
    assert mention_spans(render_message("@Ada Lovelace and @Ada", MENTIONS)) == [
        "u-ada",
        "u-other",
    ]


@pytest.mark.parametrize(
    "source",
    [
        "`@Ada Lovelace`",
        "```\n@Ada Lovelace\n```",
        "    @Ada Lovelace",
        "[@Ada Lovelace](https://example.com)",
        "![@Ada Lovelace](https://example.com/a.png)",
        "@Adam",
        "bob@Ada",
    ],
)
def test_mentions_not_highlighted_outside_plain_text(source: str) -> None:
    assert mention_spans(render_message(source, MENTIONS)) == []


def test_mentions_inside_emphasis_and_lists_are_highlighted() -> None:
    html = render_message("- **@Ada Lovelace** and ~~@Ada~~", MENTIONS)
    assert mention_spans(html) == ["u-ada", "u-other"]


def test_mention_user_id_and_text_are_escaped() -> None:
    html = render_message('@Ada "x"', {'@Ada "x"': '" onclick="alert(1)'})
    assert_safe(html)
    assert mention_spans(html) == ['" onclick="alert(1)']


def test_mention_keys_without_at_sign_are_ignored() -> None:
    assert mention_spans(render_message("Ada Lovelace", {"Ada Lovelace": "u-ada"})) == []


def test_render_markdown_highlights_nothing() -> None:
    assert mention_spans(render_markdown("@Ada Lovelace")) == []


# --- XSS corpus and properties -----------------------------------------------------------------


def test_corpus_is_substantial() -> None:
    assert len(PAYLOADS) >= 60


@pytest.mark.parametrize("payload", PAYLOADS)
def test_xss_payload_renders_safely(payload: str) -> None:
    assert_safe(render_markdown(payload))
    assert_safe(render_message(payload, {"@Ada Lovelace": "u-ada"}))


_FRAGMENTS = [
    *PAYLOADS,
    "[", "]", "(", ")", "![", "<", ">", "`", "```\n", "\n", "\n\n", "    ", "*", "_", "~~", "|",
    "|---|\n", "> ", "- ", "1. ", "#", "\\", "&", "&#", ";", "&#x6A;", "&#0;", "&colon;", '"',
    "'", "=", ":", "javascript", "JaVaScRiPt", "data", "vbscript", "java\tscript", "\x00",
    "http://example.com", "mailto:", "onerror", "onload", "style", "<img", "<svg", "<a href=",
    "@Ada Lovelace", "@ada@example.com",
]  # fmt: skip

markdownish = st.lists(
    st.one_of(st.sampled_from(_FRAGMENTS), st.text(max_size=8)), max_size=12
).map("".join)


@settings(max_examples=400, derandomize=True, deadline=None, database=None)
@given(markdownish)
def test_rendered_html_is_always_safe(source: str) -> None:
    assert_safe(render_markdown(source))


@settings(max_examples=150, derandomize=True, deadline=None, database=None)
@given(
    markdownish,
    st.dictionaries(
        st.sampled_from(["@Ada Lovelace", "@ada@example.com", "@<script>", '@" onclick="x']),
        st.text(max_size=12),
        max_size=3,
    ),
)
def test_rendered_message_is_always_safe(source: str, mentions: dict[str, str]) -> None:
    assert_safe(render_message(source, mentions))


PLAIN_ALPHABET = st.sampled_from([*"abcXYZ09éßЖ中٣ ,.;:?!()'/", "ǅ", "²", "Ⅻ", "ﬁ"])


@given(st.text(PLAIN_ALPHABET, min_size=1, max_size=60))
@settings(max_examples=800, derandomize=True, deadline=None, database=None)
def test_the_plain_line_shortcut_renders_what_the_parser_renders(line: str) -> None:
    # A mapping whose key does not start with "@" highlights nothing but forces the full path.
    assert render_message(line, {}) == render_message(line, {"not a mention": "u1"})


@pytest.mark.parametrize(
    "line",
    ["1. first", "- item", "A line  ", "hello *world*", "A <b>", "A & B", "x_y_z", "Tab\there"],
)
def test_lines_with_markdown_meaning_take_the_full_path(line: str) -> None:
    assert not _is_plain_sentence(line)
    assert render_message(line, {}) == render_message(line, {"not a mention": "u1"})
