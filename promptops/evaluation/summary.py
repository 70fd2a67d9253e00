"""Aggregate per-example evaluation rows into a summary with confidence intervals.

Shapes: ``summarize(rows_by_version, metrics, ...)`` takes, per prompt version id, a list of
:class:`ExampleRow` and returns a JSON-ready dict::

    {"versions": [{"version_id", "n", "errors", "metrics": {name: {"value", "ci_low", "ci_high"}},
                   "latency_ms": {"p50", "p95"}, "tokens_in", "tokens_out", "cost_usd"}],
     "comparisons": [{"baseline", "candidate", "n_paired",
                      "metrics": {name: {"diff", "ci_low", "ci_high", "p_value", "test"}}}]}

Intervals are 95% percentile-bootstrap intervals over examples (Efron & Tibshirani 1993).
Comparisons pair each candidate with the first version on the examples both ran: McNemar's
exact test for label correctness, the paired bootstrap (Koehn 2004) for everything else
(corpus-level precision/recall/F1 included, resampling examples jointly).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from promptops.evaluation import statistics
from promptops.evaluation.metrics import METRIC_SPECS

LABEL_CORPUS_METRICS = ("precision", "recall", "f1")


@dataclass
class ExampleRow:
    example_id: str
    values: dict[str, float] = field(default_factory=dict)
    predicted_label: str | None = None
    expected: str | None = None
    latency_ms: float = 0.0
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    success: bool = True


def _version_summary(
    version_id: str,
    rows: Sequence[ExampleRow],
    metrics: Sequence[str],
    positive_label: str | None,
    seed: int,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "version_id": version_id,
        "n": len(rows),
        "errors": sum(1 for r in rows if not r.success),
        "metrics": {},
    }
    if not rows:
        return out
    for name in metrics:
        spec = METRIC_SPECS[name]
        if name in LABEL_CORPUS_METRICS:
            out["metrics"][name] = statistics.bootstrap_ci_label_metric(
                [r.predicted_label for r in rows],
                [str(r.expected) for r in rows],
                name,
                positive_label=positive_label,
                seed=seed,
            ).to_dict()
        elif spec.kind in ("latency", "cost"):
            continue
        else:
            values = [r.values[name] for r in rows if name in r.values]
            if values:
                out["metrics"][name] = statistics.bootstrap_ci(values, seed=seed).to_dict()
    latencies = [r.latency_ms for r in rows]
    out["latency_ms"] = {
        "p50": statistics.percentile(latencies, 50),
        "p95": statistics.percentile(latencies, 95),
    }
    out["tokens_in"] = sum(r.tokens_in for r in rows)
    out["tokens_out"] = sum(r.tokens_out for r in rows)
    out["cost_usd"] = sum(r.cost_usd for r in rows)
    return out


def _compare(
    baseline: Sequence[ExampleRow],
    candidate: Sequence[ExampleRow],
    metrics: Sequence[str],
    seed: int,
    positive_label: str | None = None,
) -> dict[str, Any]:
    by_id = {r.example_id: r for r in baseline}
    pairs = [(by_id[r.example_id], r) for r in candidate if r.example_id in by_id]
    result: dict[str, Any] = {"n_paired": len(pairs), "metrics": {}}
    if not pairs:
        return result
    for name in metrics:
        spec = METRIC_SPECS[name]
        if name in LABEL_CORPUS_METRICS:
            result["metrics"][name] = statistics.paired_bootstrap_label_metric(
                [p[0].predicted_label for p in pairs],
                [p[1].predicted_label for p in pairs],
                [str(p[0].expected) for p in pairs],
                name,
                positive_label=positive_label,
                seed=seed,
            ).to_dict()
            continue
        if spec.kind == "cost":
            continue
        if spec.kind == "latency":
            a = [p[0].latency_ms for p in pairs]
            b = [p[1].latency_ms for p in pairs]
        else:
            both = [
                (p[0].values[name], p[1].values[name])
                for p in pairs
                if name in p[0].values and name in p[1].values
            ]
            if not both:
                continue
            a = [x for x, _ in both]
            b = [y for _, y in both]
        if spec.kind == "label":
            cmp = statistics.mcnemar([bool(x) for x in a], [bool(y) for y in b])
        else:
            cmp = statistics.paired_bootstrap(a, b, seed=seed)
        result["metrics"][name] = cmp.to_dict()
    return result


def summarize(
    rows_by_version: Mapping[str, Sequence[ExampleRow]],
    metrics: Sequence[str],
    *,
    positive_label: str | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Summary of an evaluation; see the module docstring for the shape."""
    version_ids = list(rows_by_version)
    summary: dict[str, Any] = {
        "versions": [
            _version_summary(v, rows_by_version[v], metrics, positive_label, seed)
            for v in version_ids
        ],
        "comparisons": [],
    }
    if len(version_ids) > 1:
        base = version_ids[0]
        for cand in version_ids[1:]:
            cmp = _compare(
                rows_by_version[base], rows_by_version[cand], metrics, seed, positive_label
            )
            summary["comparisons"].append({"baseline": base, "candidate": cand, **cmp})
    return summary
