"""The retrieval schedule's workflow (TTL expiry, scheduled re-index), URL sources, and
reranking through the API with a cross-encoder the test builds; real worker, Temporal dev
server and Postgres."""

from __future__ import annotations

import asyncio
import http.server
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.ingestion.activities import IngestionActivities
from promptops.db.session import get_session_factory
from promptops.llm import ModelCatalog
from tests.support.apps import issue_key, running_app
from tests.support.tiny_cross_encoder import build_tiny_cross_encoder
from workflows.ingestion.schedule import ensure_retrieval_maintenance_schedule
from workflows.ingestion.types import MAINTENANCE_SCHEDULE_ID, RetrievalMaintenanceInput
from workflows.ingestion.workflow import IngestionWorkflow, RetrievalMaintenanceWorkflow

DOCS = [
    {"name": "a.md", "text": "# Files\n\nOpen a file with open() and read its text."},
    {"name": "b.md", "text": "# JSON\n\njson.loads parses a JSON document into a dict."},
]


@pytest.fixture
async def stack(
    pg_url: str,
    temporal_env: WorkflowEnvironment,
    catalog: ModelCatalog,
    task_queue: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[httpx.AsyncClient]:
    monkeypatch.setenv("PROMPTOPS_RERANKER_PATH", str(build_tiny_cross_encoder(tmp_path / "ce")))
    activities = IngestionActivities(pg_url)
    key = await issue_key(pg_url)
    async with (
        Worker(
            temporal_env.client,
            task_queue=task_queue,
            workflows=[IngestionWorkflow, RetrievalMaintenanceWorkflow],
            activities=[
                activities.list_source_documents,
                activities.ingest_batch,
                activities.finish_ingestion,
                activities.plan_retrieval_maintenance,
            ],
        ),
        running_app(pg_url, temporal_env.client, catalog, task_queue) as running,
        running.client(key.key) as client,
    ):
        yield client


async def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


async def make_index(api: httpx.AsyncClient, **extra: Any) -> dict[str, Any]:
    project = await ok(await api.post("/projects", json={"name": f"m-{uuid.uuid4().hex[:8]}"}), 201)
    body = {"project_id": project["id"], "name": "notes", **extra}
    return dict(await ok(await api.post("/retrieval/indexes", json=body), 201))


async def ingest(api: httpx.AsyncClient, index_id: str, source: dict[str, Any]) -> Any:
    state = await ok(
        await api.post(f"/retrieval/indexes/{index_id}/ingest", json={"source": source}), 202
    )
    deadline = time.monotonic() + 120
    while state["status"] not in ("Completed", "Failed"):
        assert time.monotonic() < deadline, state
        await asyncio.sleep(0.2)
        state = await ok(await api.get(f"/retrieval/ingestions/{state['id']}"))
    return state


async def test_maintenance_expires_ttl_documents_and_reingests_due_sources(
    stack: httpx.AsyncClient, temporal_env: WorkflowEnvironment, task_queue: str, pg_url: str
) -> None:
    api = stack
    index = await make_index(api, ttl_seconds=3600, reindex_interval_seconds=3600)
    first = await ingest(api, index["id"], {"kind": "inline", "documents": DOCS})
    assert first["status"] == "Completed" and first["documents_in_index"] == 2
    async with get_session_factory(pg_url)() as session:
        # One document past its TTL; the source last ingested two hours ago (due).
        await session.execute(
            text(
                "UPDATE retrieval_documents SET expires_at = now() - interval '1 minute' "
                "WHERE index_id = :i AND source = 'a.md'"
            ),
            {"i": uuid.UUID(index["id"])},
        )
        await session.execute(
            text(
                "UPDATE retrieval_sources SET last_ingested_at = now() - interval '2 hours' "
                "WHERE index_id = :i"
            ),
            {"i": uuid.UUID(index["id"])},
        )
        await session.commit()
    result = await temporal_env.client.execute_workflow(
        RetrievalMaintenanceWorkflow.run,
        RetrievalMaintenanceInput(),
        id=f"maintenance-{uuid.uuid4().hex[:8]}",
        task_queue=task_queue,
        execution_timeout=timedelta(seconds=120),
    )
    assert result.expired >= 1
    assert [r for r in result.reingested if index["id"] in r] == [first["id"]]
    # The re-ingestion (same business-key id as the API's) brings the expired page back.
    handle = temporal_env.client.get_workflow_handle_for(IngestionWorkflow.run, first["id"])
    again = await asyncio.wait_for(handle.result(), timeout=120)
    assert again.added == 1 and again.skipped == 1 and again.documents_in_index == 2

    # The worker's schedule: created, then deleted with interval 0.
    assert await ensure_retrieval_maintenance_schedule(temporal_env.client, task_queue, 60)
    described = await temporal_env.client.get_schedule_handle(MAINTENANCE_SCHEDULE_ID).describe()
    assert described.schedule.spec.intervals[0].every == timedelta(seconds=60)
    assert await ensure_retrieval_maintenance_schedule(temporal_env.client, task_queue, 0) is None


class _Pages(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/page.html":
            body = b"<html><body><main><h1>Sockets</h1><p>A socket server accepts a client.</p>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(body + b"</main></body></html>")
        else:
            self.send_response(404)
            self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def web() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Pages)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


async def test_url_source_and_reranking_with_threshold_after_rerank(
    stack: httpx.AsyncClient, web: str
) -> None:
    api = stack
    index = await make_index(api)
    state = await ingest(
        api, index["id"], {"kind": "urls", "urls": [f"{web}/page.html", f"{web}/gone.html"]}
    )
    assert state["status"] == "Completed" and state["added"] == 1
    assert [e["source"] for e in state["errors"]] == [f"{web}/gone.html"]
    await ingest(api, index["id"], {"kind": "inline", "documents": DOCS})

    query = {"index_id": index["id"], "query": "json parse a document", "mode": "hybrid"}
    plain = await ok(await api.post("/retrieval/query", json=query))
    reranked = await ok(await api.post("/retrieval/query", json={**query, "rerank": True}))
    scores = [h["rerank_score"] for h in reranked["hits"]]
    assert all(s is not None for s in scores) and scores == sorted(scores, reverse=True)
    assert [h["score"] for h in reranked["hits"]] == scores
    assert reranked["hits"][0]["source"] == "b.md"
    assert "rerank" in reranked["timings_ms"] and "rerank" not in plain["timings_ms"]
    # The threshold applies to the reranked score: what the reranker scores low is dropped.
    cut = (scores[0] + scores[-1]) / 2
    kept = await ok(
        await api.post("/retrieval/query", json={**query, "rerank": True, "score_threshold": cut})
    )
    assert [h["chunk_id"] for h in kept["hits"]] == [
        h["chunk_id"] for h in reranked["hits"] if h["rerank_score"] >= cut
    ]
