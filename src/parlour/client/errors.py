"""The SDK's exception family: one base class, so a bot can catch everything Parlour raises."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import orjson


class ParlourError(Exception):
    """Base of every error the SDK raises on its own (transport errors from httpx pass through)."""


class ParlourAPIError(ParlourError):
    """A non-2xx answer, parsed from the contract's `{"error": {"code", "message", "details"}}`."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: dict[str, Any] | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details: dict[str, Any] = details if details is not None else {}
        # Seconds to wait before retrying, from the `Retry-After` header (429, sometimes 503).
        self.retry_after = retry_after

    @classmethod
    def from_http(
        cls, status: int, body: bytes, *, retry_after: str | None = None, reason: str = ""
    ) -> ParlourAPIError:
        """Build the error from a raw HTTP answer.

        Bodies that are not the contract's shape (a proxy's HTML 502, a framework default) still
        give a usable error with code `http_<status>`, so callers can branch on `status` alone.
        """
        wait = parse_retry_after(retry_after)
        try:
            parsed: Any = orjson.loads(body) if body else None
        except orjson.JSONDecodeError:
            parsed = None
        error = parsed.get("error") if isinstance(parsed, dict) else None
        if isinstance(error, dict) and isinstance(error.get("code"), str):
            details = error.get("details")
            return cls(
                status,
                error["code"],
                str(error.get("message") or reason or error["code"]),
                details if isinstance(details, dict) else {},
                wait,
            )
        text = body[:200].decode("utf-8", "replace").strip()
        details = {"body": parsed} if parsed is not None else {}
        return cls(status, f"http_{status}", text or reason or f"HTTP {status}", details, wait)


class SessionRevoked(ParlourError):
    """The server ended this session (WebSocket close 4401, or 401 on connect): log in again."""


class ConnectionLost(ParlourError):
    """The event stream ended for good: reconnect is disabled, or the caller closed it."""

    def __init__(self, message: str, code: int | None = None, reason: str = "") -> None:
        super().__init__(message if code is None else f"{message} (close code {code} {reason!r})")
        self.code = code
        self.reason = reason


class ProtocolError(ParlourError):
    """The server sent a frame the contract does not allow (not a JSON object, no hello first)."""


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a `Retry-After` header, which may be delta-seconds or an HTTP date."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
