"""Typed declarations of the evaluation activities (implemented by
:class:`activities.evaluation.activities.EvaluationActivities`; see :mod:`activities`)."""

from __future__ import annotations

from temporalio import activity

from activities.evaluation.types import (
    EvaluateChunkInput,
    EvaluateChunkResult,
    EvaluateRetrievalChunkInput,
    EvaluateRetrievalChunkResult,
    FinalizeEvaluationInput,
    FinalizeEvaluationResult,
    PlanEvaluationInput,
    PlanEvaluationResult,
)

__all__ = ["evaluate_chunk", "evaluate_retrieval_chunk", "finalize_evaluation", "plan_evaluation"]


@activity.defn(name="plan_evaluation")
async def plan_evaluation(inp: PlanEvaluationInput) -> PlanEvaluationResult:
    """Validate the request, record the evaluation row, count the examples per version and
    collect the expected labels (a retrieval evaluation: check its configurations and every
    example's query and qrels). ``InvalidInput`` / ``NotFound``: non-retryable."""
    raise NotImplementedError


@activity.defn(name="evaluate_chunk")
async def evaluate_chunk(inp: EvaluateChunkInput) -> EvaluateChunkResult:
    """Run and score examples ``[offset, offset + limit)`` of one version, idempotently
    (finished examples are skipped); heartbeats the number done. ``InvalidInput``,
    ``NotFound``, ``BudgetExceeded``: non-retryable."""
    raise NotImplementedError


@activity.defn(name="evaluate_retrieval_chunk")
async def evaluate_retrieval_chunk(
    inp: EvaluateRetrievalChunkInput,
) -> EvaluateRetrievalChunkResult:
    """Run examples ``[offset, offset + limit)`` through one retrieval configuration, score
    each ranking against the example's qrels and record it idempotently (recorded examples
    are skipped); heartbeats the number done. ``InvalidInput``, ``NotFound``: non-retryable."""
    raise NotImplementedError


@activity.defn(name="finalize_evaluation")
async def finalize_evaluation(inp: FinalizeEvaluationInput) -> FinalizeEvaluationResult:
    """Aggregate the stored rows (bootstrap CIs, paired comparisons) and store the summary
    with the final status."""
    raise NotImplementedError
