"""Ids that come from clients (path and query parameters, socket frames), checked one way.

Our ids are `secrets.token_urlsafe` strings (parlour.ids): URL-safe base64 that fits the id columns.
Anything else cannot name a thing of ours, and some of it PostgreSQL refuses outright (NUL): once
folded into a shared send batch, such a value failed every other user's send with it. So every id
from a client passes `check_id` before any query sees it, whether it came over REST or the socket.
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Path, Query
from pydantic import AfterValidator

from parlour.errors import InvalidInput

ID_MAX_CHARS = 32  # the id columns' width (storage/models.py)
ID_CHARS = rf"[A-Za-z0-9_-]{{1,{ID_MAX_CHARS}}}"
ID_PATTERN = f"^{ID_CHARS}$"
# fullmatch, not `$`: Python's `$` also matches before a trailing newline.
_ID = re.compile(ID_CHARS)


def check_id(value: object, field: str) -> str:
    """`value` if it has the shape of one of our ids, else 422 `invalid_id` naming `field`."""
    if not isinstance(value, str) or _ID.fullmatch(value) is None:
        raise InvalidInput(
            f"`{field}` is not a valid id.", code="invalid_id", details={"field": field}
        )
    return value


def _checked(field: str) -> AfterValidator:
    # InvalidInput is not a ValueError, so pydantic lets it through untouched and the API edge
    # answers it like any other ParlourError: REST and socket say the same thing.
    return AfterValidator(lambda value: check_id(value, field))


def _checked_optional(field: str) -> AfterValidator:
    return AfterValidator(lambda value: None if value is None else check_id(value, field))


# The pattern is also written into the OpenAPI document, so that schema-valid means well-formed;
# the check itself is `check_id` (after the validator), the one the socket uses.
_SCHEMA = {"pattern": ID_PATTERN, "maxLength": ID_MAX_CHARS}

RoomIdPath = Annotated[str, Path(json_schema_extra=_SCHEMA), _checked("room_id")]
MessageIdPath = Annotated[str, Path(json_schema_extra=_SCHEMA), _checked("message_id")]
UserIdPath = Annotated[str, Path(json_schema_extra=_SCHEMA), _checked("user_id")]
AttachmentIdPath = Annotated[str, Path(json_schema_extra=_SCHEMA), _checked("attachment_id")]

RoomIdQuery = Annotated[str | None, Query(json_schema_extra=_SCHEMA), _checked_optional("room_id")]
AuthorIdQuery = Annotated[
    str | None, Query(json_schema_extra=_SCHEMA), _checked_optional("author_id")
]
BeforeIdQuery = Annotated[str | None, Query(json_schema_extra=_SCHEMA), _checked_optional("before")]
AfterIdQuery = Annotated[str | None, Query(json_schema_extra=_SCHEMA), _checked_optional("after")]
