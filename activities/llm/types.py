"""Input and result of :class:`activities.llm.activities.LLMActivities` (one dataclass each)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class CallModelInput:
    """One model call from a workflow (an optimisation trial, a judge, an editor, a graph
    node), in project ``project_id``: the prompt version ``prompt_version_id``, or the
    ``label`` (default ``production``) of ``prompt_id`` or of the prompt named ``prompt``, or
    raw ``messages`` (OpenAI format; appended after a rendered version). ``model`` may be
    ``policy:<name>``. ``idempotency_key`` (default ``{workflow_id}:{activity_id}``) makes
    the call's run unique: a retried activity returns the recorded answer instead of calling
    the model again. ``source`` is recorded on the run."""

    project_id: str
    prompt_version_id: str | None = None
    prompt_id: str | None = None
    prompt: str | None = None
    label: str | None = None
    messages: list[dict[str, Any]] = field(default_factory=list)
    variables: dict[str, Any] = field(default_factory=dict)
    model: str | None = None
    decoding: dict[str, Any] = field(default_factory=dict)
    schema: dict[str, Any] | None = None
    response_format: dict[str, Any] | None = None
    subject_id: str | None = None
    cache: bool = False
    source: str = "workflow"
    idempotency_key: str | None = None


@dataclass
class CallModelResult:
    """The recorded call: ``output`` (the parsed JSON value under a schema, else the text),
    ``text``, tokens, cost in USD, latency in ms, the model that answered and the run id."""

    run_id: str
    model: str
    output: Any
    text: str
    tokens_in: int
    tokens_out: int
    cost_usd: float
    latency_ms: float
    cache_hit: bool = False
    success: bool = True
    error: str | None = None
