"""The OpenAPI document, with the limits in force and the query rules written into it.

Some request limits are configurable (config.Limits), so the models cannot carry them; the served
document states the ones this server enforces, which is what lets schemathesis hold the server to
its document (tests/attack/test_openapi_fuzz.py). Query parameters are read strictly (api/query.py)
and the document says so.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from fastapi import FastAPI

from parlour.config import Limits
from parlour.domain.visible import is_invisible
from parlour.schemas import NON_BLANK, NON_BLANK_TEXT, SPACE


def install(app: FastAPI, limits: Limits) -> None:
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = generate()  # also cached in app.openapi_schema
        document_limits(document, limits)
        document_query(document)
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
    # A name is trimmed, then must be 1..name_chars characters and show something: at least one
    # character that is not whitespace, control, format or another invisible one
    # (actions.checks.check_name). One pattern cannot say both without a lookahead, which
    # generators handle badly, so the second rule is a second (unanchored) pattern.
    inner = max(limits.name_chars - 2, 0)
    name_pattern = rf"^[{SPACE}]*{NON_BLANK}(?:[^\x00]{{0,{inner}}}{NON_BLANK})?[{SPACE}]*$"
    shows_something = {"pattern": f"[^{invisible_class()}]"}
    for model, field in _NAME_FIELDS:
        for branch in _string_schemas(schemas[model]["properties"][field]):
            branch["pattern"] = name_pattern
            branch["allOf"] = [shows_something]
    for model, field in _CONTENT_FIELDS:
        for branch in _string_schemas(schemas[model]["properties"][field]):
            branch["maxLength"] = limits.message_chars
    # An edit needs some text (a send may be empty when it carries attachments).
    schemas["EditMessageIn"]["properties"]["content"]["pattern"] = NON_BLANK_TEXT


@cache
def invisible_class() -> str:
    """The body of a regex character class holding every character `domain.visible` counts as
    invisible, so the document and the check cannot disagree (computed once, ~0.4 s).

    Characters of the Basic Multilingual Plane are written as `\\uXXXX` escapes, the others as
    themselves. Lone surrogates are left out: they are not characters a regex may name (schema
    validators refuse such a pattern outright) nor ones a generator produces, and the server
    refuses them as invisible anyway.
    """
    ranges: list[tuple[int, int]] = []
    for code in range(0x110000):
        if 0xD800 <= code <= 0xDFFF:
            continue
        if is_invisible(chr(code)):
            if ranges and ranges[-1][1] == code - 1:
                ranges[-1] = (ranges[-1][0], code)
            else:
                ranges.append((code, code))

    def char(code: int) -> str:
        return f"\\u{code:04x}" if code <= 0xFFFF else chr(code)

    return "".join(char(a) if a == b else f"{char(a)}-{char(b)}" for a, b in ranges)


ERROR_SCHEMA = "#/components/schemas/ErrorOut"
QUERY_422 = (
    "Invalid input. A query parameter given more than once, an integer not written in ASCII "
    "digits, or a query that is not UTF-8 once percent-decoded is `invalid_query`, with "
    "`details.parameter` naming the parameter."
)


def document_query(openapi: dict[str, Any]) -> None:
    """Every operation that reads the query documents its 422; a query parameter is one value.

    FastAPI writes an optional parameter as `anyOf: [X, null]`, but a query string has no null:
    leaving the parameter out is how a client says "none", and `limit=` is an invalid integer,
    not a null one. So the null branch goes and the parameter's schema is X.
    """
    for operations in openapi["paths"].values():
        for operation in operations.values():
            query = [p for p in operation.get("parameters", ()) if p.get("in") == "query"]
            if not query:
                continue
            for parameter in query:
                parameter["schema"] = _without_null(parameter["schema"])
            responses = operation.setdefault("responses", {})
            entry = responses.setdefault(
                "422",
                {"content": {"application/json": {"schema": {"$ref": ERROR_SCHEMA}}}},
            )
            entry["description"] = QUERY_422


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    branches = schema.get("anyOf")
    if not isinstance(branches, list):
        return schema
    kept = [branch for branch in branches if branch.get("type") != "null"]
    if len(kept) != 1:
        return {**schema, "anyOf": kept} if len(kept) != len(branches) else schema
    # The keywords beside anyOf (pattern, maxLength, title) apply to the one branch left.
    rest = {key: value for key, value in schema.items() if key != "anyOf"}
    return {**kept[0], **rest}
