"""The dashboard's figures (``GET /dashboards/metrics``): read from the run rollups
(:mod:`promptops.db.repositories.rollups`), never from a scan of ``runs``, within the caller's
organization and project scope."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import Principal
from api.schemas.dashboards import BUCKET_LENGTH, DashboardQuery
from api.services.prompts import PromptService
from promptops.db.repositories.rollups import (
    DIMENSIONS,
    RELATIVE_ERROR,
    RollupFigures,
    RollupKey,
    RunRollupRepository,
)

_EMPTY: dict[str, Any] = {
    "runs": 0,
    "successes": 0,
    "success_rate": None,
    "cache_hits": 0,
    "cache_hit_rate": None,
    "tokens_in": 0,
    "tokens_out": 0,
    "tokens": 0,
    "cost_usd": 0.0,
    "cost_per_run_usd": None,
    "latency_mean_ms": None,
    "latency_p50_ms": None,
    "latency_p95_ms": None,
}


def figures(f: RollupFigures | None) -> dict[str, Any]:
    """The public figures of ``f`` (rates and means None without runs)."""
    if f is None or f.runs <= 0:
        return dict(_EMPTY)
    cost = float(f.cost_usd)
    return {
        "runs": f.runs,
        "successes": f.successes,
        "success_rate": f.successes / f.runs,
        "cache_hits": f.cache_hits,
        "cache_hit_rate": f.cache_hits / f.runs,
        "tokens_in": f.tokens_in,
        "tokens_out": f.tokens_out,
        "tokens": f.tokens_in + f.tokens_out,
        "cost_usd": cost,
        "cost_per_run_usd": cost / f.runs,
        "latency_mean_ms": f.latency_ms_sum / f.runs,
        "latency_p50_ms": f.latency_ms(0.5),
        "latency_p95_ms": f.latency_ms(0.95),
    }


def _options(keys: list[RollupKey]) -> dict[str, Any]:
    projects: dict[uuid.UUID, str] = {}
    models: set[str] = set()
    versions: dict[uuid.UUID, dict[str, Any]] = {}
    for k in keys:
        projects[k.project_id] = k.project_name
        models.add(k.model)
        if k.prompt_version_id is not None and k.prompt_id is not None:
            versions[k.prompt_version_id] = {
                "id": k.prompt_version_id,
                "project_id": k.project_id,
                "prompt_id": k.prompt_id,
                "prompt_name": k.prompt_name,
                "version": k.version,
            }
    return {
        "projects": [{"id": i, "name": n} for i, n in projects.items()],
        "models": sorted(models),
        "prompt_versions": list(versions.values()),
    }


class DashboardService:
    def __init__(self, session: AsyncSession, principal: Principal) -> None:
        self.session = session
        self.principal = principal

    async def metrics(
        self, query: DashboardQuery, *, now: datetime | None = None
    ) -> dict[str, Any]:
        """The figures of ``query`` (see ``DashboardMetricsPublic``). 404 for a ``project_id``
        outside the caller's organization or project scope."""
        if query.project_id is not None:
            await PromptService(self.session, self.principal).get_project(query.project_id)
        start, end = query.window(now)
        group_by = [d for d in DIMENSIONS if d in query.group_by]
        rollups = RunRollupRepository(self.session)
        keys = await rollups.keys(
            organization_id=self.principal.organization_id,
            scope_project_id=self.principal.project_id,
            project_id=query.project_id,
            start=start,
            end=end,
        )
        report = await rollups.figures(
            organization_id=self.principal.organization_id,
            scope_project_id=self.principal.project_id,
            grain=query.bucket,
            start=start,
            end=end,
            group_by=group_by,
            project_id=query.project_id,
            model=query.model,
            prompt_version_id=query.prompt_version_id,
        )
        series = []
        at, step = start, BUCKET_LENGTH[query.bucket]
        while at < end:
            series.append({"bucket_start": at, **figures(report.series.get(at))})
            at += step
        names = {k.project_id: k.project_name for k in keys}
        version_of = {k.prompt_version_id: k for k in keys if k.prompt_version_id is not None}
        groups = []
        for values, f in report.groups.items():
            key = dict(zip(group_by, values, strict=True))
            project_id = key.get("project")
            version_id = key.get("prompt_version")
            version = version_of.get(version_id) if version_id is not None else None
            groups.append(
                {
                    "project_id": project_id,
                    "project_name": names.get(project_id) if project_id else None,
                    "model": key.get("model"),
                    "prompt_version_id": version_id,
                    "prompt_id": version.prompt_id if version else None,
                    "prompt_name": version.prompt_name if version else None,
                    "version": version.version if version else None,
                    **figures(f),
                }
            )
        groups.sort(key=lambda g: (-g["runs"], g["project_name"] or "", g["model"] or ""))
        return {
            "start": start,
            "end": end,
            "bucket": query.bucket,
            "group_by": group_by,
            "project_id": query.project_id,
            "model": query.model,
            "prompt_version_id": query.prompt_version_id,
            "latency_relative_error": RELATIVE_ERROR,
            "totals": figures(report.total),
            "series": series,
            "groups": [g for g in groups if g["runs"] != 0],
            "options": _options(keys),
        }
