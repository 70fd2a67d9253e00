"""The model-call pipeline: ONE path for every model call of the platform.

    resolve -> route -> record -> retrieve -> cache -> budget -> structured -> provider

composed like Starlette middleware (each stage calls the next and handles what comes back), so
in call order a request is resolved (project, prompt version, canary arm, rendered messages),
routed (candidate models, tenant credentials), given the chunks of a retrieval index when it
names one (RAG: the context enters the messages, so the cache keys include it), looked up in
the caches, reserved against its
budget, sent to the provider (fallbacks, breakers) and validated against its JSON Schema
(retried with the error fed back); on the way back the budget is settled and the answer cached
and recorded, all in one durable write. A new concern (guardrails on input or output, retrieval)
is a new stage placed with :meth:`Pipeline.with_stage`, not an edit of the API or the
activities. Callers: ``/api/v1/generate`` (plain and streaming), ``/api/v1/runs/execute``,
``/v1/chat/completions``, the evaluation activities and :class:`activities.llm.LLMActivities`.

Errors are domain errors (:mod:`promptops.errors`): each transport maps them once (HTTP in
``api/errors.py``, ``ApplicationError`` for activities); a database that cannot be reached is
:class:`promptops.errors.ServiceUnavailable` (:mod:`promptops.db.errors`).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from dataclasses import replace

from promptops.db.connection import CommitGroup, PooledConnection, connection_pool
from promptops.db.errors import database_errors
from promptops.governance.security import SecretBox
from promptops.llm.credentials import CredentialStore
from promptops.llm.gateway import LLMGateway
from promptops.llm.pipeline.call import CallOutcome, CallRequest, ModelCall, Next, Stage
from promptops.llm.pipeline.stages.budget import BudgetStage
from promptops.llm.pipeline.stages.cache import CacheStage, Embed
from promptops.llm.pipeline.stages.provider import ProviderStage
from promptops.llm.pipeline.stages.record import RecordStage
from promptops.llm.pipeline.stages.resolve import ResolveStage
from promptops.llm.pipeline.stages.retrieve import RetrievalStage
from promptops.llm.pipeline.stages.route import RouteStage
from promptops.llm.pipeline.stages.structured import StructuredOutputStage

__all__ = ["Pipeline", "default_stages"]


def default_stages(
    gateway: LLMGateway,
    secret_box: SecretBox | None,
    embed: Embed | None = None,
    *,
    database_url: str | None = None,
) -> list[Stage]:
    """The stages of every model call, in call order (see the module docstring); the retrieve
    stage needs ``database_url`` (left out without it)."""
    retrieval: list[Stage] = [RetrievalStage(database_url)] if database_url else []
    return [
        ResolveStage(),
        RouteStage(gateway, CredentialStore(secret_box)),
        RecordStage(),
        *retrieval,
        CacheStage(embed) if embed is not None else CacheStage(),
        BudgetStage(),
        StructuredOutputStage(),
        ProviderStage(gateway),
    ]


async def _unreachable(call: ModelCall) -> CallOutcome:
    raise RuntimeError("the last stage of a pipeline must answer (the provider stage)")


class Pipeline:
    """Runs model calls through ``stages`` (call order; the last must answer) on connections
    of the database at ``database_url``. ``durable``: whether run records wait for their WAL
    flush (``PROMPTOPS_RUN_COMMIT``, see :mod:`promptops.db.connection`). One per process; the
    gateway it holds carries the breakers and rolling figures of that process."""

    def __init__(
        self,
        gateway: LLMGateway,
        database_url: str,
        *,
        secret_box: SecretBox | None = None,
        stages: Sequence[Stage] | None = None,
        durable: bool = True,
        max_connections: int = 20,
    ) -> None:
        self.gateway = gateway
        self.database_url = database_url
        self.secret_box = secret_box
        self.durable = durable
        self.max_connections = max_connections
        self.stages: list[Stage] = list(
            stages
            if stages is not None
            else default_stages(gateway, secret_box, database_url=database_url)
        )
        self._chain = self._compose()

    def _compose(self) -> Next:
        chain: Next = _unreachable
        for stage in reversed(self.stages):
            chain = _link(stage, chain)
        return chain

    def stage(self, name: str) -> Stage:
        """The stage called ``name``. Raises KeyError."""
        for stage in self.stages:
            if stage.name == name:
                return stage
        raise KeyError(f"no stage {name!r}; stages: {[s.name for s in self.stages]}")

    def with_stage(
        self, stage: Stage, *, before: str | None = None, after: str | None = None
    ) -> Pipeline:
        """A copy with ``stage`` inserted before or after the stage of that name (e.g. an
        input guard ``after="route"``, an output guard ``before="structured"``). Raises
        KeyError for an unknown name, ValueError unless exactly one of them is given."""
        if (before is None) == (after is None):
            raise ValueError("give exactly one of before= or after=")
        names = [s.name for s in self.stages]
        anchor = before if before is not None else after
        if anchor not in names:
            raise KeyError(f"no stage {anchor!r}; stages: {names}")
        index = names.index(anchor) + (0 if before is not None else 1)
        stages = [*self.stages[:index], stage, *self.stages[index:]]
        return Pipeline(
            self.gateway,
            self.database_url,
            secret_box=self.secret_box,
            stages=stages,
            durable=self.durable,
            max_connections=self.max_connections,
        )

    async def _connection(self, request: CallRequest) -> PooledConnection:
        pool = await connection_pool(self.database_url, max_size=self.max_connections)
        return PooledConnection(pool, durable=self.durable, group=request.commit_group)

    async def commit_group(self) -> CommitGroup:
        """A :class:`promptops.db.connection.CommitGroup` on this pipeline's database, for the
        ``commit_group`` of many concurrent calls of one job; ``aclose`` it at the end."""
        pool = await connection_pool(self.database_url, max_size=self.max_connections)
        return CommitGroup(pool, durable=self.durable)

    async def run(self, request: CallRequest) -> CallOutcome:
        """One call, answered whole (``request.stream`` is ignored). Raises the domain
        errors of :mod:`promptops.errors` (see each stage)."""
        if request.stream:
            request = replace(request, stream=False)
        with database_errors():
            async with await self._connection(request) as db:
                return await self._chain(ModelCall(request=request, db=db))

    async def stream(self, request: CallRequest) -> CallOutcome:
        """One call, streamed: what is decided before the provider answers (resolution,
        routing, budget) raises here; the returned outcome's ``deltas`` then yield the text
        (a provider failure raises :class:`promptops.errors.ProviderFailed` from them) and the
        other fields are complete once they are exhausted. A cache hit comes back whole
        (``deltas`` None)."""
        if not request.stream:
            request = replace(request, stream=True)
        with database_errors():
            db = await self._connection(request)
            try:
                outcome = await self._chain(ModelCall(request=request, db=db))
            except BaseException:
                await db.close()
                raise
            if outcome.deltas is None:
                await db.close()
                return outcome
        outcome.deltas = _closing(outcome.deltas, db)
        return outcome


def _link(stage: Stage, call_next: Next) -> Next:
    async def step(call: ModelCall) -> CallOutcome:
        return await stage(call, call_next)

    return step


async def _closing(
    deltas: AsyncGenerator[str, None], db: PooledConnection
) -> AsyncGenerator[str, None]:
    try:
        with database_errors():
            async for delta in deltas:
                yield delta
    finally:
        aclose = getattr(deltas, "aclose", None)
        if aclose is not None:
            await aclose()
        await db.close()
