"""Rendering of evaluation results for the terminal (rich) and as JSON."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.table import Table

from promptops.evaluation.metrics import METRIC_SPECS


def wide_width() -> int | None:
    """Comparison tables need ~120 columns; keep a wider terminal's width, and use 130 when
    output is not a terminal (rich would otherwise wrap at 80)."""
    import shutil
    import sys

    if not sys.stdout.isatty():
        return 130
    return max(shutil.get_terminal_size().columns, 100)


def _fmt(x: float | None, digits: int = 3) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


def _interval(m: dict[str, Any] | None) -> str:
    if not m:
        return "—"
    return f"{m['value']:.3f} [{m['ci_low']:.3f}, {m['ci_high']:.3f}]"


def _p(p: float | None) -> str:
    if p is None:
        return "—"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def comparison_table(
    title: str, evaluation: dict[str, Any], version_names: dict[str, str] | None = None
) -> Table:
    """A table: one row per metric; each version's value with its 95% CI, then the paired
    difference (last version minus first) with its CI and p-value."""
    summary = evaluation.get("summary") or {}
    versions = summary.get("versions") or []
    comparisons = summary.get("comparisons") or []
    names = version_names or {}
    table = Table(title=title, title_justify="left", show_lines=False)
    table.add_column("metric", style="bold")
    for v in versions:
        label = names.get(v["version_id"], v["version_id"][:8])
        table.add_column(f"{label}\n(95% CI)", justify="right")
    cmp = comparisons[-1] if comparisons else None
    if cmp:
        a = names.get(cmp["baseline"], cmp["baseline"][:8])
        b = names.get(cmp["candidate"], cmp["candidate"][:8])
        table.add_column(f"Δ {b} − {a}\n(95% CI)", justify="right")
        table.add_column("p-value", justify="right")
    metric_names = [
        m for m in evaluation.get("metrics", []) if METRIC_SPECS[m].kind not in ("latency", "cost")
    ]
    for name in metric_names:
        row = [name] + [_interval(v["metrics"].get(name)) for v in versions]
        if cmp:
            c = cmp["metrics"].get(name)
            if c:
                test = " (McNemar)" if c.get("test") == "mcnemar" else ""
                row += [
                    f"{c['diff']:+.3f} [{c['ci_low']:+.3f}, {c['ci_high']:+.3f}]",
                    _p(c["p_value"]) + test,
                ]
            else:
                row += ["—", "—"]
        table.add_row(*row)
    extra: list[tuple[str, Callable[[dict[str, Any]], str]]] = [
        ("examples (errors)", lambda v: f"{v['n']} ({v['errors']})"),
        (
            "latency p50 / p95 ms",
            lambda v: (
                f"{_fmt(v.get('latency_ms', {}).get('p50'), 0)} / "
                f"{_fmt(v.get('latency_ms', {}).get('p95'), 0)}"
            ),
        ),
        ("tokens in / out", lambda v: f"{v.get('tokens_in', 0)} / {v.get('tokens_out', 0)}"),
        ("cost USD", lambda v: f"{v.get('cost_usd', 0.0):.6f}"),
    ]
    for label, fn in extra:
        row = [label] + [fn(v) for v in versions]
        if cmp:
            if label.startswith("latency") and cmp["metrics"].get("latency_ms"):
                c = cmp["metrics"]["latency_ms"]
                row += [f"{c['diff']:+.0f} ms (mean)", _p(c["p_value"])]
            else:
                row += ["", ""]
        table.add_row(*row, style="dim" if label != "latency p50 / p95 ms" else None)
    return table


def machine_summary(name: str, evaluation: dict[str, Any]) -> dict[str, Any]:
    """``{"name", "evaluation_id", "versions": [{"version_id", "<metric>": {...}}],
    "comparison"}``."""
    summary = evaluation.get("summary") or {}
    versions = []
    for v in summary.get("versions") or []:
        entry: dict[str, Any] = {"version_id": v["version_id"], "n": v["n"], "errors": v["errors"]}
        entry.update(v.get("metrics", {}))
        entry["latency_ms"] = v.get("latency_ms")
        entry["tokens_in"] = v.get("tokens_in")
        entry["tokens_out"] = v.get("tokens_out")
        entry["cost_usd"] = v.get("cost_usd")
        versions.append(entry)
    comparisons = summary.get("comparisons") or []
    return {
        "name": name,
        "evaluation_id": evaluation.get("id"),
        "status": evaluation.get("status"),
        "versions": versions,
        "comparison": comparisons[-1] if comparisons else None,
    }
