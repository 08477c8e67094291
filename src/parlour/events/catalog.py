"""The table of server frames in docs/events.md, rendered from the models in `events.types`.

    uv run python -m parlour.events.catalog                          # print the table
    uv run python -m parlour.events.catalog --write docs/events.md   # rewrite it in place
    uv run python -m parlour.events.catalog --check docs/events.md   # exit 1 when out of date

The table sits between two marker comments; everything else in the file is left as written.
A unit test runs the check, so a model changed without the docs fails the suite.
"""

from __future__ import annotations

import argparse
import sys
import types
import typing
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from parlour.events.types import REGISTRY, DurableEvent, Frame, describe

START = (
    "<!-- frames table: generated from the models in src/parlour/events/types.py by"
    " `uv run python -m parlour.events.catalog --write docs/events.md`; do not edit by hand -->"
)
END = "<!-- end of frames table -->"

# Public names of the contract's shapes (API.md says Message, Room, User).
_NAMES = {
    "MessageOut": "Message",
    "RoomOut": "Room",
    "SharedRoomOut": "SharedRoom",
    "ErrorBody": "{code, message, details}",
}
_SCALARS = {str: "string", int: "int", bool: "bool", type(None): "null"}


def type_name(annotation: Any) -> str:
    """A field's type as the docs spell it: `Message`, `[string]`, `string or null`."""
    origin = typing.get_origin(annotation)
    if origin is Literal:
        return "/".join(f'"{value}"' for value in typing.get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        return " or ".join(type_name(arg) for arg in typing.get_args(annotation))
    if origin is list:
        (item,) = typing.get_args(annotation)
        return f"[{type_name(item)}]"
    if origin is dict:
        key, value = typing.get_args(annotation)
        return f"{{{type_name(key)}: {type_name(value)}}}"
    if annotation is Any:
        return "any"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        name = annotation.__name__
        return _NAMES.get(name, name.removesuffix("Out"))
    if annotation in _SCALARS:
        return _SCALARS[annotation]
    return str(annotation)


def _payload_fields(model: type[Frame]) -> list[tuple[str, FieldInfo]]:
    hidden = {"type", "cursor"} if issubclass(model, DurableEvent) else {"type"}
    return [(name, info) for name, info in model.model_fields.items() if name not in hidden]


def _without_none(annotation: Any) -> Any:
    args = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
    return args[0] if len(args) == 1 else annotation


def _payload(model: type[Frame]) -> str:
    parts = []
    for name, info in _payload_fields(model):
        annotation = info.annotation
        optional = ""
        if info.exclude_if is not None:  # absent rather than null
            optional = "?"
            annotation = _without_none(annotation)
        parts.append(f"`{name}{optional}`: {type_name(annotation)}")
    return ", ".join(parts) or "—"


def _durable(model: type[Frame]) -> str:
    if issubclass(model, DurableEvent):
        return "internal" if model.INTERNAL else "yes"
    return "no"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def markdown_table() -> str:
    """One row per frame model, in the order the models are defined."""
    lines = [
        "| type | durable | payload | sent to | meaning |",
        "|---|---|---|---|---|",
    ]
    for name, model in REGISTRY.items():
        cells = (f"`{name}`", _durable(model), _payload(model), model.AUDIENCE, describe(model))
        lines.append("| " + " | ".join(_cell(cell) for cell in cells) + " |")
    return "\n".join(lines) + "\n"


def render(document: str) -> str:
    """`document` with the text between the markers replaced by the current table."""
    head, start, rest = document.partition(START)
    _old, end, tail = rest.partition(END)
    if not start or not end:
        raise ValueError("the document lacks the frames table's marker comments")
    return f"{head}{START}\n{markdown_table()}{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--write", type=Path, metavar="FILE", help="rewrite the table in FILE")
    group.add_argument("--check", type=Path, metavar="FILE", help="fail if FILE is out of date")
    args = parser.parse_args(argv)
    if args.write is None and args.check is None:
        sys.stdout.write(markdown_table())
        return 0
    path: Path = args.write or args.check
    current = path.read_text(encoding="utf-8")
    wanted = render(current)
    if args.check is not None:
        if wanted != current:
            sys.stderr.write(
                f"{path} is out of date: run `uv run python -m parlour.events.catalog "
                f"--write {path}`\n"
            )
            return 1
        return 0
    if wanted != current:
        path.write_text(wanted, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
