"""Keep incoming webhooks' secrets out of the logs.

A webhook's secret is part of its URL's path (`/api/v1/hooks/<id>/<secret>`), and uvicorn's
access log writes every request's path. `parlour serve` runs uvicorn at log level "warning", so
access lines (level INFO) are not written by default; but an operator who raises the level (or
runs the app under another server's logging) would write them. So the access logger, and our own
loggers that name a request's path (api/errors.py), mask the secret whatever the level.
"""

from __future__ import annotations

import logging
import re

_HOOK_SECRET = re.compile(r"(/api/v1/hooks/[^/?#\s\"']*/)[^?#\s\"']+")
REDACTED = "[redacted]"
# Loggers that write request paths: uvicorn's access log, and our error handlers.
PATH_LOGGERS = ("uvicorn.access", "uvicorn.error", "parlour.api.errors")


def redact(text: str) -> str:
    """`text` with every webhook URL's secret masked."""
    return _HOOK_SECRET.sub(rf"\g<1>{REDACTED}", text)


class RedactHookSecrets(logging.Filter):
    """Masks webhook secrets in a record's message and arguments (uvicorn's access log passes
    the path as an argument)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(arg) if isinstance(arg, str) else arg for arg in record.args)
        return True


def install() -> None:
    """Put the filter on every logger that writes paths (once; safe to call again)."""
    for name in PATH_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactHookSecrets) for f in logger.filters):
            logger.addFilter(RedactHookSecrets())
