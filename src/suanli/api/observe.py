"""API request latency for ``/metrics``: pure ASGI middleware that times each HTTP request and
records it under its route *template* (``/v1/jobs/{job_id}``), never the raw path, so a client
cannot grow the number of series; a request that matched no route counts as ``unmatched``."""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import Histogram

Scope = dict[str, Any]


class RequestMetrics:
    def __init__(self, app: Any, histogram: Histogram) -> None:
        self.app = app
        self.histogram = histogram

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        status = 500      # what the server answers when the app raises before it starts a response

        async def watched(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, watched)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            self.histogram.labels(scope["method"], template, str(status)).observe(time.perf_counter() - t0)
