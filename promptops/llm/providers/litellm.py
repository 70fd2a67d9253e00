"""Calls through LiteLLM (every provider it knows): one completion, or one stream's chunks,
classified into :class:`promptops.llm.errors.GatewayError` on failure. Retries belong to the
caller: ``num_retries=0``."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import AsyncGenerator, Mapping
from typing import Any

from promptops import telemetry
from promptops.llm.catalog import ModelEntry
from promptops.llm.errors import GatewayError
from promptops.llm.providers.common import get_member, tool_calls_of
from promptops.llm.types import Completion, StreamDelta

logger = logging.getLogger(__name__)

# LiteLLM fetches its price map from the network at import unless told not to.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


def classify(exc: BaseException) -> GatewayError:
    """A LiteLLM exception as a :class:`GatewayError`: 408, 429 and 5xx (or, without a status,
    LiteLLM's rate-limit, timeout, connection and server error classes) are retryable; bad
    requests, authentication, permission, not-found and context-window errors are not."""
    status = getattr(exc, "status_code", None)
    name = type(exc).__name__
    retryable_names = {
        "RateLimitError",
        "Timeout",
        "APIConnectionError",
        "ServiceUnavailableError",
        "InternalServerError",
        "APIError",
        "BadGatewayError",
    }
    if isinstance(status, int):
        retryable = status == 429 or status >= 500 or status == 408
    else:
        retryable = name in retryable_names
    if name in {
        "AuthenticationError",
        "BadRequestError",
        "NotFoundError",
        "ContextWindowExceededError",
        "PermissionDeniedError",
        "UnprocessableEntityError",
    }:
        retryable = False
    return GatewayError(
        f"{name}: {exc}",
        retryable=retryable,
        status_code=status if isinstance(status, int) else None,
    )


def _litellm() -> Any:
    import litellm

    litellm.suppress_debug_info = True  # no 'Give Feedback' banner per error
    return litellm


async def complete(
    entry: ModelEntry,
    messages: list[dict[str, Any]],
    kwargs: Mapping[str, Any],
    *,
    timeout_s: float,
) -> Completion:
    """One ``litellm.acompletion`` (``kwargs`` from
    :func:`promptops.llm.providers.common.request_kwargs`) as a :class:`Completion`, in a
    GenAI client span. Raises :class:`GatewayError` (:func:`classify`)."""
    litellm = _litellm()
    with telemetry.llm_span(entry.model_name, entry.provider) as span:
        started = time.perf_counter()
        try:
            response = await litellm.acompletion(
                messages=messages, num_retries=0, timeout=timeout_s, **kwargs
            )
        except Exception as exc:
            raise classify(exc) from exc
        latency_ms = (time.perf_counter() - started) * 1000.0
        choice = response.choices[0]
        usage = getattr(response, "usage", None)
        tokens_in = int(getattr(usage, "prompt_tokens", 0) or 0)
        tokens_out = int(getattr(usage, "completion_tokens", 0) or 0)
        completion = Completion(
            model=entry.model_name,
            output=choice.message.content or "",
            tokens_in=tokens_in,
            tokens_out=tokens_out,
            cost_usd=entry.cost_usd(tokens_in, tokens_out),
            latency_ms=latency_ms,
            finish_reason=getattr(choice, "finish_reason", None),
            tool_calls=tool_calls_of(getattr(choice.message, "tool_calls", None)),
        )
        span.set_usage(tokens_in, tokens_out, completion.cost_usd, completion.finish_reason)
        return completion


async def stream(
    entry: ModelEntry,
    messages: list[dict[str, Any]],
    kwargs: Mapping[str, Any],
    acc: StreamAccumulator,
    started: float,
    *,
    timeout_s: float,
) -> AsyncGenerator[StreamDelta, None]:
    """The deltas of one streamed ``litellm.acompletion`` (usage requested with
    ``stream_options.include_usage``), gathered into ``acc`` (``started``: the call's
    ``perf_counter`` start, for the time to first delta); provider errors, on open or
    mid-stream, raised as :class:`GatewayError` (:func:`classify`)."""
    litellm = _litellm()
    try:
        response = await litellm.acompletion(
            messages=messages,
            num_retries=0,
            timeout=timeout_s,
            stream=True,
            stream_options={"include_usage": True},
            **kwargs,
        )
    except Exception as exc:
        raise classify(exc) from exc
    iterator = response.__aiter__()
    try:
        while True:
            try:
                chunk = await iterator.__anext__()
            except StopAsyncIteration:
                break
            except Exception as exc:
                raise classify(exc) from exc
            delta = acc.add(chunk)
            if delta is not None:
                if acc.ttft_ms is None:
                    acc.ttft_ms = (time.perf_counter() - started) * 1000.0
                yield delta
    finally:
        aclose = getattr(iterator, "aclose", None)
        if aclose is not None:
            try:
                await aclose()
            except Exception:  # closing a dead stream must not mask the cause
                logger.debug("closing the provider stream failed", exc_info=True)


class StreamAccumulator:
    """Gathers a stream's chunks: text, tool-call fragments by index, finish reason, usage."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.tool_calls: dict[int, dict[str, Any]] = {}
        self.finish_reason: str | None = None
        self.usage: Any = None
        self.ttft_ms: float | None = None

    def add(self, chunk: Any) -> StreamDelta | None:
        """Take one chunk; the delta to pass on, or None when it carries no content."""
        usage = get_member(chunk, "usage")
        if usage is not None and get_member(usage, "prompt_tokens") is not None:
            self.usage = usage
        choices = get_member(chunk, "choices") or []
        if not choices:
            return None
        choice = choices[0]
        if get_member(choice, "finish_reason"):
            self.finish_reason = str(get_member(choice, "finish_reason"))
        delta = get_member(choice, "delta")
        if delta is None:
            return None
        text = get_member(delta, "content") or ""
        fragments: list[dict[str, Any]] = []
        for position, raw in enumerate(get_member(delta, "tool_calls") or []):
            index = get_member(raw, "index")
            index = int(index) if index is not None else position
            function = get_member(raw, "function")
            name = get_member(function, "name") if function is not None else None
            arguments = (get_member(function, "arguments") if function is not None else None) or ""
            fragment: dict[str, Any] = {"index": index, "function": {"arguments": arguments}}
            if get_member(raw, "id"):
                fragment["id"] = get_member(raw, "id")
                fragment["type"] = get_member(raw, "type") or "function"
            if name:
                fragment["function"]["name"] = name
            fragments.append(fragment)
            call = self.tool_calls.setdefault(
                index, {"id": None, "type": "function", "function": {"name": None, "arguments": ""}}
            )
            if fragment.get("id"):
                call["id"] = fragment["id"]
            if name:
                call["function"]["name"] = name
            call["function"]["arguments"] += arguments
        if text:
            self.parts.append(text)
        if not text and not fragments:
            return None
        return StreamDelta(text=text, tool_calls=fragments or None)

    def completion(
        self,
        entry: ModelEntry,
        messages: list[dict[str, Any]],
        latency_ms: float,
        attempts: list[dict[str, Any]],
    ) -> Completion:
        output = "".join(self.parts)
        if self.usage is not None:
            tokens_in = int(get_member(self.usage, "prompt_tokens") or 0)
            tokens_out = int(get_member(self.usage, "completion_tokens") or 0)
        else:
            tokens_in, tokens_out = count_tokens(entry, messages, output)
        tool_calls = [self.tool_calls[i] for i in sorted(self.tool_calls)] or None
        return Completion(
            model=entry.model_name,
            output=output,
            tokens_in=tokens_in,
            tokens_out=tokens_out,
            cost_usd=entry.cost_usd(tokens_in, tokens_out),
            latency_ms=latency_ms,
            finish_reason=self.finish_reason,
            attempts=list(attempts),
            tool_calls=tool_calls,
            ttft_ms=self.ttft_ms,
        )


def count_tokens(entry: ModelEntry, messages: list[dict[str, Any]], output: str) -> tuple[int, int]:
    """(prompt, completion) tokens counted locally with ``litellm.token_counter`` for a
    provider that reported no usage on its stream."""
    litellm = _litellm()
    model = str(entry.litellm_params.get("model", entry.model_name))
    try:
        tokens_in = int(litellm.token_counter(model=model, messages=messages))
        tokens_out = (
            int(litellm.token_counter(model=model, text=output, count_response_tokens=True))
            if output
            else 0
        )
    except Exception:  # a tokenizer problem must not fail a finished answer
        logger.warning("token counting failed for %s", model, exc_info=True)
        return 0, 0
    return tokens_in, tokens_out
