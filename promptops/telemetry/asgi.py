"""The HTTP side of telemetry: an ASGI middleware that opens a SERVER span per request and
counts the ``promptops_http_*`` series under the matched route's template."""

from __future__ import annotations

import time
from collections.abc import Sequence

from opentelemetry import propagate
from opentelemetry.trace import SpanKind, Status, StatusCode
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from promptops.telemetry.prometheus import PROMETHEUS, Metrics
from promptops.telemetry.tracing import tracer

__all__ = ["UNMATCHED_ROUTE", "MetricsMiddleware"]


UNMATCHED_ROUTE = "<unmatched>"


def _route_template(scope: Scope) -> str:
    """The matched route's template (``/api/v1/prompts/{prompt_id}``), never the raw path, so
    the label's cardinality stays bounded.

    FastAPI >= 0.16x keeps included routers unflattened: ``scope["route"]`` is the router's own
    route (no prefix), the full template is on the effective route context it stores in
    ``scope["fastapi"]`` (read the way FastAPI's own telemetry reads it), with the plain route's
    path as the fallback."""
    context = (scope.get("fastapi") or {}).get("effective_route_context")
    if context is not None:
        path = getattr(context.starlette_route, "path_format", None) or getattr(
            context, "path_format", None
        )
        if path:
            return str(path)
    path = getattr(scope.get("route"), "path_format", None) or getattr(
        scope.get("route"), "path", None
    )
    return str(path) if path else UNMATCHED_ROUTE


class MetricsMiddleware:
    """Pure ASGI middleware: a SERVER span per HTTP request (``"{method} {route}"``, parent taken
    from an incoming W3C ``traceparent``) and the ``promptops_http_*`` series. Paths in
    ``exclude`` (``/metrics`` by default) are neither traced nor counted."""

    def __init__(
        self, app: ASGIApp, metrics: Metrics | None = None, exclude: Sequence[str] = ("/metrics",)
    ) -> None:
        self.app = app
        self.metrics = metrics or PROMETHEUS
        self.exclude = frozenset(exclude)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") in self.exclude:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        method: str = scope["method"]
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        parent = None
        headers = scope.get("headers") or ()
        for name, value in headers:
            if name == b"traceparent":
                parent = propagate.extract({"traceparent": value.decode("latin-1")})
                break
        with tracer().start_as_current_span(
            method,
            context=parent,
            kind=SpanKind.SERVER,
            attributes={"http.request.method": method, "url.path": scope.get("path", "")},
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            try:
                await self.app(scope, receive, send_wrapper)
            except BaseException as exc:
                status = 500
                if span.is_recording():
                    span.record_exception(exc)
                raise
            finally:
                route = _route_template(scope)
                if span.is_recording():
                    span.update_name(f"{method} {route}" if route != UNMATCHED_ROUTE else method)
                    span.set_attribute("http.response.status_code", status)
                    if route != UNMATCHED_ROUTE:
                        span.set_attribute("http.route", route)
                    if status >= 500:
                        span.set_status(Status(StatusCode.ERROR))
                self.metrics.record_http(method, route, status, time.perf_counter() - started)
