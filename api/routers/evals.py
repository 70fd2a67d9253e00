from __future__ import annotations

import re
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response, status

from api.deps import CurrentPrincipal, EditorPrincipal, SessionDep, SettingsDep, TemporalClientDep
from api.schemas.common import ERROR_RESPONSES, INT64_MAX, Text
from api.schemas.evals import (
    EvalExamplesPublic,
    EvalPublic,
    EvalRunRequest,
    EvalsPublic,
    EvalStarted,
    MetricsPublic,
)
from api.services.evals import EvaluationService, metric_registry, temporal_ui_link

#: An evaluation id (its workflow id, ``evaluations.id`` is ``VARCHAR(200)``).
EvaluationId = Annotated[Text, Path(max_length=200)]

router = APIRouter(prefix="/evals", tags=["evaluations"], responses=ERROR_RESPONSES)


@router.post("/run", response_model=EvalStarted, status_code=status.HTTP_202_ACCEPTED)
async def run_evaluation(
    body: EvalRunRequest,
    session: SessionDep,
    principal: EditorPrincipal,
    client: TemporalClientDep,
    settings: SettingsDep,
) -> dict[str, Any]:
    """Start a ``BatchEvaluationWorkflow``; the evaluation id is its workflow id."""
    eval_id = await EvaluationService(session, principal, client, settings).start(body)
    return {
        "id": eval_id,
        "workflow_id": eval_id,
        "temporal_ui_url": temporal_ui_link(settings, eval_id),
    }


@router.get("", response_model=EvalsPublic)
async def list_evaluations(
    session: SessionDep,
    principal: CurrentPrincipal,
    client: TemporalClientDep,
    settings: SettingsDep,
    project_id: Annotated[uuid.UUID, Query()],
    offset: int = Query(0, ge=0, le=INT64_MAX),
    limit: int = Query(50, ge=1, le=200),
) -> dict[str, Any]:
    """The project's evaluations, newest first (``offset``/``limit``), each with its status
    (Running, Completed, Failed, Cancelled, Terminated, TimedOut), dataset, versions and
    metrics; ``count`` is the total. 404 for a project the caller cannot see."""
    return await EvaluationService(session, principal, client, settings).list_for_project(
        project_id, offset=offset, limit=limit
    )


@router.get("/metrics", response_model=MetricsPublic)
async def list_metrics(principal: CurrentPrincipal) -> dict[str, Any]:
    """The metric registry: every name ``POST /evals/run`` accepts in ``metrics``, with its
    kind, direction and a one-line description (with its unit)."""
    data = metric_registry()
    return {"data": data, "count": len(data)}


@router.get("/{evaluation_id}", response_model=EvalPublic)
async def get_evaluation(
    evaluation_id: EvaluationId,
    session: SessionDep,
    principal: CurrentPrincipal,
    client: TemporalClientDep,
    settings: SettingsDep,
    rows: int = Query(1000, ge=0, le=10000),
) -> dict[str, Any]:
    """Status, progress (done/total, running means), aggregates with 95% CIs, comparisons and
    the per-example rows (first ``rows``)."""
    return await EvaluationService(session, principal, client, settings).get(
        evaluation_id, rows_limit=rows
    )


@router.post("/{evaluation_id}/cancel", status_code=status.HTTP_202_ACCEPTED)
async def cancel_evaluation(
    evaluation_id: EvaluationId,
    session: SessionDep,
    principal: EditorPrincipal,
    client: TemporalClientDep,
    settings: SettingsDep,
) -> dict[str, Any]:
    await EvaluationService(session, principal, client, settings).cancel(evaluation_id)
    return {"id": evaluation_id, "status": "Cancelling"}


@router.get("/{evaluation_id}/examples", response_model=EvalExamplesPublic)
async def list_evaluation_examples(
    evaluation_id: EvaluationId,
    session: SessionDep,
    principal: CurrentPrincipal,
    settings: SettingsDep,
    offset: int = Query(0, ge=0, le=INT64_MAX),
    limit: int = Query(50, ge=1, le=500),
    disagreements: bool = Query(
        False,
        description="only examples on which the versions disagree (a score or the predicted "
        "label differs, or one run failed and another did not)",
    ),
) -> dict[str, Any]:
    """Per-example rows, paged in dataset order: the example's input and expected value and
    each version's run (output, scores, predicted label, error, latency ms, tokens, cost
    USD); ``count`` is the number of examples matching."""
    return await EvaluationService(session, principal, None, settings).examples(
        evaluation_id, offset=offset, limit=limit, disagreements=disagreements
    )


@router.get(
    "/{evaluation_id}/rows.csv",
    response_class=Response,
    responses={
        200: {
            "content": {"text/csv": {"schema": {"type": "string"}}},
            "description": "every per-example row, one line per example and version",
        }
    },
)
async def export_evaluation_rows(
    evaluation_id: EvaluationId,
    session: SessionDep,
    principal: CurrentPrincipal,
    settings: SettingsDep,
) -> Response:
    """Every per-example row as a CSV download (``text/csv; charset=utf-8``, UTF-8, one line
    per example and version; columns in
    :meth:`api.services.evals.EvaluationService.rows_csv`)."""
    text = await EvaluationService(session, principal, None, settings).rows_csv(evaluation_id)
    filename = re.sub(r"[^A-Za-z0-9._-]", "_", evaluation_id) + "-rows.csv"
    return Response(
        content=text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
