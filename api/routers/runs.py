from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, status
from fastapi.encoders import jsonable_encoder
from fastapi.responses import StreamingResponse

from api.deps import CurrentPrincipal, EditorPrincipal, PipelineDep, SessionDep
from api.schemas.common import ERROR_RESPONSES, NAME_MAX, Text
from api.schemas.runs import (
    ExecuteRequest,
    FeedbackCreate,
    FeedbackPublic,
    GenerateRequest,
    OutcomeCreate,
    OutcomePublic,
    RunCursor,
    RunPublic,
    RunResult,
    RunsPublic,
    run_result,
)
from api.services.feedback import FeedbackService
from api.services.runs import RunListService
from api.services.serving import ServingService
from promptops.db.repositories import RunRepository
from promptops.db.repositories.runs import RunFilter
from promptops.errors import PromptOpsError
from promptops.llm.pipeline import CallOutcome
from promptops.llm.pipeline.stages.structured import SCHEMA_NOT_MET

router = APIRouter(tags=["runs"], responses=ERROR_RESPONSES)


def _sse(event: str, data: Any) -> bytes:
    """One Server-Sent Event (WHATWG HTML, "Server-sent events": ``event:`` and one ``data:``
    line of JSON, then a blank line)."""
    return f"event: {event}\ndata: {json.dumps(data, default=str)}\n\n".encode()


async def _generate_events(outcome: CallOutcome) -> AsyncIterator[bytes]:
    """``delta`` events (``{"text"}``) as the model answers, then ``done`` with the run
    result, or ``error`` (``{"status", "message"}``, plus ``run_id`` when the answer was
    recorded as a failure)."""
    if outcome.deltas is None:  # a cache hit: the stored answer as one delta
        yield _sse("delta", {"text": outcome.text})
    else:
        try:
            # aclosing: a client that goes away closes the provider stream and the call's
            # database connection at once, not at garbage collection.
            async with contextlib.aclosing(outcome.deltas) as deltas:
                async for text in deltas:
                    yield _sse("delta", {"text": text})
        except PromptOpsError as exc:
            yield _sse("error", {"status": exc.status_code, "message": exc.message})
            return
    if not outcome.success:
        yield _sse(
            "error",
            {"status": SCHEMA_NOT_MET, "message": outcome.error, "run_id": str(outcome.run.id)},
        )
        return
    yield _sse("done", jsonable_encoder(run_result(outcome)))


@router.post("/runs/execute", response_model=RunResult)
async def execute(
    body: ExecuteRequest, principal: EditorPrincipal, pipeline: PipelineDep
) -> dict[str, Any]:
    """Synchronous test run of one version; the run is recorded with tokens, cost, latency.
    Errors: 404 unknown version, 422 bad variables or model, 429 budget or provider rate
    limit, 502/503 provider failures (recorded as failed runs)."""
    return run_result(await ServingService(pipeline, principal).execute(body))


@router.post(
    "/generate",
    response_model=RunResult,
    responses={
        200: {
            "content": {"text/event-stream": {}},
            "description": "JSON, or Server-Sent Events with stream: true "
            "(delta* then done, or error)",
        }
    },
)
async def generate(body: GenerateRequest, principal: EditorPrincipal, pipeline: PipelineDep) -> Any:
    """Production inference. Resolves the environment's label (prod -> ``production``); while
    a canary deployment is active there, ``subject_id`` is hashed into the current weights
    (sticky; read on every request). The run records subject, environment, deployment, arm.
    An explicit ``prompt_version_id`` of a version that has not passed the approval policy is
    a test call (recorded with source ``test``, never counted in canary figures). ``model``
    overrides the version's model (a model name or ``policy:<name>``). With ``stream: true``
    the answer is Server-Sent Events: ``delta`` events (``{"text"}``) then one ``done`` event
    carrying the same object as the JSON answer (token counts and cost included), or an
    ``error`` event (``{"status", "message"}``).
    Errors: 404 unknown prompt/label/version, 422 bad variables, schema, model or
    label/environment mismatch, 429 budget or provider rate limit, 502/503 provider failures
    (recorded as failed runs)."""
    outcome = await ServingService(pipeline, principal).generate(body)
    if body.stream:
        return StreamingResponse(
            _generate_events(outcome),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
    return run_result(outcome)


@router.get("/runs", response_model=RunsPublic)
async def list_runs(
    session: SessionDep,
    principal: CurrentPrincipal,
    project_id: Annotated[
        uuid.UUID | None,
        Query(description="required unless the API key is scoped to one project"),
    ] = None,
    prompt_id: Annotated[uuid.UUID | None, Query(description="runs of any version")] = None,
    prompt_version_id: uuid.UUID | None = None,
    source: Annotated[
        Text | None,
        Query(max_length=20, description="generate, test, execute, openai, evaluation..."),
    ] = None,
    success: bool | None = None,
    model: Annotated[Text | None, Query(max_length=NAME_MAX)] = None,
    subject_id: Annotated[Text | None, Query(max_length=200)] = None,
    created_after: Annotated[
        datetime | None, Query(description="from this time (inclusive, ISO 8601)")
    ] = None,
    created_before: Annotated[
        datetime | None, Query(description="before this time (exclusive)")
    ] = None,
    before: Annotated[
        RunCursor | None, Query(description="page cursor: the previous page's next_before")
    ] = None,
    offset: Annotated[int, Query(ge=0, le=10_000, description="rows to skip")] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    """Runs of one project, newest first (``created_at``, then id), filtered by prompt (any
    version), version, source, success, model, subject id and time range. Page with
    ``before`` = the previous page's ``next_before`` (keyset: stable while new runs arrive),
    or ``offset`` + ``limit``. Rows carry the figures (tokens, ``cost_usd`` in USD,
    ``latency_ms``) and excerpts; ``GET /runs/{id}`` has the whole run. Any role. Errors:
    404 a project the caller cannot see; 422 no ``project_id`` for a key not scoped to one
    project, a malformed cursor or a filter out of bounds."""
    where = RunFilter(
        prompt_id=prompt_id,
        prompt_version_id=prompt_version_id,
        source=source,
        success=success,
        model=model,
        subject_id=subject_id,
        created_after=created_after,
        created_before=created_before,
    )
    return await RunListService(session, principal).list(
        project_id, where, before=before, offset=offset, limit=limit
    )


@router.get("/runs/{run_id}", response_model=RunPublic)
async def get_run(run_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal) -> RunPublic:
    """One run with its routing (subject, environment, deployment, arm) and feedback."""
    service = FeedbackService(session, principal)
    run = await service.get_run(run_id)
    out = RunPublic.model_validate(run, from_attributes=True)
    out.feedback = [
        FeedbackPublic.model_validate(f, from_attributes=True)
        for f in await RunRepository(session).feedback_of_run(run.id)
    ]
    return out


@router.post(
    "/runs/{run_id}/feedback", response_model=FeedbackPublic, status_code=status.HTTP_201_CREATED
)
async def add_feedback(
    run_id: uuid.UUID, body: FeedbackCreate, session: SessionDep, principal: EditorPrincipal
) -> Any:
    """Thumbs up/down, a score in [0, 1] and/or a comment on a run; canary guards average
    ``value`` per arm."""
    return await FeedbackService(session, principal).add_feedback(run_id, body)


@router.post("/outcomes", response_model=OutcomePublic, status_code=status.HTTP_201_CREATED)
async def add_outcome(body: OutcomeCreate, session: SessionDep, principal: EditorPrincipal) -> Any:
    """An outcome event (name, value) for a run or a subject's latest run."""
    return await FeedbackService(session, principal).add_outcome(body)
