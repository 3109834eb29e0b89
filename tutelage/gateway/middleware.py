"""The gateway's one middleware: a request id on every response, a body declared over the limit
refused before it is read, and every request counted in the metrics.

Plain ASGI rather than Starlette's `@app.middleware("http")`: each of those runs every request
through a task group and a memory stream of its own, a measurable share of the gateway's CPU
per request (README, "Against the LiteLLM proxy").
"""

from __future__ import annotations

import time
import uuid

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .body import declared_length, too_large
from .metrics import Metrics


class GatewayMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics, max_body_bytes: int,
                 paths: frozenset[str]) -> None:  # fmt: skip
        self.app = app
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes
        self.paths = paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = Headers(scope=scope)
        rid = headers.get("x-request-id") or f"req-{uuid.uuid4().hex[:16]}"
        scope.setdefault("state", {})["request_id"] = rid  # request.state.request_id
        # Unknown paths share one label: a scanner must not grow the metric without bound.
        path = scope["path"] if scope["path"] in self.paths else "other"
        counted = False

        def count(status: int) -> None:
            nonlocal counted
            counted = True
            self.metrics.inc("tutelage_requests_total", path=path, status=str(status))
            # The time to the response's start (a stream's first byte), as before.
            self.metrics.observe(time.perf_counter() - started, path=path)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                response_headers = MutableHeaders(scope=message)
                if "x-request-id" not in response_headers:
                    response_headers.append("x-request-id", rid)
                count(message["status"])
            await send(message)

        size = declared_length(headers)
        if size is not None and size > self.max_body_bytes:
            await too_large(size, self.max_body_bytes).response(rid)(scope, receive, send_with_id)
            return
        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            # Starlette's outermost handler answers it with a 500. A cancelled request (the
            # client left) answers nothing and is not counted, as before.
            if not counted:
                count(500)
            raise
