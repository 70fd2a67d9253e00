"""Live figures for routing policies, and resolving a request's ``policy:<name>`` model.

Figures of one candidate model (see :class:`promptops.llm.routing.policy.CandidateFigures`):

- ``p95_latency_ms``, ``error_rate``, ``calls``, ``breaker_state``: the gateway's rolling stats
  and circuit breaker of that deployment (``gateway.deployments.get(model)``, see
  :mod:`promptops.llm.breakers`: nearest-rank p95 over successful calls, error rate = retryable
  failures / calls, over the last 200 calls no older than 300 s). They live in the process
  (each API process measures the calls it made).
- ``est_cost_usd``: the request's maximum cost at that model's prices, as budgets reserve it
  (:mod:`promptops.llm.budgets.bounds`): ``estimate_prompt_tokens(messages) x input_cost_per_token +
  completion_token_bound(max_tokens) x output_cost_per_token``.
- ``quality``: the mean of the project's evaluation scores for that model over the last
  :data:`QUALITY_WINDOW_DAYS` days. Exactly: the average of ``evaluation_results.value``
  (each clamped to [0, 1]) over every result whose metric is one of :data:`QUALITY_METRICS`
  (the registry's text and label metrics, all in [0, 1], higher is better; latency, cost and
  embedding similarity (-1..1) are left out), recorded in the window, of a run of this project
  whose ``runs.model`` is the candidate. Every (run, metric) value weighs the same. None when
  there is no such result. ``quality_samples`` is their count. It costs one grouped query,
  made only when the policy needs it (``quality_first`` or ``min_quality``) unless asked.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from promptops.db.connection import SQL
from promptops.db.repositories.routing import RoutingReads
from promptops.evaluation.metrics import METRIC_SPECS
from promptops.llm import GatewayError, LLMGateway
from promptops.llm.budgets.bounds import completion_token_bound, estimate_prompt_tokens
from promptops.llm.routing.policy import (
    POLICY_PREFIX,
    CandidateFigures,
    RoutingDecision,
    RoutingPolicySpec,
    choose,
)

#: Evaluation scores older than this many days do not count towards a model's quality.
QUALITY_WINDOW_DAYS = 30
#: Metrics whose values lie in [0, 1] with higher = better (registry kinds text and label).
QUALITY_METRICS: tuple[str, ...] = tuple(
    name for name, spec in METRIC_SPECS.items() if spec.kind in ("text", "label")
)


class PolicyNotFound(GatewayError):
    """``model = "policy:<name>"`` names no routing policy of the project. A non-retryable
    :class:`GatewayError` (status 400), so callers that map an unknown model to 422 on the
    ``model`` field do the same for it."""

    def __init__(self, name: str, known: Sequence[str]) -> None:
        super().__init__(
            f"unknown routing policy {name!r} in this project; its policies: "
            f"{', '.join(known) or '(none)'}",
            retryable=False,
            status_code=400,
        )
        self.name = name


def spec_of(row: Any) -> RoutingPolicySpec:
    """The stored policy as a :class:`RoutingPolicySpec` (validated again)."""
    return RoutingPolicySpec.model_validate(
        {
            "name": row.name,
            "strategy": row.strategy,
            "candidates": list(row.candidates or []),
            "fallbacks": list(row.fallbacks or []),
            "constraints": dict(row.constraints or {}),
            "description": row.description or "",
        }
    )


def needs_quality(spec: RoutingPolicySpec) -> bool:
    return spec.strategy == "quality_first" or spec.constraints.min_quality is not None


async def gather_figures(
    db: SQL,
    gateway: LLMGateway,
    project_id: uuid.UUID,
    spec: RoutingPolicySpec,
    messages: Sequence[Mapping[str, Any]],
    max_tokens: int | None,
    *,
    with_quality: bool | None = None,
    now: datetime | None = None,
) -> list[CandidateFigures]:
    """One :class:`CandidateFigures` per candidate of ``spec``, in policy order (definitions
    in the module docstring). ``with_quality``: look quality up (True), not (False), or only
    when the policy uses it (None). Raises ``promptops.llm.gateway.UnknownModelError`` for a
    candidate the catalog no longer has."""
    entries = [gateway.catalog.get(model) for model in spec.candidates]
    prompt_tokens = estimate_prompt_tokens(messages)
    completion = completion_token_bound(max_tokens)
    quality: dict[str, tuple[float, int]] = {}
    if with_quality if with_quality is not None else needs_quality(spec):
        since = (now or datetime.now(UTC)) - timedelta(days=QUALITY_WINDOW_DAYS)
        quality = await RoutingReads(db).mean_scores(
            project_id, spec.candidates, QUALITY_METRICS, since
        )
    out: list[CandidateFigures] = []
    for entry in entries:
        deployment = gateway.deployments.get(entry.model_name)
        stats = deployment.stats.snapshot()
        mean, samples = quality.get(entry.model_name, (None, 0))
        out.append(
            CandidateFigures(
                model=entry.model_name,
                p95_latency_ms=stats["p95_latency_ms"],
                error_rate=float(stats["error_rate"]),
                quality=mean,
                est_cost_usd=(
                    prompt_tokens * entry.input_cost_per_token
                    + completion * entry.output_cost_per_token
                ),
                breaker_state=deployment.breaker.state.value,
                calls=int(stats["calls"]),
                quality_samples=samples,
            )
        )
    return out


async def decide(
    db: SQL,
    gateway: LLMGateway,
    project_id: uuid.UUID,
    spec: RoutingPolicySpec,
    messages: Sequence[Mapping[str, Any]],
    max_tokens: int | None,
    *,
    with_quality: bool | None = None,
) -> RoutingDecision:
    """:func:`gather_figures` then :func:`promptops.llm.routing.policy.choose`. Raises
    :class:`promptops.llm.routing.policy.NoEligibleModel`."""
    figures = await gather_figures(
        db, gateway, project_id, spec, messages, max_tokens, with_quality=with_quality
    )
    return choose(spec, figures)


async def resolve_policy_route(
    db: SQL,
    gateway: LLMGateway,
    project_id: uuid.UUID,
    model_field: str | None,
    messages: Sequence[Mapping[str, Any]],
    max_tokens: int | None,
) -> RoutingDecision | None:
    """The routing decision for a request whose ``model`` is ``policy:<name>``; None (without
    touching the database) for any other model value.

    Raises :class:`PolicyNotFound` (a non-retryable ``GatewayError``: map to 422 on ``model``)
    when the project has no such policy, ``promptops.llm.gateway.UnknownModelError`` when a
    candidate left the catalog, :class:`promptops.llm.routing.policy.NoEligibleModel` (a
    ``ValueError``) when every candidate is excluded and there is no fallback.
    """
    if not model_field or not model_field.startswith(POLICY_PREFIX):
        return None
    name = model_field[len(POLICY_PREFIX) :]
    reads = RoutingReads(db)
    row = await reads.policy(project_id, name)
    if row is None:
        raise PolicyNotFound(name, await reads.names(project_id))
    return await decide(db, gateway, project_id, spec_of(row), messages, max_tokens)
