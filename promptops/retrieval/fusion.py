"""Rank fusion and diversification of retrieved candidates: RRF and MMR.

Pure functions over ids and vectors; the database queries that produce the rankings and the
embeddings live elsewhere.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["maximal_marginal_relevance", "reciprocal_rank_fusion"]


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[str]],
    k: int = 60,
    weights: Sequence[float] | None = None,
) -> list[tuple[str, float]]:
    """Fuse several rankings of document ids with Reciprocal Rank Fusion.

    Formula (Cormack, Clarke & Büttcher, "Reciprocal Rank Fusion outperforms Condorcet and
    individual Rank Learning Methods", SIGIR 2009)::

        score(d) = sum_i w_i / (k + rank_i(d))

    with ``rank_i(d)`` the 1-based position of ``d`` in ranking ``i``; a ranking that does not
    contain ``d`` adds nothing. ``w_i = 1`` gives the paper's unweighted RRF; weights are the
    usual extension for trusting one retriever more (e.g. dense vs. BM25). ``k = 60`` is the
    paper's constant. An id repeated inside one ranking counts once, at its best position.

    Args:
        rankings: One sequence of ids per retriever, best first.
        k: Rank offset, ``>= 0``; larger values flatten the advantage of top ranks.
        weights: One finite weight ``>= 0`` per ranking; default all 1.

    Returns:
        ``(id, score)`` pairs, best first. Equal scores are ordered by the best 1-based rank
        the id reached in any ranking, then by id (ascending), so the output is
        deterministic. Empty when no ranking holds an id.

    Raises:
        ValueError: ``k`` negative; ``weights`` of another length than ``rankings``, or
            holding a negative or non-finite value.
        TypeError: A ranking is a single ``str`` (it would be read as characters).
    """
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    if weights is None:
        weight_list = [1.0] * len(rankings)
    else:
        weight_list = [float(w) for w in weights]
        if len(weight_list) != len(rankings):
            raise ValueError(f"weights has {len(weight_list)} values for {len(rankings)} rankings")
        for w in weight_list:
            if not math.isfinite(w) or w < 0:
                raise ValueError(f"weights must be finite and >= 0, got {w}")

    scores: dict[str, float] = {}
    best_rank: dict[str, int] = {}
    for ranking, weight in zip(rankings, weight_list, strict=True):
        if isinstance(ranking, str):
            raise TypeError("each ranking must be a sequence of ids, not a single string")
        seen: set[str] = set()
        for rank, doc_id in enumerate(ranking, start=1):
            if doc_id in seen:
                continue
            seen.add(doc_id)
            scores[doc_id] = scores.get(doc_id, 0.0) + weight / (k + rank)
            if rank < best_rank.get(doc_id, rank + 1):
                best_rank[doc_id] = rank
    ordered = sorted(scores, key=lambda d: (-scores[d], best_rank[d], d))
    return [(doc_id, scores[doc_id]) for doc_id in ordered]


def _unit_rows(matrix: NDArray[np.float64]) -> NDArray[np.float64]:
    """Rows scaled to unit L2 norm; all-zero rows stay zero (cosine 0 with everything)."""
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    unit: NDArray[np.float64] = matrix / np.where(norms > 0.0, norms, 1.0)
    return unit


def maximal_marginal_relevance(
    query: NDArray[np.float32],
    candidates: NDArray[np.float32],
    k: int,
    lambda_mult: float = 0.5,
    relevance: NDArray[Any] | None = None,
) -> list[int]:
    """Pick ``k`` candidates that are relevant to the query but not redundant with each other.

    Greedy Maximal Marginal Relevance (Carbonell & Goldstein, "The Use of MMR,
    Diversity-Based Reranking for Reordering Documents and Producing Summaries", SIGIR 1998):
    with ``S`` the candidates selected so far, each step adds::

        argmax_{d not in S} [ lambda * sim(q, d) - (1 - lambda) * max_{s in S} sim(d, s) ]

    where ``sim`` is the cosine similarity (vectors are L2-normalised here, whatever their
    norm; a zero vector has similarity 0 to everything) and the max over an empty ``S`` is 0,
    so the first pick is the most relevant candidate. ``lambda = 1`` is pure relevance order,
    ``lambda = 0`` pure diversity. Equal marginal scores go to the lowest index. Cost
    ``O(k * n * dim)``.

    Args:
        query: Query embedding, shape ``(dim,)`` or ``(1, dim)``.
        candidates: Candidate embeddings, shape ``(n, dim)``.
        k: How many to select, ``>= 0``; at most ``n`` are returned.
        lambda_mult: Trade-off ``lambda`` in ``[0, 1]``.
        relevance: Optional ``(n,)`` scores that replace ``sim(q, d)`` (e.g. cross-encoder
            scores put through a sigmoid, so they live on the cosine's scale); ``query`` is
            then only checked for shape.

    Returns:
        Indices into ``candidates`` in selection order (``min(k, n)`` of them).

    Raises:
        ValueError: Naming the parameter: ``lambda_mult`` outside ``[0, 1]``; ``k < 0``;
            ``query`` / ``candidates`` / ``relevance`` of incompatible shapes; a non-finite
            value in any of them.
    """
    if not 0.0 <= lambda_mult <= 1.0:
        raise ValueError(f"lambda_mult must be in [0, 1], got {lambda_mult}")
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    cand = np.asarray(candidates, dtype=np.float64)
    if cand.ndim != 2:
        raise ValueError(f"candidates must have shape (n, dim), got {cand.shape}")
    q = np.asarray(query, dtype=np.float64)
    if q.ndim == 2 and q.shape[0] == 1:
        q = q[0]
    if q.ndim != 1 or q.shape[0] != cand.shape[1]:
        raise ValueError(
            f"query must have shape ({cand.shape[1]},) to match candidates {cand.shape}, "
            f"got {np.shape(query)}"
        )
    if not np.all(np.isfinite(cand)):
        raise ValueError("candidates holds a non-finite value")
    if not np.all(np.isfinite(q)):
        raise ValueError("query holds a non-finite value")
    n = cand.shape[0]
    unit = _unit_rows(cand)
    if relevance is None:
        rel = unit @ _unit_rows(q[None, :])[0]
    else:
        rel = np.asarray(relevance, dtype=np.float64)
        if rel.shape != (n,):
            raise ValueError(f"relevance must have shape ({n},), got {rel.shape}")
        if not np.all(np.isfinite(rel)):
            raise ValueError("relevance holds a non-finite value")

    selected: list[int] = []
    if n == 0 or k == 0:
        return selected
    # Highest similarity of each candidate to the selected set, updated once per pick; it may
    # be negative, so it starts at -inf and the empty set's 0 is applied separately.
    redundancy = np.full(n, -np.inf, dtype=np.float64)
    available = np.ones(n, dtype=bool)
    for _ in range(min(k, n)):
        penalty = redundancy if selected else np.zeros(n, dtype=np.float64)
        marginal = lambda_mult * rel - (1.0 - lambda_mult) * penalty
        marginal[~available] = -np.inf
        pick = int(np.argmax(marginal))
        selected.append(pick)
        available[pick] = False
        redundancy = np.maximum(redundancy, unit @ unit[pick])
    return selected
