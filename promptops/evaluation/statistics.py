"""Uncertainty for evaluation aggregates: percentiles, bootstrap intervals, paired tests.

All resampling is seeded (``numpy.random.default_rng(seed)``), so the same inputs and seed
give bit-identical intervals and p-values — needed for replayable evaluation workflows.

Sources:

* Percentile bootstrap interval: Efron & Tibshirani (1993), *An Introduction to the
  Bootstrap*, ch. 13.
* Paired bootstrap test: Koehn (2004), "Statistical Significance Tests for Machine
  Translation Evaluation"; Berg-Kirkpatrick, Burkett & Klein (2012), "An Empirical
  Investigation of Statistical Significance in NLP" (resampled differences shifted to
  mean zero under H0).
* McNemar's exact test: McNemar (1947); the exact version is a two-sided binomial test on
  the discordant pairs with p = 0.5 (e.g. Dietterich, 1998, "Approximate Statistical Tests
  for Comparing Supervised Classification Learning Algorithms").
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from promptops.evaluation.metrics import label_metrics, normalize_label

__all__ = [
    "Interval",
    "PairedComparison",
    "bootstrap_ci",
    "bootstrap_ci_label_metric",
    "mcnemar",
    "paired_bootstrap",
    "percentile",
]

#: Upper bound on elements of one resample-index chunk (int64), ~32 MB, so n=10k with
#: 2000 resamples never materialises a 20M-element matrix at once.
_MAX_CHUNK_ELEMENTS = 4_000_000

_LABEL_METRICS = ("accuracy", "precision", "recall", "f1")


@dataclass(frozen=True)
class Interval:
    """A point estimate with a two-sided confidence interval (same unit as the data)."""

    value: float
    ci_low: float
    ci_high: float

    def to_dict(self) -> dict[str, float]:
        """``{"value", "ci_low", "ci_high"}`` as plain floats (JSON-serialisable)."""
        return {k: float(v) for k, v in asdict(self).items()}


@dataclass(frozen=True)
class PairedComparison:
    """Result of comparing system A (baseline) with system B (candidate) on the same items.

    Attributes:
        mean_a: Mean of A's per-example scores (accuracy for McNemar).
        mean_b: Mean of B's per-example scores.
        diff: ``mean_b - mean_a``; positive means B is better for higher-is-better metrics.
        ci_low: Lower bound of the paired-bootstrap CI of ``diff``.
        ci_high: Upper bound of the paired-bootstrap CI of ``diff``.
        p_value: Two-sided p-value of H0 "no difference".
        test: ``"paired_bootstrap"`` or ``"mcnemar"``.
        n: Number of paired examples.
    """

    mean_a: float
    mean_b: float
    diff: float
    ci_low: float
    ci_high: float
    p_value: float
    test: Literal["paired_bootstrap", "mcnemar"]
    n: int

    def to_dict(self) -> dict[str, Any]:
        """All fields as plain Python scalars (JSON-serialisable)."""
        out: dict[str, Any] = asdict(self)
        for key in ("mean_a", "mean_b", "diff", "ci_low", "ci_high", "p_value"):
            out[key] = float(out[key])
        out["n"] = int(out["n"])
        return out


# --------------------------------------------------------------------------- helpers


def _as_1d_finite(values: ArrayLike, name: str = "values") -> NDArray[np.float64]:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} must not be empty")
    if not np.all(np.isfinite(arr)):
        # A NaN would silently poison every resample; make the caller drop it explicitly.
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def _check_params(confidence: float, n_resamples: int) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be >= 1, got {n_resamples}")


def _resample_index_chunks(n: int, n_resamples: int, seed: int) -> Iterator[NDArray[np.int64]]:
    """Yield ``(rows, n)`` int64 matrices of indices drawn with replacement from ``range(n)``.

    Rows over all chunks total ``n_resamples``. The chunk size depends only on ``n`` and the
    draws come from one generator, so results are deterministic for a seed.
    """
    rng = np.random.default_rng(seed)
    rows_per_chunk = max(1, _MAX_CHUNK_ELEMENTS // n)
    done = 0
    while done < n_resamples:
        rows = min(rows_per_chunk, n_resamples - done)
        yield rng.integers(0, n, size=(rows, n), dtype=np.int64)
        done += rows


def _percentile_bounds(stats: NDArray[np.float64], confidence: float) -> tuple[float, float]:
    alpha = 1.0 - confidence
    low, high = np.percentile(stats, [100.0 * alpha / 2.0, 100.0 * (1.0 - alpha / 2.0)])
    return float(low), float(high)


def _apply_statistic(
    statistic: Callable[..., Any], samples: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Apply ``statistic`` to every row of ``samples`` (shape ``(rows, n)``) -> ``(rows,)``."""
    try:
        result = np.asarray(statistic(samples, axis=1), dtype=np.float64)
    except TypeError:
        # Statistic without an ``axis`` keyword: fall back to a per-row call.
        result = np.array([float(statistic(row)) for row in samples], dtype=np.float64)
    if result.shape != (samples.shape[0],):
        raise ValueError(
            "statistic must reduce each resample to a scalar; "
            f"got shape {result.shape} for {samples.shape[0]} resamples"
        )
    return result


# --------------------------------------------------------------------------- public API


def percentile(values: ArrayLike, q: float) -> float:
    """The ``q``-th percentile with linear interpolation (``numpy.percentile`` default).

    Used for latency p50/p95; the result has the unit of ``values`` (e.g. milliseconds).

    Args:
        values: 1-D numbers, finite, at least one.
        q: Percentile in ``[0, 100]``.

    Raises:
        ValueError: On empty or non-finite input, or ``q`` outside ``[0, 100]``.
    """
    arr = _as_1d_finite(values)
    if not 0.0 <= q <= 100.0:
        raise ValueError(f"q must be in [0, 100], got {q}")
    return float(np.percentile(arr, q, method="linear"))


def bootstrap_ci(
    values: ArrayLike,
    *,
    statistic: Callable[..., Any] = np.mean,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: int = 0,
) -> Interval:
    """Percentile-bootstrap confidence interval of ``statistic(values)``.

    Draws ``n_resamples`` resamples of size ``n`` with replacement, evaluates the statistic
    on each (vectorised: ``statistic(matrix, axis=1)`` on chunks of the resample matrix,
    falling back to a per-row call if the statistic takes no ``axis``) and takes the
    ``(1 - confidence) / 2`` and ``(1 + confidence) / 2`` quantiles (Efron & Tibshirani
    1993, percentile method).

    Args:
        values: 1-D per-example scores, shape ``(n,)``.
        statistic: Reducer, default ``np.mean``.
        confidence: Two-sided coverage in ``(0, 1)``.
        n_resamples: Number of bootstrap resamples.
        seed: Seed for ``numpy.random.default_rng``.

    Returns:
        :class:`Interval` with ``value = statistic(values)``; for ``n == 1`` the interval
        collapses to ``ci_low == ci_high == value``.

    Raises:
        ValueError: On empty or non-finite input or invalid parameters.
    """
    _check_params(confidence, n_resamples)
    arr = _as_1d_finite(values)
    value = float(statistic(arr))
    if arr.size == 1:
        return Interval(value, value, value)
    stats = np.concatenate(
        [
            _apply_statistic(statistic, arr[idx])
            for idx in _resample_index_chunks(arr.size, n_resamples, seed)
        ]
    )
    low, high = _percentile_bounds(stats, confidence)
    return Interval(value, low, high)


def _label_metric_resamples(
    pred_codes: NDArray[np.int64],
    gold_codes: NDArray[np.int64],
    n_classes: int,
    metric: str,
    positive_code: int | None,
    n_resamples: int,
    seed: int,
) -> NDArray[np.float64]:
    """Vectorised ``label_metrics(...)[metric]`` on every bootstrap resample -> ``(R,)``.

    Codes ``0..n_classes-1`` are known classes; ``n_classes`` is the bucket for predictions
    outside them (including ``None``). Per resample the macro average runs over the classes
    present in that resample's gold labels, which is exactly what :func:`label_metrics`
    would do on the resampled lists.
    """
    width = n_classes + 1
    out: list[NDArray[np.float64]] = []
    for idx in _resample_index_chunks(gold_codes.size, n_resamples, seed):
        rows = idx.shape[0]
        gold = gold_codes[idx]
        pred = pred_codes[idx]
        correct = pred == gold
        if metric == "accuracy":
            out.append(correct.mean(axis=1))
            continue
        # One bincount over the flattened chunk, rows offset by ``width``, gives per-row
        # per-class counts without a Python loop over resamples.
        offsets = (np.arange(rows, dtype=np.int64) * width)[:, None]
        size = rows * width
        true_counts = np.bincount((gold + offsets).ravel(), minlength=size).reshape(rows, width)
        pred_counts = np.bincount((pred + offsets).ravel(), minlength=size).reshape(rows, width)
        tp = np.bincount((gold + offsets)[correct], minlength=size).reshape(rows, width)
        true_counts = true_counts[:, :n_classes].astype(np.float64)
        pred_counts = pred_counts[:, :n_classes].astype(np.float64)
        tp = tp[:, :n_classes].astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            if metric == "precision":
                per_class = np.where(pred_counts > 0, tp / pred_counts, 0.0)
            elif metric == "recall":
                per_class = np.where(true_counts > 0, tp / true_counts, 0.0)
            else:
                denom = pred_counts + true_counts
                per_class = np.where(denom > 0, 2.0 * tp / denom, 0.0)
        if positive_code is not None:
            out.append(per_class[:, positive_code])
        else:
            present = true_counts > 0
            out.append((per_class * present).sum(axis=1) / present.sum(axis=1))
    return np.concatenate(out)


def _label_resamples(
    predicted: Sequence[str | None],
    expected: Sequence[str],
    metric: str,
    positive_label: str | None,
    n_resamples: int,
    seed: int,
) -> NDArray[np.float64]:
    """The metric on each bootstrap resample: labels encoded as class codes (unknown or
    missing predictions get an extra code), then scored vectorised."""
    gold_norm = [normalize_label(e) for e in expected]
    classes = sorted({g for g in gold_norm if g is not None})
    positive_norm = normalize_label(positive_label)
    if positive_norm is not None and positive_norm not in classes:
        classes.append(positive_norm)
    code = {label: i for i, label in enumerate(classes)}
    other = len(classes)
    gold_codes = np.array([code[g] if g is not None else other for g in gold_norm], dtype=np.int64)
    pred_codes = np.array(
        [code.get(normalize_label(p) or "", other) if p is not None else other for p in predicted],
        dtype=np.int64,
    )
    positive_code = code[positive_norm] if positive_norm is not None else None
    return _label_metric_resamples(
        pred_codes, gold_codes, len(classes), metric, positive_code, n_resamples, seed
    )


def bootstrap_ci_label_metric(
    predicted: Sequence[str | None],
    expected: Sequence[str],
    metric: str,
    positive_label: str | None = None,
    *,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: int = 0,
) -> Interval:
    """Percentile-bootstrap CI of a corpus-level label metric, resampling examples.

    ``value`` is ``label_metrics(predicted, expected, positive_label)[metric]``; each
    resample recomputes the same quantity on the resampled ``(predicted, expected)`` pairs
    (vectorised, identical to calling :func:`promptops.evaluation.metrics.label_metrics` on each
    resample; the resample indices are the ones :func:`bootstrap_ci` would draw).

    Args:
        predicted: Predicted labels (``None`` = extraction failed), length ``n``.
        expected: Gold labels, length ``n``.
        metric: ``"accuracy"``, ``"precision"``, ``"recall"`` or ``"f1"``.
        positive_label: Binary mode for that class; macro over expected classes otherwise.
        confidence: Two-sided coverage in ``(0, 1)``.
        n_resamples: Number of bootstrap resamples.
        seed: Seed for ``numpy.random.default_rng``.

    Returns:
        :class:`Interval` on the ``[0, 1]`` scale.

    Raises:
        ValueError: On an unknown metric, empty input, mismatched lengths or invalid
            parameters.
    """
    if metric not in _LABEL_METRICS:
        raise ValueError(f"unknown label metric {metric!r}; allowed: {', '.join(_LABEL_METRICS)}")
    _check_params(confidence, n_resamples)
    value = float(label_metrics(predicted, expected, positive_label)[metric])
    n = len(expected)
    if n == 1:
        return Interval(value, value, value)

    stats = _label_resamples(predicted, expected, metric, positive_label, n_resamples, seed)
    low, high = _percentile_bounds(stats, confidence)
    return Interval(value, low, high)


def paired_bootstrap(
    a: ArrayLike,
    b: ArrayLike,
    *,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: int = 0,
) -> PairedComparison:
    """Paired bootstrap comparison of per-example scores of systems A and B.

    With ``d_i = b_i - a_i`` and observed ``delta = mean(d)``, draw ``n_resamples``
    resamples of the examples (the same indices for A and B, which keeps the pairing) and
    compute ``delta*_r = mean(d[idx_r])``.

    * CI: percentile interval of ``delta*`` (Efron & Tibshirani 1993).
    * p-value (two-sided): under H0 the resampled differences are shifted to mean zero,
      ``delta*_r - delta``; ``p = (#{|delta*_r - delta| >= |delta|} + 1) / (n_resamples + 1)``
      (Berg-Kirkpatrick et al. 2012, following Koehn 2004; the add-one keeps ``p > 0``).

    With ``n == 1`` there is no sampling variability to test against, so the interval
    collapses to ``delta`` and ``p_value`` is 1.0.

    Args:
        a: Baseline per-example scores, shape ``(n,)``.
        b: Candidate per-example scores, shape ``(n,)``, same order as ``a``.
        confidence: Two-sided coverage in ``(0, 1)``.
        n_resamples: Number of bootstrap resamples.
        seed: Seed for ``numpy.random.default_rng``.

    Returns:
        :class:`PairedComparison` with ``test="paired_bootstrap"``.

    Raises:
        ValueError: On empty input, different lengths, non-finite values or invalid
            parameters.
    """
    _check_params(confidence, n_resamples)
    arr_a = _as_1d_finite(a, "a")
    arr_b = _as_1d_finite(b, "b")
    if arr_a.size != arr_b.size:
        raise ValueError(f"a and b must have the same length, got {arr_a.size} and {arr_b.size}")
    n = int(arr_a.size)
    d = arr_b - arr_a
    delta = float(d.mean())
    mean_a, mean_b = float(arr_a.mean()), float(arr_b.mean())
    if n == 1:
        return PairedComparison(mean_a, mean_b, delta, delta, delta, 1.0, "paired_bootstrap", n)

    resampled = np.concatenate(
        [d[idx].mean(axis=1) for idx in _resample_index_chunks(n, n_resamples, seed)]
    )
    low, high = _percentile_bounds(resampled, confidence)
    # Tolerance so that a resample equal to the sample (up to summation-order rounding)
    # counts as "at least as extreme"; this only ever makes the test more conservative.
    tolerance = 1e-12 * max(1.0, abs(delta))
    extreme = int(np.count_nonzero(np.abs(resampled - delta) >= abs(delta) - tolerance))
    p_value = min(1.0, (extreme + 1) / (n_resamples + 1))
    return PairedComparison(mean_a, mean_b, delta, low, high, p_value, "paired_bootstrap", n)


def _as_binary(values: ArrayLike, name: str) -> NDArray[np.float64]:
    arr = _as_1d_finite(values, name)
    if not np.all((arr == 0.0) | (arr == 1.0)):
        raise ValueError(f"{name} must contain only 0/1 or booleans")
    return arr


def mcnemar(
    a_correct: ArrayLike,
    b_correct: ArrayLike,
    *,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: int = 0,
) -> PairedComparison:
    """Exact McNemar test for paired 0/1 correctness of systems A and B.

    With ``n01`` = #(A wrong, B right) and ``n10`` = #(A right, B wrong), the p-value is
    ``scipy.stats.binomtest(n01, n01 + n10, p=0.5, alternative="two-sided").pvalue``
    (McNemar 1947, exact binomial form); it is 1.0 when there are no discordant pairs.
    ``diff = accuracy_b - accuracy_a`` with its CI from :func:`paired_bootstrap` on the
    correctness vectors (the bootstrap's own p-value is discarded).

    Args:
        a_correct: Baseline correctness, booleans or 0/1, shape ``(n,)``.
        b_correct: Candidate correctness, same shape and order.
        confidence: Coverage of the CI on ``diff``.
        n_resamples: Bootstrap resamples for the CI.
        seed: Seed for the CI's resampling.

    Returns:
        :class:`PairedComparison` with ``test="mcnemar"``.

    Raises:
        ValueError: On empty input, different lengths or values other than 0/1.
    """
    arr_a = _as_binary(a_correct, "a_correct")
    arr_b = _as_binary(b_correct, "b_correct")
    if arr_a.size != arr_b.size:
        raise ValueError(
            f"a_correct and b_correct must have the same length, got {arr_a.size} and {arr_b.size}"
        )
    n01 = int(np.count_nonzero((arr_a == 0.0) & (arr_b == 1.0)))
    n10 = int(np.count_nonzero((arr_a == 1.0) & (arr_b == 0.0)))
    discordant = n01 + n10
    from scipy.stats import binomtest  # scipy.stats takes ~1.5 s to import: only when needed

    p_value = 1.0 if discordant == 0 else float(binomtest(n01, discordant, 0.5).pvalue)
    boot = paired_bootstrap(arr_a, arr_b, confidence=confidence, n_resamples=n_resamples, seed=seed)
    return PairedComparison(
        boot.mean_a,
        boot.mean_b,
        boot.diff,
        boot.ci_low,
        boot.ci_high,
        min(1.0, p_value),
        "mcnemar",
        boot.n,
    )


def paired_bootstrap_label_metric(
    predicted_a: Sequence[str | None],
    predicted_b: Sequence[str | None],
    expected: Sequence[str],
    metric: str,
    positive_label: str | None = None,
    *,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: int = 0,
) -> PairedComparison:
    """Paired bootstrap of the difference B - A in a corpus-level label metric.

    Both systems are scored on the same resampled examples (the same seed draws the same
    indices), so the interval and the two-sided p-value (resampled differences shifted to mean
    zero under H0, add-one smoothing; Koehn 2004) account for the pairing.

    Raises:
        ValueError: On an unknown metric, mismatched lengths, empty input or bad parameters.
    """
    if not (len(predicted_a) == len(predicted_b) == len(expected)):
        raise ValueError("predicted_a, predicted_b and expected must have the same length")
    if metric not in _LABEL_METRICS:
        raise ValueError(f"unknown label metric {metric!r}; allowed: {', '.join(_LABEL_METRICS)}")
    _check_params(confidence, n_resamples)
    value_a = float(label_metrics(predicted_a, expected, positive_label)[metric])
    value_b = float(label_metrics(predicted_b, expected, positive_label)[metric])
    n = len(expected)
    delta = value_b - value_a
    if n == 1:
        return PairedComparison(value_a, value_b, delta, delta, delta, 1.0, "paired_bootstrap", n)
    # The same seed draws the same resample indices for both systems: the pairing.
    diffs = _label_resamples(
        predicted_b, expected, metric, positive_label, n_resamples, seed
    ) - _label_resamples(predicted_a, expected, metric, positive_label, n_resamples, seed)
    low, high = _percentile_bounds(diffs, confidence)
    tolerance = 1e-12 * max(1.0, abs(delta))
    extreme = int(np.count_nonzero(np.abs(diffs - diffs.mean()) >= abs(delta) - tolerance))
    p_value = min(1.0, (extreme + 1) / (n_resamples + 1))
    return PairedComparison(value_a, value_b, delta, low, high, p_value, "paired_bootstrap", n)
