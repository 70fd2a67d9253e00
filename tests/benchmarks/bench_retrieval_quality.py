"""Retrieval quality on the Python 3.11 docs: dense, keyword and hybrid against the qrels.

    python -m tests.benchmarks.bench_retrieval_quality [--state DIR] [--min-tokens 300]
        [--max-tokens 800] [--overlap 0.12] [--top-k 10] [--granularity page] [--json]

Ingests every HTML page of Debian's ``python3.11-doc`` (``/usr/share/doc/python3.11/html``)
except ``genindex*``, ``search.html``, ``py-modindex.html`` and the ``_static``, ``_sources``,
``_images`` and ``_downloads`` folders into one index of the embedded Postgres
(``start_postgres`` in ``--state``, kept between runs: an unchanged page is skipped, so a second
run or an interrupted one only queries or resumes), through the library the ingestion activity
uses (parse, chunk, near-duplicate filter, all-MiniLM-L6-v2 int8 ONNX, one transaction per
page). Then each of the 74 questions of ``tests/data/python_docs_qrels.jsonl`` runs in each
mode (:func:`promptops.retrieval.evaluate.evaluate_query`, the code the evaluation activity
runs) and the per-query values are summarised as the evaluation workflow does (means with 95%
bootstrap intervals; paired bootstrap differences of hybrid against each single mode).

Page level by default: anchor keys fold into their page with the highest grade
(:mod:`promptops.evaluation.qrels`). Takes ~30-60 min the first time on 2 cores (embedding),
about a minute afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from sqlalchemy import select

from promptops.db.models import Organization, Project, RetrievalIndex
from promptops.db.repositories.retrieval import RetrievalRepository
from promptops.db.session import get_session_factory
from promptops.evaluation.qrels import RANKING_METRICS, example_qrels
from promptops.evaluation.summary import ExampleRow, summarize
from promptops.retrieval.chunking import ChunkingSettings, HFTokenCounter
from promptops.retrieval.dedup import NearDuplicateFilter
from promptops.retrieval.embedding_models import (
    DEFAULT_EMBEDDING_MODEL,
    get_embedding_model,
    get_passage_embedder,
)
from promptops.retrieval.evaluate import evaluate_query
from promptops.retrieval.ingest import attach_embeddings, content_hash, prepare_document
from promptops.retrieval.search import RetrievalRequest
from promptops.retrieval.sources import list_documents, validate_source
from tests.benchmarks._common import ROOT, machine

DOCS = Path("/usr/share/doc/python3.11/html")
QRELS = ROOT / "tests" / "data" / "python_docs_qrels.jsonl"
EXCLUDE = [
    "genindex*",
    "search.html",
    "py-modindex.html",
    "_static/*",
    "_sources/*",
    "_images/*",
    "_downloads/*",
]
MODES = ("dense", "keyword", "hybrid")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


async def ensure_index(url: str, chunking: ChunkingSettings) -> RetrievalIndex:
    """The benchmark's index for these chunking settings (created on first use)."""
    sessions = get_session_factory(url)
    name = f"python-docs-{chunking.min_tokens}-{chunking.max_tokens}-{chunking.overlap}"
    async with sessions() as session, session.begin():
        org = (
            await session.execute(select(Organization).where(Organization.name == "bench"))
        ).scalar_one_or_none()
        if org is None:
            org = Organization(id=uuid.uuid4(), name="bench")
            session.add(org)
            await session.flush()
            session.add(Project(id=uuid.uuid4(), organization_id=org.id, name="bench"))
            await session.flush()
        project = (
            await session.execute(select(Project).where(Project.organization_id == org.id))
        ).scalar_one()
        repo = RetrievalRepository(session)
        found = await repo.get_index_by_name(org.id, name, project.id)
        if found:
            return found[0]
        spec = get_embedding_model(DEFAULT_EMBEDDING_MODEL)
        return await repo.add_index(
            RetrievalIndex(
                id=uuid.uuid4(),
                project_id=project.id,
                organization_id=org.id,
                name=name,
                description="Python 3.11 docs (bench_retrieval_quality)",
                embedding_model=spec.name,
                embedding_model_version=spec.version,
                dimension=spec.dimension,
                chunking={
                    "min_tokens": chunking.min_tokens,
                    "max_tokens": chunking.max_tokens,
                    "overlap": chunking.overlap,
                },
                metadata_schema={"section": "string", "media_type": "string"},
            )
        )


async def ingest(url: str, index: RetrievalIndex, chunking: ChunkingSettings) -> dict[str, Any]:
    """Ingest the corpus page by page; pages already stored with the same hash are skipped."""
    sessions = get_session_factory(url)
    definition = validate_source(
        "folder", {"path": str(DOCS), "include": ["*.html"], "exclude": EXCLUDE}
    )
    names = list_documents("folder", definition)
    async with sessions() as session, session.begin():
        repo = RetrievalRepository(session)
        source = await repo.upsert_source(index.id, "bench", "folder", definition)
        known = await repo.document_hashes(index.id, names)
        dedup = NearDuplicateFilter()
        for chunk, _document, signature in await repo.signatures(index.id):
            dedup.keep(str(chunk), dedup.from_bytes(signature))
    embedder = get_passage_embedder(index.embedding_model)
    counter = HFTokenCounter()
    stats = {"pages": len(names), "ingested": 0, "skipped": 0, "chunks": 0, "embed_s": 0.0}
    started = time.perf_counter()
    for i, name in enumerate(names, start=1):
        data = (DOCS / name).read_bytes()
        digest = content_hash(
            data, model_version=index.embedding_model_version, chunking=index.chunking
        )
        if known.get(name) == digest:
            stats["skipped"] += 1
            continue
        doc = prepare_document(
            index_id=index.id,
            organization_id=index.organization_id,
            source_id=source.id,
            kind="folder",
            source=name,
            data=data,
            media_type=None,
            digest=digest,
            embedding_model=index.embedding_model,
            counter=counter,
            chunking=chunking,
            metadata={},
            dedup=dedup,
            ttl_seconds=None,
            now=datetime.now(UTC),
        )
        t0 = time.perf_counter()
        vectors = await asyncio.to_thread(embedder.embed_passages, doc.texts)
        stats["embed_s"] += time.perf_counter() - t0
        attach_embeddings(doc, vectors)
        async with sessions() as session, session.begin():
            await RetrievalRepository(session).replace_document(doc.document, doc.chunks)
        stats["ingested"] += 1
        stats["chunks"] += len(doc.chunks)
        if i % 25 == 0:
            log(f"  {i}/{len(names)} pages, {time.perf_counter() - started:.0f} s")
    async with sessions() as session:
        stats["documents_in_index"], stats["chunks_in_index"] = await RetrievalRepository(
            session
        ).index_counts(index.id)
    stats["seconds"] = round(time.perf_counter() - started, 1)
    stats["embed_s"] = round(stats["embed_s"], 1)
    return stats


async def evaluate(
    url: str, index: RetrievalIndex, top_k: int, granularity: str
) -> tuple[dict[str, Any], dict[str, list[ExampleRow]]]:
    sessions = get_session_factory(url)
    questions = [json.loads(line) for line in QRELS.read_text().splitlines() if line.strip()]
    embedder = get_passage_embedder(index.embedding_model)
    rows: dict[str, list[ExampleRow]] = {mode: [] for mode in MODES}
    for q in questions:
        qrels = example_qrels(q["relevant"], granularity)
        for mode in MODES:
            async with sessions() as session:
                outcome = await evaluate_query(
                    RetrievalRepository(session),
                    index,
                    RetrievalRequest(query=q["query"], mode=cast(Any, mode), top_k=top_k),
                    qrels,
                    granularity=granularity,
                    embedder=embedder if mode != "keyword" else None,
                )
            rows[mode].append(
                ExampleRow(
                    example_id=q["id"], values=outcome.metrics, latency_ms=outcome.latency_ms
                )
            )
    # Hybrid first: the comparisons are each other mode minus hybrid.
    ordered = {m: rows[m] for m in ("hybrid", "dense", "keyword")}
    summary = summarize(ordered, [*RANKING_METRICS, "latency_ms"])
    # Means per query kind of the qrels file (exact API names, paraphrases, mixed).
    kinds = {q["id"]: q["kind"] for q in questions}
    by_kind: dict[str, dict[str, dict[str, float]]] = {}
    for mode, mode_rows in ordered.items():
        for kind in sorted(set(kinds.values())):
            mine = [r for r in mode_rows if kinds[r.example_id] == kind]
            by_kind.setdefault(kind, {})[mode] = {
                name: round(sum(r.values[name] for r in mine) / len(mine), 4)
                for name in ("recall@10", "mrr", "ndcg@10")
            } | {"n": len(mine)}
    summary["by_kind"] = by_kind
    return summary, rows


def report(result: dict[str, Any]) -> None:
    summary = result["summary"]
    names = ["recall@1", "recall@5", "recall@10", "mrr", "ndcg@10"]
    log("")
    header = f"{'mode':<9}" + "".join(f"{n:>24}" for n in names) + f"{'p50 ms':>9}"
    print(header)
    for v in summary["versions"]:
        cells = "".join(
            f"{m['value']:>8.3f} [{m['ci_low']:.3f},{m['ci_high']:.3f}]"
            for m in (v["metrics"][n] for n in names)
        )
        print(f"{v['version_id']:<9}{cells}{v['latency_ms']['p50']:>9.1f}")
    for kind, modes in summary["by_kind"].items():
        cells = "  ".join(
            f"{mode} R@10 {v['recall@10']:.3f} MRR {v['mrr']:.3f} nDCG@10 {v['ndcg@10']:.3f}"
            for mode, v in modes.items()
        )
        print(f"{kind} (n={next(iter(modes.values()))['n']:.0f}): {cells}")
    for c in summary["comparisons"]:
        parts = ", ".join(
            f"{n} {c['metrics'][n]['diff']:+.3f} [{c['metrics'][n]['ci_low']:+.3f},"
            f"{c['metrics'][n]['ci_high']:+.3f}] p={c['metrics'][n]['p_value']:.3f}"
            for n in ("recall@10", "mrr", "ndcg@10")
        )
        print(f"{c['candidate']} - {c['baseline']}: {parts}")


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    from promptops.db.migrate import upgrade_head
    from promptops.devstack.postgres import start_postgres

    args.state.mkdir(parents=True, exist_ok=True)
    args.state.chmod(0o755)  # pgserver runs postgres as user "pgserver" under root
    url = await asyncio.to_thread(start_postgres, args.state / "pgdata", database="bench")
    await asyncio.to_thread(upgrade_head, url)
    chunking = ChunkingSettings(args.min_tokens, args.max_tokens, args.overlap)
    index = await ensure_index(url, chunking)
    log(f"index {index.name} ({index.id}); ingesting {DOCS} ...")
    ingestion = await ingest(url, index, chunking)
    log(f"ingestion: {ingestion}")
    summary, _ = await evaluate(url, index, args.top_k, args.granularity)
    return {
        "machine": machine(),
        "index": index.name,
        "chunking": index.chunking,
        "top_k": args.top_k,
        "granularity": args.granularity,
        "queries": summary["versions"][0]["n"],
        "ingestion": ingestion,
        "summary": summary,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--state", type=Path, default=Path("/tmp/promptops-bench-retrieval"))
    parser.add_argument("--min-tokens", type=int, default=300)
    parser.add_argument("--max-tokens", type=int, default=800)
    parser.add_argument("--overlap", type=float, default=0.12)
    parser.add_argument("--top-k", type=int, default=10)
    parser.add_argument("--granularity", choices=["page", "anchor"], default="page")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not DOCS.is_dir():
        sys.exit(f"{DOCS} is missing: apt-get install python3.11-doc")
    result = asyncio.run(main_async(args))
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        report(result)


if __name__ == "__main__":
    main()
