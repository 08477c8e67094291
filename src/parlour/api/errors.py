"""Every error leaves as the contract's JSON, never as a stack trace."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from parlour.api.json import JSONBytes
from parlour.errors import ParlourError, RateLimited, Unavailable
from parlour.storage.engine import is_connection_error

log = logging.getLogger(__name__)

_HTTP_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


def error_response(
    status: int, code: str, message: str, details: dict[str, Any] | None = None
) -> JSONBytes:
    return JSONBytes(
        {"error": {"code": code, "message": message, "details": details or {}}}, status_code=status
    )


async def _parlour_error(request: Request, exc: Exception) -> JSONBytes:
    assert isinstance(exc, ParlourError)
    response = error_response(exc.http_status, exc.code, exc.message, exc.details)
    if isinstance(exc, RateLimited | Unavailable):
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


def unavailable_response() -> JSONBytes:
    error = Unavailable("The database is unavailable; nothing was changed. Retry.")
    response = error_response(error.http_status, error.code, error.message)
    response.headers["Retry-After"] = str(error.retry_after)
    return response


async def _database_error(request: Request, exc: Exception) -> JSONBytes:
    """The database went away (restart, failover, network): retryable, not a server bug."""
    if is_connection_error(exc):
        log.warning("database unavailable on %s %s: %s", request.method, request.url.path, exc)
        return unavailable_response()
    log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "internal_error", "Something went wrong on our side.")


async def _validation_error(request: Request, exc: Exception) -> JSONBytes:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"loc": [str(part) for part in error.get("loc", ())], "msg": str(error.get("msg", ""))}
        for error in exc.errors()
    ]
    return error_response(422, "invalid_input", "The request is not valid.", {"errors": errors})


async def _http_error(request: Request, exc: Exception) -> JSONBytes:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "error")
    response = error_response(exc.status_code, code, str(exc.detail))
    if exc.headers:  # e.g. Allow on 405, which HTTP requires
        response.headers.update(exc.headers)
    return response


async def _too_deep(request: Request, exc: Exception) -> JSONBytes:
    return error_response(400, "invalid_json", "The JSON body is nested too deeply.")


async def _unexpected(request: Request, exc: Exception) -> JSONBytes:
    if is_connection_error(exc):  # a driver error SQLAlchemy did not wrap (asyncpg connect)
        log.warning("database unavailable on %s %s: %s", request.method, request.url.path, exc)
        return unavailable_response()
    log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "internal_error", "Something went wrong on our side.")


def install(app: FastAPI) -> None:
    app.add_exception_handler(ParlourError, _parlour_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RecursionError, _too_deep)
    app.add_exception_handler(SQLAlchemyError, _database_error)
    app.add_exception_handler(OSError, _database_error)
    app.add_exception_handler(Exception, _unexpected)
