"""Tracing (OpenTelemetry) and metrics (Prometheus) for the API, the workers and the gateway.

Tracing
-------
:func:`setup_tracing` installs one SDK ``TracerProvider`` per process, configured only by the
standard OpenTelemetry environment variables
(https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/):

- ``OTEL_EXPORTER_OTLP_ENDPOINT`` or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` set: spans go through a
  ``BatchSpanProcessor`` to the OTLP/HTTP exporter, which reads ``OTEL_EXPORTER_OTLP_HEADERS``,
  ``..._TIMEOUT``, ``..._COMPRESSION``, ``..._CERTIFICATE`` and their ``_TRACES_`` forms itself;
- ``OTEL_TRACES_EXPORTER=console``: spans are printed to stdout (``none`` or unset: no export);
- ``OTEL_SDK_DISABLED=true``: nothing is installed and every span is a no-op;
- ``OTEL_SERVICE_NAME`` overrides the service name; ``OTEL_RESOURCE_ATTRIBUTES`` and
  ``OTEL_TRACES_SAMPLER`` are honoured by the SDK.

Without an exporter a provider is still installed, so every request has a trace id that is stored
on its run (:func:`current_trace_id`); while no span processor is attached its spans are not
recorded, as nothing would receive them (see :func:`_provider_class`). The chain API request ->
workflow -> activity is carried by temporalio's ``TracingInterceptor``
(:func:`temporal_interceptors`); the provider call is :func:`llm_span`, following the
OpenTelemetry GenAI semantic conventions
(https://opentelemetry.io/docs/specs/semconv/gen-ai/gen-ai-spans/).

Metrics
-------
Prometheus series in a registry of their own (:data:`PROMETHEUS`), served by the API at
``GET /metrics`` (:func:`metrics_exposition`):

==========================================  =========  ===========================================
series                                      type       labels
==========================================  =========  ===========================================
promptops_http_requests_total               counter    method, route (template), status
promptops_http_request_duration_seconds     histogram  method, route
promptops_llm_requests_total                counter    model, outcome (ok | error | cache_hit)
promptops_llm_latency_seconds               histogram  model
promptops_llm_tokens_total                  counter    model, direction (prompt | completion)
promptops_llm_cost_usd_total                counter    model
promptops_cache_hits_total                  counter    kind (exact | semantic)
promptops_budget_rejections_total           counter    -
promptops_circuit_breaker_state             gauge      model (0 closed, 1 half_open, 2 open)
==========================================  =========  ===========================================
"""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from temporalio.client import Interceptor

    from promptops.llm import LLMGateway

log = logging.getLogger("promptops.telemetry")

__all__ = [
    "CONTENT_TYPE_LATEST", "PROMETHEUS", "LLMSpan", "Metrics", "MetricsMiddleware",
    "current_trace_id", "llm_span", "metrics_exposition", "record_budget_rejection",
    "record_cache_hit", "record_llm_call", "register_gateway", "setup_tracing",
    "temporal_interceptors",
]

TRACER_NAME = "promptops"

# --------------------------------------------------------------------------------------------
# Tracing
# --------------------------------------------------------------------------------------------

_setup_lock = threading.Lock()
_provider: TracerProvider | None = None


def _truthy(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() == "true"


def setup_tracing(service_name: str) -> TracerProvider | None:
    """Install the process's tracer provider (see the module docstring); idempotent.

    Returns the SDK provider (the one already installed when called again, or one installed by
    someone else, e.g. a test), or ``None`` when ``OTEL_SDK_DISABLED=true``.
    """
    global _provider
    if _truthy("OTEL_SDK_DISABLED"):
        return None
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider

    with _setup_lock:
        if _provider is not None:
            return _provider
        current = trace.get_tracer_provider()
        if isinstance(current, TracerProvider):
            _provider = current
            return _provider
        name = os.environ.get("OTEL_SERVICE_NAME") or service_name
        otlp = bool(os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
                    or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))
        provider = _provider_class()(resource=Resource.create({SERVICE_NAME: name}))
        if otlp:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
            from opentelemetry.sdk.trace.export import BatchSpanProcessor

            provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        if "console" in os.environ.get("OTEL_TRACES_EXPORTER", "").lower().split(","):
            from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor

            provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))
        trace.set_tracer_provider(provider)
        _provider = provider
        return provider


def _provider_class() -> type[TracerProvider]:
    """The SDK ``TracerProvider`` with one change: while no span processor is attached (no
    exporter configured), spans are not recorded (a recorded span costs ~0.2 ms on the request
    path, for nothing). Their trace ids are still made and propagated. Once a processor is added
    (an exporter, or a test's in-memory one) the sampler is the SDK's: ``OTEL_TRACES_SAMPLER``,
    else ``parentbased_always_on``."""
    from opentelemetry.sdk.trace import TracerProvider as SDKTracerProvider
    from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult

    class _UnlessExported(Sampler):
        def __init__(self, delegate: Sampler) -> None:
            self.delegate = delegate
            self.exporting = False

        def should_sample(self, *args: Any, **kwargs: Any) -> SamplingResult:
            if not self.exporting:
                return SamplingResult(Decision.DROP)
            return self.delegate.should_sample(*args, **kwargs)

        def get_description(self) -> str:
            return f"UnlessExported{{{self.delegate.get_description()}}}"

    class _Provider(SDKTracerProvider):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self._gate = _UnlessExported(self.sampler)
            self.sampler = self._gate  # read by every tracer of this provider

        def add_span_processor(self, span_processor: Any) -> None:
            super().add_span_processor(span_processor)
            self._gate.exporting = True

    return _Provider


#: A proxy until :func:`setup_tracing` installs the provider, then the SDK tracer (built once:
#: ``get_tracer`` per call costs ~50 µs).
_TRACER = trace.get_tracer(TRACER_NAME)


def tracer() -> trace.Tracer:
    return _TRACER


def current_trace_id() -> str | None:
    """The current span's trace id as 32 lowercase hex digits, ``None`` outside a valid span."""
    ctx = trace.get_current_span().get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else None


def temporal_interceptors() -> list[Interceptor]:
    """Interceptors for ``Client.connect(..., interceptors=...)``: temporalio's OpenTelemetry
    ``TracingInterceptor``, which propagates the caller's span into workflows and activities
    (a worker built on that client gets it too). Empty when ``OTEL_SDK_DISABLED=true``."""
    if _truthy("OTEL_SDK_DISABLED"):
        return []
    from temporalio.contrib.opentelemetry import TracingInterceptor

    return [TracingInterceptor()]


class LLMSpan:
    """The span of one provider call; :meth:`set_usage` records what the provider answered."""

    __slots__ = ("span",)

    def __init__(self, span: trace.Span) -> None:
        self.span = span

    @property
    def trace_id(self) -> str | None:
        ctx = self.span.get_span_context()
        return format(ctx.trace_id, "032x") if ctx.is_valid else None

    def set_usage(self, tokens_in: int | None = None, tokens_out: int | None = None,
                  cost_usd: float | None = None, finish_reason: str | None = None,
                  response_model: str | None = None) -> None:
        """Set ``gen_ai.usage.input_tokens`` / ``output_tokens`` (tokens),
        ``gen_ai.response.finish_reasons``, ``gen_ai.response.model`` and the non-standard
        ``promptops.cost_usd`` (USD)."""
        if not self.span.is_recording():
            return
        attrs: dict[str, Any] = {}
        if tokens_in is not None:
            attrs["gen_ai.usage.input_tokens"] = int(tokens_in)
        if tokens_out is not None:
            attrs["gen_ai.usage.output_tokens"] = int(tokens_out)
        if cost_usd is not None:
            attrs["promptops.cost_usd"] = float(cost_usd)
        if finish_reason:
            attrs["gen_ai.response.finish_reasons"] = [finish_reason]
        if response_model:
            attrs["gen_ai.response.model"] = response_model
        self.span.set_attributes(attrs)

    def set_attribute(self, key: str, value: Any) -> None:
        self.span.set_attribute(key, value)


@contextmanager
def llm_span(model: str, provider: str | None, operation: str = "chat") -> Iterator[LLMSpan]:
    """A CLIENT span ``"{operation} {model}"`` around one provider call, with
    ``gen_ai.operation.name``, ``gen_ai.provider.name`` (and the older ``gen_ai.system``) and
    ``gen_ai.request.model``. An exception escaping the block sets the span's status to ERROR,
    records it and ``error.type`` (the exception's class, or its ``status_code`` when it has one)
    and is re-raised. Usable in async code: the span lives in a context variable, so concurrent
    tasks each see their own.

    Usage::

        with llm_span(entry.model_name, entry.provider) as span:
            completion = await call(...)
            span.set_usage(completion.tokens_in, completion.tokens_out, completion.cost_usd,
                           completion.finish_reason)
    """
    attrs: dict[str, Any] = {"gen_ai.operation.name": operation, "gen_ai.request.model": model}
    if provider:
        attrs["gen_ai.provider.name"] = provider
        attrs["gen_ai.system"] = provider
    with tracer().start_as_current_span(f"{operation} {model}", kind=SpanKind.CLIENT,
                                        attributes=attrs, record_exception=False,
                                        set_status_on_exception=False) as span:
        try:
            yield LLMSpan(span)
        except BaseException as exc:
            if span.is_recording():
                status = getattr(exc, "status_code", None)
                span.set_attribute("error.type", str(status) if status else type(exc).__name__)
                span.record_exception(exc)
                span.set_status(Status(StatusCode.ERROR, str(exc)[:500]))
            raise


# --------------------------------------------------------------------------------------------
# Metrics
# --------------------------------------------------------------------------------------------

#: Latency buckets (seconds): the gateway's own overhead lives in the ms range, provider calls in
#: the 0.1-30 s range.
HTTP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                30.0, 60.0)
LLM_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0, 120.0)

BREAKER_STATE_VALUES = {"closed": 0, "half_open": 1, "open": 2}


class _BreakerCollector(Collector):
    """``promptops_circuit_breaker_state`` read at scrape time from the registered gateways
    (held weakly); when two gateways know the same model the worse state is shown."""

    def __init__(self) -> None:
        self._gateways: weakref.WeakSet[LLMGateway] = weakref.WeakSet()

    def add(self, gateway: LLMGateway) -> None:
        self._gateways.add(gateway)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "promptops_circuit_breaker_state",
            "Circuit breaker state per model deployment: 0 closed, 1 half_open, 2 open.",
            labels=["model"])
        states: dict[str, int] = {}
        for gateway in list(self._gateways):
            for name in gateway.catalog.entries:
                value = BREAKER_STATE_VALUES.get(
                    gateway.deployments.get(name).breaker.state.value, 0)
                states[name] = max(value, states.get(name, 0))
        for name, value in states.items():
            family.add_metric([name], value)
        yield family


class Metrics:
    """Every PromptOps Prometheus series, in ``registry`` (a fresh one by default, so tests
    can build their own)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        self.http_requests = Counter(
            "promptops_http_requests_total", "HTTP requests answered by the API.",
            ["method", "route", "status"], registry=r)
        self.http_duration = Histogram(
            "promptops_http_request_duration_seconds",
            "Time from the request's arrival to the end of its response body (seconds).",
            ["method", "route"], buckets=HTTP_BUCKETS, registry=r)
        self.llm_requests = Counter(
            "promptops_llm_requests_total", "LLM requests by outcome (ok, error, cache_hit).",
            ["model", "outcome"], registry=r)
        self.llm_latency = Histogram(
            "promptops_llm_latency_seconds", "Provider call latency (seconds).", ["model"],
            buckets=LLM_BUCKETS, registry=r)
        self.llm_tokens = Counter(
            "promptops_llm_tokens_total", "Tokens by direction (prompt, completion).",
            ["model", "direction"], registry=r)
        self.llm_cost = Counter(
            "promptops_llm_cost_usd", "Provider cost (USD).", ["model"], registry=r)
        self.cache_hits = Counter(
            "promptops_cache_hits", "Gateway cache hits by kind (exact, semantic).", ["kind"],
            registry=r)
        self.budget_rejections = Counter(
            "promptops_budget_rejections", "Requests refused because a budget was exhausted.",
            registry=r)
        self.breakers = _BreakerCollector()
        r.register(self.breakers)
        self._http_children: dict[tuple[str, str, str], tuple[Any, Any]] = {}

    def record_http(self, method: str, route: str, status: int, duration_s: float) -> None:
        key = (method, route, str(status))
        children = self._http_children.get(key)
        if children is None:  # label lookups cost ~1 µs each; cache the pair per series
            children = (self.http_requests.labels(method, route, key[2]),
                        self.http_duration.labels(method, route))
            self._http_children[key] = children
        children[0].inc()
        children[1].observe(duration_s)

    def record_llm_call(self, model: str, outcome: str, latency_ms: float | None = None,
                        tokens_in: int = 0, tokens_out: int = 0, cost_usd: float = 0.0) -> None:
        self.llm_requests.labels(model, outcome).inc()
        if latency_ms is not None and outcome != "cache_hit":
            self.llm_latency.labels(model).observe(max(latency_ms, 0.0) / 1000.0)
        if tokens_in:
            self.llm_tokens.labels(model, "prompt").inc(tokens_in)
        if tokens_out:
            self.llm_tokens.labels(model, "completion").inc(tokens_out)
        if cost_usd:
            self.llm_cost.labels(model).inc(cost_usd)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


#: The process's metrics (the API serves them at ``/metrics``).
PROMETHEUS = Metrics()


def record_llm_call(model: str, outcome: str, latency_ms: float | None = None,
                    tokens_in: int = 0, tokens_out: int = 0, cost_usd: float = 0.0) -> None:
    """Count one LLM request: ``outcome`` is ``ok``, ``error`` or ``cache_hit``; ``latency_ms``
    (ms, provider calls only: a cache hit's is not observed), ``tokens_in`` / ``tokens_out``
    (tokens) and ``cost_usd`` (USD, 0 for a cache hit) are added to their counters."""
    PROMETHEUS.record_llm_call(model, outcome, latency_ms, tokens_in, tokens_out, cost_usd)


def record_cache_hit(kind: str) -> None:
    """Count one gateway cache hit; ``kind`` is ``exact`` or ``semantic``."""
    PROMETHEUS.cache_hits.labels(kind).inc()


def record_budget_rejection() -> None:
    """Count one request refused (HTTP 429) because a project budget was exhausted."""
    PROMETHEUS.budget_rejections.inc()


def register_gateway(gateway: LLMGateway, metrics: Metrics | None = None) -> None:
    """Show ``gateway``'s breaker states as ``promptops_circuit_breaker_state`` (read at scrape
    time; the gateway is held weakly)."""
    (metrics or PROMETHEUS).breakers.add(gateway)


def metrics_exposition(metrics: Metrics | None = None) -> tuple[bytes, str]:
    """The Prometheus text exposition and its content type."""
    return (metrics or PROMETHEUS).exposition(), CONTENT_TYPE_LATEST


# --------------------------------------------------------------------------------------------
# HTTP middleware
# --------------------------------------------------------------------------------------------

UNMATCHED_ROUTE = "<unmatched>"


def _route_template(scope: dict[str, Any]) -> str:
    """The matched route's template (``/api/v1/prompts/{prompt_id}``), never the raw path, so
    the label's cardinality stays bounded.

    FastAPI >= 0.16x keeps included routers unflattened: ``scope["route"]`` is the router's own
    route (no prefix), the full template is on the effective route context it stores in
    ``scope["fastapi"]`` (read the way FastAPI's own telemetry reads it), with the plain route's
    path as the fallback."""
    context = (scope.get("fastapi") or {}).get("effective_route_context")
    if context is not None:
        path = (getattr(context.starlette_route, "path_format", None)
                or getattr(context, "path_format", None))
        if path:
            return str(path)
    path = getattr(scope.get("route"), "path_format", None) or getattr(
        scope.get("route"), "path", None)
    return str(path) if path else UNMATCHED_ROUTE


class MetricsMiddleware:
    """Pure ASGI middleware: a SERVER span per HTTP request (``"{method} {route}"``, parent taken
    from an incoming W3C ``traceparent``) and the ``promptops_http_*`` series. Paths in
    ``exclude`` (``/metrics`` by default) are neither traced nor counted."""

    def __init__(self, app: Any, metrics: Metrics | None = None,
                 exclude: Sequence[str] = ("/metrics",)) -> None:
        self.app = app
        self.metrics = metrics or PROMETHEUS
        self.exclude = frozenset(exclude)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("path") in self.exclude:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        method: str = scope["method"]
        status = 500

        async def send_wrapper(message: dict[str, Any]) -> None:
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
                method, context=parent, kind=SpanKind.SERVER,
                attributes={"http.request.method": method, "url.path": scope.get("path", "")},
                record_exception=False, set_status_on_exception=False) as span:
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
