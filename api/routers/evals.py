from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, status

from api.deps import CurrentPrincipal, EditorPrincipal, SessionDep, SettingsDep, TemporalClientDep
from api.schemas.common import ERROR_RESPONSES, Text
from api.schemas.evals import EvalPublic, EvalRunRequest, EvalStarted
from api.services.evals import EvaluationService, temporal_ui_link

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
