"""Tracing (OpenTelemetry: :mod:`promptops.telemetry.tracing`) and metrics (Prometheus:
:mod:`promptops.telemetry.prometheus`, the HTTP middleware in :mod:`promptops.telemetry.asgi`)
for the API, the workers and the gateway."""

from promptops.telemetry.asgi import MetricsMiddleware
from promptops.telemetry.prometheus import (
    CONTENT_TYPE_LATEST,
    PROMETHEUS,
    Metrics,
    metrics_exposition,
    record_budget_rejection,
    record_cache_hit,
    record_llm_call,
    register_gateway,
)
from promptops.telemetry.tracing import (
    LLMSpan,
    current_trace_id,
    llm_span,
    setup_tracing,
    temporal_interceptors,
    tracer,
)

__all__ = [
    "CONTENT_TYPE_LATEST",
    "PROMETHEUS",
    "LLMSpan",
    "Metrics",
    "MetricsMiddleware",
    "current_trace_id",
    "llm_span",
    "metrics_exposition",
    "record_budget_rejection",
    "record_cache_hit",
    "record_llm_call",
    "register_gateway",
    "setup_tracing",
    "temporal_interceptors",
    "tracer",
]
