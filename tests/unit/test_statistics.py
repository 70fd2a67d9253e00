"""Tests for promptops.evaluation.statistics: percentiles, bootstrap intervals and paired tests."""

from __future__ import annotations

import time

import numpy as np
import pytest
from scipy.stats import binomtest

from promptops.evaluation import statistics
from promptops.evaluation.metrics import label_metrics
from promptops.evaluation.statistics import (
    Interval,
    PairedComparison,
    bootstrap_ci,
    bootstrap_ci_label_metric,
    mcnemar,
    paired_bootstrap,
    percentile,
)


def test_percentile_linear_interpolation() -> None:
    assert percentile([1, 2, 3, 4], 50) == pytest.approx(2.5)
    # position 0.95 * 3 = 2.85 -> 3 + 0.85 * (4 - 3)
    assert percentile([4, 1, 3, 2], 95) == pytest.approx(3.85)
    assert percentile([7.0], 95) == 7.0
    with pytest.raises(ValueError):
        percentile([], 50)
    with pytest.raises(ValueError):
        percentile([1.0], 101)


def test_bootstrap_ci_contains_mean_and_narrows_with_n() -> None:
    rng = np.random.default_rng(1)
    small = rng.normal(0.6, 0.2, size=50)
    large = rng.normal(0.6, 0.2, size=5000)
    ci_small = bootstrap_ci(small)
    ci_large = bootstrap_ci(large)
    for data, ci in ((small, ci_small), (large, ci_large)):
        assert ci.value == pytest.approx(float(np.mean(data)))
        assert ci.ci_low < ci.value < ci.ci_high
    width_small = ci_small.ci_high - ci_small.ci_low
    width_large = ci_large.ci_high - ci_large.ci_low
    # Width scales like 1/sqrt(n): 100x the data -> ~10x narrower.
    assert width_large < width_small / 5
    # Roughly the normal-theory width 2 * 1.96 * sigma / sqrt(n).
    assert width_large == pytest.approx(2 * 1.96 * 0.2 / np.sqrt(5000), rel=0.2)


def test_bootstrap_ci_deterministic_for_seed() -> None:
    data = np.random.default_rng(2).uniform(size=300)
    assert bootstrap_ci(data, seed=7) == bootstrap_ci(data, seed=7)
    assert bootstrap_ci(data, seed=7) != bootstrap_ci(data, seed=8)


def test_bootstrap_ci_higher_confidence_is_wider() -> None:
    data = np.random.default_rng(3).normal(size=200)
    ci90 = bootstrap_ci(data, confidence=0.90)
    ci99 = bootstrap_ci(data, confidence=0.99)
    assert ci99.ci_low < ci90.ci_low and ci99.ci_high > ci90.ci_high


def test_bootstrap_ci_degenerate_and_invalid() -> None:
    assert bootstrap_ci([0.3]) == Interval(0.3, 0.3, 0.3)
    with pytest.raises(ValueError):
        bootstrap_ci([])
    with pytest.raises(ValueError):
        bootstrap_ci([1.0, float("nan")])
    with pytest.raises(ValueError):
        bootstrap_ci([1.0, 2.0], confidence=1.5)
    assert Interval(1.0, 0.5, 1.5).to_dict() == {"value": 1.0, "ci_low": 0.5, "ci_high": 1.5}


def test_bootstrap_ci_statistic_without_axis_matches_vectorised() -> None:
    data = np.random.default_rng(4).normal(size=100)
    vectorised = bootstrap_ci(data, statistic=np.median, n_resamples=300)
    per_row = bootstrap_ci(data, statistic=lambda x: float(np.median(x)), n_resamples=300)
    assert per_row.ci_low == pytest.approx(vectorised.ci_low)
    assert per_row.ci_high == pytest.approx(vectorised.ci_high)


def test_bootstrap_ci_fast_for_10k() -> None:
    data = np.random.default_rng(5).uniform(size=10_000)
    start = time.perf_counter()
    bootstrap_ci(data, n_resamples=2000)
    assert time.perf_counter() - start < 3.0


def _naive_label_intervals(
    predicted: list[str | None],
    expected: list[str],
    metric: str,
    positive: str | None,
    n_resamples: int,
    seed: int,
) -> np.ndarray:
    values = []
    for chunk in statistics._resample_index_chunks(len(expected), n_resamples, seed):
        for row in chunk:
            values.append(
                label_metrics([predicted[i] for i in row], [expected[i] for i in row], positive)[
                    metric
                ]
            )
    return np.asarray(values)


@pytest.mark.parametrize("metric", ["accuracy", "precision", "recall", "f1"])
@pytest.mark.parametrize("positive", [None, "b"])
def test_bootstrap_ci_label_metric_matches_label_metrics_per_resample(
    metric: str, positive: str | None
) -> None:
    rng = np.random.default_rng(6)
    # "c" is rare so some resamples lack it: the macro average must follow label_metrics.
    expected = list(rng.choice(["a", "b", "c"], size=40, p=[0.5, 0.45, 0.05]))
    predicted: list[str | None] = [
        e if rng.uniform() < 0.7 else rng.choice(["a", "b", "c", "zzz", None])  # type: ignore[misc]
        for e in expected
    ]
    n_resamples, seed = 150, 3
    naive = _naive_label_intervals(predicted, expected, metric, positive, n_resamples, seed)
    ci = bootstrap_ci_label_metric(
        predicted, expected, metric, positive, n_resamples=n_resamples, seed=seed
    )
    assert ci.value == pytest.approx(label_metrics(predicted, expected, positive)[metric])
    assert ci.ci_low == pytest.approx(float(np.percentile(naive, 2.5)))
    assert ci.ci_high == pytest.approx(float(np.percentile(naive, 97.5)))
    assert ci.ci_low <= ci.value <= ci.ci_high


def test_bootstrap_ci_label_metric_rejects_unknown_metric() -> None:
    with pytest.raises(ValueError, match="bleu"):
        bootstrap_ci_label_metric(["a"], ["a"], "bleu")


def test_paired_bootstrap_detects_real_shift() -> None:
    rng = np.random.default_rng(10)
    a = rng.normal(0.5, 0.1, size=200)
    b = a + 0.03 + rng.normal(0.0, 0.05, size=200)
    result = paired_bootstrap(a, b)
    assert result.test == "paired_bootstrap"
    assert result.n == 200
    assert result.diff == pytest.approx(float(b.mean() - a.mean()))
    assert result.diff > 0
    assert result.p_value < 0.05
    assert 0.0 < result.ci_low < result.diff < result.ci_high
    assert result.p_value >= 1 / 2001  # add-one smoothing keeps p > 0


def test_paired_bootstrap_no_false_positive_on_null() -> None:
    rng = np.random.default_rng(11)
    a = rng.normal(0.5, 0.1, size=200)
    b = a + rng.normal(0.0, 0.05, size=200)
    result = paired_bootstrap(a, b)
    assert result.p_value > 0.05
    assert result.ci_low < 0.0 < result.ci_high


def test_paired_bootstrap_identical_systems() -> None:
    result = paired_bootstrap([0.1, 0.5, 0.9], [0.1, 0.5, 0.9])
    assert result.diff == 0.0 and result.p_value == 1.0


def test_paired_bootstrap_deterministic_and_serialisable() -> None:
    rng = np.random.default_rng(12)
    a, b = rng.uniform(size=50), rng.uniform(size=50)
    first = paired_bootstrap(a, b, seed=5)
    assert first == paired_bootstrap(a, b, seed=5)
    as_dict = first.to_dict()
    assert set(as_dict) == {
        "mean_a", "mean_b", "diff", "ci_low", "ci_high", "p_value", "test", "n",
    }  # fmt: skip
    assert all(type(as_dict[k]) is float for k in ("mean_a", "diff", "p_value"))
    assert type(as_dict["n"]) is int


def test_paired_bootstrap_errors() -> None:
    with pytest.raises(ValueError, match="same length"):
        paired_bootstrap([1.0, 2.0], [1.0])
    with pytest.raises(ValueError):
        paired_bootstrap([], [])


def _contingency(both: int, a_only: int, b_only: int, neither: int) -> tuple[list[int], list[int]]:
    a = [1] * both + [1] * a_only + [0] * b_only + [0] * neither
    b = [1] * both + [0] * a_only + [1] * b_only + [0] * neither
    return a, b


def test_mcnemar_matches_scipy_binomtest() -> None:
    # 20 both right, 2 only A right, 8 only B right, 10 both wrong.
    a, b = _contingency(20, 2, 8, 10)
    result = mcnemar(a, b)
    assert isinstance(result, PairedComparison)
    assert result.test == "mcnemar"
    assert result.p_value == pytest.approx(binomtest(8, 10, 0.5).pvalue)
    assert result.p_value == pytest.approx(112 / 1024)  # 2 * P(X <= 2), X ~ Bin(10, 1/2)
    assert result.mean_a == pytest.approx(22 / 40)
    assert result.mean_b == pytest.approx(28 / 40)
    assert result.diff == pytest.approx(6 / 40)
    assert result.ci_low < result.diff < result.ci_high
    assert result.n == 40


def test_mcnemar_significant_and_no_discordant() -> None:
    a, b = _contingency(30, 0, 12, 8)
    assert mcnemar(a, b).p_value == pytest.approx(binomtest(12, 12, 0.5).pvalue)
    assert mcnemar(a, b).p_value < 0.001
    same = mcnemar([True, False, True], [True, False, True])
    assert same.p_value == 1.0 and same.diff == 0.0


def test_mcnemar_errors() -> None:
    with pytest.raises(ValueError, match="same length"):
        mcnemar([1, 0, 1], [1, 0])
    with pytest.raises(ValueError, match="0/1"):
        mcnemar([0.5, 1.0], [1.0, 1.0])
    with pytest.raises(ValueError):
        mcnemar([], [])
