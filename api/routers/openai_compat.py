"""The OpenAI-compatible API: ``POST /v1/chat/completions`` and ``GET /v1/models``.

Existing OpenAI SDK apps switch by changing ``base_url`` to ``http://<promptops>/v1`` and the API
key to a PromptOps key (``po_...``, sent as the bearer token)::

    client = OpenAI(base_url="http://127.0.0.1:8000/v1", api_key="po_...", project="support")
    client.chat.completions.create(model="prompt:triage@production", messages=[...],
                                   extra_body={"variables": {"ticket": "..."}}, user="u-42")

The project is the key's project when the key is scoped to one, else the ``OpenAI-Project``
header (the SDK's ``project=``; a project name or id), else the organization's only project.
Calls go through the same gateway path as ``/api/v1/generate`` (routing, cache, budget,
fallbacks, structured outputs, runs); errors use OpenAI's shape ``{"error": {"message", "type",
"param", "code"}}`` (see :func:`api.errors.install_handlers`). Response shapes follow the OpenAI
API reference (chat completion object, chat completion chunk, model list); the extra
``promptops`` member of a completion carries the run id, cost and cache/routing facts.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from sqlalchemy import select

from api.deps import CurrentPrincipal, EditorPrincipal, GatewayDep, SecretBoxDep, SessionDep
from api.errors import NotFound, Unprocessable
from api.schemas.openai_compat import ChatCompletionRequest
from api.services.runs import (
    CallResult,
    LLMRequest,
    Routing,
    RunService,
    environment_of_label,
    serve_choice,
)
from promptops.db.models import RoutingPolicy
from promptops.db.repositories import PromptRepository
from promptops.db.repositories.serving import NamedProject, ServingRepository

router = APIRouter(prefix="/v1", tags=["openai-compatible"])

PROMPT_PREFIX = "prompt:"


async def _project(request: Request, session: Any, principal: Any) -> NamedProject:
    """The project of an OpenAI-compatible call (see the module docstring), with its facts
    (one query). Raises NotFound (404) for a project outside the caller's reach,
    Unprocessable (422) when none can be chosen."""
    serving = ServingRepository(session)
    org = principal.organization_id
    if principal.project_id is not None:
        found = await serving.find_projects(org, scope_project_id=principal.project_id)
        if not found:
            raise NotFound(f"project {principal.project_id} not found")
        return found[0]
    named = request.headers.get("openai-project")
    if named:
        try:
            project_id = uuid.UUID(named)
        except ValueError:
            found = await serving.find_projects(org, name=named)
            if not found:
                raise NotFound(f"project {named!r} not found", field="OpenAI-Project") from None
            return found[0]
        found = await serving.find_projects(org, project_id=project_id)
        if not found:
            raise NotFound(f"project {project_id} not found")
        return found[0]
    found = await serving.find_projects(org)
    if len(found) == 1:
        return found[0]
    raise Unprocessable(
        "choose the project: send the OpenAI-Project header (project= in the OpenAI SDK) "
        "with a project name or id, or use a project-scoped API key", field="OpenAI-Project")


def _split_prompt_model(model: str) -> tuple[str, str | None]:
    """``prompt:<name>[@label]`` -> (name, label or None)."""
    name, _, label = model[len(PROMPT_PREFIX):].partition("@")
    if not name:
        raise Unprocessable("model 'prompt:<name>[@label]' needs a prompt name", field="model")
    return name, label or None


def completion_object(result: CallResult, created: int) -> dict[str, Any]:
    """An OpenAI ``chat.completion`` object for a recorded call."""
    run = result.run
    message: dict[str, Any] = {"role": "assistant", "content": run.output}
    if result.tool_calls:
        message["tool_calls"] = result.tool_calls
    return {
        "id": f"chatcmpl-{run.id.hex}", "object": "chat.completion", "created": created,
        "model": run.model,
        "choices": [{"index": 0, "message": message, "logprobs": None,
                     "finish_reason": result.finish_reason or (
                         "tool_calls" if result.tool_calls else "stop")}],
        "usage": {"prompt_tokens": run.tokens_in, "completion_tokens": run.tokens_out,
                  "total_tokens": run.tokens_in + run.tokens_out},
        "promptops": _extras(result),
    }


def _extras(result: CallResult) -> dict[str, Any]:
    run = result.run
    return {"run_id": str(run.id), "cost_usd": float(run.cost_usd),
            "latency_ms": run.latency_ms, "cache_hit": bool(run.cache_hit),
            "cache_kind": run.cache_kind, "routing": run.routing,
            "prompt_version_id": str(run.prompt_version_id) if run.prompt_version_id else None,
            "trace_id": run.trace_id}


def _chunk(chunk_id: str, created: int, model: str, delta: dict[str, Any],
           finish_reason: str | None = None) -> bytes:
    body = {"id": chunk_id, "object": "chat.completion.chunk", "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "logprobs": None,
                         "finish_reason": finish_reason}]}
    return b"data: " + json.dumps(body).encode() + b"\n\n"


async def _chunks(events: AsyncIterator[dict[str, Any]], model: str, include_usage: bool
                  ) -> AsyncIterator[bytes]:
    """OpenAI streaming: ``chat.completion.chunk`` events as ``data:`` lines, a usage chunk
    (empty ``choices``) when ``stream_options.include_usage``, then ``data: [DONE]``. A failure
    after the stream began is sent as ``data: {"error": {...}}`` (what the SDK raises on)."""
    chunk_id, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
    yield _chunk(chunk_id, created, model, {"role": "assistant", "content": ""})
    async for event in events:
        if event["type"] == "delta":
            yield _chunk(chunk_id, created, model, {"content": event["text"]})
        elif event["type"] == "done":
            result: CallResult = event["result"]
            run = result.run
            if result.tool_calls:
                calls = [{"index": i, **call} for i, call in enumerate(result.tool_calls)]
                yield _chunk(chunk_id, created, run.model, {"tool_calls": calls})
            yield _chunk(chunk_id, created, run.model, {}, result.finish_reason or "stop")
            if include_usage:
                usage = {"id": chunk_id, "object": "chat.completion.chunk", "created": created,
                         "model": run.model, "choices": [],
                         "usage": {"prompt_tokens": run.tokens_in,
                                   "completion_tokens": run.tokens_out,
                                   "total_tokens": run.tokens_in + run.tokens_out},
                         "promptops": _extras(result)}
                yield b"data: " + json.dumps(usage).encode() + b"\n\n"
        else:
            error = {"message": event.get("message"), "type": "api_error", "param": None,
                     "code": event.get("status")}
            yield b"data: " + json.dumps({"error": error}).encode() + b"\n\n"
            return
    yield b"data: [DONE]\n\n"


@router.post("/chat/completions")
async def chat_completions(body: ChatCompletionRequest, request: Request, session: SessionDep,
                           principal: EditorPrincipal, gateway: GatewayDep,
                           secret_box: SecretBoxDep) -> Any:
    """Create a chat completion (OpenAI API), streamed as ``chat.completion.chunk`` events
    with ``stream: true``. Needs an Editor key. Errors (OpenAI shape): 401 bad key, 404
    unknown project/prompt/label, 422 bad request or model, 429 budget or rate limit, 502/503
    provider failures."""
    project = await _project(request, session, principal)
    service = RunService(session, principal, gateway, secret_box)
    messages = [m.model_dump(exclude_none=True) for m in body.messages]
    decoding = body.decoding()
    if body.model.startswith(PROMPT_PREFIX):
        name, label = _split_prompt_model(body.model)
        environment, label = environment_of_label(label)
        served = await ServingRepository(session).by_label(
            principal.organization_id, label, environment=environment, project_id=project.id,
            prompt_name=name, scope_project_id=principal.project_id)
        if served is None:
            prompt = await PromptRepository(session).get_by_name(project.id, name)
            if prompt is None:
                raise NotFound(f"no prompt named {name!r} in project {project.name!r}",
                               field="model")
            raise NotFound(f"prompt {name!r} has no label {label!r}", field="model")
        version, routing = await serve_choice(session, principal, served, environment,
                                              body.user)
        call = await service.version_request(
            version, body.variables, source="openai", decoding=decoding,
            response_format=body.response_format, routing=routing, extra_messages=messages,
            project=served.project)
    else:
        if not messages:
            raise Unprocessable("messages must not be empty", field="messages")
        call = LLMRequest(project_id=project.id, messages=messages, source="openai",
                          model=body.model, decoding=decoding,
                          response_format=body.response_format,
                          routing=Routing(subject_id=body.user), project=project.facts)
    call.tools, call.tool_choice = body.tools, body.tool_choice
    if body.stream:
        events = await service.stream(call)
        await session.commit()
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        return StreamingResponse(
            _chunks(events, call.model or gateway.catalog.default_model, include_usage),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
    result = await service.call(call)
    return completion_object(result, int(time.time()))


@router.get("/models")
async def list_models(request: Request, session: SessionDep, principal: CurrentPrincipal,
                      gateway: GatewayDep) -> dict[str, Any]:
    """The models a caller may name (OpenAI "List models"): every model of the model list,
    then, for the request's project (see the module docstring; skipped when none can be
    chosen), its routing policies as ``policy:<name>`` and its prompts as ``prompt:<name>``."""
    now = int(time.time())
    data: list[dict[str, Any]] = [
        {"id": name, "object": "model", "created": now, "owned_by": entry.provider or "promptops"}
        for name, entry in gateway.catalog.entries.items()]
    try:
        project = await _project(request, session, principal)
    except (NotFound, Unprocessable):
        project = None
    if project is not None:
        policies = (await session.execute(
            select(RoutingPolicy.name).where(RoutingPolicy.project_id == project.id)
            .order_by(RoutingPolicy.name))).scalars().all()
        data += [{"id": f"policy:{n}", "object": "model", "created": now,
                  "owned_by": project.name} for n in policies]
        data += [{"id": f"{PROMPT_PREFIX}{p.name}", "object": "model", "created": now,
                  "owned_by": project.name}
                 for p in await PromptRepository(session).list(project.id)]
    return {"object": "list", "data": data}
