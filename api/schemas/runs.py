from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field
from pydantic_core import PydanticCustomError

from api.schemas.common import NAME_MAX, SHORT_NAME_MAX, Name, RequestModel
from api.schemas.prompts import Decoding
from promptops.llm.pipeline import CallOutcome


class ExecuteRequest(RequestModel):
    """Synchronous test run of one prompt version."""

    prompt_version_id: uuid.UUID
    variables: dict[str, Any] = Field(default_factory=dict)
    model: str | None = Field(default=None, max_length=NAME_MAX)
    decoding: Decoding | None = None


Environment = Literal["dev", "staging", "prod"]


class RetrievalBody(RequestModel):
    """Retrieval-augmented generation: ``index`` (a name in the prompt's project, or an id),
    at most ``k`` chunks found in ``mode`` for ``query`` (default: the variable
    ``query_variable``, else the last user message), fitted to ``max_context_tokens``
    (default 600: the embedded llama.cpp server gives each request a 1024-token context),
    given to the model as delimited data with citation markers ``[doc:<ref>#<anchor>]``."""

    index: str = Field(min_length=1, max_length=NAME_MAX)
    k: int = Field(default=4, ge=1, le=50)
    mode: Literal["dense", "keyword", "hybrid"] = "hybrid"
    query: str | None = Field(default=None, max_length=8000)
    query_variable: str | None = Field(default=None, max_length=200)
    filters: dict[str, Any] | None = None
    max_context_tokens: int = Field(default=600, ge=1, le=200_000)


class GenerateRequest(RequestModel):
    """Production inference. The version is ``prompt_version_id`` when given; else the
    environment's label (``environment`` prod -> label ``production``, staging -> ``staging``,
    dev -> ``dev``; default prod) or an explicit ``label``. While a canary deployment is
    active in that environment the request goes to the canary or the baseline by a sticky hash
    of ``subject_id`` (see ``promptops.governance.traffic``); without a subject id each request
    is drawn afresh. Strings that cannot be stored (NUL, lone surrogates) and non-finite numbers
    are refused with 422 naming the field."""

    project_id: uuid.UUID | None = None
    prompt_id: uuid.UUID | None = None
    prompt: str | None = Field(
        default=None, max_length=NAME_MAX, description="prompt name (with project_id)"
    )
    label: str | None = Field(
        default=None, max_length=SHORT_NAME_MAX, description="default: the environment's label"
    )
    environment: Environment | None = None
    subject_id: str | None = Field(
        default=None, max_length=200, description="user/session id for the sticky traffic split"
    )
    prompt_version_id: uuid.UUID | None = None
    variables: dict[str, Any] = Field(default_factory=dict)
    decoding: Decoding | None = None
    schema_: dict[str, Any] | None = Field(
        default=None,
        alias="schema",
        description="JSON Schema the output must satisfy (passed to providers that support "
        "it; always validated, retried with the error fed back)",
    )
    model: str | None = Field(
        default=None,
        max_length=NAME_MAX,
        description="override the version's model: a model name or policy:<routing policy>",
    )
    tools: list[dict[str, Any]] | None = Field(
        default=None, description="OpenAI-format tool definitions, passed through"
    )
    tool_choice: str | dict[str, Any] | None = None
    stream: bool = Field(default=False, description="answer with Server-Sent Events")
    retrieval: RetrievalBody | None = Field(
        default=None, description="retrieval-augmented generation: the index and k to use"
    )


class TokenCounts(BaseModel):
    prompt: int
    completion: int


class RunMetrics(BaseModel):
    latency_ms: float
    tokens: TokenCounts
    cost_usd: float


class RunResult(BaseModel):
    """``cache_hit``: served from the exact or semantic cache (``cache_kind``), at zero cost;
    ``routing``: the routing policy's decision and reason (``policy:<name>`` models);
    ``attempts``: the deployments tried in order (fallbacks, breakers, schema retries)."""

    run_id: uuid.UUID
    prompt_version_id: uuid.UUID | None
    model: str
    output: Any
    metrics: RunMetrics
    tool_calls: list[dict[str, Any]] | None = None
    finish_reason: str | None = None
    cache_hit: bool = False
    cache_kind: str | None = None
    routing: dict[str, Any] | None = None
    attempts: list[dict[str, Any]] | None = None
    trace_id: str | None = None
    environment: str | None = None
    subject_id: str | None = None
    deployment_id: uuid.UUID | None = None
    arm: str | None = Field(default=None, description="baseline | canary while a canary runs")
    retrieval: dict[str, Any] | None = Field(
        default=None,
        description="a RAG call's retrieval: index, embedding model, mode, k, the chunks given "
        "(sources with their citation markers), and the answer's citations, each checked "
        "(valid: it names a chunk given to the model)",
    )


class FeedbackCreate(RequestModel):
    """Feedback on a run: ``thumbs`` (true = up), ``score`` in [0, 1], ``comment``; at least
    one of thumbs and score."""

    thumbs: bool | None = None
    score: float | None = Field(default=None, ge=0.0, le=1.0)
    comment: str = Field(default="", max_length=10_000)


class FeedbackPublic(BaseModel):
    id: uuid.UUID
    run_id: uuid.UUID
    thumbs: bool | None
    score: float | None
    value: float | None
    comment: str
    actor: str
    created_at: datetime


class OutcomeCreate(RequestModel):
    """A business outcome (conversion, resolution, revenue...) for a run, given directly by
    ``run_id`` or through ``subject_id`` + ``project_id`` (attributed to that subject's latest
    run). ``name``: 1..200 printable characters; ``value`` a finite number."""

    name: Name
    value: float
    run_id: uuid.UUID | None = None
    subject_id: str | None = Field(default=None, max_length=200)
    project_id: uuid.UUID | None = None


class OutcomePublic(BaseModel):
    id: uuid.UUID
    project_id: uuid.UUID
    name: str
    value: float
    run_id: uuid.UUID | None
    subject_id: str | None
    created_at: datetime


class RunPublic(BaseModel):
    """One run: what went in (``variables``, and ``rendered_input``: the messages sent to the
    model), what came out, its figures (tokens, ``cost_usd`` in USD, ``latency_ms``), its
    routing (subject, environment, deployment, arm, the policy's decision in ``routing``, the
    deployments tried in ``attempts``), the workflow that made it, if one did, and its
    feedback."""

    id: uuid.UUID
    project_id: uuid.UUID
    prompt_version_id: uuid.UUID | None
    source: str
    model: str
    variables: dict[str, Any] = Field(default_factory=dict)
    rendered_input: list[Any] = Field(default_factory=list)
    output: str | None
    success: bool
    error: str | None
    tokens_in: int
    tokens_out: int
    cost_usd: float
    latency_ms: float
    subject_id: str | None
    environment: str | None
    deployment_id: uuid.UUID | None
    arm: str | None
    trace_id: str | None = None
    workflow_id: str | None = Field(
        default=None, description="the Temporal workflow that made the call (evaluations...)"
    )
    evaluation_id: str | None = None
    cache_hit: bool = False
    cache_kind: str | None = None
    routing: dict[str, Any] | None = None
    attempts: list[dict[str, Any]] | None = None
    retrieval: dict[str, Any] | None = Field(
        default=None, description="a RAG call's retrieval and checked citations"
    )
    created_at: datetime
    feedback: list[FeedbackPublic] = Field(default_factory=list)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_CURSOR = re.compile(r"(\d{1,17})_([0-9a-f]{32})")


def run_cursor(created_at: datetime, run_id: uuid.UUID) -> str:
    """The keyset cursor of a run in a listing: ``<microseconds since the epoch>_<id hex>``
    (URL-safe as it is; microseconds are Postgres ``timestamptz``'s precision, so the cursor
    is exact)."""
    micros = (created_at - _EPOCH) // timedelta(microseconds=1)
    return f"{micros}_{run_id.hex}"


def parse_cursor(value: str) -> tuple[datetime, uuid.UUID]:
    """``(created_at, id)`` of a :func:`run_cursor`; PydanticCustomError ``cursor`` when
    ``value`` is not one."""
    match = _CURSOR.fullmatch(value)
    if match is None:
        raise PydanticCustomError(
            "cursor", "must be a cursor from a previous page's next_before (digits_32 hex)"
        )
    # At most 17 digits: before the year 5138, inside datetime's and Postgres' ranges.
    return _EPOCH + timedelta(microseconds=int(match[1])), uuid.UUID(hex=match[2])


def _check_cursor(value: str) -> str:
    parse_cursor(value)
    return value


#: ``before``: the keyset cursor of ``GET /runs`` (422 naming it when it is not one).
RunCursor = Annotated[str, Field(max_length=60), AfterValidator(_check_cursor)]


class RunSummary(BaseModel):
    """A run in a listing: its figures and excerpts (``output_excerpt``: the output's first
    200 characters; ``error``: the first 500); ``GET /runs/{id}`` has the whole run.
    ``prompt_id``/``prompt_version``: the prompt and version number of ``prompt_version_id``
    (None for free-text calls)."""

    id: uuid.UUID
    created_at: datetime
    source: str
    model: str
    prompt_id: uuid.UUID | None
    prompt_version_id: uuid.UUID | None
    prompt_version: int | None
    success: bool
    error: str | None
    tokens_in: int
    tokens_out: int
    cost_usd: float
    latency_ms: float
    cache_hit: bool
    output_excerpt: str | None
    subject_id: str | None
    environment: str | None
    arm: str | None


class RunsPublic(BaseModel):
    """A page of runs, newest first. ``next_before``: pass it as ``before`` for the next
    page (None when this page is the last)."""

    data: list[RunSummary]
    count: int
    next_before: str | None


def run_result(outcome: CallOutcome) -> dict[str, Any]:
    """The :class:`RunResult` of a recorded call (what ``generate`` and ``/runs/execute``
    answer, and the ``done`` event of a stream)."""
    run = outcome.run
    return {
        "run_id": run.id,
        "prompt_version_id": run.prompt_version_id,
        "model": run.model,
        "output": outcome.output,
        "trace_id": run.trace_id,
        "environment": run.environment,
        "subject_id": run.subject_id,
        "deployment_id": run.deployment_id,
        "arm": run.arm,
        "tool_calls": outcome.tool_calls,
        "finish_reason": outcome.finish_reason,
        "cache_hit": bool(run.cache_hit),
        "cache_kind": run.cache_kind,
        "routing": run.routing,
        "attempts": run.attempts,
        "retrieval": run.retrieval,
        "metrics": {
            "latency_ms": run.latency_ms,
            "tokens": {"prompt": run.tokens_in, "completion": run.tokens_out},
            "cost_usd": float(run.cost_usd),
        },
    }
