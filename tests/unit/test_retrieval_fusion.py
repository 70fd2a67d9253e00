"""RRF (Cormack et al. 2009) and MMR (Carbonell & Goldstein 1998) in promptops.retrieval.fusion."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from promptops.retrieval.fusion import maximal_marginal_relevance, reciprocal_rank_fusion

# --------------------------------------------------------------------------- RRF


def test_rrf_matches_a_hand_worked_example() -> None:
    # Three retrievers; score(d) = sum over rankings of 1 / (60 + rank), ranks 1-based.
    rankings = [["a", "b", "c"], ["b", "c", "d"], ["c", "a"]]
    expected = {
        "a": 1 / 61 + 1 / 62,  # rank 1 in the first, rank 2 in the third
        "b": 1 / 62 + 1 / 61,  # rank 2, rank 1
        "c": 1 / 63 + 1 / 62 + 1 / 61,  # rank 3, 2, 1
        "d": 1 / 63,  # rank 3 in the second only
    }
    fused = reciprocal_rank_fusion(rankings)
    assert [d for d, _ in fused] == ["c", "a", "b", "d"]  # a and b tie: both best rank 1 -> id
    for doc_id, score in fused:
        assert score == pytest.approx(expected[doc_id], rel=1e-12)


def test_rrf_weights_and_k_enter_the_formula() -> None:
    fused = dict(reciprocal_rank_fusion([["x", "y"], ["y"]], k=0, weights=[2.0, 0.5]))
    assert fused["x"] == pytest.approx(2.0 / 1)
    assert fused["y"] == pytest.approx(2.0 / 2 + 0.5 / 1)


def test_rrf_breaks_ties_by_best_rank_then_id() -> None:
    # k=0: "m" at ranks (2, 2) scores 1/2 + 1/2 = 1; "z" and "y" at rank 1 once score 1/1 = 1.
    fused = reciprocal_rank_fusion([["z", "m"], ["y", "m"]], k=0)
    assert fused[0][1] == fused[1][1] == fused[2][1] == pytest.approx(1.0)
    # z and y reach rank 1, m only rank 2; z vs y by id.
    assert [d for d, _ in fused] == ["y", "z", "m"]


def test_rrf_counts_a_repeated_id_once_at_its_best_rank() -> None:
    assert reciprocal_rank_fusion([["a", "b", "a"]], k=0) == [("a", 1.0), ("b", 0.5)]


def test_rrf_edge_cases_and_validation() -> None:
    assert reciprocal_rank_fusion([]) == []
    assert reciprocal_rank_fusion([[], []]) == []
    with pytest.raises(ValueError, match="k"):
        reciprocal_rank_fusion([["a"]], k=-1)
    with pytest.raises(ValueError, match="weights"):
        reciprocal_rank_fusion([["a"], ["b"]], weights=[1.0])
    with pytest.raises(ValueError, match="weights"):
        reciprocal_rank_fusion([["a"]], weights=[-1.0])
    with pytest.raises(ValueError, match="weights"):
        reciprocal_rank_fusion([["a"]], weights=[float("nan")])
    with pytest.raises(TypeError):
        reciprocal_rank_fusion(["abc"])


# --------------------------------------------------------------------------- MMR


def unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def near_duplicate_corpus() -> tuple[np.ndarray, np.ndarray]:
    """A query and 8 candidates: 3 tight clusters of near-duplicates plus 2 loners.

    The most relevant cluster holds 4 near-copies, so the top 4 by relevance are redundant.
    """
    rng = np.random.default_rng(7)
    dim = 32
    query = unit(rng.normal(size=dim))
    noise = rng.normal(size=dim)
    other = unit(noise - (noise @ query) * query)  # orthogonal to the query
    noise2 = rng.normal(size=dim)
    third = unit(noise2 - (noise2 @ query) * query - (noise2 @ other) * other)
    topic_a = unit(0.9 * query + 0.44 * other)  # very relevant
    topic_b = unit(0.7 * query + 0.71 * third)  # relevant, different direction
    topic_c = unit(0.6 * query - 0.8 * other)
    rows = [unit(topic_a + 0.02 * rng.normal(size=dim)) for _ in range(4)]
    rows += [unit(topic_b + 0.02 * rng.normal(size=dim)) for _ in range(2)]
    rows += [topic_c, unit(0.2 * query + 0.98 * third)]
    return query.astype(np.float32), np.array(rows, dtype=np.float32)


def mean_pairwise_cosine(vectors: np.ndarray, picks: list[int]) -> float:
    u = unit(vectors[picks].astype(np.float64))
    return float(np.mean([u[i] @ u[j] for i, j in itertools.combinations(range(len(picks)), 2)]))


def test_mmr_with_lambda_one_is_relevance_order() -> None:
    query, cands = near_duplicate_corpus()
    cosine = unit(cands.astype(np.float64)) @ unit(query.astype(np.float64))
    assert maximal_marginal_relevance(query, cands, k=8, lambda_mult=1.0) == list(
        np.argsort(-cosine, kind="stable")
    )


def test_mmr_half_lambda_picks_a_more_diverse_set_than_top_k() -> None:
    query, cands = near_duplicate_corpus()
    cosine = unit(cands.astype(np.float64)) @ unit(query.astype(np.float64))
    top_k = [int(i) for i in np.argsort(-cosine)[:3]]
    picks = maximal_marginal_relevance(query, cands, k=3, lambda_mult=0.5)
    assert len(set(picks)) == 3
    assert picks[0] == top_k[0]  # the first pick is always the most relevant
    assert set(top_k) <= {0, 1, 2, 3}  # relevance alone takes three near-duplicates...
    assert len(set(picks) & {0, 1, 2, 3}) == 1  # ...MMR takes one of them
    assert mean_pairwise_cosine(cands, picks) < mean_pairwise_cosine(cands, top_k) - 0.3


def naive_mmr(q: np.ndarray, c: np.ndarray, k: int, lam: float) -> list[int]:
    """The paper's formula evaluated literally, every candidate against every pick."""
    q, c = unit(q.astype(np.float64)), unit(c.astype(np.float64))
    chosen: list[int] = []
    while len(chosen) < min(k, len(c)):
        best, best_score = -1, -np.inf
        for i in range(len(c)):
            if i in chosen:
                continue
            redundancy = max((float(c[i] @ c[s]) for s in chosen), default=0.0)
            score = lam * float(c[i] @ q) - (1 - lam) * redundancy
            if score > best_score:
                best, best_score = i, score
        chosen.append(best)
    return chosen


@pytest.mark.parametrize("seed", range(20))
def test_mmr_agrees_with_the_formula_evaluated_literally(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, dim = int(rng.integers(1, 30)), int(rng.integers(2, 16))
    q = rng.normal(size=dim).astype(np.float32)
    c = (rng.normal(size=(n, dim)) * rng.uniform(0.1, 5, size=(n, 1))).astype(np.float32)
    lam = float(rng.uniform())
    k = int(rng.integers(0, n + 3))
    assert maximal_marginal_relevance(q, c, k, lam) == naive_mmr(q, c, k, lam)


def test_mmr_is_invariant_to_vector_norms() -> None:
    query, cands = near_duplicate_corpus()
    scaled = cands * np.linspace(0.1, 10, len(cands), dtype=np.float32)[:, None]
    assert maximal_marginal_relevance(query * 3, scaled, 5) == maximal_marginal_relevance(
        query, cands, 5
    )


def test_mmr_relevance_replaces_query_similarity() -> None:
    query, cands = near_duplicate_corpus()
    relevance = np.linspace(0.0, 1.0, len(cands))  # the last candidate is now the best
    assert maximal_marginal_relevance(query, cands, 1, relevance=relevance) == [7]
    assert maximal_marginal_relevance(query, cands, 8, 1.0, relevance) == list(range(7, -1, -1))


def test_mmr_edge_cases() -> None:
    q = np.ones(3, dtype=np.float32)
    c = np.array([[1, 0, 0], [0, 0, 0], [1, 1, 1]], dtype=np.float32)
    assert maximal_marginal_relevance(q, c, 0) == []
    assert maximal_marginal_relevance(q, c[:0], 5) == []
    assert maximal_marginal_relevance(q[None, :], c, 10, 1.0) == [2, 0, 1]  # zero vector: sim 0


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"lambda_mult": 1.5}, "lambda_mult"),
        ({"lambda_mult": -0.1}, "lambda_mult"),
        ({"k": -1}, "k"),
        ({"query": np.ones(4, dtype=np.float32)}, "query"),
        ({"candidates": np.ones(3, dtype=np.float32)}, "candidates"),
        ({"relevance": np.ones(2)}, "relevance"),
        ({"relevance": np.array([1.0, np.nan, 0.0])}, "relevance"),
        ({"candidates": np.array([[np.inf, 0, 0]], dtype=np.float32)}, "candidates"),
    ],
)
def test_mmr_rejects_bad_parameters_by_name(kwargs: dict[str, object], name: str) -> None:
    args: dict[str, object] = {
        "query": np.ones(3, dtype=np.float32),
        "candidates": np.eye(3, dtype=np.float32),
        "k": 2,
    }
    args.update(kwargs)
    with pytest.raises(ValueError, match=name):
        maximal_marginal_relevance(**args)
