"""How a digest is written out: headers that are short plain ASCII go as they are, anything else
(a name or subject in another script, text that would read as an encoded word, a header that
would break the line limit) is encoded by the e-mail package, and a reader's mail program
reads back exactly what was composed."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime
from email.message import EmailMessage
from types import SimpleNamespace
from typing import cast

from parlour.away.consumer import Person
from parlour.away.digests import Line, compose, written
from parlour.services import Services

READER = Person("u1", "Bea Away", "bea@example.com", True, True, True)


def services(mail_from: str = "Parlour <parlour@example.com>") -> Services:
    settings = SimpleNamespace(public_url="https://chat.example.com/", mail_from=mail_from)
    clock = SimpleNamespace(now=lambda: datetime(2026, 12, 2, 12, 0, tzinfo=UTC))
    return cast(Services, SimpleNamespace(settings=settings, clock=clock))


def read_back(text: str) -> EmailMessage:
    return email.message_from_string(text, policy=email.policy.default)


def digest(lines: list[Line], mail_from: str = "Parlour <parlour@example.com>") -> str:
    return written(compose(services(mail_from), READER, lines, "outbox1", b"k" * 32))


def test_plain_ascii_headers_are_written_as_they_are() -> None:
    text = digest([Line("r1", "Ada Sender", "Ada Sender", "lunch at noon?")])
    head = text.split("\n\n", 1)[0]
    assert "Subject: Ada Sender: lunch at noon?\n" in head
    assert "To: bea@example.com\n" in head
    assert "From: Parlour <parlour@example.com>\n" in head
    assert "=?" not in head  # nothing needed encoding
    message = read_back(text)
    assert message["Subject"] == "Ada Sender: lunch at noon?"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["List-Unsubscribe"].startswith("<https://chat.example.com/api/v1/email/")


def test_other_scripts_and_encoded_word_lookalikes_are_encoded() -> None:
    for said in ("déjà vu ☕", "see =?utf-8?b?SGFja2Vk?= here"):
        text = digest([Line("r1", "Zoë", "Zoë", said)], mail_from="Parlour Café <p@example.com>")
        head = text.split("\n\n", 1)[0]
        assert "Subject: =?utf-8?" in head  # encoded, so the literal text cannot be decoded
        message = read_back(text)
        assert message["Subject"] == f"Zoë: {said}"
        assert message["From"].addresses[0].display_name == "Parlour Café"
        assert message["From"].addresses[0].addr_spec == "p@example.com"


def test_both_parts_are_written_and_escaped() -> None:
    text = digest([Line("r1", "Launch <team>", "Ada", "<script>alert(1)</script>")])
    message = read_back(text)
    plain = message.get_body(("plain",))
    page = message.get_body(("html",))
    assert plain is not None
    assert page is not None
    assert "<script>alert(1)</script>" in plain.get_content()
    assert "<script>" not in page.get_content()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.get_content()
    assert "&lt;team&gt;" in page.get_content()
