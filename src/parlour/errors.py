"""One exception family for everything a client may be told.

Application code just raises; the API edge turns any `ParlourError` into the contract's
`{"error": {"code", "message", "details"}}` with the error's HTTP status.
"""

from __future__ import annotations

from typing import Any


class ParlourError(Exception):
    code = "error"
    http_status = 400
    # Whether the same request may succeed later unchanged (the socket's error frames say so).
    retryable = False

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details: dict[str, Any] = details or {}

    def to_json(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class InvalidInput(ParlourError):
    code = "invalid_input"
    http_status = 422


class NotLoggedIn(ParlourError):
    code = "not_authenticated"
    http_status = 401


class Forbidden(ParlourError):
    code = "forbidden"
    http_status = 403


class NotFound(ParlourError):
    """Missing, or not yours to see: outsiders must not learn that a thing exists."""

    code = "not_found"
    http_status = 404


class Conflict(ParlourError):
    code = "conflict"
    http_status = 409


class TooLarge(ParlourError):
    code = "too_large"
    http_status = 413


class RateLimited(ParlourError):
    code = "rate_limited"
    http_status = 429
    retryable = True

    def __init__(self, message: str, *, retry_after: int, code: str | None = None) -> None:
        super().__init__(message, code=code, details={"retry_after": retry_after})
        self.retry_after = retry_after


class Unavailable(ParlourError):
    """A dependency (the database) failed; the request changed nothing and may be retried."""

    code = "unavailable"
    http_status = 503
    retryable = True
    # Seconds a client should wait before retrying (the `Retry-After` header).
    retry_after = 1
