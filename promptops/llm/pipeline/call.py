"""What flows through the model-call pipeline: the caller's :class:`CallRequest`, the
per-call state the stages fill in (:class:`ModelCall`), and what comes back
(:class:`CallOutcome`). Stages are plain objects with ``async __call__(call, call_next)``, composed
like Starlette middleware: each does its part, calls the next, and handles what comes back."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from promptops.db.connection import CommitGroup, PooledConnection
from promptops.db.repositories.serving import ProjectFacts
from promptops.governance.auth import Principal
from promptops.llm.budgets.guard import Reservation
from promptops.llm.catalog import ModelEntry
from promptops.llm.routing.policy import RoutingDecision
from promptops.llm.types import Completion, ProviderOverride
from promptops.retrieval.rag import RetrievalSpec

__all__ = [
    "CallOutcome",
    "CallRequest",
    "ModelCall",
    "Next",
    "PromptTarget",
    "Route",
    "RunLink",
    "RunSink",
    "Stage",
    "around",
]


@dataclass(frozen=True)
class PromptTarget:
    """Which prompt version serves a call: ``version_id``; or a label (default ``production``)
    of a prompt given by ``prompt_id`` or by ``project_id`` + ``prompt_name``. ``environment``
    (``prod``, ``staging``...) is the environment that label serves: while a canary deployment
    is active there, the call may be served the canary's candidate (sticky by subject).
    ``field``: the request field a miss is reported on (default: the missing part's own)."""

    version_id: uuid.UUID | None = None
    prompt_id: uuid.UUID | None = None
    project_id: uuid.UUID | None = None
    prompt_name: str | None = None
    label: str | None = None
    environment: str | None = None
    field: str | None = None


@dataclass(frozen=True)
class RunLink:
    """What ties a call's run record to a durable process: ``idempotency_key`` (unique: a run
    with the same key is never written twice), the workflow, evaluation and example."""

    idempotency_key: str | None = None
    workflow_id: str | None = None
    evaluation_id: str | None = None
    example_id: uuid.UUID | None = None


@dataclass
class CallRequest:
    """One model call as its caller asks for it.

    Either a prompt version (``target``, or ``version`` already loaded by a trusted caller such
    as an activity, with ``project``) rendered with ``variables`` and followed by ``messages``;
    or raw chat ``messages`` (OpenAI format) in the project ``project_id`` / ``project`` / the
    caller's only project (``project_ref``: a project id or name, the OpenAI-compatible API's
    ``OpenAI-Project``). ``principal`` None means a trusted platform caller (an activity) that
    has resolved the project itself.

    ``model``: a model name, ``policy:<name>`` or None (the version's model, else the catalog
    default). ``decoding`` is merged over the version's. ``response_format`` goes to the
    provider as given (OpenAI format) and its JSON Schema is validated on the answer; a bare
    ``schema`` is sent the way the provider supports. ``tools``/``tool_choice`` pass through.
    ``cache``: consult and fill the project's caches (if it enabled them). ``stream``: return
    deltas as the provider sends them (:attr:`CallOutcome.deltas`). ``sink`` writes the run
    record (default: the run alone, :class:`promptops.llm.pipeline.stages.record.RunTable`).
    """

    source: str
    principal: Principal | None = None
    target: PromptTarget | None = None
    version: Any = None
    project: ProjectFacts | None = None
    project_id: uuid.UUID | None = None
    project_ref: str | None = None
    messages: list[dict[str, Any]] = field(default_factory=list)
    variables: dict[str, Any] = field(default_factory=dict)
    model: str | None = None
    decoding: dict[str, Any] = field(default_factory=dict)
    response_format: dict[str, Any] | None = None
    schema: dict[str, Any] | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    subject_id: str | None = None
    cache: bool = True
    stream: bool = False
    run: RunLink = field(default_factory=RunLink)
    sink: RunSink | None = None
    #: Called by the record stage once the provider is done with the call (every attempt
    #: answered, or failed) and before the run is written: a caller that bounds its calls in
    #: flight (an evaluation chunk's semaphore) frees the slot there, so the record's write and
    #: the scoring do not hold it.
    after_provider: Callable[[], None] | None = None
    #: Commit the run record with those of concurrent calls of the same job (group commit,
    #: :class:`promptops.db.connection.CommitGroup`; an evaluation chunk's).
    commit_group: CommitGroup | None = None
    #: Retrieval-augmented generation: the index and k whose chunks are given to the model
    #: (:mod:`promptops.llm.pipeline.stages.retrieve`).
    retrieval: RetrievalSpec | None = None


@dataclass
class Route:
    """The models a call tries, in order, their catalog entries, the routing policy's decision
    (None for a plain model name) and the tenant's credentials for the first one's provider."""

    candidates: list[str]
    entries: list[ModelEntry]
    decision: RoutingDecision | None = None
    credentials: ProviderOverride | None = None

    @property
    def requested_model(self) -> str:
        return self.candidates[0]


@dataclass
class ModelCall:
    """The state of one call as it goes through the stages. ``db`` is the call's autocommit
    connection (:class:`promptops.db.connection.PooledConnection`); ``started`` its
    ``perf_counter`` start. Each stage fills in its part; ``commit_with_run`` collects the
    writes that must commit together with the run record (the record stage sends them in one
    ``atomic`` batch with it)."""

    request: CallRequest
    db: PooledConnection
    started: float = field(default_factory=time.perf_counter)
    # resolve
    project: ProjectFacts | None = None
    version: Any = None
    environment: str | None = None
    deployment_id: uuid.UUID | None = None
    arm: str | None = None
    #: An explicit version that has not passed the approval policy: recorded as a test call.
    test_call: bool = False
    messages: list[dict[str, Any]] = field(default_factory=list)
    #: Messages appended after a rendered version (kept apart for the semantic cache's text).
    extra_messages: list[dict[str, Any]] = field(default_factory=list)
    decoding: dict[str, Any] = field(default_factory=dict)
    response_format: dict[str, Any] | None = None
    schema: dict[str, Any] | None = None
    # route
    route: Route | None = None
    # cache, budget, provider
    reservation: Reservation | None = None
    #: Messages of the current provider attempt when they differ from ``messages`` (a
    #: structured-output retry feeds the error back).
    attempt_messages: list[dict[str, Any]] | None = None
    completions: list[Completion] = field(default_factory=list)
    #: retrieve: what was retrieved and given to the model, then the answer's citations.
    retrieval: dict[str, Any] | None = None
    commit_with_run: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    @property
    def source(self) -> str:
        return "test" if self.test_call else self.request.source

    @property
    def organization_id(self) -> uuid.UUID:
        if self.project is None:
            raise RuntimeError("the call's project is not resolved yet")
        return self.project.organization_id

    def routed(self) -> tuple[ProjectFacts, Route]:
        """The call's project and route, for the stages after ``route``. Raises
        RuntimeError when a stage is placed before resolve and route."""
        if self.project is None or self.route is None:
            raise RuntimeError("this stage runs after the resolve and route stages")
        return self.project, self.route

    def spent(self) -> tuple[Decimal, int]:
        """Provider-reported usage of the calls made so far: (USD, prompt + completion
        tokens)."""
        usd = sum((Decimal(str(c.cost_usd)) for c in self.completions), Decimal(0))
        return usd, sum(c.tokens_in + c.tokens_out for c in self.completions)


@dataclass
class CallOutcome:
    """What a call gives back: ``text`` as the model answered it, ``output`` (the parsed JSON
    value under a schema, else the text), the model that answered, tokens and cost (USD) of all
    provider calls made, ``completion`` (the last provider answer; None for a cache hit) and
    ``cache_kind`` (``exact``/``semantic`` for a hit). ``success`` False with ``error`` when
    the answer was recorded as a failure without raising (a streamed answer that failed its
    JSON Schema after it was sent). ``run`` is the recorded run.

    A streamed call has ``deltas``: the text as the provider sends it; the other fields are
    filled in once it is exhausted, and a provider failure during it raises
    :class:`promptops.errors.ProviderFailed` from the iterator."""

    text: str = ""
    output: Any = None
    model: str = ""
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: Decimal = Decimal(0)
    finish_reason: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    completion: Completion | None = None
    cache_kind: str | None = None
    attempts: list[dict[str, Any]] | None = None
    success: bool = True
    error: str | None = None
    run: Any = None
    deltas: AsyncGenerator[str, None] | None = None
    #: A RAG call's retrieval and checked citations (see :attr:`ModelCall.retrieval`).
    retrieval: dict[str, Any] | None = None

    def fill(self, completions: list[Completion]) -> None:
        """Take the answer and the metering of ``completions`` (the last one answered)."""
        last = completions[-1]
        self.completion = last
        self.text = last.output
        if self.output is None:
            self.output = last.output
        self.model = last.model
        self.tokens_in = sum(c.tokens_in for c in completions)
        self.tokens_out = sum(c.tokens_out for c in completions)
        self.cost_usd = sum((Decimal(str(c.cost_usd)) for c in completions), Decimal(0))
        self.finish_reason = last.finish_reason
        self.tool_calls = last.tool_calls
        self.attempts = [a for c in completions for a in c.attempts] or None

    async def then(
        self,
        after: Callable[[CallOutcome], Awaitable[None]] | None = None,
        on_error: Callable[[BaseException], Awaitable[None]] | None = None,
    ) -> CallOutcome:
        """Run ``after(self)`` once the answer is complete: now, or for a stream when its
        deltas are exhausted (an error raised during them goes to ``on_error`` instead, then
        propagates). Returns ``self``."""
        if self.deltas is None:
            if after is not None:
                await after(self)
            return self
        self.deltas = _then(self, self.deltas, after, on_error)
        return self


async def _then(
    outcome: CallOutcome,
    deltas: AsyncGenerator[str, None],
    after: Callable[[CallOutcome], Awaitable[None]] | None,
    on_error: Callable[[BaseException], Awaitable[None]] | None,
) -> AsyncGenerator[str, None]:
    try:
        async for delta in deltas:
            yield delta
    except BaseException as exc:
        if on_error is not None:
            await on_error(exc)
        raise
    finally:
        aclose = getattr(deltas, "aclose", None)
        if aclose is not None:
            await aclose()
    if after is not None:
        await after(outcome)


#: The rest of the pipeline, as a stage sees it.
Next = Callable[["ModelCall"], Awaitable[CallOutcome]]


class Stage(Protocol):
    """One step of the pipeline. ``name`` identifies it (to insert others before or after
    it). It may change ``call``, answer without calling ``call_next`` (a cache hit), or handle
    what comes back (see :func:`around`)."""

    name: str

    async def __call__(self, call: ModelCall, call_next: Next) -> CallOutcome: ...


class RunSink(Protocol):
    """Writes a call's run record (inside the call's ``atomic`` batch, with
    :attr:`ModelCall.commit_with_run`). ``outcome`` is None when the call failed (``run``
    then has ``success`` False and the error)."""

    async def write(self, call: ModelCall, run: Any, outcome: CallOutcome | None) -> None: ...


async def around(
    call: ModelCall,
    call_next: Next,
    *,
    after: Callable[[CallOutcome], Awaitable[None]] | None = None,
    on_error: Callable[[BaseException], Awaitable[None]] | None = None,
) -> CallOutcome:
    """Call the rest of the pipeline; run ``after`` on its complete answer (for a stream, once
    the deltas are exhausted) and ``on_error`` on any error it raises (before or during a
    stream), then let the error propagate."""
    try:
        outcome = await call_next(call)
    except BaseException as exc:
        if on_error is not None:
            await on_error(exc)
        raise
    return await outcome.then(after, on_error)
