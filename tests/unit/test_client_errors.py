"""ParlourAPIError is parsed from the contract's error JSON, and survives bodies that are not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import orjson
import pytest

from parlour.client import ParlourAPIError, ProtocolError, parse_frame
from parlour.client.backoff import Backoff
from parlour.client.errors import parse_retry_after


def test_contract_error_body_gives_code_message_and_details() -> None:
    body = orjson.dumps(
        {"error": {"code": "room_not_found", "message": "No such room", "details": {"id": "r1"}}}
    )
    err = ParlourAPIError.from_http(404, body)
    assert (err.status, err.code, err.message, err.details) == (
        404,
        "room_not_found",
        "No such room",
        {"id": "r1"},
    )
    assert err.retry_after is None
    assert "room_not_found" in str(err)


def test_missing_details_become_an_empty_dict() -> None:
    body = orjson.dumps({"error": {"code": "csrf_failed", "message": "CSRF"}})
    assert ParlourAPIError.from_http(403, body).details == {}


def test_rate_limit_carries_retry_after_seconds() -> None:
    body = orjson.dumps({"error": {"code": "rate_limited", "message": "slow down"}})
    err = ParlourAPIError.from_http(429, body, retry_after="3")
    assert err.code == "rate_limited"
    assert err.retry_after == 3.0


def test_non_contract_body_still_gives_a_usable_error() -> None:
    err = ParlourAPIError.from_http(502, b"<html>Bad Gateway</html>", reason="Bad Gateway")
    assert err.status == 502
    assert err.code == "http_502"
    assert "Bad Gateway" in err.message


def test_framework_default_json_is_kept_in_details() -> None:
    err = ParlourAPIError.from_http(422, orjson.dumps({"detail": [{"loc": ["body"]}]}))
    assert err.code == "http_422"
    assert err.details == {"body": {"detail": [{"loc": ["body"]}]}}


def test_empty_body_uses_the_reason_phrase() -> None:
    err = ParlourAPIError.from_http(503, b"", reason="Service Unavailable")
    assert err.message == "Service Unavailable"


@pytest.mark.parametrize(
    ("header", "expected"),
    [(None, None), ("", None), ("0", 0.0), ("1.5", 1.5), ("-4", 0.0), ("soon", None)],
)
def test_retry_after_delta_seconds(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header) == expected


def test_retry_after_http_date() -> None:
    when = datetime.now(UTC) + timedelta(seconds=30)
    seconds = parse_retry_after(format_datetime(when, usegmt=True))
    assert seconds is not None
    assert 25 < seconds <= 30


@pytest.mark.parametrize("raw", [b"not json", b"[1, 2]", b'{"cursor": "c1"}', b'{"type": 3}'])
def test_frames_that_break_the_contract_raise_protocol_error(raw: bytes) -> None:
    with pytest.raises(ProtocolError):
        parse_frame(raw)


def test_only_cursor_carrying_events_other_than_hello_are_durable() -> None:
    assert parse_frame(b'{"type": "message.created", "cursor": "c9"}').durable
    assert not parse_frame(b'{"type": "hello", "cursor": "c9"}').durable
    assert not parse_frame(b'{"type": "typing", "room_id": "r"}').durable


def test_backoff_grows_to_the_cap_and_never_reaches_zero() -> None:
    backoff = Backoff(base=0.1, cap=2.0)
    for attempt in range(50):
        ceiling = min(2.0, 0.1 * 2**attempt)
        assert ceiling / 2 <= backoff.delay(attempt) <= ceiling
