"""Retrieval at 100,000 chunks: query latency, HNSW recall, ingestion throughput, reranking.

    python -m tests.benchmarks.bench_retrieval [--chunks 100000] [--rounds 3]
        [--ef 40,64,100,200] [--ingest-pages 60] [--no-ingest] [--cache-dir DIR | --no-cache]
        [--build-workers 1] [--explain] [--keep-tmp] [--json]

The embedded Postgres (temp pgdata, migrated to head), a Temporal dev server, the API app
in-process (indexes are created through it). The corpus is the Python 3.11 HTML docs chunked
at 40..80 tokens and embedded once through the library, replicated to ``--chunks`` rows
(tests/benchmarks/_retrieval_corpus.py says exactly how).

1. Query latency: the 74 query texts of tests/data/python_docs_qrels.jsonl (texts only, no
   tuning on the judgements), top-10, through :func:`promptops.retrieval.search.retrieve` on a
   :class:`RetrievalRepository` (what ``POST /retrieval/query`` runs, minus HTTP and the index
   lookup), one session per query; dense, keyword and hybrid, each with the query vector given
   and with the embedder called. One warm-up pass, then ``--rounds`` passes, every query in
   every variant back to back. P50/P95 (nearest rank) per variant; the stage medians come from
   ``RetrievalResult.timings_ms``. Target: hybrid P95 <= 30 ms without the embedding.
2. HNSW recall@10 against ``exact_dense_search`` (a sequential scan of the same vectors) for
   each ``--ef``; the exact scan's latency is the baseline of the dense latency.
3. Ingestion throughput (tests/benchmarks/_retrieval_ingest.py): chunks/s of
   ``IngestionWorkflow`` over ``--ingest-pages`` pages against ``Embedder.embed_long`` on the
   same chunk texts in the same run. Target >= 0.8x.
4. Reranking 50 candidates with the test cross-encoder (tests/support/tiny_cross_encoder.py):
   hybrid with ``rerank`` and ``candidates=50`` on real chunks, and bench_rerank's synthetic
   50 x ~100-word passages.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, cast

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from tests.benchmarks._common import ROOT, machine
from tests.benchmarks._retrieval_corpus import build_corpus, load_index, log

QRELS = ROOT / "tests" / "data" / "python_docs_qrels.jsonl"
CHUNKING = {"min_tokens": 40, "max_tokens": 80, "overlap": 0.12}
TARGET_HYBRID_P95_MS = 30.0
TARGET_INGEST_RATIO = 0.8


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile ``q`` (0..100) of ``values``."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]


def summary(values: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(pct(values, 50), 2),
        "p95_ms": round(pct(values, 95), 2),
        "max_ms": round(max(values), 2),
        "n": len(values),
    }


class Queries:
    """Runs :func:`retrieve` for the benchmark's queries on one index, one session each."""

    def __init__(self, url: str, index: Any, texts: list[str], vectors: list[Any]) -> None:
        from promptops.db.session import get_session_factory
        from promptops.retrieval.embedding_models import get_passage_embedder

        self.sessions = get_session_factory(url)
        self.index = index
        self.texts = texts
        self.vectors = vectors
        self.embedder = get_passage_embedder(index.embedding_model)

    async def run(
        self, i: int, mode: str, *, embed: bool, ef: int, reranker: Any = None, **extra: Any
    ) -> tuple[float, Any]:
        """Milliseconds of one ``retrieve`` call, and its result."""
        from promptops.db.repositories.retrieval import RetrievalRepository
        from promptops.retrieval.search import Mode, RetrievalRequest, retrieve

        req = RetrievalRequest(
            query=self.texts[i], mode=cast(Mode, mode), top_k=10, ef_search=ef, **extra
        )
        async with self.sessions() as session:
            repo = RetrievalRepository(session)
            t0 = time.perf_counter()
            result = await retrieve(
                repo,
                self.index,
                req,
                embedder=self.embedder if embed else None,
                query_vector=None if embed or mode == "keyword" else self.vectors[i],
                reranker=reranker,
            )
            return (time.perf_counter() - t0) * 1000, result

    async def exact(self, i: int) -> tuple[float, list[uuid.UUID]]:
        from promptops.db.repositories.retrieval import RetrievalRepository

        async with self.sessions() as session:
            t0 = time.perf_counter()
            hits = await RetrievalRepository(session).exact_dense_search(
                self.index, self.vectors[i], 10
            )
            return (time.perf_counter() - t0) * 1000, [h.chunk_id for h in hits]


async def measure_latency(q: Queries, rounds: int, ef: int) -> dict[str, Any]:
    variants = [
        ("dense", False),
        ("keyword", False),
        ("hybrid", False),
        ("dense", True),
        ("hybrid", True),
    ]
    for i in range(len(q.texts)):  # warm-up: buffers, plans, the model
        for mode, embed in variants:
            await q.run(i, mode, embed=embed, ef=ef)
    samples: dict[str, list[float]] = {}
    stages: dict[str, dict[str, list[float]]] = {}
    for _ in range(rounds):
        for i in range(len(q.texts)):
            for mode, embed in variants:
                name = f"{mode} + embed" if embed else mode
                ms, result = await q.run(i, mode, embed=embed, ef=ef)
                samples.setdefault(name, []).append(ms)
                for stage, value in result.timings_ms.items():
                    stages.setdefault(name, {}).setdefault(stage, []).append(value)
    return {
        name: {
            **summary(values),
            "stages_p50_ms": {
                s: round(statistics.median(v), 2) for s, v in stages[name].items() if s != "total"
            },
        }
        for name, values in samples.items()
    }


async def measure_recall(q: Queries, efs: list[int], rounds: int) -> dict[str, Any]:
    exact_ms: list[float] = []
    truth: list[set[uuid.UUID]] = []
    for i in range(len(q.texts)):
        ms, ids = await q.exact(i)
        exact_ms.append(ms)
        truth.append(set(ids))
    out: dict[str, Any] = {"exact_scan": summary(exact_ms), "ef_search": {}}
    for ef in efs:
        recalls = []
        latencies = []
        for i in range(len(q.texts)):
            await q.run(i, "dense", embed=False, ef=ef)  # warm-up of this ef
        for _ in range(rounds):
            for i in range(len(q.texts)):
                ms, result = await q.run(i, "dense", embed=False, ef=ef)
                latencies.append(ms)
                recalls.append(len(truth[i] & {h.chunk_id for h in result.hits}) / len(truth[i]))
        per_query = recalls[: len(q.texts)]
        out["ef_search"][str(ef)] = {
            "recall_at_10": round(statistics.mean(recalls), 4),
            "recall_min": round(min(per_query), 2),
            "queries_below_0.9": sum(r < 0.9 for r in per_query),
            **summary(latencies),
        }
    passing = [int(ef) for ef, v in out["ef_search"].items() if v["recall_at_10"] >= 0.95]
    out["smallest_ef_with_recall_0.95"] = min(passing) if passing else None
    return out


async def measure_rerank(q: Queries, tmp: Path, rounds: int) -> dict[str, Any]:
    from promptops.retrieval.rerank import CrossEncoderReranker
    from tests.benchmarks.bench_rerank import QUERY, passages, timed
    from tests.support.tiny_cross_encoder import build_tiny_cross_encoder

    reranker = CrossEncoderReranker(build_tiny_cross_encoder(tmp / "tiny-cross-encoder"))
    real: list[float] = []
    totals: list[float] = []
    for r in range(rounds + 1):
        for i in range(len(q.texts)):
            ms, result = await q.run(
                i, "hybrid", embed=False, ef=100, rerank=True, candidates=50, reranker=reranker
            )
            if r:  # the first round warms up
                real.append(result.timings_ms["rerank"])
                totals.append(ms)
    synthetic = passages(50, 100)
    return {
        "real_candidates_rerank": summary(real),
        "real_candidates_total_hybrid_with_rerank": summary(totals),
        "synthetic_50x100_words_ms": timed(
            lambda: reranker.rerank(QUERY, synthetic), max(10, rounds * 10)
        ),
    }


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    from sqlalchemy import select
    from temporalio.testing import WorkflowEnvironment

    from promptops.db.migrate import upgrade_head
    from promptops.db.models import RetrievalIndex
    from promptops.db.repositories.retrieval import RetrievalRepository
    from promptops.db.session import get_engine, get_session_factory
    from promptops.devstack.postgres import start_postgres, stop_postgres
    from promptops.devstack.temporal import temporal_binary
    from promptops.llm import ModelCatalog
    from tests.benchmarks._retrieval_ingest import ingestion_throughput
    from tests.support.apps import issue_key, running_app, test_settings

    result: dict[str, Any] = {"machine": machine(), "args": vars(args)}
    default_ef = test_settings("bench").hnsw_ef_search
    result["settings_hnsw_ef_search"] = default_ef
    cache = None if args.no_cache else Path(args.cache_dir)
    corpus = build_corpus(CHUNKING, cache, args.real_chunks)
    result["corpus"] = corpus.stats

    tmp = Path(tempfile.mkdtemp(prefix="promptops-bench-rag-"))
    os.chmod(tmp, 0o755)  # pgserver runs postgres as user "pgserver" under root
    pgdata = tmp / "pgdata"
    url = start_postgres(pgdata, database="bench")
    env = None
    try:
        upgrade_head(url)
        env = await WorkflowEnvironment.start_local(dev_server_existing_path=temporal_binary())
        task_queue = f"bench-{uuid.uuid4().hex[:8]}"
        key = await issue_key(url)
        catalog = ModelCatalog.from_dict({"model_list": []})
        async with (
            running_app(url, env.client, catalog, task_queue) as running,
            running.client(key.key) as api,
        ):
            if not args.no_ingest:
                result["ingestion"] = await ingestion_throughput(
                    url, env, api, task_queue, tmp, args.ingest_pages
                )
                deleted = await api.delete(f"/retrieval/indexes/{result['ingestion']['index_id']}")
                log(f"ingestion index deleted: HTTP {deleted.status_code}")

            project = (await api.post("/projects", json={"name": "bench-rag"})).json()
            made = await api.post(
                "/retrieval/indexes",
                json={"project_id": project["id"], "name": "docs", "chunking": CHUNKING},
            )
            index_id = uuid.UUID(made.json()["id"])

        sessions = get_session_factory(url)
        async with sessions() as session, session.begin():
            repo = RetrievalRepository(session)
            index = (
                await session.execute(select(RetrievalIndex).where(RetrievalIndex.id == index_id))
            ).scalar_one()
            source = await repo.upsert_source(index.id, "bench", "inline", {})
            session.expunge(index)
        log(f"loading {args.chunks} rows into index {index_id}")
        result["load"] = await asyncio.to_thread(
            load_index,
            url,
            index.id,
            index.organization_id,
            source.id,
            index.embedding_model,
            corpus,
            args.chunks,
            build_workers=args.build_workers,
        )
        log(f"loaded: {result['load']}")

        texts = [json.loads(line)["query"] for line in QRELS.read_text().splitlines() if line]
        q = Queries(url, index, texts, [])
        t0 = time.perf_counter()
        q.vectors = [q.embedder.embed_query(t) for t in texts]
        result["queries"] = len(texts)
        result["query_embedding_ms_mean"] = round((time.perf_counter() - t0) * 1000 / len(texts), 2)

        log(f"1. latency ({args.rounds} rounds x {len(texts)} queries x 5 variants)")
        result["latency"] = await measure_latency(q, args.rounds, default_ef)
        log("2. recall@10 against the exact scan")
        result["recall"] = await measure_recall(q, args.ef, args.rounds)
        log("4. reranking 50 candidates")
        result["rerank"] = await measure_rerank(q, tmp, args.rounds)
        if args.explain:
            from tests.benchmarks._retrieval_explain import explain_slowest

            result["explain"] = await explain_slowest(q, default_ef)
        await get_engine(url).dispose()
    finally:
        if env is not None:
            await env.shutdown()
        stop_postgres(pgdata)
        if not args.keep_tmp:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            log(f"kept {tmp}")
    return result


def report(r: dict[str, Any]) -> str:
    lines = [
        f"machine: {r['machine']}",
        f"corpus: {r['corpus']}",
    ]
    if "load" in r:
        ld = r["load"]
        lines.append(
            f"index: {ld['rows']:,} rows = {ld['real_chunks']:,} real chunks x {ld['replicas']}"
            f" replicas; COPY {ld['copy_seconds']} s, HNSW build {ld['hnsw_build_seconds']} s"
            f" ({ld['build_settings']['maintenance_work_mem']}, "
            f"{ld['build_settings']['max_parallel_maintenance_workers']} parallel worker(s)),"
            f" VACUUM ANALYZE {ld['vacuum_analyze_seconds']} s; table {ld['table_total_mb']} MB,"
            f" HNSW {ld['hnsw_mb']} MB, GIN(tsv) {ld['gin_tsv_mb']} MB"
        )
    if "latency" in r:
        lines.append(
            f"\n1. latency, top-10, {r['queries']} queries, ef_search="
            f"{r['settings_hnsw_ef_search']} (query embedding alone: "
            f"{r['query_embedding_ms_mean']} ms mean)"
        )
        lines.append(f"{'variant':<16}{'P50 ms':>9}{'P95 ms':>9}{'max ms':>9}  stage P50s")
        for name, v in r["latency"].items():
            lines.append(
                f"{name:<16}{v['p50_ms']:>9}{v['p95_ms']:>9}{v['max_ms']:>9}  {v['stages_p50_ms']}"
            )
        p95 = r["latency"]["hybrid"]["p95_ms"]
        lines.append(
            f"hybrid P95 without embedding: {p95} ms; target {TARGET_HYBRID_P95_MS} ms: "
            f"target/actual {TARGET_HYBRID_P95_MS / p95:.2f} ("
            f"{'met' if p95 <= TARGET_HYBRID_P95_MS else 'missed'})"
        )
    if "recall" in r:
        rc = r["recall"]
        ex = rc["exact_scan"]
        lines.append(
            f"\n2. recall@10 vs exact scan (exact P50 {ex['p50_ms']} ms, P95 {ex['p95_ms']})"
        )
        lines.append(
            f"{'ef_search':<10}{'recall':>8}{'min':>6}{'<0.9':>6}{'P50 ms':>9}{'P95 ms':>9}"
            f"{'exact/HNSW P50':>16}"
        )
        for ef, v in rc["ef_search"].items():
            lines.append(
                f"{ef:<10}{v['recall_at_10']:>8}{v['recall_min']:>6}{v['queries_below_0.9']:>6}"
                f"{v['p50_ms']:>9}{v['p95_ms']:>9}{ex['p50_ms'] / v['p50_ms']:>15.1f}x"
            )
        lines.append(
            f"smallest ef_search with recall >= 0.95: {rc['smallest_ef_with_recall_0.95']}"
        )
    if "ingestion" in r:
        ing = r["ingestion"]
        lines.append(
            f"\n3. ingestion: {ing['pages']} pages -> {ing['chunks']} chunks "
            f"({ing['tokens_mean']} tokens mean, {ing['duplicates']} near-duplicates dropped, "
            f"{ing['errors']} errors) in {ing['workflow_seconds']} s: "
            f"{ing['workflow_chunks_per_s']} chunks/s; raw embed_long on the same texts "
            f"{ing['baseline_seconds']} s: {ing['baseline_chunks_per_s']} chunks/s; "
            f"ratio {ing['ratio']} (target >= {TARGET_INGEST_RATIO})"
        )
        for stage, seconds in ing["where"].items():
            lines.append(f"    {stage:<72}{seconds:>8} s")
    if "rerank" in r:
        rr = r["rerank"]
        lines.append(
            f"\n4. rerank 50 real candidates (tiny cross-encoder): {rr['real_candidates_rerank']};"
            f" hybrid+rerank total {rr['real_candidates_total_hybrid_with_rerank']}; synthetic "
            f"50 x ~100 words: {rr['synthetic_50x100_words_ms']}"
        )
    if "explain" in r:
        lines.append("\nEXPLAIN ANALYZE of the slowest hybrid query:")
        lines.append(r["explain"])
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--chunks", type=int, default=100_000, help="rows in the index")
    parser.add_argument(
        "--real-chunks",
        type=int,
        default=20_000,
        help="real chunks to embed (whole pages, at least this many; 0: every page)",
    )
    parser.add_argument("--rounds", type=int, default=3, help="measured passes per variant")
    parser.add_argument(
        "--ef", type=lambda s: [int(x) for x in s.split(",")], default=[40, 64, 100, 200]
    )
    parser.add_argument("--ingest-pages", type=int, default=60)
    parser.add_argument("--no-ingest", action="store_true")
    parser.add_argument(
        "--cache-dir",
        default=str(Path(tempfile.gettempdir()) / "promptops-bench-cache" / "retrieval"),
    )
    parser.add_argument("--no-cache", action="store_true")
    parser.add_argument("--build-workers", type=int, default=1)
    parser.add_argument("--explain", action="store_true")
    parser.add_argument("--keep-tmp", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    # The Temporal dev server inherits this process's stdout and prints a banner: send it (and
    # anything else the servers print) to stderr, so stdout carries only the result.
    sys.stdout.flush()
    saved_stdout = os.dup(1)
    os.dup2(2, 1)
    try:
        result = asyncio.run(bench(args))
    finally:
        sys.stdout.flush()
        os.dup2(saved_stdout, 1)
        os.close(saved_stdout)
    result["wall_seconds"] = round(time.perf_counter() - t0, 1)
    if args.json:
        json.dump(result, sys.stdout, indent=2, default=str)
        print()
    else:
        print(report(result))
        print(f"\nwall time: {result['wall_seconds']} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
