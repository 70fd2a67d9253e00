"""The dashboard's figures computed the plain way: one ``GROUP BY`` over ``runs`` (with
``percentile_cont``), no rollups. The tests compare ``GET /dashboards/metrics`` with it, and
``tests/benchmarks/bench_dashboard.py`` times it as the baseline.

:func:`baseline` answers in the endpoint's own shape (``totals``, ``series`` by bucket start,
``groups`` by the grouped dimensions), so a test compares figure by figure.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

DIMENSION_COLUMNS = {
    "project": "r.project_id",
    "model": "r.model",
    "prompt_version": "r.prompt_version_id",
}

#: ``{dims}``: the grouped columns. Filters take NULL for "any".
BASELINE_SQL = """
SELECT GROUPING(date_trunc(:grain, r.created_at, 'UTC')) AS all_buckets,
       GROUPING({dims}) AS all_groups,
       date_trunc(:grain, r.created_at, 'UTC') AS bucket_start, {dims},
       count(*), count(*) FILTER (WHERE r.success), count(*) FILTER (WHERE r.cache_hit),
       sum(r.tokens_in), sum(r.tokens_out), sum(r.cost_usd), sum(r.latency_ms),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY r.latency_ms),
       percentile_cont(0.95) WITHIN GROUP (ORDER BY r.latency_ms)
FROM runs r JOIN projects p ON p.id = r.project_id
WHERE p.organization_id = :org
  AND (CAST(:scope_project AS uuid) IS NULL OR r.project_id = :scope_project)
  AND (CAST(:project AS uuid) IS NULL OR r.project_id = :project)
  AND (CAST(:model AS text) IS NULL OR r.model = :model)
  AND (CAST(:version AS uuid) IS NULL OR r.prompt_version_id = :version)
  AND r.created_at >= :start AND r.created_at < :end
GROUP BY GROUPING SETS ((date_trunc(:grain, r.created_at, 'UTC')), ({dims}), ())
"""


def _figures(values: tuple[Any, ...]) -> dict[str, Any]:
    runs, ok, hits, t_in, t_out, usd, lat, p50, p95 = values
    return {
        "runs": int(runs),
        "successes": int(ok),
        "cache_hits": int(hits),
        "tokens_in": int(t_in),
        "tokens_out": int(t_out),
        "cost_usd": float(usd),
        "latency_mean_ms": float(lat) / runs,
        "latency_p50_ms": float(p50),
        "latency_p95_ms": float(p95),
    }


async def baseline(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    grain: str,
    start: datetime,
    end: datetime,
    group_by: list[str],
    scope_project_id: uuid.UUID | None = None,
    project_id: uuid.UUID | None = None,
    model: str | None = None,
    prompt_version_id: uuid.UUID | None = None,
) -> dict[str, Any]:
    """``{"totals", "series": {bucket_start: figures}, "groups": {dimension values: figures}}``
    of the runs in [start, end), by one GROUP BY over ``runs``."""
    dims = [DIMENSION_COLUMNS[d] for d in DIMENSION_COLUMNS if d in group_by]
    rows = await session.execute(
        text(BASELINE_SQL.format(dims=", ".join(dims))),
        {
            "org": organization_id,
            "grain": grain,
            "start": start,
            "end": end,
            "scope_project": scope_project_id,
            "project": project_id,
            "model": model,
            "version": prompt_version_id,
        },
    )
    out: dict[str, Any] = {"totals": None, "series": {}, "groups": {}}
    width = len(dims)
    for row in rows:
        figures = _figures(tuple(row[3 + width :]))
        if not row[0]:
            out["series"][row[2]] = figures
        elif not row[1]:
            out["groups"][tuple(row[3 : 3 + width])] = figures
        else:
            out["totals"] = figures
    return out
