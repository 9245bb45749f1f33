"""The request body limit (``SUANLI_MAX_BODY``, 1 MiB by default), for every route: a declared
``Content-Length`` over the limit is answered 413 before the body is read; a body without one
(chunked) is counted while it is read, and reading past the limit raises ``BodyTooLarge``
(an ``HTTPException``, so FastAPI's body parsing passes it through to the JSON error handler)."""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException

from suanli.api.render import error

Scope = dict[str, Any]


def _message(limit: int) -> str:
    return (f"the request body is over {limit} bytes; fix: send a smaller body (a job's large inputs belong in "
            "files its command reads)")


class BodyTooLarge(HTTPException):
    code = "body_too_large"

    def __init__(self, limit: int) -> None:
        super().__init__(413, _message(limit))


class BodyLimit:
    """Pure ASGI middleware (no per-request task or copy): a request that declares its length
    within the limit passes untouched (the server guarantees the body is that long)."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or self.limit <= 0:
            await self.app(scope, receive, send)
            return
        limit = self.limit
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = limit + 1
                if declared > limit:
                    await error(413, BodyTooLarge.code, _message(limit), "body")(scope, receive, send)
                    return
                await self.app(scope, receive, send)
                return
        seen = 0

        async def counted() -> Any:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, counted, send)
