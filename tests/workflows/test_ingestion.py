"""``IngestionWorkflow`` through the API on a real worker, Temporal dev server and Postgres with
pgvector, on real pages of the Python 3.11 documentation: incremental re-ingestion, replacement
of a changed document, removal of a deleted one, the three query modes with their sources and
anchors, metadata filters (a rare value still fills top_k), MMR, tenant and index isolation."""

from __future__ import annotations

import asyncio
import shutil
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from sqlalchemy import text
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.ingestion.activities import IngestionActivities
from promptops.db.session import get_session_factory
from promptops.llm import ModelCatalog
from tests.support.apps import issue_key, running_app
from workflows.ingestion.workflow import IngestionWorkflow

DOCS = Path("/usr/share/doc/python3.11/html")
PAGES = [
    "library/functools.html",
    "library/itertools.html",
    "library/json.html",
    "tutorial/datastructures.html",
    "howto/sorting.html",
    "faq/programming.html",
]

pytestmark = pytest.mark.skipif(
    not (DOCS / "library/functools.html").exists(),
    reason="the Python docs corpus is missing (bash deploy/bootstrap.sh installs python3.11-doc)",
)


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    root = tmp_path / "docs"
    for page in PAGES:
        (root / page).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(DOCS / page, root / page)
    return root


@pytest.fixture
async def stack(
    pg_url: str, temporal_env: WorkflowEnvironment, catalog: ModelCatalog, task_queue: str
) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    """The API (Admin key of org ``default``) and a worker running the ingestion workflow."""
    activities = IngestionActivities(pg_url)
    key = await issue_key(pg_url)
    async with (
        Worker(
            temporal_env.client,
            task_queue=task_queue,
            workflows=[IngestionWorkflow],
            activities=[
                activities.list_source_documents,
                activities.ingest_batch,
                activities.finish_ingestion,
            ],
        ),
        running_app(pg_url, temporal_env.client, catalog, task_queue) as running,
        running.client(key.key) as client,
    ):
        yield client, pg_url


async def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


async def make_index(api: httpx.AsyncClient, **extra: Any) -> dict[str, Any]:
    project = await ok(
        await api.post("/projects", json={"name": f"rag-{uuid.uuid4().hex[:8]}"}), 201
    )
    body = {
        "project_id": project["id"],
        "name": "docs",
        "chunking": {"min_tokens": 80, "max_tokens": 200, "overlap": 0.1},
        **extra,
    }
    return dict(await ok(await api.post("/retrieval/indexes", json=body), 201))


async def ingest(
    api: httpx.AsyncClient, index_id: str, source: dict[str, Any], **extra: Any
) -> dict[str, Any]:
    started = await ok(
        await api.post(f"/retrieval/indexes/{index_id}/ingest", json={"source": source, **extra}),
        202,
    )
    deadline = time.monotonic() + 150
    state = started
    while state["status"] not in ("Completed", "Failed"):
        assert time.monotonic() < deadline, state
        await asyncio.sleep(0.2)
        state = await ok(await api.get(f"/retrieval/ingestions/{started['id']}"))
    assert state["status"] == "Completed", state
    return dict(state)


async def chunk_versions(pg_url: str, index_id: str) -> dict[str, tuple[str, str]]:
    """chunk id -> (document source, row version ``xmin``): any write changes it."""
    async with get_session_factory(pg_url)() as session:
        rows = await session.execute(
            text(
                "SELECT c.id::text, d.source, c.xmin::text FROM retrieval_chunks c "
                "JOIN retrieval_documents d ON d.id = c.document_id WHERE c.index_id = :i"
            ),
            {"i": uuid.UUID(index_id)},
        )
        return {cid: (source, xmin) for cid, source, xmin in rows.tuples()}


async def test_reingestion_skips_unchanged_replaces_changed_and_removes_deleted(
    stack: tuple[httpx.AsyncClient, str], corpus: Path
) -> None:
    api, pg_url = stack
    index = await make_index(api)
    source = {"kind": "folder", "path": str(corpus)}
    first = await ingest(api, index["id"], source)
    assert first["documents_total"] == len(PAGES) and first["added"] == len(PAGES)
    assert first["chunks_in_index"] == first["chunks_written"] > 3 * len(PAGES)
    before = await chunk_versions(pg_url, index["id"])
    assert len(before) == first["chunks_in_index"]

    # The same corpus again: every document skipped, no row written.
    again = await ingest(api, index["id"], source)
    assert again["skipped"] == len(PAGES) and again["chunks_written"] == 0
    assert again["added"] == again["replaced"] == again["removed"] == 0
    assert await chunk_versions(pg_url, index["id"]) == before

    # One page changed, one deleted: only those change.
    changed = corpus / "howto/sorting.html"
    original = changed.read_text()
    assert "Python lists have a built-in" in original
    changed.write_text(
        original.replace(
            "Python lists have a built-in",
            "A note added for the replacement test. Python lists have a built-in",
            1,
        )
    )
    (corpus / "library/json.html").unlink()
    third = await ingest(api, index["id"], source)
    assert third["replaced"] == 1 and third["removed"] == 1
    assert third["skipped"] == len(PAGES) - 2
    after = await chunk_versions(pg_url, index["id"])
    untouched = {
        c: v for c, v in before.items() if v[0] not in ("howto/sorting.html", "library/json.html")
    }
    assert {c: after[c] for c in untouched} == untouched
    assert not any(src == "library/json.html" for src, _ in after.values())
    old_sorting = {c for c, (src, _) in before.items() if src == "howto/sorting.html"}
    new_sorting = {c for c, (src, _) in after.items() if src == "howto/sorting.html"}
    assert new_sorting and new_sorting != old_sorting
    assert third["chunks_in_index"] == len(after)
    documents = await ok(await api.get(f"/retrieval/indexes/{index['id']}/documents"))
    assert sorted(d["source"] for d in documents["data"]) == sorted(
        p for p in PAGES if p != "library/json.html"
    )


async def test_query_modes_filters_mmr_and_isolation(
    stack: tuple[httpx.AsyncClient, str], corpus: Path, pg_url: str, catalog: ModelCatalog
) -> None:
    api, _ = stack
    index = await make_index(api)
    await ingest(api, index["id"], {"kind": "folder", "path": str(corpus)})

    results = {}
    for mode in ("dense", "keyword", "hybrid"):
        results[mode] = await ok(
            await api.post(
                "/retrieval/query",
                json={
                    "index_id": index["id"],
                    "query": "functools.lru_cache maxsize",
                    "mode": mode,
                    "top_k": 5,
                },
            )
        )
        hits = results[mode]["hits"]
        assert len(hits) == 5, mode
        assert hits[0]["source"] == "library/functools.html", (mode, hits[0])
        assert all(h["heading_path"] and h["citation"].startswith("[doc:") for h in hits)
        scores = [h["score"] for h in hits]
        assert scores == sorted(scores, reverse=True)
    assert any(h["anchor"] for h in results["hybrid"]["hits"])
    # Embedding the query is part of the query's time (dense and hybrid embed it).
    for mode in ("dense", "hybrid"):
        timings = results[mode]["timings_ms"]
        assert 0 < timings["embed"] <= timings["total"], (mode, timings)
    assert "embed" not in results["keyword"]["timings_ms"]
    assert set(results["hybrid"]["hits"][0]["ranks"]) <= {"dense", "keyword"}

    # A filter on a rare value still fills top_k when that many chunks match it.
    faq = await ok(
        await api.post(
            "/retrieval/query",
            json={
                "index_id": index["id"],
                "query": "functools.lru_cache maxsize",
                "mode": "dense",
                "top_k": 5,
                "filters": {"section": "faq"},
            },
        )
    )
    assert len(faq["hits"]) == 5 and {h["metadata"]["section"] for h in faq["hits"]} == {"faq"}
    bad = await api.post(
        "/retrieval/query",
        json={"index_id": index["id"], "query": "x", "filters": {"colour": "red"}},
    )
    assert bad.status_code == 422 and "filters.colour" in bad.text

    # MMR: less redundancy among the hits than the plain top-k.
    async def pairwise(mmr: float | None) -> float:
        body = await ok(
            await api.post(
                "/retrieval/query",
                json={
                    "index_id": index["id"],
                    "query": "sorting lists with a key function",
                    "mode": "dense",
                    "top_k": 6,
                    "mmr_lambda": mmr,
                },
            )
        )
        from promptops.retrieval.embedding_models import get_passage_embedder

        vectors = get_passage_embedder("all-MiniLM-L6-v2").embed_passages(
            [h["text"] for h in body["hits"]]
        )
        sims = vectors @ vectors.T
        n = len(vectors)
        return float((sims.sum() - n) / (n * (n - 1)))

    assert await pairwise(0.3) < await pairwise(None)

    # Another index of the same tenant answers from its own chunks only.
    other_index = await make_index(api)
    await ingest(
        api,
        other_index["id"],
        {
            "kind": "inline",
            "documents": [
                {"name": "cache-notes.md", "text": "# Caching\n\nlru_cache keeps results."}
            ],
        },
    )
    own = await ok(
        await api.post(
            "/retrieval/query",
            json={"index_id": other_index["id"], "query": "functools.lru_cache maxsize"},
        )
    )
    assert [h["source"] for h in own["hits"]] == ["cache-notes.md"]

    # Another tenant sees neither the index nor, through its own index, these chunks.
    key_b = await issue_key(pg_url, organization=f"rag-b-{uuid.uuid4().hex[:6]}")
    async with (
        running_app(pg_url, None, catalog, "unused") as running,
        running.client(key_b.key) as other,
    ):
        stolen = await other.post(
            "/retrieval/query", json={"index_id": index["id"], "query": "lru_cache"}
        )
        assert stolen.status_code == 404
        assert (await other.get(f"/retrieval/indexes/{index['id']}")).status_code == 404
        listed = await ok(await other.get("/retrieval/indexes"))
        assert index["id"] not in {i["id"] for i in listed["data"]}


def test_hit_vectors_are_unit_norm() -> None:
    """Sanity of the embedder the MMR test measures with."""
    from promptops.retrieval.embedding_models import get_passage_embedder

    v = get_passage_embedder("all-MiniLM-L6-v2").embed_passages(["a b c", "d e f " * 400])
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
