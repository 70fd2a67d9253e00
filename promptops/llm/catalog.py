"""The model list: models, their deployments' LiteLLM parameters, per-token prices and
fallbacks, in the LiteLLM proxy's ``model_list`` YAML format (see :mod:`promptops.llm.gateway`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from promptops.llm.breakers import BreakerSettings
from promptops.llm.errors import UnknownModelError

__all__ = ["DECODING_KEYS", "FAST_PATH_FLAG", "ModelCatalog", "ModelEntry", "flag_on"]

DECODING_KEYS = (
    "temperature",
    "top_p",
    "max_tokens",
    "stop",
    "seed",
    "presence_penalty",
    "frequency_penalty",
)
#: Model-list flag (``model_info`` or ``litellm_params``) that sends a deployment through LiteLLM.
FAST_PATH_FLAG = "promptops_fast_path"
_FALSY = {"0", "false", "no", "off"}


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
                    info.get("input_cost_per_token", params.pop("input_cost_per_token", 0.0)) or 0.0
                ),
                output_cost_per_token=float(
                    info.get("output_cost_per_token", params.pop("output_cost_per_token", 0.0))
                    or 0.0
                ),
                supports_response_schema=(
                    bool(info["supports_response_schema"])
                    if info.get("supports_response_schema") is not None
                    else None
                ),
                fast_path=flag_on(flag),
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


def flag_on(value: Any) -> bool:
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
                f"router_settings.fallbacks[{i}]: expected {{model: [fallbacks]}}"
            )
        for source, targets in item.items():
            names = [targets] if isinstance(targets, str) else list(targets or [])
            for name in [source, *names]:
                if name not in entries:
                    raise ValueError(f"router_settings.fallbacks[{i}]: unknown model {name!r}")
            out.setdefault(str(source), []).extend(str(n) for n in names)
    return out
