"""Evaluation activities: plan, evaluate a chunk of examples, finalize.

Every write is idempotent. A run is keyed by ``{evaluation_id}:{version_id}:{example_id}``
(unique column ``runs.idempotency_key``) and inserted with ``ON CONFLICT DO NOTHING`` together
with its metric values in one transaction, so an activity retried after a worker crash skips the
examples that already finished and can never write a row twice.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.evaluation.types import (
    EvaluateChunkInput,
    EvaluateChunkResult,
    FinalizeEvaluationInput,
    FinalizeEvaluationResult,
    MetricSum,
    PlanEvaluationInput,
    PlanEvaluationResult,
)
from promptops.db.models import (
    Dataset,
    Evaluation,
    EvaluationResult,
    Example,
    Prompt,
    PromptVersion,
    Run,
)
from promptops.db.repositories import BudgetRepository
from promptops.db.repositories.serving import BudgetLimits
from promptops.db.session import get_engine, get_session_factory
from promptops.evaluation.metrics import (
    METRICS,
    extract_label,
    score_example,
    validate_metric_names,
)
from promptops.evaluation.summary import ExampleRow, summarize
from promptops.llm import GatewayError, LLMGateway, ModelEntry
from promptops.llm.budgets.guard import BudgetExhausted, BudgetGuard, Reservation, hold_to_bound
from promptops.llm.routing.figures import resolve_policy_route
from promptops.llm.routing.policy import NoEligibleModel
from promptops.llm.templating import PromptContent, TemplateError

log = logging.getLogger(__name__)


def run_key(evaluation_id: str, version_id: str, example_id: str) -> str:
    return f"{evaluation_id}:{version_id}:{example_id}"


def example_variables(example_input: Any, declared: dict[str, Any]) -> dict[str, Any]:
    """Map an example's ``input`` onto a version's variables.

    An object input supplies variables by name; a scalar input fills the single declared
    variable.
    """
    if isinstance(example_input, dict):
        return dict(example_input)
    if len(declared) == 1:
        return {next(iter(declared)): example_input}
    return {"input": example_input}


@dataclass
class _FinishedExample:
    """A scored example waiting for its rows (one run, its metric values) to be written."""

    run: dict[str, Any]
    results: list[dict[str, Any]]
    values: dict[str, float]
    success: bool
    latency_ms: float
    cost_usd: float


class _RunWriter:
    """Group commit for one chunk: one task writes the rows of finished examples, all those
    waiting at that moment in one transaction on one connection held for the chunk (a chunk
    costs a few commits instead of one session and one commit per example).

    :meth:`write` returns once the example's rows are committed (or raises what the write
    raised). Runs are inserted with ``ON CONFLICT (idempotency_key) DO NOTHING``; the metric
    values of a run that was already there are not inserted again.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        on_written: Callable[[_FinishedExample], None],
        on_batch: Callable[[], None],
    ) -> None:
        self._engine = engine
        self._on_written = on_written
        self._on_batch = on_batch
        self._pending: list[tuple[_FinishedExample, asyncio.Future[None]]] = []
        self._wakeup = asyncio.Event()
        self._closed = False
        self._task: asyncio.Task[None] | None = None

    async def write(self, item: _FinishedExample) -> None:
        if self._closed:
            raise RuntimeError("writer closed")
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        self._wakeup.set()
        if self._task is None:
            self._task = asyncio.ensure_future(self._run())
        await asyncio.shield(future)

    async def close(self) -> None:
        self._closed = True
        self._wakeup.set()
        if self._task is not None:
            await self._task

    async def _run(self) -> None:
        conn: AsyncConnection | None = None
        try:
            while True:
                await self._wakeup.wait()
                self._wakeup.clear()
                while self._pending:
                    batch, self._pending = self._pending, []
                    try:
                        if conn is None or conn.closed or conn.invalidated:
                            conn = await self._engine.connect()
                        await self._write(conn, [item for item, _ in batch])
                    except BaseException as exc:
                        for _, future in batch:
                            if not future.done():
                                future.set_exception(exc)
                        if isinstance(exc, asyncio.CancelledError):
                            raise
                        continue
                    for item, future in batch:
                        self._on_written(item)
                        if not future.done():
                            future.set_result(None)
                    self._on_batch()
                if self._closed:
                    return
        finally:
            if conn is not None:
                await conn.close()

    @staticmethod
    async def _write(conn: AsyncConnection, items: list[_FinishedExample]) -> None:
        async with conn.begin():
            inserted = set((await conn.execute(
                insert(Run.__table__)
                .on_conflict_do_nothing(index_elements=["idempotency_key"])
                .returning(Run.__table__.c.id),
                [item.run for item in items],
            )).scalars())
            results = [r for item in items if item.run["id"] in inserted for r in item.results]
            if results:
                await conn.execute(insert(EvaluationResult.__table__), results)


@dataclass
class _ChunkBudget:
    """The project's budget for one chunk: every call reserves its maximum usage (at the most
    expensive model it may reach) before the provider is asked, and settles after."""

    guard: BudgetGuard
    limits: BudgetLimits
    entries: list[ModelEntry]

    async def reserve(self, project_id: uuid.UUID, messages: list[dict[str, Any]],
                      decoding: dict[str, Any], example: str) -> Reservation | None:
        """Reserve, or raise a non-retryable ``BudgetExceeded`` ApplicationError (the
        evaluation stops; what finished is kept). Sets ``max_tokens`` in ``decoding`` when the
        version has none, as the bound assumed it."""
        try:
            reservation = await self.guard.reserve(project_id, self.entries, messages,
                                                   decoding.get("max_tokens"),
                                                   limits=self.limits)
        except BudgetExhausted as exc:
            raise ApplicationError(f"example {example}: {exc}", type="BudgetExceeded",
                                   non_retryable=True) from exc
        hold_to_bound(decoding, reservation)
        return reservation


class EvaluationActivities:
    """Built with its clients: a database URL and an :class:`LLMGateway`."""

    def __init__(
        self,
        database_url: str,
        gateway: LLMGateway,
        embedder_factory: Callable[[], Any] | None = None,
    ) -> None:
        self._engine = get_engine(database_url)
        self._sessions = get_session_factory(database_url)
        self._gateway = gateway
        self._embedder_factory = embedder_factory
        self._embedder: Any = None

    def _get_embedder(self) -> Any:
        if self._embedder is None:
            if self._embedder_factory is None:
                from promptops.embeddings import get_embedder

                self._embedder = get_embedder()
            else:
                self._embedder = self._embedder_factory()
        return self._embedder

    @activity.defn(name="plan_evaluation")
    async def plan_evaluation(self, inp: PlanEvaluationInput) -> PlanEvaluationResult:
        """Validate the request, record the evaluation row, count examples, collect labels."""
        try:
            validate_metric_names(inp.metrics)
        except ValueError as exc:
            raise ApplicationError(str(exc), type="InvalidInput", non_retryable=True) from exc
        async with self._sessions() as session:
            dataset = await session.get(Dataset, uuid.UUID(inp.dataset_id))
            if dataset is None:
                raise ApplicationError(f"dataset {inp.dataset_id} not found",
                                       type="NotFound", non_retryable=True)
            for vid in inp.prompt_version_ids:
                row = (await session.execute(
                    select(PromptVersion.id, Prompt.project_id)
                    .join(Prompt, Prompt.id == PromptVersion.prompt_id)
                    .where(PromptVersion.id == uuid.UUID(vid))
                )).first()
                if row is None:
                    raise ApplicationError(f"prompt version {vid} not found",
                                           type="NotFound", non_retryable=True)
                if row.project_id != dataset.project_id:
                    raise ApplicationError(
                        f"prompt version {vid} and dataset {inp.dataset_id} belong to "
                        "different projects", type="InvalidInput", non_retryable=True)
            total = (await session.execute(
                select(func.count()).select_from(Example).where(Example.dataset_id == dataset.id)
            )).scalar_one()
            if inp.max_examples is not None:
                total = min(total, inp.max_examples)
            labels: list[str] = []
            if any(METRICS[m].kind == "label" for m in inp.metrics):
                labels = sorted({
                    str(v) for v in (await session.execute(
                        select(Example.expected).where(Example.dataset_id == dataset.id)
                    )).scalars() if v is not None
                })
            await session.execute(
                insert(Evaluation).values(
                    id=inp.evaluation_id, project_id=dataset.project_id, dataset_id=dataset.id,
                    prompt_version_ids=inp.prompt_version_ids, metrics=inp.metrics,
                    config={"workflow_id": inp.workflow_id, "max_examples": inp.max_examples,
                            "positive_label": inp.positive_label},
                    status="Running",
                ).on_conflict_do_nothing(index_elements=["id"])
            )
            await session.commit()
        return PlanEvaluationResult(total_per_version=total, labels=labels)

    @staticmethod
    async def _load_version(
        session: AsyncSession, version_id: str
    ) -> tuple[PromptVersion, uuid.UUID]:
        row = (await session.execute(
            select(PromptVersion, Prompt.project_id)
            .join(Prompt, Prompt.id == PromptVersion.prompt_id)
            .where(PromptVersion.id == uuid.UUID(version_id))
        )).first()
        if row is None:
            raise ApplicationError(f"prompt version {version_id} not found",
                                   type="NotFound", non_retryable=True)
        return row[0], row[1]

    @activity.defn(name="evaluate_chunk")
    async def evaluate_chunk(self, inp: EvaluateChunkInput) -> EvaluateChunkResult:
        """Run and score examples ``[offset, offset + limit)`` for one version.

        Examples already recorded for this evaluation are skipped (their stored values are
        still counted in the result). Heartbeats the number of finished examples.
        """
        async with self._sessions() as session:
            version, project_id = await self._load_version(session, inp.prompt_version_id)
            examples = list((await session.execute(
                select(Example).where(Example.dataset_id == uuid.UUID(inp.dataset_id),
                                      Example.position >= inp.offset,
                                      Example.position < inp.offset + inp.limit)
                .order_by(Example.position)
            )).scalars())
            keys = [run_key(inp.evaluation_id, inp.prompt_version_id, str(e.id)) for e in examples]
            done_runs = {
                r.idempotency_key: r for r in (await session.execute(
                    select(Run).where(Run.idempotency_key.in_(keys))
                )).scalars()
            }
            stored = (await session.execute(
                select(EvaluationResult.run_id, EvaluationResult.metric, EvaluationResult.value)
                .where(EvaluationResult.run_id.in_([r.id for r in done_runs.values()]))
            )).all() if done_runs else []
            # A version whose model is "policy:<name>": the project's routing policy picks the
            # models (once per chunk, on the live figures of this worker's gateway).
            try:
                decision = await resolve_policy_route(
                    session, self._gateway, project_id, version.model,
                    [], (version.decoding or {}).get("max_tokens"))
            except (GatewayError, NoEligibleModel) as exc:
                raise ApplicationError(f"prompt version {inp.prompt_version_id}: {exc}",
                                       type="InvalidInput", non_retryable=True) from exc
            row = await BudgetRepository(session).get(project_id)
            limits = BudgetLimits.of(row) if row is not None else None
            budget: _ChunkBudget | None = None
            if limits is not None and limits.any:
                names = (list(decision.ordered) if decision is not None
                         else self._gateway.catalog.candidates(version.model))
                budget = _ChunkBudget(BudgetGuard(session), limits,
                                      [self._gateway.catalog.get(n) for n in names])
        candidates = list(decision.ordered) if decision is not None else None
        content = PromptContent(
            body=version.body, system=version.system, variables=version.variables,
            model=version.model, decoding=version.decoding,
            response_format=version.response_format,
        )
        result = EvaluateChunkResult(prompt_version_id=inp.prompt_version_id, done=0, errors=0,
                                     executed=0, sums={})

        def add(values: dict[str, float], success: bool, latency_ms: float, cost: float) -> None:
            result.done += 1
            result.errors += 0 if success else 1
            merged = dict(values)
            merged["latency_ms"] = latency_ms
            merged["cost_usd"] = cost
            for name, value in merged.items():
                s = result.sums.setdefault(name, MetricSum())
                s.total += float(value)
                s.count += 1

        # Count finished examples first so progress and means include them.
        if done_runs:
            by_run: dict[uuid.UUID, dict[str, float]] = {}
            for run_id, metric, value in stored:
                by_run.setdefault(run_id, {})[metric] = value
            for r in done_runs.values():
                add(by_run.get(r.id, {}), r.success, r.latency_ms, float(r.cost_usd))

        # At most ``concurrency`` LLM calls are in flight; scoring and the (grouped) commit
        # happen outside the semaphore so a slot is free again as soon as its call returns.
        semaphore = asyncio.Semaphore(max(1, inp.concurrency))
        score_names = [m for m in inp.metrics if METRICS[m].kind not in ("latency", "cost")]
        embedder = self._get_embedder() if "embedding_similarity" in score_names else None

        def written(item: _FinishedExample) -> None:
            add(item.values, item.success, item.latency_ms, item.cost_usd)

        writer = _RunWriter(self._engine, written, lambda: activity.heartbeat(result.done))

        async def one(example: Example, key: str) -> None:
            await self._evaluate_example(inp, version, content, project_id, example, key,
                                         score_names, embedder, writer, semaphore,
                                         candidates, budget)

        todo = [(e, k) for e, k in zip(examples, keys, strict=True) if k not in done_runs]
        tasks = [asyncio.ensure_future(one(e, k)) for e, k in todo]
        try:
            await asyncio.gather(*tasks)
        finally:
            # On a failure, stop the other examples; what already finished is still written.
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await writer.close()
        result.executed = len(todo)
        return result

    async def _evaluate_example(
        self,
        inp: EvaluateChunkInput,
        version: PromptVersion,
        content: PromptContent,
        project_id: uuid.UUID,
        example: Example,
        key: str,
        score_names: list[str],
        embedder: Any,
        writer: _RunWriter,
        semaphore: asyncio.Semaphore,
        candidates: list[str] | None = None,
        budget: _ChunkBudget | None = None,
    ) -> None:
        variables = example_variables(example.input, version.variables)
        try:
            messages = content.render_messages(variables)
        except TemplateError as exc:
            raise ApplicationError(
                f"example {example.external_id}: {exc}", type="InvalidInput", non_retryable=True
            ) from exc
        expected = "" if example.expected is None else str(example.expected)
        error: str | None = None
        decoding = dict(version.decoding or {})
        reservation: Reservation | None = None
        try:
            async with semaphore:
                if budget is not None:
                    reservation = await budget.reserve(project_id, messages, decoding,
                                                       example.external_id)
                completion = await self._gateway.complete(
                    messages, model=None if candidates else version.model,
                    candidates=candidates, decoding=decoding,
                    response_format=version.response_format,
                )
            output, success = completion.output, True
            tokens_in, tokens_out = completion.tokens_in, completion.tokens_out
            cost, latency, model = completion.cost_usd, completion.latency_ms, completion.model
        except GatewayError as exc:
            if reservation is not None and budget is not None:
                await budget.guard.release(reservation)
                reservation = None
            if exc.retryable:
                raise  # Temporal retries the activity; finished examples are kept.
            output, success, error = "", False, str(exc)
            tokens_in = tokens_out = 0
            cost, latency, model = 0.0, 0.0, version.model or self._gateway.catalog.default_model
        except BaseException:
            if reservation is not None and budget is not None:
                await budget.guard.release(reservation)
            raise
        if reservation is not None and budget is not None:
            await budget.guard.settle(reservation, usd=Decimal(str(cost)),
                                      tokens=tokens_in + tokens_out)
        if embedder is not None:
            # The embedding model releases the GIL: worth a thread.
            values = await asyncio.to_thread(
                score_example, score_names, output, expected,
                labels=inp.labels or None, embedder=embedder,
            )
        else:
            # The other metrics are sub-millisecond pure Python (a thread would only add a
            # hand-off: they hold the GIL anyway).
            values = score_example(score_names, output, expected, labels=inp.labels or None)
        predicted = extract_label(output, inp.labels) if inp.labels else None
        run_id = uuid.uuid4()
        await writer.write(_FinishedExample(
            run={
                "id": run_id, "project_id": project_id, "prompt_version_id": version.id,
                "source": "evaluation", "model": model, "variables": variables,
                "rendered_input": messages, "output": output, "success": success,
                "error": error, "tokens_in": tokens_in, "tokens_out": tokens_out,
                "cost_usd": Decimal(str(cost)), "latency_ms": latency,
                "workflow_id": activity.info().workflow_id,
                "evaluation_id": inp.evaluation_id, "example_id": example.id,
                "idempotency_key": key,
            },
            results=[
                {"id": uuid.uuid4(), "run_id": run_id, "evaluation_id": inp.evaluation_id,
                 "metric": name, "value": float(value),
                 "details": predicted if METRICS[name].kind == "label" else None}
                for name, value in values.items()
            ],
            values=values, success=success, latency_ms=latency, cost_usd=cost,
        ))

    @activity.defn(name="finalize_evaluation")
    async def finalize_evaluation(self, inp: FinalizeEvaluationInput) -> FinalizeEvaluationResult:
        """Aggregate all stored rows (bootstrap CIs, paired comparisons) and store the summary."""
        async with self._sessions() as session:
            evaluation = await session.get(Evaluation, inp.evaluation_id)
            if evaluation is None:
                raise ApplicationError(f"evaluation {inp.evaluation_id} not found",
                                       type="NotFound", non_retryable=True)
            runs = list((await session.execute(
                select(Run, Example.external_id, Example.expected)
                .join(Example, Example.id == Run.example_id)
                .where(Run.evaluation_id == inp.evaluation_id)
            )).all())
            results = (await session.execute(
                select(EvaluationResult.run_id, EvaluationResult.metric, EvaluationResult.value,
                       EvaluationResult.details)
                .where(EvaluationResult.evaluation_id == inp.evaluation_id)
            )).all()
            values: dict[uuid.UUID, dict[str, float]] = {}
            labels: dict[uuid.UUID, str | None] = {}
            for run_id, metric, value, details in results:
                values.setdefault(run_id, {})[metric] = value
                if METRICS[metric].kind == "label":
                    labels[run_id] = details
            rows_by_version: dict[str, list[ExampleRow]] = {
                v: [] for v in evaluation.prompt_version_ids
            }
            for run, external_id, expected in runs:
                rows_by_version.setdefault(str(run.prompt_version_id), []).append(ExampleRow(
                    example_id=external_id, values=values.get(run.id, {}),
                    predicted_label=labels.get(run.id),
                    expected=None if expected is None else str(expected),
                    latency_ms=run.latency_ms, tokens_in=run.tokens_in,
                    tokens_out=run.tokens_out, cost_usd=float(run.cost_usd),
                    success=run.success,
                ))
            for rows in rows_by_version.values():
                rows.sort(key=lambda r: r.example_id)
            summary = await asyncio.to_thread(
                summarize, rows_by_version, list(evaluation.metrics),
                positive_label=inp.positive_label,
            )
            await session.execute(
                update(Evaluation).where(Evaluation.id == inp.evaluation_id).values(
                    status=inp.status, summary=summary, completed_at=datetime.now(UTC)
                )
            )
            await session.commit()
        return FinalizeEvaluationResult(status=inp.status, summary=summary)
