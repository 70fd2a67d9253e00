"""Request shapes of the OpenAI-compatible API (``/v1``), after the OpenAI API reference
("Create chat completion"). Unknown fields are accepted and ignored, as the official SDKs send
fields that PromptOps does not use."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.common import INT32_MAX, INT64_MAX, INT64_MIN, RequestModel
from promptops.llm.pipeline import CallOutcome


class OpenAIError(BaseModel):
    """What went wrong, as the OpenAI API reports it (``code`` is the HTTP status here)."""

    message: str
    type: str
    param: str | None = None
    code: int | str | None = None


class OpenAIErrorPublic(BaseModel):
    """Every 4xx answer under ``/v1``: ``{"error": {"message", "type", "param", "code"}}``,
    which the official SDKs raise as their exception's message."""

    error: OpenAIError


#: ``responses=`` of the ``/v1`` router: its 4xx answers in OpenAI's error shape.
OPENAI_ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    "4XX": {
        "model": OpenAIErrorPublic,
        "description": "Refused (401, 403, 404, 409, 413, 422, 429), in OpenAI's error shape",
    },
}


class ChatMessage(RequestModel):
    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[dict[str, Any]] | None = None


class StreamOptions(RequestModel):
    model_config = ConfigDict(extra="allow")

    include_usage: bool = False


class ChatCompletionRequest(RequestModel):
    """``model``: a model of the model list, ``policy:<name>`` (a routing policy of the
    project) or ``prompt:<name>[@label]`` (the prompt's version under ``label``, default
    ``production`` with its canary split keyed by ``user``; the rendered prompt messages come
    first, then ``messages``; template variables in ``variables``, sent by the SDK as
    ``extra_body={"variables": {...}}``)."""

    model_config = ConfigDict(extra="allow")

    model: str = Field(min_length=1, max_length=300)
    messages: list[ChatMessage] = Field(default_factory=list)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    max_tokens: int | None = Field(default=None, ge=1, le=INT32_MAX)
    max_completion_tokens: int | None = Field(default=None, ge=1, le=INT32_MAX)
    stop: str | list[str] | None = None
    seed: int | None = Field(default=None, ge=INT64_MIN, le=INT64_MAX)
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    n: int | None = Field(default=None, ge=1, le=1, description="only 1 is supported")
    stream: bool = False
    stream_options: StreamOptions | None = None
    response_format: dict[str, Any] | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    user: str | None = Field(default=None, max_length=200)
    variables: dict[str, Any] = Field(default_factory=dict)

    def decoding(self) -> dict[str, Any]:
        """The decoding parameters that were set, in the gateway's terms."""
        out: dict[str, Any] = {
            "temperature": self.temperature,
            "top_p": self.top_p,
            "max_tokens": self.max_completion_tokens or self.max_tokens,
            "stop": [self.stop] if isinstance(self.stop, str) else self.stop,
            "seed": self.seed,
            "presence_penalty": self.presence_penalty,
            "frequency_penalty": self.frequency_penalty,
        }
        return {k: v for k, v in out.items() if v is not None}


def promptops_extras(outcome: CallOutcome) -> dict[str, Any]:
    """The ``promptops`` member of a completion: run id, cost (USD), cache and routing facts."""
    run = outcome.run
    return {
        "run_id": str(run.id),
        "cost_usd": float(run.cost_usd),
        "latency_ms": run.latency_ms,
        "cache_hit": bool(run.cache_hit),
        "cache_kind": run.cache_kind,
        "routing": run.routing,
        "prompt_version_id": str(run.prompt_version_id) if run.prompt_version_id else None,
        "trace_id": run.trace_id,
    }


def completion_object(outcome: CallOutcome, created: int) -> dict[str, Any]:
    """An OpenAI ``chat.completion`` object for a recorded call (OpenAI API reference, "The
    chat completion object"), with the ``promptops`` extras."""
    run = outcome.run
    message: dict[str, Any] = {"role": "assistant", "content": run.output}
    if outcome.tool_calls:
        message["tool_calls"] = outcome.tool_calls
    return {
        "id": f"chatcmpl-{run.id.hex}",
        "object": "chat.completion",
        "created": created,
        "model": run.model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": outcome.finish_reason
                or ("tool_calls" if outcome.tool_calls else "stop"),
            }
        ],
        "usage": {
            "prompt_tokens": run.tokens_in,
            "completion_tokens": run.tokens_out,
            "total_tokens": run.tokens_in + run.tokens_out,
        },
        "promptops": promptops_extras(outcome),
    }
