"""JSON responses encoded with orjson (FastAPI's own ORJSONResponse is deprecated)."""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import BaseModel
from starlette.responses import JSONResponse, Response


class JSONBytes(JSONResponse):
    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def model_json(model: BaseModel, status_code: int = 200) -> Response:
    """A model's JSON straight from pydantic, with no dict in between: the same bytes as
    `JSONBytes(model.model_dump(mode="json"))`, encoded once."""
    return Response(model.model_dump_json(), status_code=status_code, media_type="application/json")
