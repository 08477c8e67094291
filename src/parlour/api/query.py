"""Query strings are read strictly: one value per parameter, integers in ASCII digits, UTF-8.

Starlette and FastAPI are lenient where the contract is not: a repeated parameter silently keeps
its last value, an integer accepts `+1`, `1 `, `1_000` and `1.0`, and bytes that are not UTF-8
become U+FFFD. A client that sends any of these has a bug, and answering it with some guess hides
the bug (a fuzz run found `limit=&limit=é¶3…&limit=1+` answered 200). So every HTTP route first
runs `check_query`, which answers 422 `invalid_query` naming the parameter; what it lets through
then meets the route's own validation (ranges, lengths, patterns: 422 `invalid_input`).

The WebSocket reads its own query (`since`, `token`) and answers with frames, so it is skipped.
"""

from __future__ import annotations

import re
import types
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Union, get_args, get_origin
from urllib.parse import unquote_to_bytes

from fastapi import Depends, FastAPI
from fastapi.dependencies.models import Dependant
from starlette.requests import HTTPConnection

from parlour.errors import InvalidInput

# What `int(...)` accepts that an integer in a URL should not (signs aside, ASCII digits only).
_INTEGER = re.compile(rb"-?[0-9]+")
_SEQUENCES = (list, set, frozenset, tuple)


@dataclass(frozen=True)
class QueryShape:
    """The query parameters one route declares: which take one value, which are integers."""

    single: frozenset[str]
    integers: frozenset[str]


def _query_fields(dependant: Dependant) -> Iterator[Any]:
    yield from dependant.query_params
    for sub in dependant.dependencies:
        yield from _query_fields(sub)


def _members(annotation: Any) -> tuple[Any, ...]:
    """The types of a union without None (`int | None` -> (int,)), or the type itself."""
    if get_origin(annotation) in (Union, types.UnionType):
        return tuple(arg for arg in get_args(annotation) if arg is not type(None))
    return (annotation,)


def query_shape(dependant: Dependant) -> QueryShape:
    single: set[str] = set()
    integers: set[str] = set()
    for field in _query_fields(dependant):
        members = _members(field.field_info.annotation)
        if any(get_origin(member) in _SEQUENCES or member in _SEQUENCES for member in members):
            continue  # declared as a list: repeating it is how several values are sent
        single.add(field.alias)
        if members == (int,):
            integers.add(field.alias)
    return QueryShape(frozenset(single), frozenset(integers))


def parse_query(raw: bytes) -> list[tuple[str, bytes]]:
    """`name=value` pairs as Starlette splits them (on `&`, blanks kept), values still bytes.

    Raises InvalidInput for a name or value that is not UTF-8 once percent-decoded. (Raw bytes
    outside ASCII never get here: uvicorn refuses such a request line with a plain 400.)
    """
    pairs: list[tuple[str, bytes]] = []
    for segment in raw.split(b"&"):
        if not segment:
            continue
        raw_name, _, raw_value = segment.partition(b"=")
        name_bytes = unquote_to_bytes(raw_name.replace(b"+", b" "))
        value = unquote_to_bytes(raw_value.replace(b"+", b" "))
        name = name_bytes.decode("utf-8", errors="replace")
        try:
            name_bytes.decode("utf-8")
            value.decode("utf-8")
        except UnicodeDecodeError:
            raise _invalid(name, "not_utf8", "is not valid UTF-8") from None
        pairs.append((name, value))
    return pairs


def check_pairs(pairs: list[tuple[str, bytes]], shape: QueryShape) -> None:
    counts = Counter(name for name, _ in pairs)
    for name, count in counts.items():
        if name in shape.single and count > 1:
            raise _invalid(name, "repeated", f"is given {count} times; it takes one value")
    for name, value in pairs:
        if name in shape.integers and not _INTEGER.fullmatch(value):
            raise _invalid(name, "not_an_integer", "must be an integer in ASCII digits")


def _invalid(name: str, reason: str, what: str) -> InvalidInput:
    return InvalidInput(
        f"The query parameter '{name}' {what}.",
        code="invalid_query",
        details={"parameter": name, "reason": reason},
    )


# Each route's shape is computed on first use and kept on the route (routes live as long as the
# app; they are unhashable, so no dict can key on them).
_SHAPE_ATTRIBUTE = "_parlour_query_shape"


def _shape_of(route: Any) -> QueryShape:
    shape = getattr(route, _SHAPE_ATTRIBUTE, None)
    if isinstance(shape, QueryShape):
        return shape
    dependant = getattr(route, "dependant", None)
    if isinstance(dependant, Dependant):
        shape = query_shape(dependant)
        setattr(route, _SHAPE_ATTRIBUTE, shape)
        return shape
    return QueryShape(frozenset(), frozenset())


async def check_query(connection: HTTPConnection) -> None:
    """Runs before every route's own dependencies (authentication included): a malformed
    request is refused as such, as a malformed JSON body is."""
    if connection.scope["type"] != "http":
        return
    pairs = parse_query(connection.scope.get("query_string", b""))
    if pairs:
        check_pairs(pairs, _shape_of(connection.scope.get("route")))


def install(app: FastAPI) -> None:
    # App-level dependencies reach every route, including those of routers included later.
    app.router.dependencies.append(Depends(check_query))
