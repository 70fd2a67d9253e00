"""Metrics (Prometheus) for the API, the workers and the gateway: series in a registry of their
own (:data:`PROMETHEUS`), served by the API at ``GET /metrics`` (:func:`metrics_exposition`):

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
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import Collector

__all__ = [
    "CONTENT_TYPE_LATEST",
    "PROMETHEUS",
    "Metrics",
    "metrics_exposition",
    "record_budget_rejection",
    "record_cache_hit",
    "record_llm_call",
    "register_gateway",
]


class GatewayState(Protocol):
    """What the breaker gauge reads of a gateway (:class:`promptops.llm.LLMGateway`)."""

    @property
    def catalog(self) -> Any: ...

    @property
    def deployments(self) -> Any: ...


#: Latency buckets (seconds): the gateway's own overhead lives in the ms range, provider calls in
#: the 0.1-30 s range.
HTTP_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
)
LLM_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0, 120.0)

BREAKER_STATE_VALUES = {"closed": 0, "half_open": 1, "open": 2}


class _BreakerCollector(Collector):
    """``promptops_circuit_breaker_state`` read at scrape time from the registered gateways
    (held weakly); when two gateways know the same model the worse state is shown."""

    def __init__(self) -> None:
        self._gateways: weakref.WeakSet[GatewayState] = weakref.WeakSet()

    def add(self, gateway: GatewayState) -> None:
        self._gateways.add(gateway)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "promptops_circuit_breaker_state",
            "Circuit breaker state per model deployment: 0 closed, 1 half_open, 2 open.",
            labels=["model"],
        )
        states: dict[str, int] = {}
        for gateway in list(self._gateways):
            for name in gateway.catalog.entries:
                value = BREAKER_STATE_VALUES.get(
                    gateway.deployments.get(name).breaker.state.value, 0
                )
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
            "promptops_http_requests_total",
            "HTTP requests answered by the API.",
            ["method", "route", "status"],
            registry=r,
        )
        self.http_duration = Histogram(
            "promptops_http_request_duration_seconds",
            "Time from the request's arrival to the end of its response body (seconds).",
            ["method", "route"],
            buckets=HTTP_BUCKETS,
            registry=r,
        )
        self.llm_requests = Counter(
            "promptops_llm_requests_total",
            "LLM requests by outcome (ok, error, cache_hit).",
            ["model", "outcome"],
            registry=r,
        )
        self.llm_latency = Histogram(
            "promptops_llm_latency_seconds",
            "Provider call latency (seconds).",
            ["model"],
            buckets=LLM_BUCKETS,
            registry=r,
        )
        self.llm_tokens = Counter(
            "promptops_llm_tokens_total",
            "Tokens by direction (prompt, completion).",
            ["model", "direction"],
            registry=r,
        )
        self.llm_cost = Counter(
            "promptops_llm_cost_usd", "Provider cost (USD).", ["model"], registry=r
        )
        self.cache_hits = Counter(
            "promptops_cache_hits",
            "Gateway cache hits by kind (exact, semantic).",
            ["kind"],
            registry=r,
        )
        self.budget_rejections = Counter(
            "promptops_budget_rejections",
            "Requests refused because a budget was exhausted.",
            registry=r,
        )
        self.breakers = _BreakerCollector()
        r.register(self.breakers)
        self._http_children: dict[tuple[str, str, str], tuple[Any, Any]] = {}

    def record_http(self, method: str, route: str, status: int, duration_s: float) -> None:
        key = (method, route, str(status))
        children = self._http_children.get(key)
        if children is None:  # label lookups cost ~1 µs each; cache the pair per series
            children = (
                self.http_requests.labels(method, route, key[2]),
                self.http_duration.labels(method, route),
            )
            self._http_children[key] = children
        children[0].inc()
        children[1].observe(duration_s)

    def record_llm_call(
        self,
        model: str,
        outcome: str,
        latency_ms: float | None = None,
        tokens_in: int = 0,
        tokens_out: int = 0,
        cost_usd: float = 0.0,
    ) -> None:
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


def record_llm_call(
    model: str,
    outcome: str,
    latency_ms: float | None = None,
    tokens_in: int = 0,
    tokens_out: int = 0,
    cost_usd: float = 0.0,
) -> None:
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


def register_gateway(gateway: GatewayState, metrics: Metrics | None = None) -> None:
    """Show ``gateway``'s breaker states as ``promptops_circuit_breaker_state`` (read at scrape
    time; the gateway is held weakly)."""
    (metrics or PROMETHEUS).breakers.add(gateway)


def metrics_exposition(metrics: Metrics | None = None) -> tuple[bytes, str]:
    """The Prometheus text exposition and its content type."""
    return (metrics or PROMETHEUS).exposition(), CONTENT_TYPE_LATEST
