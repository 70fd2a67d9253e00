"""Tracing (OpenTelemetry) for the API, the workers and the gateway.

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
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from temporalio.client import Interceptor

log = logging.getLogger("promptops.telemetry")

__all__ = [
    "LLMSpan",
    "current_trace_id",
    "llm_span",
    "setup_tracing",
    "temporal_interceptors",
    "tracer",
]

TRACER_NAME = "promptops"

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
        otlp = bool(
            os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
            or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        )
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

    def set_usage(
        self,
        tokens_in: int | None = None,
        tokens_out: int | None = None,
        cost_usd: float | None = None,
        finish_reason: str | None = None,
        response_model: str | None = None,
    ) -> None:
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
    with tracer().start_as_current_span(
        f"{operation} {model}",
        kind=SpanKind.CLIENT,
        attributes=attrs,
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        try:
            yield LLMSpan(span)
        except BaseException as exc:
            if span.is_recording():
                status = getattr(exc, "status_code", None)
                span.set_attribute("error.type", str(status) if status else type(exc).__name__)
                span.record_exception(exc)
                span.set_status(Status(StatusCode.ERROR, str(exc)[:500]))
            raise
