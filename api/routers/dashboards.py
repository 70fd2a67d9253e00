"""The dashboard's figures, from the pre-aggregated run rollups."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.deps import CurrentPrincipal, SessionDep
from api.schemas.common import ERROR_RESPONSES
from api.schemas.dashboards import DashboardMetricsPublic, DashboardQuery
from api.services.dashboards import DashboardService

router = APIRouter(prefix="/dashboards", tags=["dashboards"], responses=ERROR_RESPONSES)


@router.get("/metrics", response_model=DashboardMetricsPublic)
async def dashboard_metrics(
    session: SessionDep, principal: CurrentPrincipal, query: Annotated[DashboardQuery, Query()]
) -> dict[str, Any]:
    """p50/p95 latency (ms), cost (USD), tokens, success rate and cache hit rate of the runs
    in the window `[start, end)` (widened to whole UTC buckets), in all (`totals`), per
    `bucket` (`series`: every bucket, empty ones with zero runs) and per group of `group_by`
    (`groups`), optionally narrowed to a project, a model and a prompt version. Any role;
    only the caller's organization (and project scope) is counted.

    Served from the pre-aggregated run rollups (per UTC hour and day, project, model and
    prompt version; latency percentiles from a log-spaced histogram, within
    `latency_relative_error` = 2 % of a latency of that rank) plus the runs recorded since the
    rollups were last folded: every committed run counts at once. Errors: 404 a `project_id`
    that is not the caller's; 422 names the query field (`start` after `end`, a window of
    more than 2,400 buckets, times outside 1970..9000)."""
    return await DashboardService(session, principal).metrics(query)
