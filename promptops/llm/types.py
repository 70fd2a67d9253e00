"""What a model call returns: a :class:`Completion`, or for a streamed call :class:`StreamDelta`
events and one :class:`StreamDone`; and a tenant's own provider credentials
(:class:`ProviderOverride`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Completion", "ProviderOverride", "StreamDelta", "StreamDone", "StreamEvent"]


@dataclass(frozen=True)
class ProviderOverride:
    """A tenant's own provider credentials for one call (they replace the deployment's
    ``api_key``; ``api_base`` too when given). ``repr`` hides the key."""

    api_key: str = field(repr=False)
    api_base: str | None = None


@dataclass(frozen=True)
class Completion:
    """Result of one call. ``latency_ms`` is wall time of the provider call in ms; ``model`` is
    the model that answered. ``attempts`` lists each candidate in order as ``{"model", "error",
    "status"}``: ``error`` None for the one that answered, ``"circuit open"`` (status None) for a
    deployment skipped by its breaker, otherwise the provider's error and HTTP status.
    ``tool_calls`` (None when the model called no tool) are in the OpenAI shape
    ``[{"id", "type": "function", "function": {"name", "arguments": <JSON text>}}]``.
    ``ttft_ms`` (streamed calls only) is the time to the first delta in ms; ``latency_ms`` is
    then the whole stream's wall time."""

    model: str
    output: str
    tokens_in: int
    tokens_out: int
    cost_usd: float
    latency_ms: float
    finish_reason: str | None = None
    attempts: list[dict[str, Any]] = field(default_factory=list)
    tool_calls: list[dict[str, Any]] | None = None
    ttft_ms: float | None = None


@dataclass(frozen=True)
class StreamDelta:
    """A piece of a streamed answer: ``text`` (may be empty) and, when the model streams a tool
    call, ``tool_calls`` fragments in the OpenAI chunk shape ``[{"index", "id"?, "type"?,
    "function": {"name"?, "arguments"}}]`` (concatenate ``arguments`` per ``index``)."""

    text: str = ""
    tool_calls: list[dict[str, Any]] | None = None


@dataclass(frozen=True)
class StreamDone:
    """The last event of :meth:`LLMGateway.stream`: the whole call as a :class:`Completion`
    (output, tokens, cost in USD, ``latency_ms``, ``ttft_ms``, ``attempts``)."""

    completion: Completion


StreamEvent = StreamDelta | StreamDone
