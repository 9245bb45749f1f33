"""What the OpenAPI document says about responses: every error is ``ErrorPublic``; ``V1`` is the
set every ``/v1`` route declares (each router passes it), ``errors(...)`` picks others."""

from __future__ import annotations

from typing import Any

from suanli.api.responses import ErrorPublic

MEANING = {
    401: "no API token, or an unknown or revoked one",
    403: "the token's role or scope does not allow this",
    404: "no such object, or not one the caller may see",
    409: "the object's state (or an Idempotency-Key used for another body) forbids this",
    413: "the request body is over the limit (SUANLI_MAX_BODY, 1 MiB by default)",
    422: "bad input: the error names the field and says how to fix it",
    429: "the tenant is over its submission rate; retry after Retry-After seconds",
    503: "the database does not answer",
}
RETRY_AFTER = {"Retry-After": {"description": "whole seconds until a submission is admitted again",
                               "schema": {"type": "integer", "minimum": 1}}}


def errors(*codes: int, plain: bool = False) -> dict[int | str, dict[str, Any]]:
    """``plain``: for a route whose success is not JSON (``/metrics``): its errors still are."""
    out: dict[int | str, dict[str, Any]] = {}
    for c in codes:
        out[c] = ({"content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorPublic"}}}}
                  if plain else {"model": ErrorPublic})
        out[c]["description"] = MEANING[c]
        if c == 429:
            out[c]["headers"] = RETRY_AFTER
    return out


V1 = errors(401, 403, 404, 409, 413, 422)
