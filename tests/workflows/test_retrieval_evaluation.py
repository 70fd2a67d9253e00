"""Retrieval evaluation through ``BatchEvaluationWorkflow`` on a real worker, Temporal dev server
and Postgres with pgvector: 8 pages of the Python 3.11 docs ingested through the API, 8
questions of tests/data/python_docs_qrels.jsonl as a dataset, the three modes evaluated; every
per-query value and every mean equals ir-measures (trec_eval) on the rankings the API returns,
those rankings are what ``retrieve`` returns for the query, and a retried chunk writes nothing.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import ir_measures
import pytest
from sqlalchemy import text
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from activities.evaluation.types import EvaluateRetrievalChunkInput, RetrievalEvalConfig
from promptops.db.models import RetrievalIndex
from promptops.db.repositories.retrieval import RetrievalRepository
from promptops.db.session import get_session_factory
from promptops.llm import ModelCatalog
from promptops.retrieval.embedding_models import get_passage_embedder
from promptops.retrieval.search import RetrievalRequest, retrieve
from tests.support.apps import issue_key, running_app, serving_app
from tests.support.evals import wait_for_eval
from tests.workflows.test_ingestion import ingest, make_index, ok
from workers.main import build_activities, build_worker

DOCS = Path("/usr/share/doc/python3.11/html")
QRELS = Path(__file__).resolve().parents[1] / "data" / "python_docs_qrels.jsonl"
#: Questions whose grade-2 page is small, and those pages: the index holds these 8 pages only
#: (other judged pages are missing from it, as a real index misses pages).
QUESTIONS = ["q24", "q27", "q29", "q39", "q43", "q44", "q52", "q57"]
PAGES = [
    "library/tomllib.html",
    "library/heapq.html",
    "library/devmode.html",
    "library/secrets.html",
    "library/bisect.html",
    "library/atexit.html",
    "library/getpass.html",
    "library/abc.html",
]
MODES = ("dense", "keyword", "hybrid")
MEASURES = {
    "recall@1": ir_measures.R @ 1,
    "recall@5": ir_measures.R @ 5,
    "recall@10": ir_measures.R @ 10,
    "mrr": ir_measures.RR,
    "ndcg@10": ir_measures.nDCG @ 10,
}

pytestmark = pytest.mark.skipif(
    not (DOCS / "library/abc.html").exists(),
    reason="the Python docs corpus is missing (bash deploy/bootstrap.sh installs python3.11-doc)",
)


@pytest.fixture
async def stack(
    pg_url: str, temporal_env: WorkflowEnvironment, catalog: ModelCatalog, task_queue: str
) -> AsyncIterator[httpx.AsyncClient]:
    """The API (Admin key of org ``default``) and a worker with every workflow and activity."""
    key = await issue_key(pg_url)
    async with (
        build_worker(temporal_env.client, task_queue, pg_url, catalog),
        running_app(pg_url, temporal_env.client, catalog, task_queue) as running,
        running.client(key.key) as client,
    ):
        yield client


def questions() -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in QRELS.read_text().splitlines() if line.strip()]
    by_id = {r["id"]: r for r in rows}
    return [by_id[q] for q in QUESTIONS]


async def make_dataset(api: httpx.AsyncClient, project_id: str) -> str:
    """The questions as examples, in every accepted shape: the query as a string or
    ``{"query": ...}``, the qrels as ``{id: grade}`` or a list of ids."""
    lines = []
    for i, q in enumerate(questions()):
        query: Any = q["query"] if i % 2 else {"query": q["query"]}
        expected: Any = q["relevant"] if i != 3 else sorted(q["relevant"])
        lines.append(json.dumps({"id": q["id"], "input": query, "expected": expected}))
    ds = await ok(
        await api.post("/datasets", json={"project_id": project_id, "name": "qrels"}), 201
    )
    await ok(
        await api.post(
            f"/datasets/{ds['id']}/examples",
            content="\n".join(lines),
            headers={"content-type": "application/x-ndjson"},
        ),
        201,
    )
    return str(ds["id"])


def page_qrels(expected: Any) -> dict[str, int]:
    """Page-level qrels, written independently of the code under test: a list means grade 1;
    an anchor's grade goes to its page, the highest grade wins."""
    graded = dict.fromkeys(expected, 1) if isinstance(expected, list) else expected
    out: dict[str, int] = {}
    for key, grade in graded.items():
        page = key.split("#", 1)[0]
        out[page] = max(out.get(page, grade), grade)
    return out


def page_run(hits: list[dict[str, Any]]) -> dict[str, float]:
    """The distinct pages of the hits, scored so that trec_eval keeps their order."""
    pages = list(dict.fromkeys(h["source"] for h in hits))
    return {page: float(len(pages) - i) for i, page in enumerate(pages)}


async def test_modes_are_scored_as_trec_eval_scores_their_rankings(
    stack: httpx.AsyncClient, tmp_path: Path, pg_url: str, catalog: ModelCatalog
) -> None:
    api = stack
    corpus = tmp_path / "docs"
    for page in PAGES:
        (corpus / page).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(DOCS / page, corpus / page)
    index = await make_index(api)
    await ingest(api, index["id"], {"kind": "folder", "path": str(corpus)})
    dataset_id = await make_dataset(api, index["project_id"])

    started = await ok(
        await api.post(
            "/evals/run",
            json={
                "dataset_id": dataset_id,
                "retrieval_configs": [{"index_id": index["id"], "mode": m} for m in MODES],
                "chunk_size": 3,
            },
        ),
        202,
    )
    body = await wait_for_eval(api, started["id"], timeout_s=180)
    assert body["status"] == "Completed", body
    assert body["metrics"] == list(MEASURES)
    assert body["granularity"] == "page" and body["prompt_version_ids"] == []
    configs = body["retrieval_configs"]
    assert [c["label"] for c in configs] == list(MODES)
    assert body["progress"]["done"] == body["progress"]["total"] == 3 * len(QUESTIONS)
    summary = body["summary"]
    assert [v["version_id"] for v in summary["versions"]] == [c["config_id"] for c in configs]
    assert [v["label"] for v in summary["versions"]] == list(MODES)
    assert len(summary["comparisons"]) == 2  # keyword and hybrid against dense, paired

    rows = body["rows"]
    assert len(rows) == 3 * len(QUESTIONS)
    # The qrels as the dataset holds them (one example's as a plain list: grade 1 each).
    qrels = {r["example_id"]: page_qrels(r["expected"]) for r in rows}
    assert len(qrels) == len(QUESTIONS)
    for config, version in zip(configs, summary["versions"], strict=True):
        mine = [r for r in rows if r["config_id"] == config["config_id"]]
        assert sorted(r["example_id"] for r in mine) == sorted(QUESTIONS)
        assert all(1 <= len(r["hits"]) <= 10 and r["label"] == config["label"] for r in mine)
        run = {r["example_id"]: page_run(r["hits"]) for r in mine}
        per_query = {
            (m.query_id, m.measure): m.value
            for m in ir_measures.iter_calc(list(MEASURES.values()), qrels, run)
        }
        for row in mine:
            for name, measure in MEASURES.items():
                assert row["metrics"][name] == pytest.approx(
                    per_query[(row["example_id"], measure)], abs=1e-9
                ), (config["label"], row["example_id"], name)
        means = ir_measures.calc_aggregate(list(MEASURES.values()), qrels, run)
        for name, measure in MEASURES.items():
            got = version["metrics"][name]
            assert got["value"] == pytest.approx(means[measure], abs=1e-9), (config, name)
            assert got["ci_low"] <= got["value"] <= got["ci_high"]
        assert version["n"] == len(QUESTIONS) and version["latency_ms"]["p50"] > 0
    # The modes do not all agree: the evaluation tells them apart.
    assert len({tuple(tuple(r["ranking"]) for r in rows if r["config_id"] == c["config_id"])
                for c in configs}) == 3  # fmt: skip

    # The stored hits are what retrieval returns for the query in that mode.
    sessions = get_session_factory(pg_url)
    embedder = get_passage_embedder("all-MiniLM-L6-v2")
    by_query = {q["id"]: q["query"] for q in questions()}
    async with sessions() as session:
        stored = await session.get(RetrievalIndex, uuid.UUID(index["id"]))
        assert stored is not None
        for config in configs:
            for row in [r for r in rows if r["config_id"] == config["config_id"]][:3]:
                direct = await retrieve(
                    RetrievalRepository(session),
                    stored,
                    RetrievalRequest(query=by_query[row["example_id"]], mode=config["mode"]),
                    embedder=embedder,
                )
                assert [str(h.chunk_id) for h in direct.hits] == [
                    h["chunk_id"] for h in row["hits"]
                ], (config["mode"], row["example_id"])

    # A chunk retried after it finished runs nothing and writes nothing.
    hybrid = next(c for c in configs if c["mode"] == "hybrid")
    versions_before = await result_versions(pg_url, started["id"])
    (chunk_activity,) = [
        fn
        for fn in build_activities(pg_url, catalog)
        if getattr(fn, "__name__", "") == "evaluate_retrieval_chunk"
    ]
    again = await ActivityEnvironment().run(
        chunk_activity,
        EvaluateRetrievalChunkInput(
            evaluation_id=started["id"],
            workflow_id=started["id"],
            config=RetrievalEvalConfig(**hybrid),
            dataset_id=dataset_id,
            offset=0,
            limit=len(QUESTIONS),
            metrics=list(MEASURES),
        ),
    )
    assert again.executed == 0 and again.done == len(QUESTIONS)
    hybrid_version = summary["versions"][configs.index(hybrid)]
    assert again.sums["ndcg@10"].total / again.sums["ndcg@10"].count == pytest.approx(
        hybrid_version["metrics"]["ndcg@10"]["value"], abs=1e-9
    )
    assert await result_versions(pg_url, started["id"]) == versions_before


async def result_versions(pg_url: str, evaluation_id: str) -> dict[tuple[str, str], str]:
    """(config, example) -> row version (``xmin``): any write changes it."""
    async with get_session_factory(pg_url)() as session:
        rows = await session.execute(
            text(
                "SELECT config_id, example_id::text, xmin::text FROM retrieval_eval_results "
                "WHERE evaluation_id = :e"
            ),
            {"e": evaluation_id},
        )
        return {(c, e): x for c, e, x in rows.tuples()}


async def test_bad_requests_are_422_naming_the_field(stack: httpx.AsyncClient) -> None:
    api = stack
    index = await make_index(api)
    dataset_id = await make_dataset(api, index["project_id"])
    config = {"index_id": index["id"], "mode": "dense"}

    async def field_of(body: dict[str, Any]) -> str:
        r = await api.post("/evals/run", json={"dataset_id": dataset_id, **body})
        assert r.status_code == 422, r.text
        return ".".join(str(p) for p in r.json()["detail"][0]["loc"][1:])

    both = {"retrieval_configs": [config], "prompt_version_ids": [str(uuid.uuid4())]}
    assert await field_of(both) == "retrieval_configs"
    assert await field_of({"metrics": ["bleu"]}) == "prompt_version_ids"
    assert await field_of({"retrieval_configs": []}) == "retrieval_configs"
    assert await field_of({"retrieval_configs": [config], "metrics": ["bleu"]}) == "metrics"
    assert await field_of({"retrieval_configs": [config, config]}) == "retrieval_configs.1.label"
    assert await field_of({"retrieval_configs": [{**config, "mode": "fuzzy"}]}) == (
        "retrieval_configs.0.mode"
    )
    assert await field_of({"retrieval_configs": [config], "granularity": "chunk"}) == (
        "granularity"
    )
    other = await make_index(api)  # another project's index
    assert await field_of({"retrieval_configs": [{**config, "index_id": other["id"]}]}) == (
        "retrieval_configs.0.index_id"
    )
    missing = await api.post(
        "/evals/run",
        json={"dataset_id": dataset_id, "retrieval_configs": [{"index_id": str(uuid.uuid4())}]},
    )
    assert missing.status_code == 404, missing.text


async def test_an_example_without_qrels_fails_the_evaluation_naming_it(
    stack: httpx.AsyncClient,
) -> None:
    api = stack
    index = await make_index(api)
    ds = await ok(
        await api.post("/datasets", json={"project_id": index["project_id"], "name": "bad"}), 201
    )
    lines = [
        json.dumps({"id": "fine", "input": "lru_cache", "expected": ["library/functools.html"]}),
        json.dumps({"id": "broken", "input": "lru_cache", "expected": "library/functools.html"}),
    ]
    await ok(
        await api.post(
            f"/datasets/{ds['id']}/examples",
            content="\n".join(lines),
            headers={"content-type": "application/x-ndjson"},
        ),
        201,
    )
    started = await ok(
        await api.post(
            "/evals/run",
            json={"dataset_id": ds["id"], "retrieval_configs": [{"index_id": index["id"]}]},
        ),
        202,
    )
    body = await wait_for_eval(api, started["id"])
    assert body["status"] == "Failed"
    assert "broken" in (body["error"] or "") and "qrels" in (body["error"] or ""), body


async def test_cli_evaluates_the_modes_of_an_index_named_on_the_command_line(
    pg_url: str,
    temporal_env: WorkflowEnvironment,
    catalog: ModelCatalog,
    task_queue: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``promptops eval retrieval --dataset ... --index <name> --modes keyword,hybrid`` against
    the API served over HTTP: one configuration per mode, labelled by it, in the table."""
    from typer.testing import CliRunner

    from promptops.cli import app as cli
    from promptops.devstack.client import PromptOpsClient

    key = await issue_key(pg_url)
    async with (
        build_worker(temporal_env.client, task_queue, pg_url, catalog),
        serving_app(pg_url, temporal_env.client, catalog, task_queue) as base,
        httpx.AsyncClient(
            base_url=f"{base}/api/v1", headers={"Authorization": f"Bearer {key.key}"}, timeout=60
        ) as api,
    ):
        index = await make_index(api)
        documents = [
            {"name": "cache.md", "text": "# Caching\n\nfunctools.lru_cache memoizes calls."},
            {"name": "sort.md", "text": "# Sorting\n\nsorted() takes a key function."},
            {"name": "json.md", "text": "# JSON\n\njson.dumps(indent=2) pretty prints."},
        ]
        await ingest(api, index["id"], {"kind": "inline", "documents": documents})
        ds = await ok(
            await api.post("/datasets", json={"project_id": index["project_id"], "name": "q"}),
            201,
        )
        lines = [
            json.dumps(
                {"id": "a", "input": "memoize calls with lru_cache", "expected": ["cache.md"]}
            ),
            json.dumps({"id": "b", "input": "sort with a key function", "expected": ["sort.md"]}),
        ]
        await ok(
            await api.post(
                f"/datasets/{ds['id']}/examples",
                content="\n".join(lines),
                headers={"content-type": "application/x-ndjson"},
            ),
            201,
        )
        monkeypatch.setattr(
            "promptops.cli.evals._client", lambda: PromptOpsClient(base, api_key=key.key)
        )
        args = ["eval", "retrieval", "--dataset", ds["id"], "--index", "docs"]
        args += ["--project", index["project_id"], "--modes", "keyword,hybrid"]
        result = await asyncio.to_thread(
            CliRunner().invoke, cli, [*args, "--json"], env={"COLUMNS": "200"}
        )
        assert result.exit_code == 0, result.output
        body = json.loads(result.stdout)
        assert body["status"] == "Completed"
        assert [v["label"] for v in body["summary"]["versions"]] == ["keyword", "hybrid"]
        assert [c["mode"] for c in body["retrieval_configs"]] == ["keyword", "hybrid"]
        shown = await asyncio.to_thread(
            CliRunner().invoke, cli, ["eval", "show", body["id"], "--rows", "4"],
            env={"COLUMNS": "200"},
        )  # fmt: skip
        assert shown.exit_code == 0, shown.output
        assert "recall@10" in shown.output and "hybrid" in shown.output
        assert "ranking=" in shown.output
