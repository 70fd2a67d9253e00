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

import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from api.deps import CurrentPrincipal, EditorPrincipal, GatewayDep, PipelineDep, SessionDep
from api.errors import NotFound, Unprocessable
from api.schemas.openai_compat import (
    OPENAI_ERROR_RESPONSES,
    ChatCompletionRequest,
    completion_object,
    promptops_extras,
)
from api.services.serving import PROMPT_PREFIX, ServingService
from promptops.db.connection import SessionSQL
from promptops.db.repositories import PromptRepository
from promptops.db.repositories.routing import RoutingReads
from promptops.db.repositories.serving import ServingRepository
from promptops.errors import PromptOpsError
from promptops.llm.pipeline import CallOutcome
from promptops.llm.pipeline.stages.resolve import choose_project
from promptops.llm.pipeline.stages.structured import SCHEMA_NOT_MET

router = APIRouter(prefix="/v1", tags=["openai-compatible"], responses=OPENAI_ERROR_RESPONSES)


def _chunk(
    chunk_id: str, created: int, model: str, delta: dict[str, Any], finish_reason: str | None = None
) -> bytes:
    body = {
        "id": chunk_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
    }
    return b"data: " + json.dumps(body).encode() + b"\n\n"


def _error(status: int | None, message: str | None) -> bytes:
    error = {"message": message, "type": "api_error", "param": None, "code": status}
    return b"data: " + json.dumps({"error": error}).encode() + b"\n\n"


async def _chunks(outcome: CallOutcome, model: str, include_usage: bool) -> AsyncIterator[bytes]:
    """OpenAI streaming: ``chat.completion.chunk`` events as ``data:`` lines, a usage chunk
    (empty ``choices``) when ``stream_options.include_usage``, then ``data: [DONE]``. A failure
    after the stream began is sent as ``data: {"error": {...}}`` (what the SDK raises on)."""
    chunk_id, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
    yield _chunk(chunk_id, created, model, {"role": "assistant", "content": ""})
    if outcome.deltas is None:  # a cache hit: the stored answer as one chunk
        yield _chunk(chunk_id, created, model, {"content": outcome.text})
    else:
        try:
            async with contextlib.aclosing(outcome.deltas) as deltas:
                async for text in deltas:
                    yield _chunk(chunk_id, created, model, {"content": text})
        except PromptOpsError as exc:
            yield _error(exc.status_code, exc.message)
            return
    if not outcome.success:
        yield _error(SCHEMA_NOT_MET, outcome.error)
        return
    run = outcome.run
    if outcome.tool_calls:
        calls = [{"index": i, **call} for i, call in enumerate(outcome.tool_calls)]
        yield _chunk(chunk_id, created, run.model, {"tool_calls": calls})
    yield _chunk(chunk_id, created, run.model, {}, outcome.finish_reason or "stop")
    if include_usage:
        usage = {
            "id": chunk_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": run.model,
            "choices": [],
            "usage": {
                "prompt_tokens": run.tokens_in,
                "completion_tokens": run.tokens_out,
                "total_tokens": run.tokens_in + run.tokens_out,
            },
            "promptops": promptops_extras(outcome),
        }
        yield b"data: " + json.dumps(usage).encode() + b"\n\n"
    yield b"data: [DONE]\n\n"


@router.post("/chat/completions")
async def chat_completions(
    body: ChatCompletionRequest, request: Request, principal: EditorPrincipal, pipeline: PipelineDep
) -> Any:
    """Create a chat completion (OpenAI API), streamed as ``chat.completion.chunk`` events
    with ``stream: true``. Needs an Editor key. Errors (OpenAI shape): 401 bad key, 404
    unknown project/prompt/label, 422 bad request or model, 429 budget or rate limit, 502/503
    provider failures."""
    outcome = await ServingService(pipeline, principal).chat_completion(
        body, request.headers.get("openai-project")
    )
    if body.stream:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        return StreamingResponse(
            _chunks(outcome, outcome.model or body.model, include_usage),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
    return completion_object(outcome, int(time.time()))


@router.get("/models")
async def list_models(
    request: Request, session: SessionDep, principal: CurrentPrincipal, gateway: GatewayDep
) -> dict[str, Any]:
    """The models a caller may name (OpenAI "List models"): every model of the model list,
    then, for the request's project (see the module docstring; skipped when none can be
    chosen), its routing policies as ``policy:<name>`` and its prompts as ``prompt:<name>``."""
    now = int(time.time())
    data: list[dict[str, Any]] = [
        {"id": name, "object": "model", "created": now, "owned_by": entry.provider or "promptops"}
        for name, entry in gateway.catalog.entries.items()
    ]
    db = SessionSQL(session)
    try:
        project = await choose_project(
            ServingRepository(db), principal, request.headers.get("openai-project")
        )
    except (NotFound, Unprocessable):
        project = None
    if project is not None:
        data += [
            {"id": f"policy:{n}", "object": "model", "created": now, "owned_by": project.name}
            for n in await RoutingReads(db).names(project.id)
        ]
        data += [
            {
                "id": f"{PROMPT_PREFIX}{p.name}",
                "object": "model",
                "created": now,
                "owned_by": project.name,
            }
            for p in await PromptRepository(session).list(project.id)
        ]
    return {"object": "list", "data": data}
