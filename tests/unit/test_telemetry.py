"""Prometheus series, the breaker gauge, the GenAI span and trace ids (promptops.telemetry)."""

from __future__ import annotations

import re

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from promptops import telemetry
from promptops.llm import LLMGateway, ModelCatalog
from promptops.telemetry import Metrics, current_trace_id, llm_span, register_gateway


def _value(text: str, series: str) -> float:
    match = re.search(rf"^{re.escape(series)} (\S+)$", text, re.MULTILINE)
    assert match, f"{series} not in exposition"
    return float(match.group(1))


@pytest.fixture(scope="module")
def exporter() -> InMemorySpanExporter:
    """The process's tracer provider (installed once) with an in-memory exporter added."""
    provider = telemetry.setup_tracing("promptops-test")
    assert isinstance(provider, TracerProvider)
    exp = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exp))
    return exp


def test_record_functions_show_in_exposition(monkeypatch: pytest.MonkeyPatch) -> None:
    m = Metrics()
    monkeypatch.setattr(telemetry.prometheus, "PROMETHEUS", m)
    telemetry.record_llm_call(
        "gpt-x", "ok", latency_ms=250, tokens_in=12, tokens_out=5, cost_usd=0.0015
    )
    telemetry.record_llm_call("gpt-x", "error", latency_ms=40)
    telemetry.record_llm_call("gpt-x", "cache_hit", latency_ms=1)
    telemetry.record_cache_hit("exact")
    telemetry.record_cache_hit("semantic")
    telemetry.record_cache_hit("semantic")
    telemetry.record_budget_rejection()
    m.record_http("GET", "/api/v1/prompts/{prompt_id}", 200, 0.004)
    body, content_type = telemetry.metrics_exposition()
    text = body.decode()
    assert content_type.startswith("text/plain")
    assert _value(text, 'promptops_llm_requests_total{model="gpt-x",outcome="ok"}') == 1
    assert _value(text, 'promptops_llm_requests_total{model="gpt-x",outcome="cache_hit"}') == 1
    # A cache hit's latency is not a provider latency: two observations, 0.25 s + 0.04 s.
    assert _value(text, 'promptops_llm_latency_seconds_count{model="gpt-x"}') == 2
    assert _value(text, 'promptops_llm_latency_seconds_sum{model="gpt-x"}') == pytest.approx(0.29)
    assert _value(text, 'promptops_llm_tokens_total{direction="prompt",model="gpt-x"}') == 12
    assert _value(text, 'promptops_llm_tokens_total{direction="completion",model="gpt-x"}') == 5
    assert _value(text, 'promptops_llm_cost_usd_total{model="gpt-x"}') == pytest.approx(0.0015)
    assert _value(text, 'promptops_cache_hits_total{kind="semantic"}') == 2
    assert _value(text, "promptops_budget_rejections_total") == 1
    assert (
        _value(
            text,
            'promptops_http_requests_total{method="GET",'
            'route="/api/v1/prompts/{prompt_id}",status="200"}',
        )
        == 1
    )
    assert (
        _value(
            text,
            'promptops_http_request_duration_seconds_bucket{le="0.005",'
            'method="GET",route="/api/v1/prompts/{prompt_id}"}',
        )
        == 1
    )


def test_registries_are_isolated() -> None:
    a, b = Metrics(), Metrics()
    a.record_llm_call("m", "ok", 10, 1, 1, 0.1)
    assert b"promptops_llm_requests_total{" not in b.exposition()
    assert b"promptops_llm_requests_total{" in a.exposition()


def test_breaker_gauge_reflects_an_open_breaker(catalog: ModelCatalog) -> None:
    m = Metrics()
    gateway = LLMGateway(catalog)
    register_gateway(gateway, m)
    names = list(catalog.entries)
    text = m.exposition().decode()
    for name in names:
        assert _value(text, f'promptops_circuit_breaker_state{{model="{name}"}}') == 0
    breaker = gateway.deployments.get(names[0]).breaker
    for _ in range(gateway.deployments.settings.failure_threshold):
        assert breaker.try_acquire()
        breaker.record_failure()
    assert breaker.state.value == "open"
    text = m.exposition().decode()
    assert _value(text, f'promptops_circuit_breaker_state{{model="{names[0]}"}}') == 2
    if len(names) > 1:
        assert _value(text, f'promptops_circuit_breaker_state{{model="{names[1]}"}}') == 0


async def test_llm_span_follows_genai_conventions(exporter: InMemorySpanExporter) -> None:
    exporter.clear()
    assert current_trace_id() is None
    with llm_span("gpt-x", "openai") as span:
        trace_id = current_trace_id()
        assert trace_id is not None and re.fullmatch(r"[0-9a-f]{32}", trace_id)
        assert span.trace_id == trace_id
        span.set_usage(12, 5, 0.0015, "stop")
    assert current_trace_id() is None
    with pytest.raises(RuntimeError), llm_span("gpt-y", "anthropic"):
        raise RuntimeError("provider down")
    ok, failed = exporter.get_finished_spans()
    assert ok.name == "chat gpt-x" and format(ok.context.trace_id, "032x") == trace_id
    assert ok.attributes is not None and dict(ok.attributes) == {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "gpt-x",
        "gen_ai.provider.name": "openai",
        "gen_ai.system": "openai",
        "gen_ai.usage.input_tokens": 12,
        "gen_ai.usage.output_tokens": 5,
        "promptops.cost_usd": 0.0015,
        "gen_ai.response.finish_reasons": ("stop",),
    }
    assert failed.name == "chat gpt-y" and failed.status.status_code is StatusCode.ERROR
    assert failed.attributes is not None and failed.attributes["error.type"] == "RuntimeError"


def test_setup_tracing_is_idempotent_and_honours_disabled(
    exporter: InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = telemetry.setup_tracing("a")
    assert telemetry.setup_tracing("b") is first
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    assert telemetry.setup_tracing("c") is None
    assert telemetry.temporal_interceptors() == []
