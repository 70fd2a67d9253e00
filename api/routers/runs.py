from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, status
from fastapi.encoders import jsonable_encoder
from fastapi.responses import StreamingResponse

from api.deps import CurrentPrincipal, EditorPrincipal, GatewayDep, SecretBoxDep, SessionDep
from api.errors import NotFound, Unprocessable
from api.schemas.runs import (
    ExecuteRequest,
    FeedbackCreate,
    FeedbackPublic,
    GenerateRequest,
    OutcomeCreate,
    OutcomePublic,
    RunPublic,
    RunResult,
)
from api.services.feedback import FeedbackService
from api.services.prompts import PromptService
from api.services.runs import (
    CallResult,
    Routing,
    RunService,
    environment_of_label,
    serve_choice,
)
from promptops.db.models import ENVIRONMENT_LABELS, Run
from promptops.db.repositories import PromptRepository, RunRepository
from promptops.db.repositories.serving import ServingRepository
from promptops.llm.structured import check_schema

router = APIRouter(tags=["runs"])


def _result(run: Run, output: Any, *, tool_calls: list[dict[str, Any]] | None = None,
            finish_reason: str | None = None) -> dict[str, Any]:
    return {
        "run_id": run.id, "prompt_version_id": run.prompt_version_id, "model": run.model,
        "output": output, "trace_id": run.trace_id, "environment": run.environment,
        "subject_id": run.subject_id, "deployment_id": run.deployment_id, "arm": run.arm,
        "tool_calls": tool_calls, "finish_reason": finish_reason,
        "cache_hit": bool(run.cache_hit), "cache_kind": run.cache_kind,
        "routing": run.routing, "attempts": run.attempts,
        "metrics": {"latency_ms": run.latency_ms,
                    "tokens": {"prompt": run.tokens_in, "completion": run.tokens_out},
                    "cost_usd": float(run.cost_usd)},
    }


def call_result(result: CallResult) -> dict[str, Any]:
    return _result(result.run, result.output, tool_calls=result.tool_calls,
                   finish_reason=result.finish_reason)


def _sse(event: str, data: Any) -> bytes:
    """One Server-Sent Event (WHATWG HTML, "Server-sent events": ``event:`` and one ``data:``
    line of JSON, then a blank line)."""
    return f"event: {event}\ndata: {json.dumps(data, default=str)}\n\n".encode()


async def _generate_events(events: AsyncIterator[dict[str, Any]]) -> AsyncIterator[bytes]:
    async for event in events:
        if event["type"] == "delta":
            yield _sse("delta", {"text": event["text"]})
        elif event["type"] == "done":
            yield _sse("done", jsonable_encoder(call_result(event["result"])))
        else:
            yield _sse("error", {k: v for k, v in event.items() if k != "type"})


@router.post("/runs/execute", response_model=RunResult)
async def execute(body: ExecuteRequest, session: SessionDep, principal: EditorPrincipal,
                  gateway: GatewayDep, secret_box: SecretBoxDep):
    """Synchronous test run of one version; the run is recorded with tokens, cost, latency."""
    version = await PromptService(session, principal).get_version(body.prompt_version_id)
    run, output = await RunService(session, principal, gateway, secret_box).execute(
        version, body.variables, source="execute", model=body.model,
        decoding=body.decoding.model_dump(exclude_none=True) if body.decoding else None)
    return _result(run, output)


@router.post("/generate", response_model=RunResult,
             responses={200: {"content": {"text/event-stream": {}},
                              "description": "JSON, or Server-Sent Events with stream: true "
                                             "(delta* then done, or error)"}})
async def generate(body: GenerateRequest, session: SessionDep, principal: EditorPrincipal,
                   gateway: GatewayDep, secret_box: SecretBoxDep):
    """Production inference. Resolves the environment's label (prod -> ``production``); while
    a canary deployment is active there, ``subject_id`` is hashed into the current weights
    (sticky; read on every request). The run records subject, environment, deployment, arm.
    ``model`` overrides the version's model (a model name or ``policy:<name>``). With ``stream:
    true`` the answer is Server-Sent Events: ``delta`` events (``{"text"}``) then one ``done``
    event carrying the same object as the JSON answer (token counts and cost included), or an
    ``error`` event (``{"status", "message"}``).
    Errors: 404 unknown prompt/label, 422 bad variables, schema, model or label/environment
    mismatch, 429 budget or provider rate limit, 502/503 provider failures (recorded as failed
    runs)."""
    prompts = PromptService(session, principal)
    serving = ServingRepository(session)
    if body.prompt_version_id:
        served = await serving.by_version(principal.organization_id, body.prompt_version_id,
                                          principal.project_id)
        if served is None:
            await prompts.get_version(body.prompt_version_id)  # raises the 404
            raise NotFound(f"prompt version {body.prompt_version_id} not found")
        version, project = served.version, served.project
        routing = Routing(subject_id=body.subject_id)
    else:
        if body.prompt_id is None and not (body.project_id and body.prompt):
            raise Unprocessable("give prompt_version_id, prompt_id, or project_id + prompt",
                                field="prompt_id")
        environment, label = _environment_and_label(body)
        served = await serving.by_label(
            principal.organization_id, label, environment=environment,
            prompt_id=body.prompt_id, project_id=body.project_id, prompt_name=body.prompt,
            scope_project_id=principal.project_id)
        if served is None:
            await _explain_miss(session, prompts, body, label)
            raise NotFound(f"prompt has no label {label!r}", field="label")
        version, routing = await serve_choice(session, principal, served, environment,
                                              body.subject_id)
        project = served.project
    if body.schema_:
        try:
            check_schema(body.schema_)
        except ValueError as exc:
            raise Unprocessable(str(exc), field="schema") from exc
    service = RunService(session, principal, gateway, secret_box)
    request = await service.version_request(
        version, body.variables, source="generate", model=body.model,
        decoding=body.decoding.model_dump(exclude_none=True) if body.decoding else None,
        routing=routing, project=project)
    if body.schema_:
        request.schema, request.response_format = body.schema_, None
    request.tools, request.tool_choice = body.tools, body.tool_choice
    if body.stream:
        events = await service.stream(request)
        # Everything before the first event (auth, routing, cache, budget) has been decided;
        # commit so the stream's run records see the same state.
        await session.commit()
        return StreamingResponse(_generate_events(events), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache",
                                          "X-Accel-Buffering": "no"})
    return call_result(await service.call(request))


async def _explain_miss(session: SessionDep, prompts: PromptService, body: GenerateRequest,
                        label: str) -> None:
    """Raise the error that names what a failed one-query lookup was missing: the project,
    the prompt (by id or name) or the label."""
    prompt_id = body.prompt_id
    if prompt_id is None:
        assert body.project_id is not None and body.prompt is not None
        await prompts.get_project(body.project_id)
        prompt = await PromptRepository(session).get_by_name(body.project_id, body.prompt)
        if prompt is None:
            raise Unprocessable(f"no prompt named {body.prompt!r} in this project",
                                field="prompt")
        prompt_id = prompt.id
    await prompts.get_prompt(prompt_id)
    await prompts.resolve_label(prompt_id, label)


def _environment_and_label(body: GenerateRequest) -> tuple[str | None, str]:
    if body.environment is not None:
        label = ENVIRONMENT_LABELS[body.environment]
        if body.label is not None and body.label != label:
            raise Unprocessable(f"environment {body.environment!r} serves label {label!r}, "
                                f"not {body.label!r}", field="label")
        return body.environment, label
    return environment_of_label(body.label)


@router.get("/runs/{run_id}", response_model=RunPublic)
async def get_run(run_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal):
    """One run with its routing (subject, environment, deployment, arm) and feedback."""
    service = FeedbackService(session, principal)
    run = await service.get_run(run_id)
    out = RunPublic.model_validate(run, from_attributes=True)
    out.feedback = [FeedbackPublic.model_validate(f, from_attributes=True)
                    for f in await RunRepository(session).feedback_of_run(run.id)]
    return out


@router.post("/runs/{run_id}/feedback", response_model=FeedbackPublic,
             status_code=status.HTTP_201_CREATED)
async def add_feedback(run_id: uuid.UUID, body: FeedbackCreate, session: SessionDep,
                       principal: EditorPrincipal):
    """Thumbs up/down, a score in [0, 1] and/or a comment on a run; canary guards average
    ``value`` per arm."""
    return await FeedbackService(session, principal).add_feedback(run_id, body)


@router.post("/outcomes", response_model=OutcomePublic, status_code=status.HTTP_201_CREATED)
async def add_outcome(body: OutcomeCreate, session: SessionDep, principal: EditorPrincipal):
    """An outcome event (name, value) for a run or a subject's latest run."""
    return await FeedbackService(session, principal).add_outcome(body)
