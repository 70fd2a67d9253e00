"""Durability of ``IngestionWorkflow``: kill -9 the worker, kill -9 the Temporal server, in the
middle of an ingestion of real Python doc pages. Checked on the database: every document holds
exactly its chunks (ordinals 0..n-1, no row twice), and the index holds exactly the chunks the
same pages give when prepared in one go (:func:`promptops.retrieval.ingest.prepare_document`
in the manifest's order, with a fresh near-duplicate filter: what a clean ingestion writes)."""

from __future__ import annotations

import asyncio
import shutil
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import yaml
from temporalio.testing import WorkflowEnvironment

from promptops.devstack.postgres import conninfo_kwargs
from promptops.llm import ModelCatalog
from tests.support.apps import issue_key, running_app
from tests.support.stub_llm import StubLLMServer
from tests.support.worker_process import LOADED_LINE, READY_LINE
from tests.workflows.test_durability import DevServer, WorkerProcess

DOCS = Path("/usr/share/doc/python3.11/html/library")
N_PAGES = 8

pytestmark = pytest.mark.skipif(
    not (DOCS / "functools.html").exists(),
    reason="the Python docs corpus is missing (bash deploy/bootstrap.sh installs python3.11-doc)",
)


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    root = tmp_path / "library"
    root.mkdir()
    pages = sorted(p for p in DOCS.glob("*.html") if 20_000 < p.stat().st_size < 80_000)
    for page in pages[:N_PAGES]:
        shutil.copy(page, root / page.name)
    return root


@pytest.fixture
def models_file(tmp_path: Path, stub_llm: StubLLMServer) -> Path:
    path = tmp_path / "models.yaml"
    path.write_text(yaml.safe_dump(stub_llm.model_list()))
    return path


def documents_written(pg_url: str, index_id: str) -> int:
    with psycopg.connect(**conninfo_kwargs(pg_url)) as conn:
        row = conn.execute(
            "SELECT count(*) FROM retrieval_documents WHERE index_id = %s", (index_id,)
        ).fetchone()
    return int(row[0]) if row else 0


def chunk_rows(pg_url: str, index_id: str) -> list[tuple[str, int, str]]:
    """(document source, ordinal, content hash) of every chunk row of the index, sorted."""
    with psycopg.connect(**conninfo_kwargs(pg_url)) as conn:
        rows = conn.execute(
            "SELECT d.source, c.ordinal, c.content_hash FROM retrieval_chunks c "
            "JOIN retrieval_documents d ON d.id = c.document_id WHERE c.index_id = %s "
            "ORDER BY 1, 2",
            (index_id,),
        ).fetchall()
    return [(s, o, h) for s, o, h in rows]


def assert_whole(pg_url: str, index_id: str) -> None:
    """Each document holds exactly ``chunk_count`` chunks, ordinals 0..n-1, none twice."""
    with psycopg.connect(**conninfo_kwargs(pg_url)) as conn:
        docs = conn.execute(
            "SELECT d.source, d.chunk_count, array_agg(c.ordinal ORDER BY c.ordinal) "
            "FROM retrieval_documents d LEFT JOIN retrieval_chunks c ON c.document_id = d.id "
            "WHERE d.index_id = %s GROUP BY d.source, d.chunk_count",
            (index_id,),
        ).fetchall()
    assert len(docs) == N_PAGES
    for source, count, ordinals in docs:
        assert ordinals == list(range(count)), (source, count, ordinals)


async def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


async def start_ingestion(api: httpx.AsyncClient, folder: Path) -> tuple[str, str]:
    project = await ok(
        await api.post("/projects", json={"name": f"durable-{uuid.uuid4().hex[:8]}"}), 201
    )
    index = await ok(
        await api.post("/retrieval/indexes", json={"project_id": project["id"], "name": "docs"}),
        201,
    )
    started = await ok(
        await api.post(
            f"/retrieval/indexes/{index['id']}/ingest",
            json={"source": {"kind": "folder", "path": str(folder)}, "batch_size": 2},
        ),
        202,
    )
    return index["id"], started["id"]


async def wait_completed(api: httpx.AsyncClient, ingestion_id: str, timeout_s: float) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        state = await ok(await api.get(f"/retrieval/ingestions/{ingestion_id}"))
        if state["status"] in ("Completed", "Failed"):
            return state
        assert time.monotonic() < deadline, state
        await asyncio.sleep(0.2)


async def wait_documents(pg_url: str, index_id: str, n: int, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while documents_written(pg_url, index_id) < n:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)


def expected_rows(folder: Path) -> list[tuple[str, int, str]]:
    """(source, ordinal, content hash) of the chunks a clean ingestion of ``folder`` writes."""
    from promptops.retrieval.chunking import ChunkingSettings, HFTokenCounter
    from promptops.retrieval.dedup import NearDuplicateFilter
    from promptops.retrieval.ingest import prepare_document

    counter, dedup, rows = HFTokenCounter(), NearDuplicateFilter(), []
    for path in sorted(folder.iterdir()):
        doc = prepare_document(
            index_id=uuid.uuid4(),
            organization_id=uuid.uuid4(),
            source_id=uuid.uuid4(),
            kind="folder",
            source=path.name,
            data=path.read_bytes(),
            media_type=None,
            digest="-",
            embedding_model="all-MiniLM-L6-v2",
            counter=counter,
            chunking=ChunkingSettings(),
            metadata={},
            dedup=dedup,
            ttl_seconds=None,
            now=datetime.now(UTC),
        )
        rows += [(path.name, c["ordinal"], c["content_hash"]) for c in doc.chunks]
    return sorted(rows)


async def test_worker_sigkill_mid_ingestion_resumes_without_duplicate_or_missing_chunks(
    temporal_env: WorkflowEnvironment,
    pg_url: str,
    task_queue: str,
    catalog: ModelCatalog,
    models_file: Path,
    corpus: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PROMPTOPS_INGEST_HEARTBEAT_TIMEOUT_S", "3")
    address = temporal_env.client.service_client.config.target_host
    first = WorkerProcess(address, task_queue, pg_url, models_file, tmp_path / "worker1.log")
    second = WorkerProcess(
        address, task_queue, pg_url, models_file, tmp_path / "worker2.log", hold=True
    )
    key = await issue_key(pg_url)
    try:
        async with (
            running_app(pg_url, temporal_env.client, catalog, task_queue) as running,
            running.client(key.key) as api,
        ):
            await first.wait_for(READY_LINE)
            index_id, ingestion_id = await start_ingestion(api, corpus)
            await wait_documents(pg_url, index_id, 2)
            first.kill()
            at_kill = documents_written(pg_url, index_id)
            assert at_kill < N_PAGES, at_kill

            await second.wait_for(LOADED_LINE)
            second.release()
            await second.wait_for(READY_LINE)
            state = await wait_completed(api, ingestion_id, 300)
            assert state["status"] == "Completed", state
            assert_whole(pg_url, index_id)
            assert chunk_rows(pg_url, index_id) == expected_rows(corpus)
    finally:
        first.stop()
        second.stop()


async def test_temporal_server_sigkill_mid_ingestion_resumes_without_duplicate_or_missing_chunks(
    pg_url: str,
    task_queue: str,
    catalog: ModelCatalog,
    models_file: Path,
    corpus: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PROMPTOPS_INGEST_HEARTBEAT_TIMEOUT_S", "5")
    server = DevServer(tmp_path / "temporal.db", tmp_path / "temporal.log")
    server.start()
    worker = WorkerProcess(server.address, task_queue, pg_url, models_file, tmp_path / "w.log")
    key = await issue_key(pg_url)
    try:
        client = await server.wait_ready()
        await worker.wait_for(READY_LINE)
        async with (
            running_app(pg_url, client, catalog, task_queue) as running,
            running.client(key.key) as api,
        ):
            index_id, ingestion_id = await start_ingestion(api, corpus)
            await wait_documents(pg_url, index_id, 2)
            server.kill()
            assert documents_written(pg_url, index_id) < N_PAGES
            await asyncio.sleep(1.0)
            server.start()
            running.app.state.temporal = await server.wait_ready()
            state = await wait_completed(api, ingestion_id, 300)
            assert state["status"] == "Completed", state
            assert worker.alive(), worker.log()
            assert_whole(pg_url, index_id)
            assert chunk_rows(pg_url, index_id) == expected_rows(corpus)
    finally:
        worker.stop()
        server.stop()
