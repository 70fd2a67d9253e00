from __future__ import annotations

from fastapi import APIRouter

from api.deps import EditorPrincipal, GatewayDep, SessionDep
from api.errors import Unprocessable
from api.schemas.runs import ExecuteRequest, GenerateRequest, RunResult
from api.services.prompts import PromptService
from api.services.runs import RunService
from promptops.db.repositories import PromptRepository

router = APIRouter(tags=["runs"])


def _result(run, output) -> dict:  # type: ignore[no-untyped-def]
    return {
        "run_id": run.id, "prompt_version_id": run.prompt_version_id, "model": run.model,
        "output": output, "trace_id": run.trace_id,
        "metrics": {"latency_ms": run.latency_ms,
                    "tokens": {"prompt": run.tokens_in, "completion": run.tokens_out},
                    "cost_usd": float(run.cost_usd)},
    }


@router.post("/runs/execute", response_model=RunResult)
async def execute(body: ExecuteRequest, session: SessionDep, principal: EditorPrincipal,
                  gateway: GatewayDep):
    """Synchronous test run of one version; the run is recorded with tokens, cost, latency."""
    version = await PromptService(session, principal).get_version(body.prompt_version_id)
    run, output = await RunService(session, principal, gateway).execute(
        version, body.variables, source="execute", model=body.model,
        decoding=body.decoding.model_dump(exclude_none=True) if body.decoding else None)
    return _result(run, output)


@router.post("/generate", response_model=RunResult)
async def generate(body: GenerateRequest, session: SessionDep, principal: EditorPrincipal,
                   gateway: GatewayDep):
    """Production inference: resolves the prompt's label (default ``production``)."""
    prompts = PromptService(session, principal)
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
        version = await prompts.resolve_label(prompt_id, body.label)
    response_format = None
    if body.schema_:
        response_format = {"type": "json_schema",
                           "json_schema": {"name": "output", "schema": body.schema_}}
    run, output = await RunService(session, principal, gateway).execute(
        version, body.variables, source="generate",
        decoding=body.decoding.model_dump(exclude_none=True) if body.decoding else None,
        response_format=response_format)
    return _result(run, output)
