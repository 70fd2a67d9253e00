"""What both provider clients share: the request's LiteLLM keyword arguments, and reading tool
calls out of responses that come as dicts or as LiteLLM's pydantic objects."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from promptops.llm.catalog import DECODING_KEYS, ModelEntry
from promptops.llm.types import ProviderOverride


def request_kwargs(
    entry: ModelEntry,
    decoding: Mapping[str, Any] | None,
    response_format: Mapping[str, Any] | None,
    credentials: ProviderOverride | None,
    tools: list[dict[str, Any]] | None = None,
    tool_choice: str | dict[str, Any] | None = None,
) -> dict[str, Any]:
    """LiteLLM keyword arguments for one request to ``entry``: its ``litellm_params``, the
    tenant's credentials over them, the decoding keys set, ``response_format`` and tools."""
    kwargs: dict[str, Any] = dict(entry.litellm_params)
    if credentials is not None:
        kwargs["api_key"] = credentials.api_key
        if credentials.api_base:
            kwargs["api_base"] = credentials.api_base
    for key in DECODING_KEYS:
        if decoding and decoding.get(key) is not None:
            kwargs[key] = decoding[key]
    if response_format:
        kwargs["response_format"] = dict(response_format)
    if tools:
        kwargs["tools"] = [dict(t) for t in tools]
        if tool_choice is not None:
            kwargs["tool_choice"] = tool_choice
    return kwargs


def get_member(obj: Any, key: str) -> Any:
    """``obj[key]`` or ``obj.key`` (LiteLLM hands out both dicts and pydantic objects)."""
    if isinstance(obj, Mapping):
        return obj.get(key)
    return getattr(obj, key, None)


def tool_calls_of(raw: Any) -> list[dict[str, Any]] | None:
    """A response message's tool calls in the plain OpenAI shape; None when there are none."""
    if not raw:
        return None
    calls: list[dict[str, Any]] = []
    for call in raw:
        function = get_member(call, "function")
        calls.append(
            {
                "id": get_member(call, "id"),
                "type": get_member(call, "type") or "function",
                "function": {
                    "name": get_member(function, "name"),
                    "arguments": get_member(function, "arguments") or "",
                },
            }
        )
    return calls
