"""A malformed `since` cursor gets `hello` + `resync_required`, never a dropped connection.

`since=<epoch>.²` raised an unhandled ValueError (a 1006 close and a stack trace in the log):
`str.isdigit` accepts superscripts, which `int()` refuses, and other scripts' digits, which `int()`
reads as a position the client never had. Cursors are ASCII digits only.
"""

from __future__ import annotations

import pytest

from parlour.events.stream import decode_cursor
from tests.support import Org

# Superscript two, Arabic-Indic and full-width digits: all `str.isdigit`, none ASCII.
NOT_ASCII_DIGITS = ["²", "١٢", "\uff11\uff12", "-1", "+1", " 1", "1 ", "1.5", "1e3", "", "1" * 20]


@pytest.mark.parametrize("number", NOT_ASCII_DIGITS)
def test_only_ascii_digits_decode(number: str) -> None:
    assert decode_cursor("epoch", f"epoch.{number}") is None
    assert decode_cursor("epoch", "epoch.12") == 12


async def test_a_cursor_with_other_digits_gets_hello_then_resync(org: Org) -> None:
    client = org[0].client
    async with client.events(reconnect=False) as stream:
        assert stream.hello is not None
        assert stream.hello.cursor is not None
        epoch = stream.hello.cursor.partition(".")[0]
    for number in NOT_ASCII_DIGITS:
        since = f"{epoch}.{number}"
        async with client.events(since=since, reconnect=False) as stream:
            first = await stream.wait_for(lambda _: True, timeout=10)
            second = await stream.wait_for(lambda _: True, timeout=10)
        assert (first.type, second.type) == ("hello", "resync_required"), since
        assert first.cursor != since, "hello carries the current position to continue from"
