"""The retrieve stage: retrieval-augmented generation inside the one model-call pipeline.

Placed after ``record`` and before ``cache``: for a call whose request names an index
(:class:`promptops.retrieval.rag.RetrievalSpec`), it retrieves ``k`` chunks from the index (of
the call's organization; a name is looked up in the call's project), keeps those that fit
``max_context_tokens`` (counted with the embedding model's tokenizer: an estimate of the chat
model's count), and inserts them as one system message after the prompt's own system messages,
delimited as data with their citation markers (:func:`promptops.retrieval.rag.render_context`).
Because the cache stage runs after it, the cache keys include the retrieved context; the run
records the retrieval signature (index, embedding model, mode, k, chunk ids) and, once the
answer is complete, its citations checked against the chunks given (a citation of anything
else is flagged). Errors: :class:`promptops.errors.NotFound` (``retrieval.index``),
:class:`promptops.errors.InvalidInput` (``retrieval.query`` when there is nothing to search
with, bad filters).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

from promptops.db.models import RetrievalIndex
from promptops.db.repositories.retrieval import RetrievalRepository
from promptops.db.session import get_session_factory
from promptops.errors import InvalidInput, NotFound
from promptops.llm.pipeline.call import CallOutcome, ModelCall, Next, around
from promptops.retrieval.embedding_models import PassageEmbedder, get_passage_embedder
from promptops.retrieval.rag import (
    ContextChunk,
    RetrievalSpec,
    check_citations,
    fit_to_window,
    render_context,
)
from promptops.retrieval.search import RetrievalRequest, retrieve


def _query_text(call: ModelCall, spec: RetrievalSpec) -> str:
    if spec.query:
        return spec.query
    variables = call.request.variables
    if spec.query_variable:
        value = variables.get(spec.query_variable)
        if value is None:
            raise InvalidInput(
                f"retrieval.query_variable: the call has no variable {spec.query_variable!r}",
                field="retrieval.query_variable",
            )
        return str(value)
    for message in reversed(call.messages):
        if message.get("role") == "user" and isinstance(message.get("content"), str):
            return str(message["content"])
    raise InvalidInput(
        "retrieval.query: give a query, a query_variable or a user message", field="retrieval.query"
    )


class RetrievalStage:
    """See the module docstring."""

    name = "retrieve"

    def __init__(
        self,
        database_url: str,
        embedder_factory: Callable[[str], PassageEmbedder] = get_passage_embedder,
    ) -> None:
        self.database_url = database_url
        self.embedder_factory = embedder_factory

    async def _index(self, repo: RetrievalRepository, call: ModelCall, name: str) -> RetrievalIndex:
        project = call.project
        if project is None:  # pragma: no cover - resolve always sets it
            raise RuntimeError("the retrieve stage runs after resolve")
        found: RetrievalIndex | None = None
        try:
            found = await repo.get_index(uuid.UUID(name), project.organization_id)
        except ValueError:
            named = await repo.get_index_by_name(project.organization_id, name, project.id)
            found = named[0] if named else None
        if found is None or found.project_id != project.id:
            raise NotFound(
                f"retrieval index {name!r} not found in the call's project", field="retrieval.index"
            )
        return found

    async def __call__(self, call: ModelCall, call_next: Next) -> CallOutcome:
        spec = call.request.retrieval
        if spec is None:
            return await call_next(call)
        query = _query_text(call, spec)
        async with get_session_factory(self.database_url)() as session:
            repo = RetrievalRepository(session)
            index = await self._index(repo, call, spec.index)
            vector = None
            if spec.mode != "keyword":
                embedder = self.embedder_factory(index.embedding_model)
                vector = await asyncio.to_thread(embedder.embed_query, query)
            try:
                result = await retrieve(
                    repo,
                    index,
                    RetrievalRequest(
                        query=query,
                        mode=spec.mode,  # type: ignore[arg-type]  # checked by retrieve()
                        top_k=spec.k,
                        filters=spec.filters,
                    ),
                    embedder=None,
                    query_vector=vector,
                )
            except InvalidInput as exc:  # the request's field is retrieval.<field>
                raise InvalidInput(exc.message, field=f"retrieval.{exc.field}") from None
        retrieved = [
            ContextChunk(
                chunk_id=str(h.chunk_id),
                source=h.source,
                title=h.title,
                heading_path=h.heading_path,
                anchor=h.anchor,
                text=h.text,
                token_count=h.token_count,
                score=h.score,
            )
            for h in result.hits
        ]
        given = fit_to_window(retrieved, spec.max_context_tokens)
        if given:
            lead = 0
            while lead < len(call.messages) and call.messages[lead].get("role") == "system":
                lead += 1
            context = {"role": "system", "content": render_context(given)}
            call.messages = [*call.messages[:lead], context, *call.messages[lead:]]
        call.retrieval = {
            "index_id": str(index.id),
            "index": index.name,
            "embedding_model": index.embedding_model,
            "embedding_model_version": index.embedding_model_version,
            "mode": spec.mode,
            "k": spec.k,
            "query": query,
            "chunk_ids": [c.chunk_id for c in given],
            "retrieved": len(retrieved),
            "context_tokens": sum(c.token_count for c in given),
            "latency_ms": result.timings_ms.get("total", 0.0),
            "sources": [
                {"marker": c.marker, "chunk_id": c.chunk_id, "source": c.source, "anchor": c.anchor}
                for c in given
            ],
        }

        async def after(outcome: CallOutcome) -> None:
            check = check_citations(outcome.text or "", given)
            info: dict[str, Any] = dict(call.retrieval or {})
            info["citations"] = check.citations
            info["invalid_citations"] = check.invalid
            call.retrieval = info
            outcome.retrieval = info

        return await around(call, call_next, after=after)
