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

import asyncio
import contextlib
import logging
import os
import re
import time
import weakref
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import yaml

from promptops import telemetry
from promptops.llm.breakers import BreakerSettings, Clock, Deployment, DeploymentRegistry

logger = logging.getLogger(__name__)

# LiteLLM fetches its price map from the network at import unless told not to.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

DECODING_KEYS = ("temperature", "top_p", "max_tokens", "stop", "seed", "presence_penalty",
                 "frequency_penalty")

#: Environment switch for the direct OpenAI-compatible path ("0"/"false"/"no"/"off": LiteLLM only).
FAST_PATH_ENV = "PROMPTOPS_GATEWAY_FAST_PATH"
#: Model-list flag (``model_info`` or ``litellm_params``) that sends a deployment through LiteLLM.
FAST_PATH_FLAG = "promptops_fast_path"
#: ``litellm_params`` keys the fast path can express besides :data:`DECODING_KEYS` and the
#: request's own ``response_format``/``tools``/``tool_choice``; any other key -> LiteLLM.
_FAST_PATH_KEYS = frozenset({"model", "api_base", "api_key", "custom_llm_provider",
                             "extra_headers", "extra_body", "response_format", "tools",
                             "tool_choice", *DECODING_KEYS})
_FALSY = {"0", "false", "no", "off"}


class GatewayError(RuntimeError):
    """A failed LLM call. ``retryable`` is True for 429, 5xx, timeouts and connection errors.
    ``attempts`` lists the candidates tried, as in :attr:`Completion.attempts`."""

    def __init__(self, message: str, *, retryable: bool, status_code: int | None = None,
                 attempts: list[dict[str, Any]] | None = None):
        super().__init__(message)
        self.retryable = retryable
        self.status_code = status_code
        self.attempts: list[dict[str, Any]] = list(attempts or [])


class UnknownModelError(GatewayError):
    def __init__(self, model: str, known: list[str]):
        super().__init__(
            f"unknown model {model!r}; configured models: {', '.join(known) or '(none)'}",
            retryable=False,
            status_code=400,
        )


@dataclass(frozen=True)
class ModelEntry:
    """One model of the model list. Prices in USD per token."""

    model_name: str
    litellm_params: Mapping[str, Any]
    input_cost_per_token: float = 0.0
    output_cost_per_token: float = 0.0
    #: ``model_info.supports_response_schema`` from the model list; None: ask LiteLLM's map.
    supports_response_schema: bool | None = None
    #: False when the model list sets ``promptops_fast_path: false`` (always call LiteLLM).
    fast_path: bool = True

    def cost_usd(self, tokens_in: int, tokens_out: int) -> float:
        return tokens_in * self.input_cost_per_token + tokens_out * self.output_cost_per_token

    @property
    def provider(self) -> str | None:
        """LiteLLM provider of the deployment (``custom_llm_provider`` or the ``model``
        prefix, e.g. ``openai`` in ``openai/gpt-4o``); None when LiteLLM must infer it."""
        explicit = self.litellm_params.get("custom_llm_provider")
        if explicit:
            return str(explicit).lower()
        model = str(self.litellm_params.get("model", ""))
        return model.split("/", 1)[0].lower() if "/" in model else None


@dataclass(frozen=True)
class ProviderOverride:
    """A tenant's own provider credentials for one call (they replace the deployment's
    ``api_key``; ``api_base`` too when given). ``repr`` hides the key."""

    api_key: str = field(repr=False)
    api_base: str | None = None


@dataclass
class ModelCatalog:
    """The configured models, by ``model_name``; the first one is the default. ``fallbacks``
    maps a model to the models tried after it, in order; ``router_settings`` is the LiteLLM
    ``router_settings`` mapping as given (breaker thresholds are read from it)."""

    entries: dict[str, ModelEntry] = field(default_factory=dict)
    fallbacks: dict[str, list[str]] = field(default_factory=dict)
    router_settings: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelCatalog:
        entries: dict[str, ModelEntry] = {}
        for i, item in enumerate(data.get("model_list") or []):
            if "model_name" not in item or "litellm_params" not in item:
                raise ValueError(f"model_list[{i}]: needs model_name and litellm_params")
            info = item.get("model_info") or {}
            params = dict(item["litellm_params"])
            flag = params.pop(FAST_PATH_FLAG, None)
            flag = info.get(FAST_PATH_FLAG, flag)
            entries[item["model_name"]] = ModelEntry(
                model_name=item["model_name"],
                litellm_params=params,
                input_cost_per_token=float(
                    info.get("input_cost_per_token", params.pop("input_cost_per_token", 0.0))
                ),
                output_cost_per_token=float(
                    info.get("output_cost_per_token", params.pop("output_cost_per_token", 0.0))
                ),
                supports_response_schema=(
                    bool(info["supports_response_schema"])
                    if info.get("supports_response_schema") is not None else None),
                fast_path=_flag_on(flag),
            )
        router_settings = dict(data.get("router_settings") or {})
        fallbacks = _parse_fallbacks(router_settings.get("fallbacks"), entries)
        BreakerSettings.from_router_settings(router_settings)  # ValueError early, not per call
        return cls(entries, fallbacks, router_settings)

    @classmethod
    def load(cls, path: Path) -> ModelCatalog:
        """Read a model-list YAML file. Raises ``FileNotFoundError`` / ``ValueError``."""
        with open(path) as fh:
            return cls.from_dict(yaml.safe_load(fh) or {})

    @property
    def default_model(self) -> str:
        if not self.entries:
            raise ValueError("the model list is empty")
        return next(iter(self.entries))

    def candidates(self, name: str | None) -> list[str]:
        """The requested model (or the default) followed by its fallbacks, without repeats.
        Raises :class:`UnknownModelError` for an unknown model."""
        first = self.get(name).model_name
        ordered = [first]
        for other in self.fallbacks.get(first, []):
            if other not in ordered:
                ordered.append(other)
        return ordered

    def get(self, name: str | None) -> ModelEntry:
        name = name or self.default_model
        try:
            return self.entries[name]
        except KeyError:
            raise UnknownModelError(name, list(self.entries)) from None


def _flag_on(value: Any) -> bool:
    """A model-list or environment on/off flag; None (unset) is on."""
    if value is None:
        return True
    if isinstance(value, str):
        return value.strip().lower() not in _FALSY
    return bool(value)


def _parse_fallbacks(raw: Any, entries: Mapping[str, ModelEntry]) -> dict[str, list[str]]:
    """LiteLLM's ``[{"model-a": ["model-b", ...]}, ...]`` (a plain mapping is accepted too) ->
    ``{"model-a": ["model-b", ...]}``. Raises ``ValueError`` naming an unknown model."""
    if not raw:
        return {}
    items = [raw] if isinstance(raw, Mapping) else list(raw)
    out: dict[str, list[str]] = {}
    for i, item in enumerate(items):
        if not isinstance(item, Mapping):
            # ValueError like every other bad-file case that load() documents.
            raise ValueError(  # noqa: TRY004
                f"router_settings.fallbacks[{i}]: expected {{model: [fallbacks]}}")
        for source, targets in item.items():
            names = [targets] if isinstance(targets, str) else list(targets or [])
            for name in [source, *names]:
                if name not in entries:
                    raise ValueError(f"router_settings.fallbacks[{i}]: unknown model {name!r}")
            out.setdefault(str(source), []).extend(str(n) for n in names)
    return out


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


_SECRET_PATTERN = re.compile(
    r"(?i)(bearer\s+\S+|\b(?:sk|po|pk|rk)[-_][A-Za-z0-9_\-]{6,}|"
    r"(?:api[_-]?key|authorization|token)[\"']?\s*[:=]\s*[\"']?[^\s\"',}]+)")


def redact_secrets(text: str, *, limit: int = 500) -> str:
    """``text`` with bearer tokens, ``sk-``/``po_``-style keys and ``api_key=...`` values
    replaced by ``[redacted]``, cut to ``limit`` characters."""
    return _SECRET_PATTERN.sub("[redacted]", text)[:limit]


def _classify(exc: BaseException) -> GatewayError:
    status = getattr(exc, "status_code", None)
    name = type(exc).__name__
    retryable_names = {
        "RateLimitError", "Timeout", "APIConnectionError", "ServiceUnavailableError",
        "InternalServerError", "APIError", "BadGatewayError",
    }
    if isinstance(status, int):
        retryable = status == 429 or status >= 500 or status == 408
    else:
        retryable = name in retryable_names
    if name in {"AuthenticationError", "BadRequestError", "NotFoundError",
                "ContextWindowExceededError", "PermissionDeniedError",
                "UnprocessableEntityError"}:
        retryable = False
    return GatewayError(f"{name}: {exc}", retryable=retryable,
                        status_code=status if isinstance(status, int) else None)


#: Gateways whose fast-path session is open, for :func:`aclose_all`.
_LIVE_GATEWAYS: weakref.WeakSet[LLMGateway] = weakref.WeakSet()


async def aclose_all() -> None:
    """Close the fast-path sessions of every gateway of this process that has one open on the
    running event loop (a worker's or a test session's shutdown)."""
    loop = asyncio.get_running_loop()
    for gateway in list(_LIVE_GATEWAYS):
        if gateway._http_loop is loop:
            await gateway.aclose()


class LLMGateway:
    """Calls models of a :class:`ModelCatalog` (through LiteLLM, or directly for an
    OpenAI-compatible deployment: see the module docstring) and meters each call; holds one
    circuit breaker and rolling stats per deployment in :attr:`deployments` (one gateway per
    process, so they are shared by every caller). ``clock`` (monotonic seconds) is for tests."""

    def __init__(self, catalog: ModelCatalog, *, timeout_s: float = 120.0,
                 clock: Clock | None = None, fast_path: bool | None = None,
                 max_connections: int = 256):
        """``fast_path``: use the direct OpenAI-compatible path (see the module docstring);
        None reads ``PROMPTOPS_GATEWAY_FAST_PATH`` (default on). ``max_connections``: size of
        the fast path's connection pool (all deployments together)."""
        self.catalog = catalog
        self.timeout_s = timeout_s
        self.deployments = DeploymentRegistry(
            BreakerSettings.from_router_settings(catalog.router_settings),
            **({"clock": clock} if clock is not None else {}))
        self.fast_path = (_flag_on(os.environ.get(FAST_PATH_ENV)) if fast_path is None
                          else fast_path)
        self.max_connections = max_connections
        self._http: aiohttp.ClientSession | None = None
        self._http_loop: asyncio.AbstractEventLoop | None = None

    def _client(self) -> aiohttp.ClientSession:
        """The pooled fast-path client of the running event loop (made on first use; a pool
        cannot outlive its loop, so a gateway used from a new loop gets a new client).
        aiohttp rather than httpx: about 0.4 ms of CPU per call against 1.8 ms, measured on
        the benchmark's stub (the fast path exists to save CPU)."""
        loop = asyncio.get_running_loop()
        if self._http is None or self._http_loop is not loop or self._http.closed:
            _LIVE_GATEWAYS.add(self)
            self._http = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout_s),
                connector=aiohttp.TCPConnector(limit=self.max_connections,
                                               keepalive_timeout=30.0),
                json_serialize=lambda obj: orjson.dumps(obj).decode(), trust_env=False,
            )
            self._http_loop = loop
        return self._http

    async def aclose(self) -> None:
        """Close the fast path's pooled connections (idempotent; a later call opens anew)."""
        client, self._http, self._http_loop = self._http, None, None
        if client is not None and not client.closed:
            await client.close()

    def provider_status(self) -> list[dict[str, Any]]:
        """One snapshot per configured deployment, in catalog order (see
        :meth:`promptops.llm.breakers.Deployment.snapshot`), with its ``provider``."""
        return [{**self.deployments.get(name).snapshot(), "provider": entry.provider}
                for name, entry in self.catalog.entries.items()]

    def resolve_candidates(self, model: str | None = None,
                           candidates: Sequence[str] | None = None) -> list[str]:
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
            raise GatewayError("candidates is empty: name at least one model",
                               retryable=False, status_code=400)
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
        for name, entry, deployment, override in self._admitted(model, candidates, credentials,
                                                                attempts):
            started = time.perf_counter()
            try:
                completion = await self._call(entry, messages, decoding, response_format,
                                              override, tools=tools, tool_choice=tool_choice)
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
    ) -> AsyncIterator[StreamEvent]:
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
        for name, entry, deployment, override in self._admitted(model, candidates, credentials,
                                                                attempts):
            acc = _StreamAccumulator()
            started = time.perf_counter()
            try:
                # aclosing: an early close must reach the provider stream at once, not at GC.
                async with contextlib.aclosing(self._stream_one(
                        entry, messages, decoding, response_format, override, tools,
                        tool_choice, acc, started)) as deltas:
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
                        retryable=False, status_code=err.status_code,
                        attempts=attempts) from err
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
        acc: _StreamAccumulator,
        started: float,
    ) -> AsyncIterator[StreamDelta]:
        """The deltas of one streamed request to one deployment, gathered into ``acc``;
        provider errors (on open or mid-stream) classified into :class:`GatewayError`."""
        import litellm

        litellm.suppress_debug_info = True  # no 'Give Feedback' banner per error

        kwargs = self._request_kwargs(entry, decoding, response_format, credentials, tools,
                                      tool_choice)
        try:
            response = await litellm.acompletion(
                messages=messages, num_retries=0, timeout=self.timeout_s, stream=True,
                stream_options={"include_usage": True}, **kwargs)
        except Exception as exc:
            raise _classify(exc) from exc
        iterator = response.__aiter__()
        try:
            while True:
                try:
                    chunk = await iterator.__anext__()
                except StopAsyncIteration:
                    break
                except Exception as exc:
                    raise _classify(exc) from exc
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

    def _admitted(self, model: str | None, candidates: Sequence[str] | None,
                  credentials: ProviderOverride | None, attempts: list[dict[str, Any]]
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
            yield (name, entry, deployment,
                   credentials if entry.provider == requested_provider else None)

    @staticmethod
    def _record_success(deployment: Deployment, latency_ms: float,
                        attempts: list[dict[str, Any]]) -> None:
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
            elapsed_ms, ok=False, counts=err.retryable, status_code=err.status_code,
            error=redact_secrets(str(err)) if err.retryable else None)
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
            f"every candidate model failed ({summary})", retryable=True,
            status_code=last.status_code if last is not None else 503, attempts=attempts)

    @staticmethod
    def _request_kwargs(
        entry: ModelEntry,
        decoding: Mapping[str, Any] | None,
        response_format: Mapping[str, Any] | None,
        credentials: ProviderOverride | None,
        tools: list[dict[str, Any]] | None = None,
        tool_choice: str | dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """LiteLLM keyword arguments for one request to ``entry``."""
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

    async def _call(
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
        """One request to one deployment, classified into :class:`GatewayError` on failure:
        directly for an OpenAI-compatible deployment (see the module docstring), else through
        ``litellm.acompletion``."""
        kwargs = self._request_kwargs(entry, decoding, response_format, credentials, tools,
                                      tool_choice)
        if self.fast_path and entry.fast_path and _fast_path_fits(entry, kwargs):
            return await self._call_direct(entry, messages, kwargs)
        import litellm

        litellm.suppress_debug_info = True  # no 'Give Feedback' banner per error

        with telemetry.llm_span(entry.model_name, entry.provider) as span:
            started = time.perf_counter()
            try:
                response = await litellm.acompletion(
                    messages=messages, num_retries=0, timeout=self.timeout_s, **kwargs
                )
            except Exception as exc:
                raise _classify(exc) from exc
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
                tool_calls=_tool_calls_of(getattr(choice.message, "tool_calls", None)),
            )
            span.set_usage(tokens_in, tokens_out, completion.cost_usd, completion.finish_reason)
            return completion


    async def _call_direct(self, entry: ModelEntry, messages: list[dict[str, Any]],
                           kwargs: Mapping[str, Any]) -> Completion:
        """The fast path: one ``POST {api_base}/chat/completions`` with LiteLLM's request body
        (``kwargs`` from :meth:`_request_kwargs`), parsed into a :class:`Completion`."""
        url, headers, body = _openai_request(messages, kwargs)
        client = self._client()
        with telemetry.llm_span(entry.model_name, entry.provider) as span:
            started = time.perf_counter()
            try:
                async with client.post(url, data=body, headers=headers) as response:
                    raw = await response.read()
                    status = response.status
            except TimeoutError as exc:
                raise GatewayError(
                    f"Timeout: OpenAIException - Request timed out ({type(exc).__name__}) - "
                    f"timeout value={self.timeout_s}", retryable=True, status_code=408) from exc
            except aiohttp.ClientError as exc:
                raise GatewayError(
                    f"InternalServerError: OpenAIException - Connection error. "
                    f"({type(exc).__name__}: {exc})", retryable=True, status_code=500) from exc
            if status >= 400:
                raise _http_error(status, raw)
            try:
                data = orjson.loads(raw)
                choice = data["choices"][0]
                message = choice.get("message") or {}
            except Exception as exc:
                raise GatewayError(
                    f"APIError: OpenAIException - invalid response body: {raw[:200]!r}",
                    retryable=True, status_code=500) from exc
            latency_ms = (time.perf_counter() - started) * 1000.0
            usage = data.get("usage") or {}
            tokens_in = int(usage.get("prompt_tokens") or 0)
            tokens_out = int(usage.get("completion_tokens") or 0)
            content = message.get("content")
            completion = Completion(
                model=entry.model_name,
                output=content if isinstance(content, str) else "",
                tokens_in=tokens_in,
                tokens_out=tokens_out,
                cost_usd=entry.cost_usd(tokens_in, tokens_out),
                latency_ms=latency_ms,
                finish_reason=_map_finish_reason(choice.get("finish_reason")),
                tool_calls=_tool_calls_of(message.get("tool_calls")),
            )
            span.set_usage(tokens_in, tokens_out, completion.cost_usd, completion.finish_reason)
            return completion


def _fast_path_fits(entry: ModelEntry, kwargs: Mapping[str, Any]) -> bool:
    """True when the request can go straight to an OpenAI-compatible server: provider
    ``openai``, an explicit ``api_base`` and no parameter the fast path cannot express (the
    model list's opt-out flag is read once, into ``entry.fast_path``)."""
    return (entry.provider == "openai" and bool(kwargs.get("api_base"))
            and all(key in _FAST_PATH_KEYS for key in kwargs))


def _openai_request(messages: list[dict[str, Any]],
                    kwargs: Mapping[str, Any]) -> tuple[str, dict[str, str], bytes]:
    """(url, headers, JSON body) of the chat-completions request LiteLLM would send for
    ``kwargs``: ``model`` without its ``openai/`` prefix, the messages, the decoding keys,
    ``response_format``, ``tools``/``tool_choice`` and ``extra_body`` merged in."""
    model = str(kwargs["model"]).removeprefix("openai/")
    body: dict[str, Any] = {"model": model, "messages": messages}
    for key in (*DECODING_KEYS, "response_format", "tools", "tool_choice"):
        value = kwargs.get(key)
        if value is not None:
            body[key] = value
    if kwargs.get("extra_body"):
        body.update(kwargs["extra_body"])
    headers = {"Content-Type": "application/json"}
    if kwargs.get("extra_headers"):
        headers.update({str(k): str(v) for k, v in dict(kwargs["extra_headers"]).items()})
    api_key = kwargs.get("api_key") or os.environ.get("OPENAI_API_KEY")
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    url = str(kwargs["api_base"]).rstrip("/") + "/chat/completions"
    return url, headers, orjson.dumps(body)


#: HTTP status -> the LiteLLM exception name it raises for an OpenAI-compatible provider.
_STATUS_NAMES = {400: "BadRequestError", 401: "AuthenticationError", 403: "PermissionDeniedError",
                 404: "NotFoundError", 408: "Timeout", 422: "UnprocessableEntityError",
                 429: "RateLimitError", 500: "InternalServerError", 502: "BadGatewayError",
                 503: "ServiceUnavailableError"}
_CONTEXT_WINDOW = re.compile(r"(?i)context (length|window)|maximum context|too many tokens")


def _http_error(status: int, raw: bytes) -> GatewayError:
    """A provider's HTTP error response as LiteLLM's path classifies it (see
    :func:`_classify`): 408/429/5xx retryable, other statuses not; the provider's
    ``error.message`` (else the body text) in the message."""
    message = ""
    try:
        data = orjson.loads(raw)
        error = data.get("error") if isinstance(data, dict) else None
        if isinstance(error, dict):
            message = str(error.get("message") or "")
        elif isinstance(error, str):
            message = error
        elif isinstance(data, dict):
            message = str(data.get("message") or data.get("detail") or "")
    except ValueError:  # not JSON: the text as it came
        message = ""
    if not message:
        message = raw.decode("utf-8", "replace")[:1000] or f"HTTP {status}"
    name = _STATUS_NAMES.get(status, "APIError")
    if status == 400 and _CONTEXT_WINDOW.search(message):
        name = "ContextWindowExceededError"
    retryable = status == 429 or status >= 500 or status == 408
    return GatewayError(f"{name}: OpenAIException - {message}", retryable=retryable,
                        status_code=status)


#: LiteLLM's finish-reason mapping (``litellm_core_utils.core_helpers.map_finish_reason``) for
#: the values OpenAI-compatible servers send; anything else is "stop", as there.
_FINISH_REASONS = {"stop": "stop", "length": "length", "tool_calls": "tool_calls",
                   "content_filter": "content_filter", "function_call": "function_call",
                   "stop_sequence": "stop", "end_turn": "stop", "max_tokens": "length",
                   "tool_use": "tool_calls", "eos": "stop", "eos_token": "stop"}


def _map_finish_reason(reason: Any) -> str:
    return _FINISH_REASONS.get(str(reason), "stop") if reason is not None else "stop"


def _get(obj: Any, key: str) -> Any:
    """``obj[key]`` or ``obj.key`` (LiteLLM hands out both dicts and pydantic objects)."""
    if isinstance(obj, Mapping):
        return obj.get(key)
    return getattr(obj, key, None)


def _tool_calls_of(raw: Any) -> list[dict[str, Any]] | None:
    """A response message's tool calls in the plain OpenAI shape; None when there are none."""
    if not raw:
        return None
    calls: list[dict[str, Any]] = []
    for call in raw:
        function = _get(call, "function")
        calls.append({
            "id": _get(call, "id"),
            "type": _get(call, "type") or "function",
            "function": {"name": _get(function, "name"),
                         "arguments": _get(function, "arguments") or ""},
        })
    return calls


class _StreamAccumulator:
    """Gathers a stream's chunks: text, tool-call fragments by index, finish reason, usage."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.tool_calls: dict[int, dict[str, Any]] = {}
        self.finish_reason: str | None = None
        self.usage: Any = None
        self.ttft_ms: float | None = None

    def add(self, chunk: Any) -> StreamDelta | None:
        """Take one chunk; the delta to pass on, or None when it carries no content."""
        usage = _get(chunk, "usage")
        if usage is not None and _get(usage, "prompt_tokens") is not None:
            self.usage = usage
        choices = _get(chunk, "choices") or []
        if not choices:
            return None
        choice = choices[0]
        if _get(choice, "finish_reason"):
            self.finish_reason = str(_get(choice, "finish_reason"))
        delta = _get(choice, "delta")
        if delta is None:
            return None
        text = _get(delta, "content") or ""
        fragments: list[dict[str, Any]] = []
        for position, raw in enumerate(_get(delta, "tool_calls") or []):
            index = _get(raw, "index")
            index = int(index) if index is not None else position
            function = _get(raw, "function")
            name = _get(function, "name") if function is not None else None
            arguments = (_get(function, "arguments") if function is not None else None) or ""
            fragment: dict[str, Any] = {"index": index, "function": {"arguments": arguments}}
            if _get(raw, "id"):
                fragment["id"] = _get(raw, "id")
                fragment["type"] = _get(raw, "type") or "function"
            if name:
                fragment["function"]["name"] = name
            fragments.append(fragment)
            call = self.tool_calls.setdefault(index, {
                "id": None, "type": "function", "function": {"name": None, "arguments": ""}})
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

    def completion(self, entry: ModelEntry, messages: list[dict[str, Any]],
                   latency_ms: float, attempts: list[dict[str, Any]]) -> Completion:
        output = "".join(self.parts)
        if self.usage is not None:
            tokens_in = int(_get(self.usage, "prompt_tokens") or 0)
            tokens_out = int(_get(self.usage, "completion_tokens") or 0)
        else:
            tokens_in, tokens_out = _count_tokens(entry, messages, output)
        tool_calls = [self.tool_calls[i] for i in sorted(self.tool_calls)] or None
        return Completion(
            model=entry.model_name, output=output, tokens_in=tokens_in, tokens_out=tokens_out,
            cost_usd=entry.cost_usd(tokens_in, tokens_out), latency_ms=latency_ms,
            finish_reason=self.finish_reason, attempts=list(attempts), tool_calls=tool_calls,
            ttft_ms=self.ttft_ms)


def _count_tokens(entry: ModelEntry, messages: list[dict[str, Any]],
                  output: str) -> tuple[int, int]:
    """(prompt, completion) tokens counted locally with ``litellm.token_counter`` for a
    provider that reported no usage on its stream."""
    import litellm

    litellm.suppress_debug_info = True  # no 'Give Feedback' banner per error

    model = str(entry.litellm_params.get("model", entry.model_name))
    try:
        tokens_in = int(litellm.token_counter(model=model, messages=messages))
        tokens_out = int(litellm.token_counter(model=model, text=output,
                                               count_response_tokens=True)) if output else 0
    except Exception:  # a tokenizer problem must not fail a finished answer
        logger.warning("token counting failed for %s", model, exc_info=True)
        return 0, 0
    return tokens_in, tokens_out
