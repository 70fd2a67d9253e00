"""Model calls: the model catalog, the gateway (providers, fallbacks, breakers) and what a call
returns. The model-call pipeline that every caller goes through is in
:mod:`promptops.llm.pipeline`."""

from promptops.llm.catalog import ModelCatalog, ModelEntry
from promptops.llm.errors import GatewayError, UnknownModelError, redact_secrets
from promptops.llm.gateway import LLMGateway, aclose_all
from promptops.llm.types import Completion, ProviderOverride, StreamDelta, StreamDone, StreamEvent

__all__ = [
    "Completion",
    "GatewayError",
    "LLMGateway",
    "ModelCatalog",
    "ModelEntry",
    "ProviderOverride",
    "StreamDelta",
    "StreamDone",
    "StreamEvent",
    "UnknownModelError",
    "aclose_all",
    "redact_secrets",
]
