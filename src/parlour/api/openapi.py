"""The OpenAPI document, with the limits in force written into it.

Some request limits are configurable (config.Limits), so the models cannot carry them; the served
document states the ones this server enforces, which is what lets schemathesis hold the server to
its document (tests/attack/test_openapi_fuzz.py).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from parlour.config import Limits
from parlour.schemas import NON_BLANK, NON_BLANK_TEXT, SPACE


def install(app: FastAPI, limits: Limits) -> None:
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = generate()  # also cached in app.openapi_schema
        document_limits(document, limits)
        return document

    app.openapi = openapi  # type: ignore[method-assign]


# Request fields whose limits are configurable.
_NAME_FIELDS = (
    ("UpdateMeIn", "full_name"),
    ("CreateUserIn", "full_name"),
    ("UpdateUserIn", "full_name"),
    ("GroupRoomIn", "name"),
    ("RenameRoomIn", "name"),
)
_CONTENT_FIELDS = (("SendMessageIn", "content"), ("EditMessageIn", "content"))


def _string_schemas(prop: dict[str, Any]) -> list[dict[str, Any]]:
    """The string branch(es) of a property schema (`str` or `str | None`)."""
    branches = prop.get("anyOf", [prop])
    return [branch for branch in branches if branch.get("type") == "string"]


def document_limits(openapi: dict[str, Any], limits: Limits) -> None:
    schemas = openapi["components"]["schemas"]
    # A name is trimmed, then must be 1..name_chars characters (actions.checks.check_name).
    inner = max(limits.name_chars - 2, 0)
    name_pattern = rf"^[{SPACE}]*{NON_BLANK}(?:[^\x00]{{0,{inner}}}{NON_BLANK})?[{SPACE}]*$"
    for model, field in _NAME_FIELDS:
        for branch in _string_schemas(schemas[model]["properties"][field]):
            branch["pattern"] = name_pattern
    for model, field in _CONTENT_FIELDS:
        for branch in _string_schemas(schemas[model]["properties"][field]):
            branch["maxLength"] = limits.message_chars
    # An edit needs some text (a send may be empty when it carries attachments).
    schemas["EditMessageIn"]["properties"]["content"]["pattern"] = NON_BLANK_TEXT
