"""The retrieval side of the evaluation activities (called by
:class:`activities.evaluation.activities.EvaluationActivities`): check the request, run the
examples of a chunk through one retrieval configuration, summarise.

Each example's result is one ``retrieval_eval_results`` row keyed by (evaluation, config,
example) and inserted with ``ON CONFLICT DO NOTHING`` in its own short transaction, so a chunk
retried after a worker crash skips the examples already recorded and never writes one twice.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any, cast

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from activities.evaluation.types import (
    EvaluateRetrievalChunkInput,
    EvaluateRetrievalChunkResult,
    MetricSum,
    PlanEvaluationInput,
    RetrievalEvalConfig,
    retrieval_evaluation_config,
)
from promptops.db.models import Dataset, Evaluation, RetrievalIndex
from promptops.db.repositories.evaluations import EvaluationRunRepository
from promptops.db.repositories.retrieval import RetrievalRepository
from promptops.db.repositories.retrieval_evals import RetrievalEvalRepository
from promptops.errors import InvalidInput, NotFound
from promptops.evaluation.metrics import METRIC_SPECS, validate_metric_names
from promptops.evaluation.qrels import GRANULARITIES, example_qrels, query_text
from promptops.evaluation.summary import ExampleRow, summarize
from promptops.retrieval.embedding_models import PassageEmbedder
from promptops.retrieval.evaluate import evaluate_query
from promptops.retrieval.search import MODES, Reranker, RetrievalRequest

__all__ = ["RetrievalEvaluation", "check_retrieval_metrics"]
#: Metrics a retrieval evaluation may report besides the ranking ones.
_EXTRA_METRICS = ("latency_ms",)


def check_retrieval_metrics(names: list[str]) -> list[str]:
    """``names`` validated for a retrieval evaluation: ranking metrics and ``latency_ms``.

    Raises:
        InvalidInput: an unknown name or one of another kind (field ``metrics``).
    """
    try:
        metrics = validate_metric_names(names)
    except ValueError as exc:
        raise InvalidInput(str(exc), field="metrics") from None
    wrong = [m for m in metrics if METRIC_SPECS[m].kind != "ranking" and m not in _EXTRA_METRICS]
    if wrong:
        raise InvalidInput(
            f"metrics {wrong} do not apply to a retrieval evaluation (ranking metrics and "
            "latency_ms only)",
            field="metrics",
        )
    return metrics


def _example_error(external_id: str, exc: ValueError) -> InvalidInput:
    return InvalidInput(f"example {external_id}: {exc}", field="expected")


class RetrievalEvaluation:
    """Built by the evaluation activities with their session factory, the passage embedder
    factory (index model name -> embedder) and the configured reranker (or None)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        embedder_factory: Callable[[str], PassageEmbedder],
        reranker: Reranker | None,
    ) -> None:
        self._sessions = sessions
        self._embedder_factory = embedder_factory
        self._reranker = reranker

    async def plan(self, session: AsyncSession, inp: PlanEvaluationInput, dataset: Dataset) -> int:
        """Check the configurations (indexes of the dataset's project, known modes, a
        reranker when asked for), the metrics and every example's query and qrels; record
        the evaluation. Returns the examples per configuration.

        Raises:
            InvalidInput, NotFound: the request cannot run (the activity fails for good).
        """
        metrics = check_retrieval_metrics(inp.metrics)
        if inp.prompt_version_ids:
            raise InvalidInput(
                "give prompt_version_ids or retrieval_configs, not both", field="retrieval_configs"
            )
        if inp.granularity not in GRANULARITIES:
            raise InvalidInput(
                f"granularity must be one of {list(GRANULARITIES)}", field="granularity"
            )
        for config in inp.retrieval_configs:
            index = await session.get(RetrievalIndex, uuid.UUID(config.index_id))
            if index is None:
                raise NotFound(f"retrieval index {config.index_id} not found")
            if index.project_id != dataset.project_id:
                raise InvalidInput(
                    f"retrieval index {config.index_id} is not in the dataset's project",
                    field="retrieval_configs",
                )
            if config.mode not in MODES:
                raise InvalidInput(f"mode must be one of {list(MODES)}", field="mode")
            if config.rerank and self._reranker is None:
                raise InvalidInput(
                    "rerank: no cross-encoder is configured (PROMPTOPS_RERANKER_PATH)",
                    field="rerank",
                )
        runs = EvaluationRunRepository(session)
        total = await runs.count_examples(dataset.id)
        if inp.max_examples is not None:
            total = min(total, inp.max_examples)
        for example in await runs.examples(dataset.id, 0, total):
            try:
                query_text(example.input)
                example_qrels(example.expected, inp.granularity)
            except ValueError as exc:
                raise _example_error(example.external_id, exc) from None
        await runs.start(
            inp.evaluation_id,
            dataset.project_id,
            dataset.id,
            [],
            metrics,
            retrieval_evaluation_config(
                inp.workflow_id, inp.max_examples, inp.granularity, inp.retrieval_configs
            ),
        )
        return total

    async def evaluate_chunk(
        self, inp: EvaluateRetrievalChunkInput
    ) -> EvaluateRetrievalChunkResult:
        """Run examples ``[offset, offset + limit)`` through ``inp.config``; skip (but count)
        the recorded ones; heartbeat the number done."""
        config = inp.config
        async with self._sessions() as session:
            runs = EvaluationRunRepository(session)
            examples = list(await runs.examples(uuid.UUID(inp.dataset_id), inp.offset, inp.limit))
            index = await session.get(RetrievalIndex, uuid.UUID(config.index_id))
            done = await RetrievalEvalRepository(session).finished(
                inp.evaluation_id, config.config_id, [e.id for e in examples]
            )
        if index is None:
            raise NotFound(f"retrieval index {config.index_id} not found")
        result = EvaluateRetrievalChunkResult(
            config_id=config.config_id, done=0, errors=0, executed=0
        )

        def add(values: dict[str, float], latency_ms: float) -> None:
            result.done += 1
            for name, value in {**values, "latency_ms": latency_ms}.items():
                s = result.sums.setdefault(name, MetricSum())
                s.total += float(value)
                s.count += 1

        for stored in done.values():
            add(stored.metrics, stored.latency_ms)
        ranking_metrics = [m for m in inp.metrics if METRIC_SPECS[m].kind == "ranking"]
        embedder = (
            await asyncio.to_thread(self._embedder_factory, index.embedding_model)
            if config.mode != "keyword"
            else None
        )
        for example in examples:
            if example.id in done:
                continue
            try:
                query = query_text(example.input)
                qrels = example_qrels(example.expected, inp.granularity)
            except ValueError as exc:
                raise _example_error(example.external_id, exc) from None
            request = RetrievalRequest(
                query=query,
                mode=cast(Any, config.mode),
                top_k=config.top_k,
                mmr_lambda=config.mmr_lambda,
                rerank=config.rerank,
            )
            async with self._sessions() as session, session.begin():
                outcome = await evaluate_query(
                    RetrievalRepository(session),
                    index,
                    request,
                    qrels,
                    granularity=inp.granularity,
                    embedder=embedder,
                    reranker=self._reranker,
                    metrics=ranking_metrics,
                )
                await RetrievalEvalRepository(session).record(
                    inp.evaluation_id,
                    config.config_id,
                    example.id,
                    metrics=outcome.metrics,
                    hits=outcome.hits,
                    ranking=outcome.ranking,
                    latency_ms=outcome.latency_ms,
                )
            add(outcome.metrics, outcome.latency_ms)
            result.executed += 1
            activity.heartbeat(result.done)
        return result

    async def summarize(self, session: AsyncSession, evaluation: Evaluation) -> dict[str, Any]:
        """The summary of :func:`promptops.evaluation.summary.summarize`, one "version" per
        configuration (``version_id`` = config id) with its ``label`` and ``config``, and
        ``granularity``."""
        configs = [RetrievalEvalConfig(**c) for c in evaluation.config["retrieval_configs"]]
        rows: dict[str, list[ExampleRow]] = {c.config_id: [] for c in configs}
        for config_id, example_id, metrics, latency_ms in await RetrievalEvalRepository(
            session
        ).scored(evaluation.id):
            rows.setdefault(config_id, []).append(
                ExampleRow(example_id=example_id, values=metrics, latency_ms=latency_ms)
            )
        for entries in rows.values():
            entries.sort(key=lambda r: r.example_id)
        summary = await asyncio.to_thread(summarize, rows, list(evaluation.metrics))
        by_id = {c.config_id: c for c in configs}
        for version in summary["versions"]:
            config = by_id.get(version["version_id"])
            if config is not None:
                version["label"] = config.label
                version["config"] = config.as_dict()
        for comparison in summary["comparisons"]:
            for side in ("baseline", "candidate"):
                found = by_id.get(comparison[side])
                comparison[f"{side}_label"] = found.label if found else comparison[side]
        summary["granularity"] = evaluation.config.get("granularity", "page")
        return summary
