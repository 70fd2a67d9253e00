"""The retrieval side of ``POST /evals/run``: check a request's retrieval configurations and
give each its id and label (the workflow and its activities do the rest)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import Principal
from api.errors import NotFound, Unprocessable
from api.schemas.evals import EvalRetrievalConfig, EvalRunRequest
from promptops.db.models import Dataset, Evaluation, RetrievalIndex
from promptops.db.repositories.retrieval import RetrievalRepository
from promptops.evaluation.metrics import METRIC_SPECS, validate_metric_names
from promptops.evaluation.qrels import RANKING_METRICS
from promptops.settings import Settings
from workflows.evaluation.types import RETRIEVAL_KIND, RetrievalEvalConfig

__all__ = [
    "default_label",
    "ensure_not_retrieval",
    "retrieval_configs",
    "retrieval_configs_of",
    "retrieval_metrics",
]


def retrieval_metrics(requested: list[str] | None) -> list[str]:
    """The metrics of a retrieval evaluation: ranking metrics and ``latency_ms``, default
    :data:`promptops.evaluation.qrels.RANKING_METRICS`. 422 naming ``metrics`` otherwise."""
    if requested is None:
        return list(RANKING_METRICS)
    try:
        metrics = validate_metric_names(requested)
    except ValueError as exc:
        raise Unprocessable(str(exc), field="metrics") from exc
    wrong = [m for m in metrics if METRIC_SPECS[m].kind != "ranking" and m != "latency_ms"]
    if wrong:
        raise Unprocessable(
            f"{wrong}: a retrieval evaluation reports ranking metrics "
            f"({', '.join(RANKING_METRICS)}) and latency_ms only",
            field="metrics",
        )
    return metrics


def default_label(config: EvalRetrievalConfig, index_name: str | None) -> str:
    """``mode``, then what differs from the defaults (``k=5``, ``mmr=0.5``, ``rerank``), then
    ``@index`` when the request spans several indexes (``index_name`` given)."""
    parts: list[str] = [config.mode]
    if config.top_k != 10:
        parts.append(f"k={config.top_k}")
    if config.mmr_lambda is not None:
        parts.append(f"mmr={config.mmr_lambda:g}")
    if config.rerank:
        parts.append("rerank")
    if index_name is not None:
        parts.append(f"@{index_name}")
    return " ".join(parts)


async def retrieval_configs(
    session: AsyncSession,
    principal: Principal,
    settings: Settings,
    req: EvalRunRequest,
    dataset: Dataset,
) -> list[RetrievalEvalConfig]:
    """The request's configurations with their ids (``config-01``...) and labels.

    Raises:
        NotFound: an index the caller cannot see (404).
        Unprocessable: an index of another project than the dataset's, ``rerank`` without a
            configured cross-encoder, or two configurations with the same label (422 naming
            ``retrieval_configs.<i>.<field>``).
    """
    given = req.retrieval_configs or []
    repo = RetrievalRepository(session)
    indexes: list[RetrievalIndex] = []
    for i, config in enumerate(given):
        index = await repo.get_index(config.index_id, principal.organization_id)
        if index is None or not principal.can_access_project(index.project_id):
            raise NotFound(f"retrieval index {config.index_id} not found")
        if index.project_id != dataset.project_id:
            raise Unprocessable(
                f"retrieval index {config.index_id} is not in the dataset's project",
                field=f"retrieval_configs.{i}.index_id",
            )
        if config.rerank and settings.reranker_path is None:
            raise Unprocessable(
                "rerank: no cross-encoder is configured (set PROMPTOPS_RERANKER_PATH)",
                field=f"retrieval_configs.{i}.rerank",
            )
        indexes.append(index)
    several = len({index.id for index in indexes}) > 1
    out: list[RetrievalEvalConfig] = []
    for i, (config, index) in enumerate(zip(given, indexes, strict=True)):
        label = config.label or default_label(config, index.name if several else None)
        if any(c.label == label for c in out):
            raise Unprocessable(
                f"two configurations are labelled {label!r}: give each a distinct label",
                field=f"retrieval_configs.{i}.label",
            )
        out.append(
            RetrievalEvalConfig(
                config_id=f"config-{i + 1:02d}",
                label=label,
                index_id=str(index.id),
                mode=config.mode,
                top_k=config.top_k,
                mmr_lambda=config.mmr_lambda,
                rerank=config.rerank,
            )
        )
    return out


def retrieval_configs_of(evaluation: Evaluation) -> list[dict[str, Any]] | None:
    """A retrieval evaluation's stored configurations (None for a prompt-version one)."""
    config = evaluation.config or {}
    if config.get("kind") != RETRIEVAL_KIND:
        return None
    return list(config.get("retrieval_configs") or [])


def ensure_not_retrieval(evaluation: Evaluation) -> Evaluation:
    """``evaluation``, unless it is a retrieval evaluation (422: a read that only knows
    prompt-version runs; a retrieval evaluation's rows are in ``GET /evals/{id}``)."""
    if retrieval_configs_of(evaluation) is not None:
        raise Unprocessable(
            f"evaluation {evaluation.id} is a retrieval evaluation: its per-example rows "
            f"(rankings and metrics) are in GET /evals/{evaluation.id}"
        )
    return evaluation
