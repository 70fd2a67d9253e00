"""The LLM gateway: every LLM call of the platform goes through :class:`LLMGateway`.

Models come from a LiteLLM model list (the LiteLLM proxy's ``model_list`` YAML format)::

    model_list:
      - model_name: smollm2-135m
        litellm_params: {model: openai/smollm2-135m, api_base: http://127.0.0.1:8081/v1,
                         api_key: none}
        model_info: {input_cost_per_token: 0.0, output_cost_per_token: 0.0}

Each call records prompt/completion tokens (as reported by the provider), cost in USD from the
list's per-token prices (``tokens_in * input_cost_per_token + tokens_out *
output_cost_per_token``), and latency in milliseconds. Retries of the *same* deployment belong to
the caller (Temporal): LiteLLM is called with ``num_retries=0``.

Fallbacks and circuit breakers (LiteLLM ``router_settings`` keys)::

    router_settings:
      fallbacks: [{smollm2-135m: [qwen-0.5b, gpt-4o-mini]}]
      allowed_fails: 5        # retryable failures within allowed_fails_window that open a breaker
      allowed_fails_window: 60  # seconds (PromptOps extra; LiteLLM counts per minute)
      cooldown_time: 30       # seconds an open breaker waits before its single probe

:meth:`LLMGateway.complete` tries the requested model, then its fallbacks in order. Retryable
errors (429, 5xx, timeouts, connection errors) move on to the next candidate; non-retryable ones
(400, 401/403, context window) fail at once with the provider's message. A deployment whose
breaker is open is skipped without sending a request (see :mod:`promptops.llm.breakers`).

Direct fast path for OpenAI-compatible servers. ``litellm.acompletion`` costs about 4 ms of CPU
and 10 ms of wall time per call even against a local server that answers at once (its request
building, logging hooks and response objects), more than the gateway's whole 3 ms overhead
target. So a *non-streaming* call to a deployment that is OpenAI-compatible -- provider
``openai`` (``model: openai/<name>``) with an explicit ``api_base`` (llama.cpp server, vLLM,
the test stub, ...) and no ``litellm_params`` beyond ``model``, ``api_base``, ``api_key``,
``custom_llm_provider``, ``extra_headers``, ``extra_body`` and the decoding keys -- is sent by
the gateway itself: ``POST {api_base}/chat/completions`` on one pooled keep-alive
``aiohttp.ClientSession`` per gateway (and event loop), with the body LiteLLM would send (``model``
without its ``openai/`` prefix, messages, decoding keys, ``response_format``, ``tools``,
``tool_choice``) and ``Authorization: Bearer <api_key>``. Errors are classified exactly as on
the LiteLLM path (same exception names, HTTP status and retryable flag; a connection error is
status 500 and a timeout 408, as LiteLLM reports them); usage, cost, finish reason (LiteLLM's
mapping) and tool calls are the same. LiteLLM stays the path for every other provider, for a
deployment without ``api_base``, and for streaming. Opt out per deployment with
``promptops_fast_path: false`` in ``model_info`` or ``litellm_params``, or for the whole process
with the environment variable ``PROMPTOPS_GATEWAY_FAST_PATH=0``. Call :meth:`LLMGateway.aclose`
at shutdown to close the pooled connections.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import AsyncGenerator, Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any

from promptops.llm.breakers import BreakerSettings, Clock, Deployment, DeploymentRegistry
from promptops.llm.catalog import ModelCatalog, ModelEntry, flag_on
from promptops.llm.errors import GatewayError, redact_secrets
from promptops.llm.providers import litellm as litellm_provider
from promptops.llm.providers.common import request_kwargs
from promptops.llm.providers.litellm import StreamAccumulator
from promptops.llm.providers.openai_compatible import (
    OpenAICompatibleClient,
    aclose_all,
    fast_path_fits,
)
from promptops.llm.types import Completion, ProviderOverride, StreamDelta, StreamDone, StreamEvent

__all__ = ["FAST_PATH_ENV", "LLMGateway", "aclose_all"]

#: Environment switch for the direct OpenAI-compatible path ("0"/"false"/"no"/"off": LiteLLM only).
FAST_PATH_ENV = "PROMPTOPS_GATEWAY_FAST_PATH"


class LLMGateway:
    """Calls models of a :class:`ModelCatalog` (through LiteLLM, or directly for an
    OpenAI-compatible deployment: see the module docstring) and meters each call; holds one
    circuit breaker and rolling stats per deployment in :attr:`deployments` (one gateway per
    process, so they are shared by every caller). ``clock`` (monotonic seconds) is for tests."""

    def __init__(
        self,
        catalog: ModelCatalog,
        *,
        timeout_s: float = 120.0,
        clock: Clock | None = None,
        fast_path: bool | None = None,
        max_connections: int = 256,
    ):
        """``fast_path``: use the direct OpenAI-compatible path (see the module docstring);
        None reads ``PROMPTOPS_GATEWAY_FAST_PATH`` (default on). ``max_connections``: size of
        the fast path's connection pool (all deployments together)."""
        self.catalog = catalog
        self.timeout_s = timeout_s
        self.deployments = DeploymentRegistry(
            BreakerSettings.from_router_settings(catalog.router_settings),
            **({"clock": clock} if clock is not None else {}),
        )
        self.fast_path = flag_on(os.environ.get(FAST_PATH_ENV)) if fast_path is None else fast_path
        self.direct = OpenAICompatibleClient(timeout_s=timeout_s, max_connections=max_connections)

    async def aclose(self) -> None:
        """Close the fast path's pooled connections (idempotent; a later call opens anew)."""
        await self.direct.aclose()

    def provider_status(self) -> list[dict[str, Any]]:
        """One snapshot per configured deployment, in catalog order (see
        :meth:`promptops.llm.breakers.Deployment.snapshot`), with its ``provider``."""
        return [
            {**self.deployments.get(name).snapshot(), "provider": entry.provider}
            for name, entry in self.catalog.entries.items()
        ]

    def resolve_candidates(
        self, model: str | None = None, candidates: Sequence[str] | None = None
    ) -> list[str]:
        """The model names a call tries, in order: ``candidates`` as given (a routing policy's
        ranking; repeats dropped) or else ``model`` (default: the catalog's first) and its
        fallbacks. Raises :class:`UnknownModelError` for a name not in the catalog and a
        non-retryable :class:`GatewayError` (400) for an empty ``candidates``."""
        if candidates is None:
            return self.catalog.candidates(model)
        names: list[str] = []
        for name in candidates:
            entry = self.catalog.get(name)
            if entry.model_name not in names:
                names.append(entry.model_name)
        if not names:
            raise GatewayError(
                "candidates is empty: name at least one model", retryable=False, status_code=400
            )
        return names

    async def complete(
        self,
        messages: list[dict[str, Any]],
        *,
        model: str | None = None,
        candidates: Sequence[str] | None = None,
        decoding: Mapping[str, Any] | None = None,
        response_format: Mapping[str, Any] | None = None,
        tools: list[dict[str, Any]] | None = None,
        tool_choice: str | dict[str, Any] | None = None,
        credentials: ProviderOverride | None = None,
    ) -> Completion:
        """One chat completion from ``model`` (default: the catalog's first) or, when it fails
        with a retryable error or its breaker is open, from its fallbacks in order. With
        ``candidates`` (e.g. a routing policy's ranking) exactly those models are tried, in
        that order, instead (see :meth:`resolve_candidates`). ``tools``/``tool_choice`` (OpenAI
        format) pass through to the provider; the answer's calls are in
        :attr:`Completion.tool_calls`.

        Raises :class:`GatewayError` (``retryable`` set, ``attempts`` filled): the provider's own
        error at once when it is non-retryable; when every candidate failed or was skipped, the
        last provider error (single candidate) or a retryable error naming every attempt
        (status 503 when no request could be sent at all).
        """
        attempts: list[dict[str, Any]] = []
        last: GatewayError | None = None
        for name, entry, deployment, override in self._admitted(
            model, candidates, credentials, attempts
        ):
            started = time.perf_counter()
            try:
                completion = await self.call_deployment(
                    entry,
                    messages,
                    decoding,
                    response_format,
                    override,
                    tools=tools,
                    tool_choice=tool_choice,
                )
            except GatewayError as err:
                elapsed_ms = (time.perf_counter() - started) * 1000.0
                attempts.append({"model": name, "error": str(err), "status": err.status_code})
                if not self._record_failure(deployment, err, elapsed_ms):
                    err.attempts = attempts
                    raise
                last = err
                continue
            except BaseException:
                deployment.breaker.release()  # cancelled: no verdict on the deployment
                raise
            self._record_success(deployment, completion.latency_ms, attempts)
            return replace(completion, attempts=attempts)
        raise self._exhausted(attempts, last)

    async def stream(
        self,
        messages: list[dict[str, Any]],
        *,
        model: str | None = None,
        candidates: Sequence[str] | None = None,
        decoding: Mapping[str, Any] | None = None,
        response_format: Mapping[str, Any] | None = None,
        tools: list[dict[str, Any]] | None = None,
        tool_choice: str | dict[str, Any] | None = None,
        credentials: ProviderOverride | None = None,
    ) -> AsyncGenerator[StreamEvent, None]:
        """A streamed chat completion: :class:`StreamDelta` events as the provider sends them,
        then exactly one :class:`StreamDone` whose completion carries the whole output, token
        counts, cost (USD), ``latency_ms`` (whole stream) and ``ttft_ms`` (to the first delta).

        Candidates, fallbacks and breakers are those of :meth:`complete`, but a fallback is
        only possible *before* the first delta was yielded: an error after it raises a
        non-retryable :class:`GatewayError` (``attempts`` filled), since the caller has already
        passed text on. Tokens are the provider's usage (requested with
        ``stream_options.include_usage``); a provider that sends none is metered with
        ``litellm.token_counter`` (its tokenizer for the model, else tiktoken's cl100k), so
        cost is an estimate then. Closing the iterator early (client disconnect, cancellation)
        frees a half-open breaker's probe without a verdict on the deployment.
        """
        attempts: list[dict[str, Any]] = []
        last: GatewayError | None = None
        for name, entry, deployment, override in self._admitted(
            model, candidates, credentials, attempts
        ):
            acc = StreamAccumulator()
            started = time.perf_counter()
            try:
                # aclosing: an early close must reach the provider stream at once, not at GC.
                async with contextlib.aclosing(
                    self._stream_one(
                        entry,
                        messages,
                        decoding,
                        response_format,
                        override,
                        tools,
                        tool_choice,
                        acc,
                        started,
                    )
                ) as deltas:
                    async for delta in deltas:
                        yield delta
            except GatewayError as err:
                elapsed_ms = (time.perf_counter() - started) * 1000.0
                attempts.append({"model": name, "error": str(err), "status": err.status_code})
                retryable = self._record_failure(deployment, err, elapsed_ms)
                if acc.ttft_ms is not None:
                    # Text already went out: another model cannot continue it.
                    raise GatewayError(
                        f"the stream from {name} broke after the first delta: {err}",
                        retryable=False,
                        status_code=err.status_code,
                        attempts=attempts,
                    ) from err
                if not retryable:
                    err.attempts = attempts
                    raise
                last = err
                continue
            except BaseException:
                deployment.breaker.release()  # cancelled / closed early: no verdict
                raise
            latency_ms = (time.perf_counter() - started) * 1000.0
            self._record_success(deployment, latency_ms, attempts)
            yield StreamDone(acc.completion(entry, messages, latency_ms, attempts))
            return
        raise self._exhausted(attempts, last)

    async def _stream_one(
        self,
        entry: ModelEntry,
        messages: list[dict[str, Any]],
        decoding: Mapping[str, Any] | None,
        response_format: Mapping[str, Any] | None,
        credentials: ProviderOverride | None,
        tools: list[dict[str, Any]] | None,
        tool_choice: str | dict[str, Any] | None,
        acc: StreamAccumulator,
        started: float,
    ) -> AsyncGenerator[StreamDelta, None]:
        """The deltas of one streamed request to one deployment (always through LiteLLM),
        gathered into ``acc``."""
        kwargs = request_kwargs(entry, decoding, response_format, credentials, tools, tool_choice)
        async for delta in litellm_provider.stream(
            entry, messages, kwargs, acc, started, timeout_s=self.timeout_s
        ):
            yield delta

    def _admitted(
        self,
        model: str | None,
        candidates: Sequence[str] | None,
        credentials: ProviderOverride | None,
        attempts: list[dict[str, Any]],
    ) -> Iterator[tuple[str, ModelEntry, Deployment, ProviderOverride | None]]:
        """The candidates (:meth:`resolve_candidates`) whose breaker lets a call through, as
        ``(name, entry, deployment, credentials)``; a skipped one is added to ``attempts`` as
        ``"circuit open"``. A tenant's key belongs to the requested model's provider: a
        fallback on another provider gets None (its own deployment key) rather than the
        tenant's key."""
        names = self.resolve_candidates(model, candidates)
        requested_provider = self.catalog.get(names[0]).provider
        for name in names:
            entry = self.catalog.get(name)
            deployment = self.deployments.get(name)
            if not deployment.breaker.try_acquire():
                attempts.append({"model": name, "error": "circuit open", "status": None})
                continue
            yield (
                name,
                entry,
                deployment,
                credentials if entry.provider == requested_provider else None,
            )

    @staticmethod
    def _record_success(
        deployment: Deployment, latency_ms: float, attempts: list[dict[str, Any]]
    ) -> None:
        """A candidate answered: close its breaker's probe, count the call, note the attempt."""
        deployment.breaker.record_success()
        deployment.stats.record(latency_ms, ok=True)
        attempts.append({"model": deployment.model_name, "error": None, "status": 200})

    def _record_failure(self, deployment: Any, err: GatewayError, elapsed_ms: float) -> bool:
        """Account a failed request on the deployment's breaker and stats; True when the error
        is retryable (the next candidate may be tried)."""
        # Only provider-side faults (retryable) reach the shared ``last_error`` that every
        # tenant sees in /models/providers; a 400/401 is the caller's business.
        deployment.stats.record(
            elapsed_ms,
            ok=False,
            counts=err.retryable,
            status_code=err.status_code,
            error=redact_secrets(str(err)) if err.retryable else None,
        )
        if not err.retryable:
            deployment.breaker.release()
            return False
        deployment.breaker.record_failure()
        return True

    @staticmethod
    def _exhausted(attempts: list[dict[str, Any]], last: GatewayError | None) -> GatewayError:
        """The error once every candidate failed or was skipped."""
        if last is not None and len(attempts) == 1:
            last.attempts = attempts
            return last
        summary = "; ".join(f"{a['model']}: {a['error']}" for a in attempts)
        return GatewayError(
            f"every candidate model failed ({summary})",
            retryable=True,
            status_code=last.status_code if last is not None else 503,
            attempts=attempts,
        )

    async def call_deployment(
        self,
        entry: ModelEntry,
        messages: list[dict[str, Any]],
        decoding: Mapping[str, Any] | None,
        response_format: Mapping[str, Any] | None,
        credentials: ProviderOverride | None,
        *,
        tools: list[dict[str, Any]] | None = None,
        tool_choice: str | dict[str, Any] | None = None,
    ) -> Completion:
        """One request to one deployment, without fallbacks and without its breaker (the
        provider health check's probe; :meth:`complete` wraps it in both), classified into
        :class:`GatewayError` on failure: directly for an OpenAI-compatible deployment (see the
        module docstring), else through ``litellm.acompletion``."""
        kwargs = request_kwargs(entry, decoding, response_format, credentials, tools, tool_choice)
        if self.fast_path and entry.fast_path and fast_path_fits(entry, kwargs):
            return await self.direct.complete(entry, messages, kwargs)
        return await litellm_provider.complete(entry, messages, kwargs, timeout_s=self.timeout_s)
