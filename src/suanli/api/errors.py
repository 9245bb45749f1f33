"""Every error the API returns is ``{"error": {"code", "message", "field"}}``: 4xx for the
caller's mistakes with a message that says what to fix, 500 without a stack trace."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

from suanli.api.limits import BodyTooLarge
from suanli.api.render import error
from suanli.api.schemas import ENV_NAME
from suanli.domain.errors import InvalidInput, SuanliError, UnknownName
from suanli.services.errors import ServiceError, TooManyRequests

log = logging.getLogger("suanli.api")

FIXES = {
    "missing": "add this field",
    "extra_forbidden": "remove this field (check its spelling against /docs)",
    "json_invalid": "send a valid JSON body",
    "model_attributes_type": "send a JSON object",
    "dict_type": "send a JSON object",
    "nul_byte": "remove the NUL byte",
    "finite_number": "give a finite number (Infinity and NaN are refused)",
}


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(x) for x in loc if x not in ("body", "query", "path", "header", "[key]")]
    out = ""
    for x in parts:
        out += f"[{x}]" if x.isdigit() else (f".{x}" if out else x)
    return out


def _fix(err: Any) -> str:
    ctx = err.get("ctx") or {}
    kind = err.get("type", "")
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        op = {"greater_than_equal": ">=", "greater_than": ">", "less_than_equal": "<=", "less_than": "<"}[kind]
        bound = next(iter(ctx.values()), "")
        return f"give a number {op} {bound}"
    if kind == "literal_error":
        return f"use one of: {ctx.get('expected', '')}"
    if kind == "string_pattern_mismatch":
        if ctx.get("pattern") == ENV_NAME:
            return "name it like an environment variable: a letter or '_', then letters, digits or '_'"
        return "use letters, digits, '.', '_' or '-' (at most 64, starting with a letter or digit)"
    if kind in ("string_too_long", "too_long"):
        return f"give at most {ctx.get('max_length')}"
    if kind == "too_many_bytes":
        return f"send at most {ctx.get('limit')} bytes (put large inputs in a file the command reads)"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return "give a whole number"
    if kind in ("float_parsing", "float_type", "decimal_parsing"):
        return "give a number"
    if kind in ("too_short", "list_type"):
        return "give a non-empty list"
    return FIXES.get(kind, "see the schema at /docs")


def _validation(_: Request, exc: Exception) -> Any:
    assert isinstance(exc, RequestValidationError)
    return validation_error(list(exc.errors()))


def validation_error(errs: list[Any]) -> Any:
    """The first problem of a pydantic error list as our JSON error (422)."""
    first = errs[0] if errs else {"loc": (), "msg": "invalid request", "type": ""}
    field = _field(tuple(first.get("loc", ())))
    fix = _fix(first)
    message = f"{field or 'request'}: {first.get('msg')}; fix: {fix}"
    if len(errs) > 1:
        message += f" (and {len(errs) - 1} more problem(s))"
    return error(422, "invalid_field", message, field)


def _invalid(_: Request, exc: Exception) -> Any:
    assert isinstance(exc, InvalidInput)
    code = "unknown_name" if isinstance(exc, UnknownName) else "invalid_input"
    return error(422, code, exc.render(), exc.field)


def _service(_: Request, exc: Exception) -> Any:
    assert isinstance(exc, ServiceError)
    return service_error(exc)


def service_error(exc: ServiceError) -> Any:
    """A service's error as our JSON error; 429 carries ``Retry-After``."""
    out = error(exc.status, exc.code, exc.message, exc.field)
    if isinstance(exc, TooManyRequests):
        out.headers["Retry-After"] = str(exc.retry_after)
    return out


def _suanli(_: Request, exc: Exception) -> Any:
    return error(409, "conflict", str(exc))


def _http(_: Request, exc: Exception) -> Any:
    assert isinstance(exc, HTTPException)
    messages = {404: "no such route; see /docs for the API", 405: "method not allowed on this route; see /docs"}
    if isinstance(exc, BodyTooLarge):
        return error(413, exc.code, str(exc.detail), "body")
    return error(exc.status_code, "http_" + str(exc.status_code), messages.get(exc.status_code, str(exc.detail)))


def _internal(_: Request, exc: Exception) -> Any:
    log.exception("internal error", exc_info=exc)
    return error(500, "internal", "internal error; nothing was half-written, retry or ask the operator")


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(InvalidInput, _invalid)
    app.add_exception_handler(ServiceError, _service)
    app.add_exception_handler(SuanliError, _suanli)
    app.add_exception_handler(HTTPException, _http)
    app.add_exception_handler(Exception, _internal)
