from __future__ import annotations

import pytest

from promptops.evaluation import statistics
from promptops.evaluation.summary import ExampleRow, summarize


def _rows(values: list[float], labels: list[str], expected: list[str]) -> list[ExampleRow]:
    return [
        ExampleRow(
            example_id=f"e{i}",
            values={"rouge1": v, "accuracy": float(lab == exp)},
            predicted_label=lab,
            expected=exp,
            latency_ms=10.0 * (i + 1),
            tokens_in=5,
            tokens_out=2,
            cost_usd=0.001,
        )
        for i, (v, lab, exp) in enumerate(zip(values, labels, expected, strict=True))
    ]


def test_summary_intervals_comparison_and_costs() -> None:
    exp = ["spam", "ham"] * 10
    a = _rows([0.1] * 20, ["spam"] * 20, exp)
    b = _rows([0.4] * 20, exp, exp)
    s = summarize(
        {"A": a, "B": b},
        ["rouge1", "accuracy", "precision", "recall", "f1", "latency_ms", "cost_usd"],
        positive_label="spam",
    )
    va, vb = s["versions"]
    assert va["metrics"]["rouge1"] == {
        "value": pytest.approx(0.1),
        "ci_low": pytest.approx(0.1),
        "ci_high": pytest.approx(0.1),
    }
    assert va["metrics"]["accuracy"]["value"] == 0.5 and vb["metrics"]["accuracy"]["value"] == 1
    assert va["metrics"]["recall"]["value"] == 1.0 and va["metrics"]["precision"]["value"] == 0.5
    assert va["latency_ms"]["p50"] == pytest.approx(
        statistics.percentile([10.0 * (i + 1) for i in range(20)], 50)
    )
    assert va["tokens_in"] == 100 and va["cost_usd"] == pytest.approx(0.02)
    (cmp,) = s["comparisons"]
    assert cmp["baseline"] == "A" and cmp["candidate"] == "B" and cmp["n_paired"] == 20
    assert cmp["metrics"]["rouge1"]["diff"] == pytest.approx(0.3)
    assert cmp["metrics"]["accuracy"]["test"] == "mcnemar"
    assert cmp["metrics"]["accuracy"]["p_value"] < 0.01
    # A calls everything spam (recall 1, precision 0.5); B is perfect (recall 1, precision 1).
    assert cmp["metrics"]["precision"]["diff"] == pytest.approx(0.5)
    assert cmp["metrics"]["precision"]["test"] == "paired_bootstrap"
    assert cmp["metrics"]["precision"]["p_value"] < 0.05
    assert cmp["metrics"]["recall"]["diff"] == pytest.approx(0.0)
    assert cmp["metrics"]["recall"]["p_value"] == pytest.approx(1.0)


def test_comparison_pairs_only_shared_examples() -> None:
    exp = ["ham"] * 4
    a = _rows([0.0, 0.0, 0.0, 0.0], exp, exp)
    b = _rows([1.0, 1.0], exp[:2], exp[:2])
    s = summarize({"A": a, "B": b}, ["rouge1"])
    assert s["comparisons"][0]["n_paired"] == 2
