"""One trace from the API request through the workflow to its activities, and ``GET /metrics``,
on the real app, Postgres, Temporal and the stub LLM."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from promptops import telemetry
from promptops.llm import ModelCatalog
from tests.support.apps import issue_key, running_app
from tests.support.evals import make_eval_fixture, wait_for_eval
from workers.main import build_worker


@pytest.fixture(scope="module")
def exporter() -> InMemorySpanExporter:
    provider = telemetry.setup_tracing("promptops-test")
    assert isinstance(provider, TracerProvider)
    exp = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exp))
    return exp


@pytest.fixture
async def traced(
    pg_url: str, temporal_env: WorkflowEnvironment, catalog: ModelCatalog, task_queue: str
) -> AsyncIterator[tuple[httpx.AsyncClient, Client]]:
    """The app and a worker on one Temporal client carrying the TracingInterceptor, as
    ``api.deps.get_temporal`` and ``workers.main`` build it."""
    config = temporal_env.client.config()
    config["interceptors"] = telemetry.temporal_interceptors()
    client = Client(**config)
    key = await issue_key(pg_url)
    async with (
        running_app(pg_url, client, catalog, task_queue) as running,
        running.client(key.key) as api,
    ):
        yield api, client


async def test_workflow_and_activity_spans_continue_the_request_trace(
    traced: tuple[httpx.AsyncClient, Client],
    exporter: InMemorySpanExporter,
    pg_url: str,
    catalog: ModelCatalog,
    task_queue: str,
) -> None:
    api, client = traced
    fx = await make_eval_fixture(api, 2, bodies=("{{ text }}",))
    exporter.clear()
    parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    async with build_worker(client, task_queue, pg_url, catalog):
        r = await api.post(
            "/evals/run",
            json={
                "prompt_version_ids": fx["versions"],
                "dataset_id": fx["dataset_id"],
                "metrics": ["exact_match"],
            },
            headers={"traceparent": parent},
        )
        assert r.status_code == 202, r.text
        body = await wait_for_eval(api, r.json()["id"])
    assert body["status"] == "Completed"
    spans = exporter.get_finished_spans()
    server = [s for s in spans if s.name == "POST /api/v1/evals/run"]
    assert len(server) == 1
    trace_id = server[0].context.trace_id
    # The incoming W3C traceparent is the request's parent.
    assert format(trace_id, "032x") == "0af7651916cd43dd8448eb211c80319c"
    assert server[0].attributes is not None
    assert server[0].attributes["http.route"] == "/api/v1/evals/run"
    in_trace = {s.name for s in spans if s.context.trace_id == trace_id}
    assert "StartWorkflow:BatchEvaluationWorkflow" in in_trace
    assert "RunWorkflow:BatchEvaluationWorkflow" in in_trace
    assert {
        "RunActivity:plan_evaluation",
        "RunActivity:evaluate_chunk",
        "RunActivity:finalize_evaluation",
    } <= in_trace, in_trace


async def test_metrics_endpoint_counts_the_route_template(
    traced: tuple[httpx.AsyncClient, Client],
) -> None:
    api, _ = traced
    r = await api.get("/evals/eval-nope")
    assert r.status_code == 404
    r = await api.get("http://test/metrics", headers={"Authorization": ""})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    assert (
        'promptops_http_requests_total{method="GET",route="/api/v1/evals/{evaluation_id}",'
        'status="404"}'
    ) in r.text
    assert "eval-nope" not in r.text
    assert "promptops_circuit_breaker_state{" in r.text
