"""promptops.evaluation.ir_metrics against trec_eval (ir-measures' pytrec_eval provider).

Random runs and qrels with graded labels (negative ones too), tied scores, empty and missing
rankings, queries without relevant documents and run queries absent from the qrels; every
per-query value and every mean must agree to 1e-9.
"""

from __future__ import annotations

import math
import random

import ir_measures
import pytest

from promptops.evaluation.ir_metrics import (
    evaluate_run,
    ndcg_at_k,
    precision_at_k,
    ranking_from_scores,
    recall_at_k,
    reciprocal_rank,
)

KS = (1, 3, 5, 10, 20)
MEASURES = [ir_measures.parse_measure(f"{m}@{k}") for m in ("P", "R", "nDCG") for k in KS]
MEASURES.append(ir_measures.RR)
REFERENCE = ir_measures.pytrec_eval  # trec_eval's own code, through pytrec_eval

Qrels = dict[str, dict[str, int]]
ScoredRun = dict[str, dict[str, float]]


def random_case(seed: int) -> tuple[Qrels, ScoredRun]:
    """~25 queries over 30 documents; ids of different lengths so id order matters in ties."""
    rng = random.Random(seed)
    docs = [f"d{i}" for i in range(30)]
    qrels: Qrels = {}
    run: ScoredRun = {}
    for q in range(25):
        qid = f"q{q}"
        shape = rng.random()
        if shape < 0.05:
            qrels[qid] = {}  # judged query with no judgement at all
        elif shape < 0.15:
            qrels[qid] = {d: 0 for d in rng.sample(docs, 5)}  # nothing relevant
        elif shape < 0.2:
            pass  # in the run only: ignored
        else:
            judged = rng.sample(docs, rng.randint(1, 15))
            qrels[qid] = {d: rng.choice([-1, 0, 0, 1, 1, 2, 3]) for d in judged}
        kind = rng.random()
        if kind < 0.1:
            continue  # missing from the run
        if kind < 0.15:
            run[qid] = {}  # nothing retrieved
            continue
        retrieved = rng.sample(docs, rng.randint(1, 25))
        if rng.random() < 0.5:
            # Few distinct scores: many ties, broken by id (descending) in trec_eval.
            run[qid] = {d: float(rng.randint(0, 4)) for d in retrieved}
        else:
            run[qid] = {d: rng.uniform(-5, 5) for d in retrieved}
    return qrels, run


def ranked_run(run: ScoredRun) -> dict[str, list[str]]:
    return {qid: ranking_from_scores(scores) for qid, scores in run.items()}


@pytest.mark.parametrize("seed", range(40))
def test_per_query_values_match_trec_eval(seed: int) -> None:
    qrels, run = random_case(seed)
    ranked = ranked_run(run)
    reference = {
        (m.query_id, str(m.measure)): m.value for m in REFERENCE.iter_calc(MEASURES, qrels, run)
    }
    assert {qid for qid, _ in reference} == set(qrels)
    for qid, labels in qrels.items():
        ranking = ranked.get(qid, [])
        for k in KS:
            assert precision_at_k(ranking, labels, k) == pytest.approx(
                reference[qid, f"P@{k}"], abs=1e-9
            )
            assert recall_at_k(ranking, labels, k) == pytest.approx(
                reference[qid, f"R@{k}"], abs=1e-9
            )
            assert ndcg_at_k(ranking, labels, k) == pytest.approx(
                reference[qid, f"nDCG@{k}"], abs=1e-9
            )
        assert reciprocal_rank(ranking, labels) == pytest.approx(reference[qid, "RR"], abs=1e-9)


@pytest.mark.parametrize("seed", range(40))
def test_means_match_ir_measures(seed: int) -> None:
    qrels, run = random_case(seed)
    reference = REFERENCE.calc_aggregate(MEASURES, qrels, run)
    ours = evaluate_run(ranked_run(run), qrels, ks=KS)
    assert set(ours) == {str(m) for m in MEASURES} | {"NumQ"}
    for measure, value in reference.items():
        assert ours[str(measure)] == pytest.approx(value, abs=1e-9)
    assert ours["NumQ"] == len(qrels)


def test_ranked_lists_as_strictly_descending_scores_match() -> None:
    # The task's own runs are ranked lists: give trec_eval scores n, n-1, ... (no ties).
    rng = random.Random(99)
    docs = [f"doc-{i}" for i in range(40)]
    run = {f"q{q}": rng.sample(docs, rng.randint(0, 30)) for q in range(30)}
    qrels = {f"q{q}": {d: rng.randint(0, 3) for d in rng.sample(docs, 10)} for q in range(30)}
    scored = {qid: {d: float(len(r) - i) for i, d in enumerate(r)} for qid, r in run.items()}
    reference = REFERENCE.calc_aggregate(MEASURES, qrels, scored)
    ours = evaluate_run(run, qrels, ks=KS)
    for measure, value in reference.items():
        assert ours[str(measure)] == pytest.approx(value, abs=1e-9)


def test_ranking_from_scores_breaks_ties_by_id_descending() -> None:
    assert ranking_from_scores({"a": 1.0, "b": 1.0, "c": 2.0, "d10": 0.0, "d9": 0.0}) == [
        "c",
        "b",
        "a",
        "d9",
        "d10",
    ]


def test_hand_worked_values() -> None:
    ranked = ["a", "b", "c", "d"]
    labels = {"b": 2, "d": 1, "e": 3, "c": 0}
    assert precision_at_k(ranked, labels, 2) == 1 / 2
    assert precision_at_k(ranked, labels, 10) == 2 / 10  # the cutoff, not the list length
    assert recall_at_k(ranked, labels, 2) == 1 / 3
    assert recall_at_k(ranked, labels, 4) == 2 / 3
    assert reciprocal_rank(ranked, labels) == 1 / 2
    dcg = 2 / math.log2(3) + 1 / math.log2(5)
    ideal = 3 / math.log2(2) + 2 / math.log2(3) + 1 / math.log2(4)
    assert ndcg_at_k(ranked, labels, 4) == pytest.approx(dcg / ideal, rel=1e-12)
    assert ndcg_at_k(ranked, labels, 1) == 0.0


def test_collection_of_ids_means_label_one_and_repeats_count_once() -> None:
    ranked = ["x", "x", "y", "z"]
    assert precision_at_k(ranked, {"x", "z"}, 3) == 2 / 3  # x, y, z: x counted once
    assert recall_at_k(ranked, ["x", "z"], 3) == 1.0
    assert ndcg_at_k(ranked, {"z"}, 3) == pytest.approx(1 / math.log2(4))


def test_edge_cases() -> None:
    assert recall_at_k(["a"], {"a": 0}, 5) == 0.0  # no relevant document
    assert ndcg_at_k(["a"], {}, 5) == 0.0
    assert reciprocal_rank([], {"a"}) == 0.0
    means = evaluate_run({"q": ["a"]}, {})
    assert means["NumQ"] == 0.0
    assert all(math.isnan(v) for name, v in means.items() if name != "NumQ")
    with pytest.raises(ValueError, match="k"):
        precision_at_k(["a"], {"a"}, 0)
    with pytest.raises(ValueError, match="k"):
        evaluate_run({}, {"q": {"a": 1}}, ks=(0,))
    with pytest.raises(TypeError):
        recall_at_k(["a"], "a", 1)
    with pytest.raises(TypeError):
        reciprocal_rank("abc", {"a"})
