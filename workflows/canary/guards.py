"""The canary's guards as pure, deterministic functions (no I/O, no clock): the workflow calls
them on the figures an activity computed, and unit tests call them directly.

A guard compares the canary arm with the baseline arm over one bake window (or the canary with
an absolute limit) and reports a :class:`~workflows.canary.types.Breach` when the limit is
exceeded. Any breach rolls the deployment back.

Guards and formulas (``b`` = baseline arm, ``c`` = canary arm, figures of the bake window):

- ``error_rate``: ``c.error_rate - b.error_rate > plan.max_error_rate_increase`` where
  ``error_rate = errors / n`` (0.02 = the success rate dropped by more than 2 points).
- ``p95_latency``: ``c.p95_latency_ms > plan.max_p95_latency_ms``. The p95 is the
  nearest-rank percentile (:func:`nearest_rank_percentile`; the activity computes the same with
  PostgreSQL's ``percentile_disc(0.95)``).
- ``feedback``: ``b.mean_feedback - c.mean_feedback > plan.max_feedback_drop``; ``outcome``:
  the same on mean outcome values. Checked only when both arms have at least one value.
- ``min_samples``: when the bake ends, each arm needs ``n >= plan.min_samples`` runs ("too
  few samples by the deadline").
- ``eval_score``: promotion beyond the first step (i.e. at the end of every bake) needs
  ``eval_score >= plan.min_eval_score``; ``eval_score`` is the canary's online evaluation score
  when its runs have evaluation results, else the candidate's latest approval eval score; no
  score at all is a breach. ``plan.min_eval_score = None`` disables this gate.

Before the bake ends, a check only judges what enough data supports: the comparative guards
wait until both arms have ``min_samples`` runs, the latency guard until the canary has. So an
early unlucky request cannot roll a deployment back, and a real regression is caught at the
first check after enough traffic arrived, within the bake window.

Comparisons allow a tolerance of 1e-9 so that float noise (``0.05 - 0.03``) is not a breach.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from activities.deployment.types import ArmFigures
from workflows.canary.types import Breach, CanaryPlan

#: Float tolerance of every comparison.
EPSILON = 1e-9

ERROR_RATE = "error_rate"
P95_LATENCY = "p95_latency"
FEEDBACK = "feedback"
OUTCOME = "outcome"
MIN_SAMPLES = "min_samples"
EVAL_SCORE = "eval_score"


def nearest_rank_percentile(values: Sequence[float], p: float) -> float | None:
    """The ``p``-th percentile (0 < p <= 100) of ``values`` by the nearest-rank method: the
    ``ceil(p / 100 * n)``-th smallest value (NIST/Wikipedia "nearest-rank method"; equal to
    PostgreSQL ``percentile_disc(p / 100)``). Always one of the observed values.

    Returns None for an empty sequence; raises ValueError for ``p`` outside (0, 100].
    """
    if not 0 < p <= 100:
        raise ValueError(f"percentile must be in (0, 100], got {p}")
    if not values:
        return None
    ordered = sorted(values)
    # round() guards against p / 100 * n landing a hair above an integer (0.95 * 20 = 19.0000…1).
    rank = math.ceil(round(p / 100 * len(ordered), 9))
    return float(ordered[max(rank, 1) - 1])


def resolve_eval_score(canary: ArmFigures, approval_eval_score: float | None) -> float | None:
    """The score the promotion gate reads: the canary's online evaluation score when its runs
    have evaluation results, else the candidate's latest approval eval score (None = none)."""
    if canary.eval_n > 0 and canary.eval_score is not None:
        return canary.eval_score
    return approval_eval_score


def eval_gate(plan: CanaryPlan, eval_score: float | None) -> Breach | None:
    """The promotion gate alone: a breach when ``plan.min_eval_score`` is set and the score is
    missing or below it (used at the end of every bake and by ``promote_now``)."""
    limit = plan.min_eval_score
    if limit is None:
        return None
    if eval_score is None:
        return Breach(
            EVAL_SCORE,
            None,
            limit,
            f"no evaluation score: promotion needs eval_score >= {limit:g} (no online "
            "evaluation results and no approval evaluation of the candidate)",
        )
    if eval_score < limit - EPSILON:
        return Breach(
            EVAL_SCORE,
            eval_score,
            limit,
            f"eval_score {eval_score:.3f} is below the required {limit:g}",
        )
    return None


def _enough(arm: ArmFigures, plan: CanaryPlan) -> bool:
    return arm.n >= max(plan.min_samples, 1)


def evaluate_guards(
    plan: CanaryPlan,
    step_index: int,
    baseline: ArmFigures,
    canary: ArmFigures,
    *,
    bake_ended: bool,
    approval_eval_score: float | None = None,
) -> list[Breach]:
    """Every breach of the guards for the bake of step ``step_index`` (empty = healthy).

    ``bake_ended``: False for a check during the bake (guards wait for ``min_samples``), True
    for the final check before promotion to the next step (samples and the eval-score gate are
    required too). The order of the result is fixed: min_samples, error_rate, p95_latency,
    feedback, outcome, eval_score.
    """
    breaches: list[Breach] = []
    percent = plan.steps[step_index] if 0 <= step_index < len(plan.steps) else None
    at = f" at {percent:g}%" if percent is not None else ""
    both_enough = _enough(baseline, plan) and _enough(canary, plan)

    if bake_ended and plan.min_samples > 0:
        short = [a for a in (baseline, canary) if a.n < plan.min_samples]
        if short:
            weakest = min(short, key=lambda a: a.n)
            detail = ", ".join(f"{a.arm} {a.n}" for a in short)
            breaches.append(
                Breach(
                    MIN_SAMPLES,
                    float(weakest.n),
                    float(plan.min_samples),
                    f"too few samples by the deadline{at}: {detail} < {plan.min_samples} runs",
                )
            )

    judge_comparisons = both_enough or (bake_ended and baseline.n > 0 and canary.n > 0)
    if judge_comparisons and baseline.error_rate is not None and canary.error_rate is not None:
        increase = canary.error_rate - baseline.error_rate
        if increase > plan.max_error_rate_increase + EPSILON:
            breaches.append(
                Breach(
                    ERROR_RATE,
                    increase,
                    plan.max_error_rate_increase,
                    f"canary error rate {canary.error_rate:.1%} vs baseline "
                    f"{baseline.error_rate:.1%}{at}: +{increase * 100:.1f} points > "
                    f"{plan.max_error_rate_increase * 100:g} allowed",
                )
            )

    judge_canary = _enough(canary, plan) or (bake_ended and canary.n > 0)
    limit_ms = plan.max_p95_latency_ms
    p95 = canary.p95_latency_ms
    if judge_canary and limit_ms is not None and p95 is not None and p95 > limit_ms + EPSILON:
        breaches.append(
            Breach(
                P95_LATENCY, p95, limit_ms, f"canary p95 latency {p95:.0f} ms{at} > {limit_ms:g} ms"
            )
        )

    drop_limit = plan.max_feedback_drop
    if judge_comparisons and drop_limit is not None:
        for guard, b_mean, c_mean, b_n, c_n, what in (
            (
                FEEDBACK,
                baseline.mean_feedback,
                canary.mean_feedback,
                baseline.feedback_n,
                canary.feedback_n,
                "feedback",
            ),
            (
                OUTCOME,
                baseline.mean_outcome,
                canary.mean_outcome,
                baseline.outcome_n,
                canary.outcome_n,
                "outcome",
            ),
        ):
            if b_n < 1 or c_n < 1 or b_mean is None or c_mean is None:
                continue
            drop = b_mean - c_mean
            if drop > drop_limit + EPSILON:
                breaches.append(
                    Breach(
                        guard,
                        drop,
                        drop_limit,
                        f"canary mean {what} {c_mean:.3f} vs baseline {b_mean:.3f}{at}: "
                        f"drop {drop:.3f} > {drop_limit:g} allowed",
                    )
                )

    if bake_ended:
        gate = eval_gate(plan, resolve_eval_score(canary, approval_eval_score))
        if gate is not None:
            gate.message = (
                f"cannot promote beyond {percent:g}%: {gate.message}"
                if (percent is not None)
                else gate.message
            )
            breaches.append(gate)
    return breaches


def summarize(breaches: Sequence[Breach]) -> str:
    """One line naming every breach (the deployment's recorded reason)."""
    return "; ".join(b.message for b in breaches)
