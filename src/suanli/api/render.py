"""JSON rendering: orjson, Decimal money as strings (never a float), and the error body."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson
from fastapi.responses import JSONResponse


def _default(obj: Any) -> Any:
    if isinstance(obj, Decimal):
        return str(obj)
    if isinstance(obj, (set, tuple)):
        return list(obj)
    raise TypeError(f"cannot render {type(obj).__name__}")


class JSON(JSONResponse):
    """A JSONResponse (so OpenAPI documents the route's JSON schema, not a string) rendered by orjson."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, default=_default, option=orjson.OPT_NON_STR_KEYS)


def ok(content: Any, status: int = 200, headers: dict[str, str] | None = None) -> JSON:
    return JSON(content, status_code=status, headers=headers)


def error(status: int, code: str, message: str, field: str = "") -> JSON:
    return JSON({"error": {"code": code, "message": message, "field": field}}, status_code=status)
