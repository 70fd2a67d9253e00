"""Section 3 of the retrieval benchmark: chunks/s of the durable ingestion pipeline against the
raw embedding throughput of the same model on the same chunk texts, and where the time goes.

The pipeline is the tests' (tests/workflows/test_ingestion.py): ``IngestionWorkflow`` on a real
Temporal dev server and an in-process worker with ``IngestionActivities``, started through the
API app (``POST /retrieval/indexes/{id}/ingest``, a ``folder`` source, the index's default
chunking). Timed from the POST to the workflow's result.

Stage timers are wrappers installed around the functions the activity calls (the same objects,
only timed): reading a document, ``prepare_document`` (and inside it ``parse_document``,
``chunk_document`` and the MinHash filter's ``minhash``/``find``/``keep``), the filter's load,
``document_hashes`` and ``replace_document``; the embedding is the ``embed_seconds`` the
workflow reports. Activity run times and the rest come from the workflow's event history.

The baseline: ``Embedder.embed_long`` (a separate, warmed-up instance of the same int8 ONNX
model, default batch size) over the chunk texts the ingestion wrote, read back from the
database (``heading + "\\n\\n" + text``, i.e. :func:`promptops.retrieval.chunking.embedding_text`),
measured just before and just after the workflow; the ratio uses their mean.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import shutil
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from tests.benchmarks._retrieval_corpus import DOCS, doc_pages, log


class StageTimers:
    """Seconds and calls per stage, from wrappers patched onto modules and classes."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self._lock = threading.Lock()

    def _add(self, stage: str, seconds: float) -> None:
        with self._lock:
            self.seconds[stage] += seconds
            self.calls[stage] += 1

    def wrap(self, stage: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        if asyncio.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def timed_async(*args: Any, **kwargs: Any) -> Any:
                t0 = time.perf_counter()
                try:
                    return await fn(*args, **kwargs)
                finally:
                    self._add(stage, time.perf_counter() - t0)

            return timed_async

        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self._add(stage, time.perf_counter() - t0)

        return timed

    @contextlib.contextmanager
    def installed(self) -> Iterator[StageTimers]:
        import activities.ingestion.activities as acts
        from promptops.db.repositories.retrieval import RetrievalRepository
        from promptops.retrieval import ingest
        from promptops.retrieval.dedup import NearDuplicateFilter

        targets: list[tuple[Any, str, str]] = [
            (acts, "read_document", "read"),
            (acts, "prepare_document", "prepare (all)"),
            (ingest, "parse_document", "parse"),
            (ingest, "chunk_document", "chunk"),
            (NearDuplicateFilter, "minhash", "dedup"),
            (NearDuplicateFilter, "find", "dedup"),
            (NearDuplicateFilter, "keep", "dedup"),
            (acts.IngestionActivities, "_filter", "dedup filter load"),
            (RetrievalRepository, "document_hashes", "db: document hashes"),
            (RetrievalRepository, "replace_document", "db: replace_document"),
        ]
        saved = [(owner, name, owner.__dict__[name]) for owner, name, _ in targets]
        try:
            for owner, name, stage in targets:
                setattr(owner, name, self.wrap(stage, getattr(owner, name)))
            yield self
        finally:
            for owner, name, original in saved:
                setattr(owner, name, original)


def activity_runs(history: Any) -> dict[str, Any]:
    """Run seconds per activity type, time queued, and history time with no activity running
    (workflow tasks, scheduling), from the workflow's event history (server timestamps)."""
    from temporalio.api.enums.v1 import EventType

    def ts(e: Any) -> float:
        return float(e.event_time.seconds + e.event_time.nanos / 1e9)

    events = list(history.events)
    scheduled: dict[int, tuple[str, float]] = {}
    started: dict[int, float] = {}
    runs: dict[str, float] = defaultdict(float)
    count: dict[str, int] = defaultdict(int)
    queued = 0.0
    for ev in events:
        if ev.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            name = ev.activity_task_scheduled_event_attributes.activity_type.name
            scheduled[ev.event_id] = (name, ts(ev))
        elif ev.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            started[ev.activity_task_started_event_attributes.scheduled_event_id] = ts(ev)
        elif ev.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            sid = ev.activity_task_completed_event_attributes.scheduled_event_id
            name, t_sched = scheduled[sid]
            t_start = started.get(sid, t_sched)
            runs[name] += ts(ev) - t_start
            count[name] += 1
            queued += t_start - t_sched
    span = ts(events[-1]) - ts(events[0])
    return {
        "history_s": span,
        "run_s": dict(runs),
        "activities": dict(count),
        "queued_s": queued,
        "between_activities_s": span - sum(runs.values()),
    }


def pick_pages(count: int) -> list[str]:
    """``count`` pages spread evenly over the sorted docs (every k-th page)."""
    pages = doc_pages()
    step = max(1, len(pages) // count)
    return pages[::step][:count]


async def _chunk_texts(url: str, index_id: str) -> tuple[list[str], list[int]]:
    from sqlalchemy import text

    from promptops.db.session import get_session_factory

    async with get_session_factory(url)() as session:
        rows = await session.execute(
            text(
                "SELECT heading, text, cardinality(heading_path), token_count FROM retrieval_chunks"
                " WHERE index_id = :i ORDER BY document_id, ordinal"
            ),
            {"i": uuid.UUID(index_id)},
        )
        found = list(rows.tuples())
        return [f"{h}\n\n{t}" if n else t for h, t, n, _ in found], [c for *_, c in found]


def _baseline(texts: list[str]) -> float:
    from promptops.embeddings import Embedder

    embedder = Embedder()
    embedder.embed_long(texts[:32])  # load and warm up
    t0 = time.perf_counter()
    embedder.embed_long(texts)
    return time.perf_counter() - t0


async def ingestion_throughput(
    url: str, env: Any, api: Any, task_queue: str, tmp: Path, pages: int
) -> dict[str, Any]:
    """Ingest ``pages`` pages through the workflow (worker on ``task_queue``, started through
    ``api``) and embed the same chunk texts raw; the figures of section 3."""
    from temporalio.worker import Worker

    from activities.ingestion.activities import IngestionActivities
    from promptops.retrieval.embedding_models import get_passage_embedder
    from workflows.ingestion.workflow import IngestionWorkflow

    chosen = pick_pages(pages)
    root = tmp / "ingest-docs"
    for page in chosen:
        (root / page).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(DOCS / page, root / page)
    get_passage_embedder("all-MiniLM-L6-v2").embed_passages(["warm up"])  # model load

    project = (await api.post("/projects", json={"name": f"ingest-{uuid.uuid4().hex[:8]}"})).json()
    index = (
        await api.post("/retrieval/indexes", json={"project_id": project["id"], "name": "docs"})
    ).json()
    activities = IngestionActivities(url)
    timers = StageTimers()
    async with Worker(
        env.client,
        task_queue=task_queue,
        workflows=[IngestionWorkflow],
        activities=[
            activities.list_source_documents,
            activities.ingest_batch,
            activities.finish_ingestion,
        ],
    ):
        with timers.installed():
            log(f"ingesting {len(chosen)} pages through IngestionWorkflow")
            t0 = time.perf_counter()
            started = await api.post(
                f"/retrieval/indexes/{index['id']}/ingest",
                json={"source": {"kind": "folder", "path": str(root)}},
            )
            post_s = time.perf_counter() - t0
            handle = env.client.get_workflow_handle_for(IngestionWorkflow.run, started.json()["id"])
            progress = await handle.result()
            wall = time.perf_counter() - t0
        history = activity_runs(await handle.fetch_history())

    texts, tokens = await _chunk_texts(url, index["id"])
    log(f"raw embedding of the same {len(texts)} chunk texts (before and after)")
    before = await asyncio.to_thread(_baseline, texts)
    after = await asyncio.to_thread(_baseline, texts)
    baseline_s = (before + after) / 2

    chunks = progress.chunks_written
    embed = progress.embed_seconds
    stages = {k: round(v, 2) for k, v in sorted(timers.seconds.items())}
    batch_run = history["run_s"].get("ingest_batch", 0.0)
    accounted = sum(
        timers.seconds[k]
        for k in ("read", "prepare (all)", "dedup filter load")
        + ("db: document hashes", "db: replace_document")
    )
    return {
        "index_id": index["id"],
        "pages": len(chosen),
        "documents_added": progress.added,
        "errors": len(progress.errors),
        "chunks": chunks,
        "duplicates": progress.duplicates,
        "tokens_mean": round(sum(tokens) / max(1, len(tokens)), 1),
        "workflow_seconds": round(wall, 2),
        "workflow_chunks_per_s": round(chunks / wall, 2),
        "baseline_seconds": [round(before, 2), round(after, 2)],
        "baseline_chunks_per_s": round(len(texts) / baseline_s, 2),
        "ratio": round((chunks / wall) / (len(texts) / baseline_s), 3),
        "where": {
            "POST /ingest (start the workflow)": round(post_s, 2),
            "activity list_source_documents": round(
                history["run_s"].get("list_source_documents", 0.0), 2
            ),
            "activity ingest_batch (all)": round(batch_run, 2),
            "  embed (embed_seconds)": round(embed, 2),
            **{f"  {k}": v for k, v in stages.items()},
            "  rest of ingest_batch (sessions, commits, heartbeats)": round(
                batch_run - embed - accounted, 2
            ),
            "activity finish_ingestion": round(history["run_s"].get("finish_ingestion", 0.0), 2),
            "Temporal: queued + workflow tasks (history time without an activity)": round(
                history["between_activities_s"], 2
            ),
            "outside the history (start, result delivery)": round(wall - history["history_s"], 2),
        },
        "activities": history["activities"],
    }
