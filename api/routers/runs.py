from __future__ import annotations

import uuid

from fastapi import APIRouter, status

from api.deps import CurrentPrincipal, EditorPrincipal, GatewayDep, SecretBoxDep, SessionDep
from api.errors import Unprocessable
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
from api.services.runs import Routing, RunService
from promptops.db.models import ENVIRONMENT_LABELS
from promptops.db.repositories import PromptRepository, RunRepository
from promptops.traffic import choose_arm

router = APIRouter(tags=["runs"])


def _result(run, output) -> dict:  # type: ignore[no-untyped-def]
    return {
        "run_id": run.id, "prompt_version_id": run.prompt_version_id, "model": run.model,
        "output": output, "trace_id": run.trace_id, "environment": run.environment,
        "subject_id": run.subject_id, "deployment_id": run.deployment_id, "arm": run.arm,
        "metrics": {"latency_ms": run.latency_ms,
                    "tokens": {"prompt": run.tokens_in, "completion": run.tokens_out},
                    "cost_usd": float(run.cost_usd)},
    }


@router.post("/runs/execute", response_model=RunResult)
async def execute(body: ExecuteRequest, session: SessionDep, principal: EditorPrincipal,
                  gateway: GatewayDep, secret_box: SecretBoxDep):
    """Synchronous test run of one version; the run is recorded with tokens, cost, latency."""
    version = await PromptService(session, principal).get_version(body.prompt_version_id)
    run, output = await RunService(session, principal, gateway, secret_box).execute(
        version, body.variables, source="execute", model=body.model,
        decoding=body.decoding.model_dump(exclude_none=True) if body.decoding else None)
    return _result(run, output)


@router.post("/generate", response_model=RunResult)
async def generate(body: GenerateRequest, session: SessionDep, principal: EditorPrincipal,
                   gateway: GatewayDep, secret_box: SecretBoxDep):
    """Production inference. Resolves the environment's label (prod -> ``production``); while
    a canary deployment is active there, ``subject_id`` is hashed into the current weights
    (sticky; read on every request). The run records subject, environment, deployment, arm.
    Errors: 404 unknown prompt/label, 422 bad variables or label/environment mismatch, 502/429
    provider failures (recorded as failed runs)."""
    prompts = PromptService(session, principal)
    routing = Routing(subject_id=body.subject_id)
    if body.prompt_version_id:
        version = await prompts.get_version(body.prompt_version_id)
    else:
        prompt_id = body.prompt_id
        if prompt_id is None:
            if not (body.project_id and body.prompt):
                raise Unprocessable("give prompt_version_id, prompt_id, or project_id + prompt",
                                    field="prompt_id")
            await prompts.get_project(body.project_id)
            prompt = await PromptRepository(session).get_by_name(body.project_id, body.prompt)
            if prompt is None:
                raise Unprocessable(f"no prompt named {body.prompt!r} in this project",
                                    field="prompt")
            prompt_id = prompt.id
        else:
            await prompts.get_prompt(prompt_id)
        environment, label = _environment_and_label(body)
        version = await prompts.resolve_label(prompt_id, label)
        routing = Routing(subject_id=body.subject_id, environment=environment)
        deployment = (await RunRepository(session).active_deployment(prompt_id, environment)
                      if environment else None)
        if deployment is not None:
            subject = body.subject_id or uuid.uuid4().hex
            arm = choose_arm(deployment.canary_weight, deployment.id, subject)
            if arm == "canary":
                version = await prompts.get_version(deployment.candidate_version_id)
            routing = Routing(subject_id=body.subject_id, environment=environment,
                              deployment_id=deployment.id, arm=arm)
    response_format = None
    if body.schema_:
        response_format = {"type": "json_schema",
                           "json_schema": {"name": "output", "schema": body.schema_}}
    run, output = await RunService(session, principal, gateway, secret_box).execute(
        version, body.variables, source="generate",
        decoding=body.decoding.model_dump(exclude_none=True) if body.decoding else None,
        response_format=response_format, routing=routing)
    return _result(run, output)


def _environment_and_label(body: GenerateRequest) -> tuple[str | None, str]:
    if body.environment is not None:
        label = ENVIRONMENT_LABELS[body.environment]
        if body.label is not None and body.label != label:
            raise Unprocessable(f"environment {body.environment!r} serves label {label!r}, "
                                f"not {body.label!r}", field="label")
        return body.environment, label
    label = body.label or ENVIRONMENT_LABELS["prod"]
    by_label = {v: k for k, v in ENVIRONMENT_LABELS.items()}
    return by_label.get(label), label


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
