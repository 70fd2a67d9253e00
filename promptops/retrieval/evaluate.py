"""One query of a retrieval evaluation: retrieve with a configuration, match the hits to the
example's qrels, score the ranking.

The evaluation activity (``evaluate_retrieval_chunk``) runs this for every example and
configuration; the retrieval-quality benchmark runs it directly. Matching rule and metrics:
:mod:`promptops.evaluation.qrels`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from promptops.db.models import RetrievalIndex
from promptops.db.repositories.retrieval import RetrievalRepository
from promptops.evaluation.qrels import RANKING_METRICS, RankedHit, ranking_keys, score_ranking
from promptops.retrieval.embedding_models import PassageEmbedder
from promptops.retrieval.search import Reranker, RetrievalRequest, retrieve

__all__ = ["QueryEvaluation", "evaluate_query"]


@dataclass(frozen=True)
class QueryEvaluation:
    """The outcome of one query: ``hits`` (``{"chunk_id", "source", "anchor", "score"}``,
    best first), ``ranking`` (the judged id each hit stands for, same order), ``metrics``
    (name -> per-query value in [0, 1]) and ``latency_ms`` (query embedding + retrieval,
    milliseconds, wall clock)."""

    hits: list[dict[str, Any]]
    ranking: list[str]
    metrics: dict[str, float]
    latency_ms: float


async def evaluate_query(
    repo: RetrievalRepository,
    index: RetrievalIndex,
    request: RetrievalRequest,
    qrels: Mapping[str, int],
    *,
    granularity: str = "page",
    embedder: PassageEmbedder | None,
    reranker: Reranker | None = None,
    metrics: Sequence[str] = RANKING_METRICS,
) -> QueryEvaluation:
    """Run ``request`` on ``index`` (:func:`promptops.retrieval.search.retrieve`; the query is
    embedded in a thread, off the event loop), then score its hits against ``qrels`` (from
    :func:`promptops.evaluation.qrels.example_qrels` at the same ``granularity``).

    Raises:
        promptops.errors.InvalidInput: what :func:`retrieve` raises for a bad request.
    """
    started = time.perf_counter()
    vector = None
    if request.mode != "keyword" and embedder is not None:
        vector = await asyncio.to_thread(embedder.embed_query, request.query)
    result = await retrieve(
        repo, index, request, embedder=embedder, reranker=reranker, query_vector=vector
    )
    latency_ms = (time.perf_counter() - started) * 1000
    ranked = [RankedHit(str(h.chunk_id), h.source, h.anchor) for h in result.hits]
    ranking = ranking_keys(ranked, qrels, granularity)
    return QueryEvaluation(
        hits=[
            {"chunk_id": str(h.chunk_id), "source": h.source, "anchor": h.anchor, "score": h.score}
            for h in result.hits
        ],
        ranking=ranking,
        metrics=score_ranking(ranking, qrels, metrics),
        latency_ms=round(latency_ms, 3),
    )
