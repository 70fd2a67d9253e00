"""Response caching for the gateway (issue 4, item 4): an exact cache and a semantic cache,
both opt-in per project (``Project.cache_settings``, see :class:`CacheSettings`) and both
scoped to one project, so no entry is ever served across tenants.

Exact cache (``cache_entries``)
    Key: :func:`exact_cache_key`, the SHA-256 (hex) of the canonical JSON (sorted keys, no
    whitespace) of the model, the rendered messages, the decoding parameters, the response
    format (JSON Schema), the tool definitions and ``tool_choice``. Decoding keys whose value
    is ``None`` are dropped, so ``{}`` and a missing ``decoding`` give the same key; integral
    floats are written as integers (``temperature=1`` == ``temperature=1.0``). A lookup is ONE
    lock-free ``SELECT`` on the unique ``(project_id, cache_key)`` index; a served hit's
    ``hits + 1`` is written with its run record.

Semantic cache (``semantic_cache_entries``, pgvector)
    A hit needs the same project, prompt version (``None`` for raw-message calls), model and
    :func:`params_key` (decoding, schema, tools), an unexpired entry, and cosine similarity
    ``1 - (a <=> b)`` >= the project's threshold between the two embeddings
    (all-MiniLM-L6-v2, 384-d unit vectors, :mod:`promptops.embeddings`).

    What is embedded (:func:`semantic_text`) matters more than the threshold. Peers embed the
    whole rendered prompt; when a long template is shared by every call, the template dominates
    the mean-pooled embedding and two different questions score above any useful threshold
    (the "wrong hits" of LiteLLM issue #11083). Here, a call made from a prompt version embeds
    ONLY its variable values (``"name: value"`` lines, sorted by name): the template is
    constant within the scope (same version), so it carries no information. A raw-message call
    embeds its messages (``"role: content"`` lines). Messages appended after a rendered
    version (the OpenAI-compatible API) are passed as ``extra_messages`` and embedded too.

    The embedder truncates at 256 tokens; two texts that differ only beyond that would embed
    identically. :func:`embed_text` therefore returns ``None`` for longer texts, and
    the pipeline's cache stage treats ``None`` as "not semantically cacheable" (miss, nothing
    stored). The exact cache still applies.

    The nearest-neighbour query orders by similarity computed over the scope's rows (the
    ``(project_id, prompt_version_id, model, params_key)`` b-tree), not by the HNSW index: an
    approximate HNSW scan filtered afterwards by scope can return no row although a match
    exists in scope (pgvector's post-filtering, ``hnsw.ef_search`` candidates only).

Expiry: each entry carries ``expires_at = now() + ttl_s`` (database clock); lookups ignore
expired rows and ``CacheRepository.delete_expired`` removes them. The SQL is in
:mod:`promptops.db.repositories.cache`; the pipeline's stage in
:mod:`promptops.llm.pipeline.stages.cache`.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    import tokenizers

__all__ = [
    "CacheKind",
    "CacheSettings",
    "CachedResponse",
    "ExactCacheSettings",
    "SemanticCacheSettings",
    "embed_text",
    "exact_cache_key",
    "params_key",
    "semantic_text",
]

#: Longest TTL accepted: 30 days, in seconds.
MAX_TTL_S = 30 * 24 * 3600
#: Bumped when the key's canonical form changes, so old entries simply stop matching.
KEY_VERSION = 1
#: Tokens the embedder sees (incl. [CLS]/[SEP]); see ``promptops.embeddings.MAX_SEQ_LENGTH``.
EMBED_MAX_TOKENS = 256

CacheKind = Literal["all", "exact", "semantic"]


# --------------------------------------------------------------------------- settings


class ExactCacheSettings(BaseModel):
    """Exact cache of a project: ``ttl_s`` seconds an entry is served, 1 .. 30 days."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = False
    ttl_s: int = Field(default=3600, ge=1, le=MAX_TTL_S)


class SemanticCacheSettings(BaseModel):
    """Semantic cache of a project: a hit needs cosine similarity >= ``threshold`` (0, 1]."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = False
    threshold: float = Field(default=0.95, gt=0.0, le=1.0)
    ttl_s: int = Field(default=3600, ge=1, le=MAX_TTL_S)


class CacheSettings(BaseModel):
    """``Project.cache_settings`` as stored (JSON): both caches off by default."""

    model_config = ConfigDict(extra="forbid")

    exact: ExactCacheSettings = Field(default_factory=ExactCacheSettings)
    semantic: SemanticCacheSettings = Field(default_factory=SemanticCacheSettings)


# --------------------------------------------------------------------------- keys


def _normalize(value: Any) -> Any:
    """JSON-ready value with integral floats as ints and ``None`` dict values dropped."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    if isinstance(value, Mapping):
        return {str(k): _normalize(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_normalize(v) for v in value]
    return value


def _canonical_hash(payload: Mapping[str, Any]) -> str:
    text = json.dumps(
        _normalize(payload), sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _params(
    decoding: Mapping[str, Any] | None,
    response_format: Mapping[str, Any] | None,
    tools: Sequence[Mapping[str, Any]] | None,
    tool_choice: str | Mapping[str, Any] | None,
) -> dict[str, Any]:
    return {
        "decoding": dict(decoding or {}),
        "response_format": response_format or None,
        "tools": list(tools) if tools else None,
        "tool_choice": tool_choice or None,
    }


def exact_cache_key(
    model: str,
    messages: Sequence[Mapping[str, Any]],
    decoding: Mapping[str, Any] | None = None,
    response_format: Mapping[str, Any] | None = None,
    tools: Sequence[Mapping[str, Any]] | None = None,
    tool_choice: str | Mapping[str, Any] | None = None,
) -> str:
    """SHA-256 (64 hex chars) of the canonical JSON of everything that decides the answer.

    Canonical form: keys sorted, no whitespace, UTF-8; ``None`` values in mappings dropped
    (``{}`` == missing decoding); empty ``tools``/``response_format`` == ``None``; integral
    floats as ints. Message order matters; key order never does."""
    return _canonical_hash(
        {
            "v": KEY_VERSION,
            "model": model,
            "messages": [dict(m) for m in messages],
            **_params(decoding, response_format, tools, tool_choice),
        }
    )


def params_key(
    decoding: Mapping[str, Any] | None = None,
    response_format: Mapping[str, Any] | None = None,
    tools: Sequence[Mapping[str, Any]] | None = None,
    tool_choice: str | Mapping[str, Any] | None = None,
) -> str:
    """SHA-256 (hex) of the canonical JSON of the non-prompt parameters (same rules as
    :func:`exact_cache_key`): a semantic hit needs an equal one."""
    return _canonical_hash(
        {"v": KEY_VERSION, **_params(decoding, response_format, tools, tool_choice)}
    )


def _text_of(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def _message_lines(messages: Sequence[Mapping[str, Any]]) -> list[str]:
    lines = []
    for message in messages:
        content = message.get("content")
        if isinstance(content, list):  # OpenAI content parts: text parts as text
            content = " ".join(
                str(part.get("text", ""))
                if isinstance(part, Mapping) and part.get("type") == "text"
                else _text_of(part)
                for part in content
            )
        line = f"{message.get('role', '')}: {'' if content is None else _text_of(content)}"
        if message.get("tool_calls"):
            line += " " + _text_of(message["tool_calls"])
        lines.append(line)
    return lines


def semantic_text(
    messages: Sequence[Mapping[str, Any]],
    variables: Mapping[str, Any] | None = None,
    *,
    extra_messages: Sequence[Mapping[str, Any]] = (),
) -> str:
    """The text embedded for the semantic cache (see the module docstring for why).

    With ``variables`` (a call from a prompt version, even with no variables): their values
    only, one ``"name: value"`` line per variable sorted by name (non-strings as canonical
    JSON), then ``"role: content"`` lines of ``extra_messages`` (messages appended after the
    rendered version); ``messages`` are ignored since the template is constant in the scope.
    Without: one ``"role: content"`` line per message (text parts of content lists joined;
    tool calls as JSON)."""
    if variables is None:
        return "\n".join(_message_lines([*messages, *extra_messages]))
    lines = [f"{name}: {_text_of(variables[name])}" for name in sorted(variables)]
    return "\n".join([*lines, *_message_lines(extra_messages)])


# --------------------------------------------------------------------------- embeddings


@lru_cache(maxsize=1)
def _counting_tokenizer() -> tokenizers.Tokenizer:
    """The embedder's WordPiece tokenizer without truncation (to count tokens)."""
    from tokenizers import Tokenizer

    from promptops.embeddings import find_tokenizer_path

    tokenizer = Tokenizer.from_file(str(find_tokenizer_path()))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


def _embed_sync(text: str) -> list[float] | None:
    from promptops.embeddings import get_embedder

    if len(_counting_tokenizer().encode(text).ids) > EMBED_MAX_TOKENS:
        return None
    vector = get_embedder().embed([text])[0]
    return [float(x) for x in vector]


async def embed_text(text: str) -> list[float] | None:
    """384-d unit embedding of ``text`` (all-MiniLM-L6-v2), computed in a worker thread.

    Returns ``None`` when ``text`` is longer than the embedder's 256-token window (texts that
    differ only beyond it would look identical): such a call is not semantically cached.
    Raises RuntimeError when the model files are not installed."""
    return await asyncio.to_thread(_embed_sync, text)


@dataclass(frozen=True)
class CachedResponse:
    """A stored provider answer: ``output`` text, ``tokens_in``/``tokens_out`` as the provider
    reported them when it answered, ``finish_reason`` and OpenAI-format ``tool_calls``."""

    output: str
    tokens_in: int = 0
    tokens_out: int = 0
    finish_reason: str | None = None
    tool_calls: list[dict[str, Any]] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CachedResponse:
        return cls(
            output=str(data.get("output") or ""),
            tokens_in=int(data.get("tokens_in") or 0),
            tokens_out=int(data.get("tokens_out") or 0),
            finish_reason=data.get("finish_reason"),
            tool_calls=data.get("tool_calls"),
        )
