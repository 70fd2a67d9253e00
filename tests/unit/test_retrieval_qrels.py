"""The qrels of a retrieval evaluation example and the rule matching retrieved chunks to judged
ids (promptops.evaluation.qrels); the per-query scores checked against ir-measures
(trec_eval through pytrec_eval) on hand-built page and anchor rankings."""

from __future__ import annotations

import ir_measures
import pytest

from promptops.evaluation.qrels import (
    RANKING_METRICS,
    RankedHit,
    example_qrels,
    fold_to_pages,
    hit_key,
    parse_qrels,
    query_text,
    ranking_keys,
    score_ranking,
)

CHUNK = "0b9a3f0e-5f8e-4f1c-9d51-3b8d1f6b2a10"
MEASURES = {
    "recall@1": ir_measures.R @ 1,
    "recall@5": ir_measures.R @ 5,
    "recall@10": ir_measures.R @ 10,
    "mrr": ir_measures.RR,
    "ndcg@10": ir_measures.nDCG @ 10,
}


def reference(ranking: list[str], qrels: dict[str, int]) -> dict[str, float]:
    """ir-measures on a one-query run: the ranking scored n, n-1, ... (distinct ids)."""
    run = {"q": {doc: float(len(ranking) - i) for i, doc in enumerate(ranking)}}
    values = ir_measures.calc_aggregate(list(MEASURES.values()), {"q": dict(qrels)}, run)
    return {name: float(values[m]) for name, m in MEASURES.items()}


def test_query_is_the_input_string_or_its_query_field() -> None:
    assert query_text("lru_cache maxsize") == "lru_cache maxsize"
    assert query_text({"query": "sort a list", "other": 1}) == "sort a list"
    for bad in ({"text": "x"}, 3, None, ["a"], "  "):
        with pytest.raises(ValueError):
            query_text(bad)


def test_qrels_from_a_list_or_graded_object() -> None:
    assert parse_qrels(["a.html", "b.html#x", "a.html"]) == {"a.html": 1, "b.html#x": 1}
    assert parse_qrels({"a.html": 2, "b.html": 0, "c.html": 1.0}) == {
        "a.html": 2,
        "b.html": 0,
        "c.html": 1,
    }
    bad: list[object] = [
        "a.html",  # a single id, not a list
        {"a.html": True},  # a bool is not a grade
        {"a.html": 1.5},
        {"a.html": "2"},
        ["a.html", ""],
        [3],
        {"a.html": 0, "b.html": -1},  # nothing relevant: cannot be scored
        [],
    ]
    for expected in bad:
        with pytest.raises(ValueError):
            parse_qrels(expected)


def test_page_level_folds_anchors_into_their_page_with_the_max_grade() -> None:
    qrels = {"a.html": 1, "a.html#x": 2, "a.html#y": 1, "b.html#z": 1, CHUNK: 2}
    assert fold_to_pages(qrels) == {"a.html": 2, "b.html": 1, CHUNK: 2}
    assert example_qrels(qrels, "page") == {"a.html": 2, "b.html": 1, CHUNK: 2}
    assert example_qrels(qrels, "anchor") == qrels
    with pytest.raises(ValueError):
        example_qrels(qrels, "chunk")


def test_a_hit_stands_for_the_most_specific_judged_id_it_matches() -> None:
    qrels = {"a.html": 1, "a.html#x": 2, CHUNK: 1}
    # The chunk id first, whatever the granularity.
    assert hit_key(RankedHit(CHUNK, "a.html", "x"), qrels, "anchor") == CHUNK
    assert hit_key(RankedHit(CHUNK, "a.html", "x"), qrels, "page") == CHUNK
    # source#anchor at anchor granularity only.
    assert hit_key(RankedHit("c1", "a.html", "x"), qrels, "anchor") == "a.html#x"
    assert hit_key(RankedHit("c1", "a.html", "x"), qrels, "page") == "a.html"
    # A document id matches every chunk of the document, anchored elsewhere or not at all.
    assert hit_key(RankedHit("c2", "a.html", "y"), qrels, "anchor") == "a.html"
    assert hit_key(RankedHit("c3", "a.html", None), qrels, "anchor") == "a.html"
    # An anchor id needs both parts to match.
    assert hit_key(RankedHit("c4", "b.html", "x"), {"a.html#x": 1}, "anchor") == "b.html#x"
    # Unjudged: the hit's own id at the granularity.
    assert hit_key(RankedHit("c5", "d.html", "w"), qrels, "page") == "d.html"
    assert hit_key(RankedHit("c5", "d.html", "w"), qrels, "anchor") == "d.html#w"
    assert hit_key(RankedHit("c6", "d.html", None), qrels, "anchor") == "d.html"


def test_page_level_scores_equal_trec_eval_on_the_distinct_pages() -> None:
    expected = {"a.html": 1, "a.html#x": 2, "c.html#z": 1, "e.html": 2}
    qrels = example_qrels(expected, "page")
    hits = [
        RankedHit("c1", "b.html", "s"),
        RankedHit("c2", "a.html", "y"),
        RankedHit("c3", "b.html", "t"),  # the same page again: not a new rank
        RankedHit("c4", "a.html", "x"),
        RankedHit("c5", "d.html", None),
        RankedHit("c6", "c.html", "z"),
    ]
    keys = ranking_keys(hits, qrels, "page")
    assert keys == ["b.html", "a.html", "b.html", "a.html", "d.html", "c.html"]
    pages = ["b.html", "a.html", "d.html", "c.html"]  # by hand: distinct, in order
    got = score_ranking(keys, qrels)
    want = reference(pages, {"a.html": 2, "c.html": 1, "e.html": 2})
    assert list(got) == list(RANKING_METRICS)
    for name in RANKING_METRICS:
        assert got[name] == pytest.approx(want[name], abs=1e-9), name
    assert got["mrr"] == pytest.approx(0.5)  # a.html at rank 2 of the distinct pages


def test_anchor_level_scores_equal_trec_eval() -> None:
    expected = {"a.html": 1, "a.html#x": 2, "a.html#y": 1, "b.html": 2}
    qrels = example_qrels(expected, "anchor")
    hits = [
        RankedHit("c1", "c.html", "q"),
        RankedHit("c2", "a.html", "x"),
        RankedHit("c3", "a.html", "w"),  # unjudged anchor of a judged page: the page
        RankedHit("c4", "a.html", "x"),  # a repeat
        RankedHit("c5", "b.html", "v"),
    ]
    keys = ranking_keys(hits, qrels, "anchor")
    assert keys == ["c.html#q", "a.html#x", "a.html", "a.html#x", "b.html"]
    got = score_ranking(keys, qrels, ["recall@5", "ndcg@10", "unknown"])
    want = reference(["c.html#q", "a.html#x", "a.html", "b.html"], expected)
    assert set(got) == {"recall@5", "ndcg@10"}
    assert got["recall@5"] == pytest.approx(want["recall@5"], abs=1e-9)
    assert got["ndcg@10"] == pytest.approx(want["ndcg@10"], abs=1e-9)
