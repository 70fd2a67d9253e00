"""Ranking metrics for retrieval evaluation: P@k, recall@k, reciprocal rank, nDCG@k.

Definitions and edge cases follow trec_eval (NIST), as exposed by ir-measures' ``P@k``,
``R@k``, ``RR`` and ``nDCG@k`` through its pytrec_eval provider; tests/unit/test_ir_metrics.py
checks every function against it to 1e-9:

- A document is *relevant* when its label is ``>= 1`` (trec_eval's default relevance level);
  a plain collection of ids means label 1 for each. Unjudged documents count as label 0.
- ``ranked`` lists document ids best first. An id repeated in one ranking counts once, at
  its first position (a trec_eval run holds a document at most once per query).
- A run scored rather than ranked is ordered as trec_eval orders it: by score descending,
  equal scores by document id descending (:func:`ranking_from_scores`).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping, Sequence

__all__ = [
    "evaluate_run",
    "ndcg_at_k",
    "precision_at_k",
    "ranking_from_scores",
    "recall_at_k",
    "reciprocal_rank",
]

Relevance = Mapping[str, int] | Collection[str]


def _labels(relevant: Relevance) -> Mapping[str, int]:
    """Graded labels from a qrels mapping, or label 1 for each id of a plain collection."""
    if isinstance(relevant, str):
        raise TypeError("relevant must be a mapping or a collection of ids, not a single string")
    if isinstance(relevant, Mapping):
        return relevant
    return dict.fromkeys(relevant, 1)


def _unique(ranked: Sequence[str]) -> list[str]:
    """``ranked`` without repeats, each id at its first position."""
    if isinstance(ranked, str):
        raise TypeError("ranked must be a sequence of ids, not a single string")
    return list(dict.fromkeys(ranked))


def _check_k(k: int) -> None:
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")


def ranking_from_scores(scores: Mapping[str, float]) -> list[str]:
    """Document ids ordered as trec_eval ranks a scored run: score descending, ties by id
    descending (``strcmp`` order, which equals Python's code-point order for UTF-8).

    Args:
        scores: ``{doc_id: score}`` for one query.

    Returns:
        Ids, best first.
    """
    return sorted(scores, key=lambda d: (scores[d], d), reverse=True)


def precision_at_k(ranked: Sequence[str], relevant: Relevance, k: int) -> float:
    """P@k: relevant documents among the first ``k``, divided by ``k``.

    The denominator is ``k`` even when fewer than ``k`` documents were retrieved (trec_eval
    ``P_k``). Returns a value in ``[0, 1]``.

    Raises:
        ValueError: ``k < 1``.
        TypeError: ``ranked`` or ``relevant`` is a single string.
    """
    _check_k(k)
    labels = _labels(relevant)
    hits = sum(1 for d in _unique(ranked)[:k] if labels.get(d, 0) >= 1)
    return hits / k


def recall_at_k(ranked: Sequence[str], relevant: Relevance, k: int) -> float:
    """Recall@k: relevant documents among the first ``k``, divided by all relevant ones.

    0.0 when the qrels hold no relevant document (trec_eval ``recall_k``; ir-measures
    ``R@k``). This is the TREC recall, not "any relevant in the top k" (that is Success@k).
    Returns a value in ``[0, 1]``.

    Raises:
        ValueError: ``k < 1``.
        TypeError: ``ranked`` or ``relevant`` is a single string.
    """
    _check_k(k)
    labels = _labels(relevant)
    total = sum(1 for label in labels.values() if label >= 1)
    if total == 0:
        return 0.0
    hits = sum(1 for d in _unique(ranked)[:k] if labels.get(d, 0) >= 1)
    return hits / total


def reciprocal_rank(ranked: Sequence[str], relevant: Relevance) -> float:
    """1 / (1-based rank of the first relevant document); 0.0 if none is retrieved.

    The mean over queries is MRR (Voorhees, "The TREC-8 Question Answering Track Report",
    1999; trec_eval ``recip_rank``), which :func:`evaluate_run` reports as ``"RR"``.

    Raises:
        TypeError: ``ranked`` or ``relevant`` is a single string.
    """
    labels = _labels(relevant)
    for rank, doc_id in enumerate(_unique(ranked), start=1):
        if labels.get(doc_id, 0) >= 1:
            return 1.0 / rank
    return 0.0


def _dcg(gains: Iterable[int]) -> float:
    return sum(gain / math.log2(rank + 1) for rank, gain in enumerate(gains, start=1))


def ndcg_at_k(ranked: Sequence[str], relevant: Relevance, k: int) -> float:
    """nDCG@k (Järvelin & Kekäläinen, "Cumulated gain-based evaluation of IR techniques",
    ACM TOIS 20(4), 2002), in the trec_eval ``ndcg_cut_k`` / ir-measures ``nDCG@k`` form::

        DCG@k  = sum_{i=1..k} gain(d_i) / log2(i + 1),   gain = the qrels label (negatives 0)
        nDCG@k = DCG@k / IDCG@k

    with ``IDCG@k`` the DCG of the qrels' own labels sorted descending, cut at ``k`` (the
    ideal ranking comes from the judgements, not from the retrieved list). Linear gain, not
    the ``2^rel - 1`` variant of Burges et al. 2005. 0.0 when no label is positive.

    Args:
        ranked: Ids, best first.
        relevant: Graded labels ``{doc_id: label}``; a plain collection means label 1.
        k: Cutoff, ``>= 1``.

    Returns:
        A value in ``[0, 1]``.

    Raises:
        ValueError: ``k < 1``.
        TypeError: ``ranked`` or ``relevant`` is a single string.
    """
    _check_k(k)
    labels = _labels(relevant)
    ideal = _dcg(sorted((g for g in labels.values() if g > 0), reverse=True)[:k])
    if ideal == 0.0:
        return 0.0
    return _dcg(max(labels.get(d, 0), 0) for d in _unique(ranked)[:k]) / ideal


def evaluate_run(
    run: Mapping[str, Sequence[str]],
    qrels: Mapping[str, Mapping[str, int]],
    ks: Sequence[int] = (1, 5, 10),
) -> dict[str, float]:
    """Mean P@k, R@k and nDCG@k for each ``k`` in ``ks``, and MRR, over the queries of ``qrels``.

    Conventions (those of ir-measures over trec_eval, so figures compare with published ones):

    - The queries averaged over are exactly the keys of ``qrels``. A query of ``run`` that has
      no qrels entry is ignored.
    - A qrels query missing from ``run``, or with an empty ranking, scores 0 on every metric
      and is counted in the mean.
    - A qrels query with no relevant document (every label ``< 1``, or no judgements) scores
      0 on every metric and is counted in the mean.
    - With no qrels query at all every mean is NaN (ir-measures' empty mean).

    Args:
        run: ``{query_id: [doc_id, ...]}``, each list best first (see
            :func:`ranking_from_scores` for scored runs).
        qrels: ``{query_id: {doc_id: label}}``, graded labels (>= 1 relevant).
        ks: Cutoffs, each ``>= 1``.

    Returns:
        ``{"P@k": ..., "R@k": ..., "nDCG@k": ... for each k, "RR": ..., "NumQ": n}``: keys are
        ir-measures' measure names; ``NumQ`` is the number of queries averaged over.

    Raises:
        ValueError: A cutoff ``< 1``.
    """
    for k in ks:
        _check_k(k)
    sums: dict[str, float] = {}
    for k in ks:
        sums[f"P@{k}"] = sums[f"R@{k}"] = sums[f"nDCG@{k}"] = 0.0
    sums["RR"] = 0.0
    for query_id, labels in qrels.items():
        ranked = run.get(query_id, ())
        for k in ks:
            sums[f"P@{k}"] += precision_at_k(ranked, labels, k)
            sums[f"R@{k}"] += recall_at_k(ranked, labels, k)
            sums[f"nDCG@{k}"] += ndcg_at_k(ranked, labels, k)
        sums["RR"] += reciprocal_rank(ranked, labels)
    count = len(qrels)
    means = {name: (total / count if count else math.nan) for name, total in sums.items()}
    means["NumQ"] = float(count)
    return means
