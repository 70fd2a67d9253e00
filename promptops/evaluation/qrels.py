"""Retrieval evaluation examples: the query, the qrels, and the rule that turns the chunks a
retrieval returned into a ranking of judged ids.

**An example** of a retrieval evaluation dataset holds:

- ``input``: the query, a string or ``{"query": "..."}``;
- ``expected``: the qrels (relevance judgements), a list of relevant ids (grade 1 each) or an
  object ``{id: grade}`` with integer grades (``>= 1`` relevant, as trec_eval's default
  relevance level; 0 or negative: judged not relevant). At least one id must be relevant.

**Ids** name what was judged relevant, at one of three levels:

- a document: its ``source`` as ingested (``"library/functools.html"``);
- a part of a document: ``"source#anchor"``, the anchor being the id of the element a chunk
  starts under (a heading or a Sphinx object, ``"library/functools.html#functools.cache"``);
  the source is the part before the first ``#``;
- a chunk: its id (a UUID as text).

**Granularity.** ``"page"`` (the default) folds every ``source#anchor`` id into its source with
the highest grade among them and the source's own: ``{"a.html": 1, "a.html#x": 2}`` becomes
``{"a.html": 2}``; chunk ids stay as they are. ``"anchor"`` keeps the qrels as given.

**Matching rule** (:func:`hit_key`). A retrieved chunk stands, in the ranking, for the most
specific judged id it matches, tried in this order:

1. its chunk id;
2. at ``"anchor"`` granularity, ``"source#anchor"`` when the chunk has an anchor;
3. its source (a document id matches every chunk of that document).

A chunk that matches no judged id stands for its own unjudged id at the granularity
(``source``, or ``source#anchor`` at ``"anchor"`` granularity), so several chunks of one page
count as one unjudged document. The metrics then treat the ranking as trec_eval treats a run:
an id repeated counts once, at its first position (:mod:`promptops.evaluation.ir_metrics`). At
page level, ``recall@10`` therefore counts the relevant pages among the distinct pages of the
retrieved chunks, first ten of them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from promptops.evaluation.ir_metrics import ndcg_at_k, recall_at_k, reciprocal_rank

__all__ = [
    "GRANULARITIES",
    "RANKING_METRICS",
    "Granularity",
    "RankedHit",
    "example_qrels",
    "fold_to_pages",
    "hit_key",
    "parse_qrels",
    "query_text",
    "ranking_keys",
    "score_ranking",
]

Granularity = Literal["page", "anchor"]
GRANULARITIES: tuple[str, ...] = ("page", "anchor")

#: The per-query ranking metrics, each a function of (ranking of ids, qrels):
#: trec_eval's ``recall_k``, ``recip_rank`` and ``ndcg_cut_k`` (see ir_metrics).
_SCORERS: dict[str, Callable[[Sequence[str], Mapping[str, int]], float]] = {
    "recall@1": lambda r, q: recall_at_k(r, q, 1),
    "recall@5": lambda r, q: recall_at_k(r, q, 5),
    "recall@10": lambda r, q: recall_at_k(r, q, 10),
    "mrr": reciprocal_rank,
    "ndcg@10": lambda r, q: ndcg_at_k(r, q, 10),
}
#: Their names, in report order (``mrr`` is the per-query reciprocal rank; its mean is MRR).
RANKING_METRICS: tuple[str, ...] = tuple(_SCORERS)


@dataclass(frozen=True)
class RankedHit:
    """What the matching rule reads of a retrieved chunk."""

    chunk_id: str
    source: str
    anchor: str | None = None


def query_text(example_input: Any) -> str:
    """The query of an example's ``input``: the string itself or ``input["query"]``.

    Raises:
        ValueError: anything else, or an empty query.
    """
    query = example_input.get("query") if isinstance(example_input, dict) else example_input
    if not isinstance(query, str):
        # ValueError throughout: callers report any malformed example the same way.
        raise ValueError('input must be the query (a string) or {"query": "..."}')  # noqa: TRY004
    if not query.strip():
        raise ValueError("input: the query is empty")
    return query


def _grade(value: Any, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"expected[{key!r}]: grade must be an integer, got {value!r}")  # noqa: TRY004
    if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
        raise ValueError(f"expected[{key!r}]: grade must be an integer, got {value!r}")
    return int(value)


def parse_qrels(expected: Any) -> dict[str, int]:
    """``{id: grade}`` from an example's ``expected``: a list of ids (grade 1 each) or an
    object ``{id: integer grade}``; ids are non-empty strings.

    Raises:
        ValueError: another shape, an empty or non-string id, a non-integer grade, or no id
            graded ``>= 1`` (a query with nothing relevant cannot be scored).
    """
    if isinstance(expected, list):
        pairs: Iterable[tuple[Any, Any]] = ((item, 1) for item in expected)
    elif isinstance(expected, dict):
        pairs = expected.items()
    else:
        raise ValueError(  # noqa: TRY004
            "expected must be the qrels: a list of relevant ids or an object {id: grade}"
        )
    qrels: dict[str, int] = {}
    for key, value in pairs:
        if not isinstance(key, str) or not key.strip():
            raise ValueError(f"expected: ids must be non-empty strings, got {key!r}")
        grade = _grade(value, key)
        qrels[key] = max(grade, qrels.get(key, grade))
    if not any(g >= 1 for g in qrels.values()):
        raise ValueError("expected: no id is relevant (graded >= 1)")
    return qrels


def fold_to_pages(qrels: Mapping[str, int]) -> dict[str, int]:
    """Page-level qrels: each ``source#anchor`` id folded into ``source`` with the highest
    grade of the two (other ids unchanged)."""
    out: dict[str, int] = {}
    for key, grade in qrels.items():
        page = key.partition("#")[0] or key
        out[page] = max(grade, out.get(page, grade))
    return out


def example_qrels(expected: Any, granularity: str = "page") -> dict[str, int]:
    """The qrels an example is scored against at ``granularity`` (see the module docstring).

    Raises:
        ValueError: bad qrels (:func:`parse_qrels`) or an unknown granularity.
    """
    if granularity not in GRANULARITIES:
        raise ValueError(f"granularity must be one of {list(GRANULARITIES)}")
    qrels = parse_qrels(expected)
    return fold_to_pages(qrels) if granularity == "page" else qrels


def hit_key(hit: RankedHit, qrels: Mapping[str, int], granularity: str = "page") -> str:
    """The id ``hit`` stands for in the ranking (the matching rule of the module docstring)."""
    anchored = f"{hit.source}#{hit.anchor}" if hit.anchor else None
    if hit.chunk_id in qrels:
        return hit.chunk_id
    if granularity == "anchor" and anchored is not None and anchored in qrels:
        return anchored
    if hit.source in qrels:
        return hit.source
    return anchored if granularity == "anchor" and anchored is not None else hit.source


def ranking_keys(
    hits: Iterable[RankedHit], qrels: Mapping[str, int], granularity: str = "page"
) -> list[str]:
    """:func:`hit_key` of each hit, in rank order (repeats kept: the metrics skip them)."""
    return [hit_key(h, qrels, granularity) for h in hits]


def score_ranking(
    ranking: Sequence[str], qrels: Mapping[str, int], metrics: Iterable[str] = RANKING_METRICS
) -> dict[str, float]:
    """The per-query value of each ranking metric in ``metrics`` (names of
    :data:`RANKING_METRICS`; others are skipped) for ``ranking`` (ids best first, from
    :func:`ranking_keys`) against ``qrels``. Definitions: trec_eval's (Voorhees 1999 for the
    reciprocal rank, Järvelin & Kekäläinen 2002 for nDCG), via
    :mod:`promptops.evaluation.ir_metrics`; each value lies in ``[0, 1]``."""
    return {name: _SCORERS[name](ranking, qrels) for name in metrics if name in _SCORERS}
