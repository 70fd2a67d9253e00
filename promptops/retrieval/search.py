"""Retrieval queries: dense, keyword and hybrid search, then reranking, the score threshold and
MMR, over one index of one tenant.

Order of operations (each step optional except the first):

1. candidates: ``dense`` (HNSW, cosine), ``keyword`` (full text, ``ts_rank_cd``) or ``hybrid``
   (both lists fused by reciprocal rank fusion, Cormack et al. 2009), ``candidates`` of each;
2. rerank the candidates with a cross-encoder (its score replaces the first-stage score);
3. drop hits under ``score_threshold``: after reranking, on the score the caller sees (a
   threshold on first-stage scores would discard what the reranker would have promoted);
4. MMR (Carbonell & Goldstein 1998) picks ``top_k`` diverse hits among the rest, else the
   ``top_k`` best.

Used directly by the API and, through an activity, by workflows.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np
from numpy.typing import NDArray

from promptops.db.models import RetrievalIndex
from promptops.db.repositories.retrieval import ChunkHit, ChunkView, RetrievalRepository
from promptops.errors import InvalidInput
from promptops.retrieval.embedding_models import PassageEmbedder
from promptops.retrieval.fusion import maximal_marginal_relevance, reciprocal_rank_fusion

__all__ = [
    "MODES",
    "Hit",
    "Reranker",
    "RetrievalRequest",
    "RetrievalResult",
    "retrieve",
    "validate_filters",
]

Mode = Literal["dense", "keyword", "hybrid"]
MODES: tuple[str, ...] = ("dense", "keyword", "hybrid")

_SCALAR_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
}


class Reranker(Protocol):
    def score(self, query: str, passages: list[str], batch_size: int = 32) -> NDArray[Any]: ...


@dataclass(frozen=True)
class RetrievalRequest:
    """``top_k`` hits (1..100) for ``query`` in ``mode``; ``filters``: metadata field -> value
    or list of values (any of them), fields of the index's metadata schema; ``mmr_lambda``
    (0..1, 1 = pure relevance) turns MMR on; ``rerank`` needs a configured cross-encoder;
    ``candidates``: first-stage list length per search (default ``max(4 * top_k, 50)``)."""

    query: str
    mode: Mode = "hybrid"
    top_k: int = 10
    filters: Mapping[str, Any] | None = None
    mmr_lambda: float | None = None
    rerank: bool = False
    score_threshold: float | None = None
    candidates: int | None = None
    rrf_k: int = 60
    ef_search: int = 100


@dataclass(frozen=True)
class Hit:
    """One result: ``score`` is the final score (cosine, ``ts_rank_cd``, RRF or the
    reranker's, by what ran last); ``ranks`` the 1-based rank in each first-stage list."""

    chunk_id: uuid.UUID
    score: float
    document_id: uuid.UUID
    source: str
    title: str
    heading_path: tuple[str, ...]
    anchor: str | None
    text: str
    token_count: int
    metadata: dict[str, Any]
    ranks: dict[str, int] = field(default_factory=dict)
    rerank_score: float | None = None


@dataclass(frozen=True)
class RetrievalResult:
    """Hits best first, and where the time went (milliseconds: ``embed``, ``dense``,
    ``keyword``, ``fetch``, ``rerank``, ``total``)."""

    hits: list[Hit]
    mode: str
    embedding_model: str
    timings_ms: dict[str, float]
    candidates: int


def validate_filters(index: RetrievalIndex, filters: Mapping[str, Any] | None) -> None:
    """Check ``filters`` against the index's metadata schema.

    Raises:
        InvalidInput: naming ``filters.<field>`` for an undeclared field or a value of the
            wrong type.
    """
    schema: dict[str, Any] = index.metadata_schema or {}
    for name, value in (filters or {}).items():
        if name not in schema:
            raise InvalidInput(
                f"filters.{name}: not a metadata field of index {index.name!r} "
                f"(declared: {sorted(schema) or 'none'})",
                field=f"filters.{name}",
            )
        values = value if isinstance(value, list) else [value]
        if not values:
            raise InvalidInput(
                f"filters.{name}: empty list matches nothing", field=f"filters.{name}"
            )
        kinds = _SCALAR_TYPES.get(str(schema[name]), (str, int, float, bool))
        for v in values:
            bad_bool = isinstance(v, bool) and bool not in kinds
            if bad_bool or not isinstance(v, kinds):
                raise InvalidInput(
                    f"filters.{name}: {v!r} is not a {schema[name]}", field=f"filters.{name}"
                )


def _validate(req: RetrievalRequest) -> None:
    if req.mode not in MODES:
        raise InvalidInput(f"mode must be one of {list(MODES)}", field="mode")
    if not req.query.strip():
        raise InvalidInput("query must not be empty", field="query")
    if not 1 <= req.top_k <= 100:
        raise InvalidInput("top_k must be in 1..100", field="top_k")
    if req.mmr_lambda is not None and not 0.0 <= req.mmr_lambda <= 1.0:
        raise InvalidInput("mmr_lambda must be in [0, 1]", field="mmr_lambda")
    if req.candidates is not None and not req.top_k <= req.candidates <= 1000:
        raise InvalidInput("candidates must be in top_k..1000", field="candidates")


async def retrieve(
    repo: RetrievalRepository,
    index: RetrievalIndex,
    req: RetrievalRequest,
    *,
    embedder: PassageEmbedder | None,
    reranker: Reranker | None = None,
    query_vector: NDArray[np.float32] | None = None,
) -> RetrievalResult:
    """Run ``req`` on ``index`` (see the module docstring for the order of operations).

    ``query_vector``: the query's embedding when the caller has it (else ``embedder`` makes
    it; dense and hybrid need one of them).

    Raises:
        InvalidInput: a bad parameter or filter (``field`` names it), ``rerank`` without a
            reranker.
    """
    _validate(req)
    validate_filters(index, req.filters)
    if req.rerank and reranker is None:
        raise InvalidInput(
            "rerank: no cross-encoder is configured (set PROMPTOPS_RERANKER_PATH to a "
            "directory with model.onnx and tokenizer.json)",
            field="rerank",
        )
    started = time.perf_counter()
    timings: dict[str, float] = {}
    n = req.candidates or max(4 * req.top_k, 50)
    if req.rerank or req.mmr_lambda is not None:
        first = n
    else:
        first = req.top_k if req.mode != "hybrid" else n

    lists: dict[str, list[ChunkHit]] = {}
    vector = query_vector
    if req.mode in ("dense", "hybrid"):
        if vector is None:
            if embedder is None:
                raise InvalidInput("this query needs an embedding of the query", field="mode")
            t = time.perf_counter()
            vector = embedder.embed_query(req.query)
            timings["embed"] = (time.perf_counter() - t) * 1000
        t = time.perf_counter()
        lists["dense"] = await repo.dense_search(
            index, vector, first, filters=req.filters, ef_search=req.ef_search
        )
        timings["dense"] = (time.perf_counter() - t) * 1000
    if req.mode in ("keyword", "hybrid"):
        t = time.perf_counter()
        lists["keyword"] = await repo.keyword_search(index, req.query, first, filters=req.filters)
        timings["keyword"] = (time.perf_counter() - t) * 1000

    ranks: dict[uuid.UUID, dict[str, int]] = {}
    for name, hits in lists.items():
        for rank, h in enumerate(hits, start=1):
            ranks.setdefault(h.chunk_id, {})[name] = rank
    if req.mode == "hybrid":
        fused = reciprocal_rank_fusion(
            [
                [str(h.chunk_id) for h in lists["dense"]],
                [str(h.chunk_id) for h in lists["keyword"]],
            ],
            k=req.rrf_k,
        )
        ordered = [(uuid.UUID(cid), score) for cid, score in fused[:n]]
    else:
        ordered = [(h.chunk_id, h.score) for h in lists[req.mode]]

    t = time.perf_counter()
    need_vectors = req.mmr_lambda is not None
    views = await repo.chunks(index, [cid for cid, _ in ordered], with_embeddings=need_vectors)
    timings["fetch"] = (time.perf_counter() - t) * 1000
    ordered = [(cid, s) for cid, s in ordered if cid in views]

    rerank_scores: dict[uuid.UUID, float] = {}
    if req.rerank and reranker is not None and ordered:
        t = time.perf_counter()
        scores = reranker.score(req.query, [views[cid].text for cid, _ in ordered])
        rerank_scores = {cid: float(s) for (cid, _), s in zip(ordered, scores, strict=True)}
        ordered = sorted(
            ((cid, rerank_scores[cid]) for cid, _ in ordered), key=lambda x: (-x[1], str(x[0]))
        )
        timings["rerank"] = (time.perf_counter() - t) * 1000

    if req.score_threshold is not None:
        ordered = [(cid, s) for cid, s in ordered if s >= req.score_threshold]

    if req.mmr_lambda is not None and ordered:
        picked = _mmr(ordered, views, vector, req.top_k, req.mmr_lambda)
        ordered = [ordered[i] for i in picked]
    ordered = ordered[: req.top_k]

    found = [
        _hit(views[cid], score, ranks.get(cid, {}), rerank_scores.get(cid))
        for cid, score in ordered
    ]
    timings["total"] = (time.perf_counter() - started) * 1000
    return RetrievalResult(
        hits=found,
        mode=req.mode,
        embedding_model=index.embedding_model,
        timings_ms={k: round(v, 3) for k, v in timings.items()},
        candidates=len(ranks),
    )


def _mmr(
    ordered: list[tuple[uuid.UUID, float]],
    views: Mapping[uuid.UUID, ChunkView],
    query_vector: NDArray[np.float32] | None,
    k: int,
    lambda_mult: float,
) -> list[int]:
    """MMR over the ranked candidates. Relevance is the candidates' final scores min-max
    scaled to [0, 1] (so RRF, ``ts_rank_cd`` and reranker scores, on other scales than cosine,
    weigh against the cosine redundancy term on equal terms)."""
    vectors = np.stack([np.asarray(views[cid].embedding, dtype=np.float32) for cid, _ in ordered])
    scores = np.array([s for _, s in ordered], dtype=np.float64)
    span = float(scores.max() - scores.min())
    relevance = (scores - scores.min()) / span if span > 0 else np.ones_like(scores)
    query = (
        np.asarray(query_vector, dtype=np.float32)
        if query_vector is not None
        else vectors.mean(axis=0)
    )
    return maximal_marginal_relevance(
        query, vectors, k, lambda_mult=lambda_mult, relevance=relevance.astype(np.float32)
    )


def _hit(view: ChunkView, score: float, ranks: dict[str, int], rerank: float | None) -> Hit:
    return Hit(
        chunk_id=view.chunk_id,
        score=float(score),
        document_id=view.document_id,
        source=view.source,
        title=view.title,
        heading_path=view.heading_path,
        anchor=view.anchor,
        text=view.text,
        token_count=view.token_count,
        metadata=view.metadata,
        ranks=dict(ranks),
        rerank_score=rerank,
    )
