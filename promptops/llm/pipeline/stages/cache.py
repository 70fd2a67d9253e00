"""The cache stage: the project's exact and semantic caches (opt-in per project; what is keyed
and embedded, and why, is in :mod:`promptops.llm.cache`).

A hit answers without calling the rest of the pipeline: no budget, no provider; it is recorded
as a run with ``cache_hit``, its kind and zero cost, and an exact hit's counter is bumped with
that record. A successful provider answer is stored with its run record. Calls that ask for no
cache (``CallRequest.cache`` False, e.g. evaluations, which must measure the model) skip it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal

from promptops import telemetry
from promptops.db.repositories.cache import CacheRepository
from promptops.llm.cache import (
    CachedResponse,
    CacheSettings,
    embed_text,
    exact_cache_key,
    params_key,
    semantic_text,
)
from promptops.llm.pipeline.call import CallOutcome, ModelCall, Next, around
from promptops.llm.structured import parse_fenced

#: Text -> its 384-d embedding, or None when it is not embeddable (see ``embed_text``).
Embed = Callable[[str], Awaitable[list[float] | None]]


@dataclass
class _Keys:
    exact: str | None = None
    params: str | None = None
    embedding: list[float] | None = None


def _semantic_text(call: ModelCall) -> str:
    if call.version is None:
        return semantic_text(call.messages)
    return semantic_text(call.messages, call.request.variables, extra_messages=call.extra_messages)


def _parsed(text: str) -> object:
    """A cached structured answer as the JSON value it was validated as, else the text."""
    try:
        return parse_fenced(text)
    except (ValueError, TypeError):
        return text


class CacheStage:
    """See the module docstring. ``embed`` computes the semantic cache's embeddings."""

    name = "cache"

    def __init__(self, embed: Embed = embed_text) -> None:
        self.embed = embed

    async def __call__(self, call: ModelCall, call_next: Next) -> CallOutcome:
        project, route = call.routed()
        if not call.request.cache:
            return await call_next(call)
        try:
            settings = CacheSettings.model_validate(project.cache_settings)
        except ValueError:
            settings = CacheSettings()
        if not (settings.exact.enabled or settings.semantic.enabled):
            return await call_next(call)
        cache = CacheRepository(call.db)
        keys = _Keys()
        model = route.requested_model
        version_id = call.version.id if call.version is not None else None
        request = call.request
        if settings.exact.enabled:
            keys.exact = exact_cache_key(
                model,
                call.messages,
                call.decoding,
                call.response_format,
                request.tools,
                request.tool_choice,
            )
            entry = await cache.get_exact(project.id, keys.exact)
            if entry is not None:
                exact_key = keys.exact

                async def count_hit() -> None:
                    await cache.count_exact_hit(project.id, exact_key)

                call.commit_with_run.append(count_hit)
                return self._hit(
                    call, route.requested_model, "exact", CachedResponse.from_dict(entry)
                )
        if settings.semantic.enabled:
            keys.params = params_key(
                call.decoding, call.response_format, request.tools, request.tool_choice
            )
            try:
                keys.embedding = await self.embed(_semantic_text(call))
            except RuntimeError:  # embedding model files missing: exact cache only
                keys.embedding = None
            if keys.embedding is not None:
                found = await cache.get_semantic(
                    project.id,
                    version_id,
                    model,
                    keys.params,
                    keys.embedding,
                    settings.semantic.threshold,
                )
                if found is not None:
                    return self._hit(call, model, "semantic", CachedResponse.from_dict(found[0]))

        async def store(outcome: CallOutcome) -> None:
            if not outcome.success or outcome.completion is None:
                return
            completion = outcome.completion
            response = CachedResponse(
                output=completion.output,
                tokens_in=completion.tokens_in,
                tokens_out=completion.tokens_out,
                finish_reason=completion.finish_reason,
                tool_calls=completion.tool_calls,
            ).to_dict()

            async def write() -> None:
                if keys.exact is not None:
                    await cache.put_exact(
                        project.organization_id,
                        project.id,
                        keys.exact,
                        completion.model,
                        version_id,
                        response,
                        settings.exact.ttl_s,
                    )
                if keys.params is not None and keys.embedding is not None:
                    await cache.put_semantic(
                        project.organization_id,
                        project.id,
                        version_id,
                        completion.model,
                        keys.params,
                        _semantic_text(call),
                        keys.embedding,
                        response,
                        settings.semantic.ttl_s,
                    )

            call.commit_with_run.append(write)

        return await around(call, call_next, after=store)

    @staticmethod
    def _hit(call: ModelCall, model: str, kind: str, hit: CachedResponse) -> CallOutcome:
        telemetry.record_cache_hit(kind)
        return CallOutcome(
            text=hit.output,
            output=_parsed(hit.output) if call.schema is not None else hit.output,
            model=model,
            tokens_in=hit.tokens_in,
            tokens_out=hit.tokens_out,
            cost_usd=Decimal(0),
            finish_reason=hit.finish_reason,
            tool_calls=hit.tool_calls,
            cache_kind=kind,
        )
