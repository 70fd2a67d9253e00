"""The LLM gateway: every LLM call of the platform goes through :class:`LLMGateway`.

Models come from a LiteLLM model list (the LiteLLM proxy's ``model_list`` YAML format)::

    model_list:
      - model_name: smollm2-135m
        litellm_params: {model: openai/smollm2-135m, api_base: http://127.0.0.1:8081/v1,
                         api_key: none}
        model_info: {input_cost_per_token: 0.0, output_cost_per_token: 0.0}

Each call records prompt/completion tokens (as reported by the provider), cost in USD from the
list's per-token prices (``tokens_in * input_cost_per_token + tokens_out *
output_cost_per_token``), and latency in milliseconds. Retries belong to the caller (Temporal):
LiteLLM is called with ``num_retries=0``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

# LiteLLM fetches its price map from the network at import unless told not to.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

DECODING_KEYS = ("temperature", "top_p", "max_tokens", "stop", "seed", "presence_penalty",
                 "frequency_penalty")


class GatewayError(RuntimeError):
    """A failed LLM call. ``retryable`` is True for 429, 5xx, timeouts and connection errors."""

    def __init__(self, message: str, *, retryable: bool, status_code: int | None = None):
        super().__init__(message)
        self.retryable = retryable
        self.status_code = status_code


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
    """The configured models, by ``model_name``; the first one is the default."""

    entries: dict[str, ModelEntry] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelCatalog:
        entries: dict[str, ModelEntry] = {}
        for i, item in enumerate(data.get("model_list") or []):
            if "model_name" not in item or "litellm_params" not in item:
                raise ValueError(f"model_list[{i}]: needs model_name and litellm_params")
            info = item.get("model_info") or {}
            params = dict(item["litellm_params"])
            entries[item["model_name"]] = ModelEntry(
                model_name=item["model_name"],
                litellm_params=params,
                input_cost_per_token=float(
                    info.get("input_cost_per_token", params.pop("input_cost_per_token", 0.0))
                ),
                output_cost_per_token=float(
                    info.get("output_cost_per_token", params.pop("output_cost_per_token", 0.0))
                ),
            )
        return cls(entries)

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

    def get(self, name: str | None) -> ModelEntry:
        name = name or self.default_model
        try:
            return self.entries[name]
        except KeyError:
            raise UnknownModelError(name, list(self.entries)) from None


@dataclass(frozen=True)
class Completion:
    """Result of one call. ``latency_ms`` is wall time of the provider call in ms."""

    model: str
    output: str
    tokens_in: int
    tokens_out: int
    cost_usd: float
    latency_ms: float
    finish_reason: str | None = None


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


class LLMGateway:
    """Calls models of a :class:`ModelCatalog` through LiteLLM and meters each call."""

    def __init__(self, catalog: ModelCatalog, *, timeout_s: float = 120.0):
        self.catalog = catalog
        self.timeout_s = timeout_s

    async def complete(
        self,
        messages: list[dict[str, Any]],
        *,
        model: str | None = None,
        decoding: Mapping[str, Any] | None = None,
        response_format: Mapping[str, Any] | None = None,
        credentials: ProviderOverride | None = None,
    ) -> Completion:
        """One chat completion. Raises :class:`GatewayError` (``retryable`` set) on failure."""
        import litellm

        entry = self.catalog.get(model)
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
        started = time.perf_counter()
        try:
            response = await litellm.acompletion(
                messages=messages, num_retries=0, timeout=self.timeout_s, **kwargs
            )
        except Exception as exc:  # noqa: BLE001 - classified and re-raised
            raise _classify(exc) from exc
        latency_ms = (time.perf_counter() - started) * 1000.0
        choice = response.choices[0]
        usage = getattr(response, "usage", None)
        tokens_in = int(getattr(usage, "prompt_tokens", 0) or 0)
        tokens_out = int(getattr(usage, "completion_tokens", 0) or 0)
        return Completion(
            model=entry.model_name,
            output=choice.message.content or "",
            tokens_in=tokens_in,
            tokens_out=tokens_out,
            cost_usd=entry.cost_usd(tokens_in, tokens_out),
            latency_ms=latency_ms,
            finish_reason=getattr(choice, "finish_reason", None),
        )
