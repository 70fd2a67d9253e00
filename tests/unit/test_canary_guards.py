"""The canary's pure guards (``workflows.canary.guards``) and the plan's validation.

Formulas under test (see the module docstring): error-rate increase = c.errors/c.n -
b.errors/b.n against ``max_error_rate_increase``; p95 by the nearest-rank method (the
ceil(0.95 n)-th smallest value, = PostgreSQL ``percentile_disc(0.95)``); feedback/outcome drop =
baseline mean - canary mean against ``max_feedback_drop``; ``min_samples`` per arm when the bake
ends; the eval-score gate on every promotion after a bake.
"""

from __future__ import annotations

import math

import pytest
from pydantic import ValidationError

from activities.deployment.types import ArmFigures
from api.schemas.deployments import CanaryPlan as PlanSchema
from api.schemas.deployments import DeploymentCreate
from workflows.canary.guards import (
    ERROR_RATE,
    EVAL_SCORE,
    FEEDBACK,
    MIN_SAMPLES,
    OUTCOME,
    P95_LATENCY,
    eval_gate,
    evaluate_guards,
    nearest_rank_percentile,
    resolve_eval_score,
    summarize,
)
from workflows.canary.types import CanaryPlan


def arm(
    name: str,
    n: int = 100,
    errors: int = 0,
    p95: float | None = 200.0,
    feedback: tuple[int, float | None] = (0, None),
    outcome: tuple[int, float | None] = (0, None),
    evals: tuple[int, float | None] = (0, None),
) -> ArmFigures:
    return ArmFigures(
        arm=name,
        n=n,
        errors=errors,
        error_rate=errors / n if n else None,
        p95_latency_ms=p95 if n else None,
        feedback_n=feedback[0],
        mean_feedback=feedback[1],
        outcome_n=outcome[0],
        mean_outcome=outcome[1],
        eval_n=evals[0],
        eval_score=evals[1],
    )


def guards(
    plan: CanaryPlan,
    b: ArmFigures,
    c: ArmFigures,
    *,
    bake_ended: bool = False,
    approval: float | None = 0.9,
    step: int = 0,
) -> list[str]:
    return [
        x.guard
        for x in evaluate_guards(
            plan, step, b, c, bake_ended=bake_ended, approval_eval_score=approval
        )
    ]


# --------------------------------------------------------------------------- nearest rank


def test_p95_nearest_rank_of_1_to_20_is_19() -> None:
    # ceil(0.95 * 20) = 19 -> the 19th smallest value (a linear interpolation would give 19.05).
    assert nearest_rank_percentile([float(v) for v in range(20, 0, -1)], 95) == 19.0


@pytest.mark.parametrize(
    ("n", "rank"), [(1, 1), (10, 10), (19, 19), (20, 19), (21, 20), (100, 95), (101, 96)]
)
def test_nearest_rank_is_ceil_p_n(n: int, rank: int) -> None:
    values = [float(v) for v in range(1, n + 1)]
    assert nearest_rank_percentile(values, 95) == float(rank) == float(math.ceil(0.95 * n - 1e-9))


def test_nearest_rank_edges() -> None:
    assert nearest_rank_percentile([], 95) is None
    assert nearest_rank_percentile([7.0], 50) == 7.0
    assert nearest_rank_percentile([1.0, 2.0, 3.0, 4.0], 100) == 4.0
    assert nearest_rank_percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.0  # ceil(2) = 2nd
    with pytest.raises(ValueError):
        nearest_rank_percentile([1.0], 0)
    with pytest.raises(ValueError):
        nearest_rank_percentile([1.0], 101)


# --------------------------------------------------------------------------- error rate


def test_healthy_figures_have_no_breach() -> None:
    assert guards(CanaryPlan(), arm("baseline"), arm("canary"), bake_ended=True) == []


def test_error_rate_rise_above_two_points_is_a_breach() -> None:
    plan = CanaryPlan()
    b, c = arm("baseline", errors=1), arm("canary", errors=4)  # 1% -> 4%: +3 points
    [breach] = evaluate_guards(plan, 0, b, c, bake_ended=False)
    assert breach.guard == ERROR_RATE
    assert breach.observed == pytest.approx(0.03) and breach.limit == 0.02
    assert "+3.0 points" in breach.message and "at 10%" in breach.message


def test_error_rate_rise_of_exactly_the_limit_is_not_a_breach() -> None:
    # 3% - 1% = 0.020000000000000004 in floats: the tolerance keeps it at the limit.
    b, c = arm("baseline", errors=1), arm("canary", errors=3)
    assert guards(CanaryPlan(), b, c) == []


def test_a_canary_better_than_baseline_is_fine() -> None:
    assert guards(CanaryPlan(), arm("baseline", errors=30), arm("canary", errors=0)) == []


def test_mid_bake_checks_wait_for_min_samples() -> None:
    plan = CanaryPlan(min_samples=20)
    # 5 canary runs, all failing: not judged before the bake ends...
    b, c = arm("baseline", n=100), arm("canary", n=5, errors=5)
    assert guards(plan, b, c, bake_ended=False) == []
    # ...but at the end of the bake: too few samples, and the error rate is judged too.
    assert guards(plan, b, c, bake_ended=True) == [MIN_SAMPLES, ERROR_RATE]


def test_min_samples_message_names_the_short_arms() -> None:
    plan = CanaryPlan(min_samples=20)
    [breach] = evaluate_guards(
        plan, 1, arm("baseline", n=3), arm("canary", n=12), bake_ended=True, approval_eval_score=0.9
    )
    assert breach.guard == MIN_SAMPLES and breach.observed == 3 and breach.limit == 20
    assert "too few samples by the deadline at 50%" in breach.message
    assert "baseline 3" in breach.message and "canary 12" in breach.message


def test_min_samples_zero_disables_the_sample_breach() -> None:
    plan = CanaryPlan(min_samples=0)
    assert guards(plan, arm("baseline", n=0), arm("canary", n=0), bake_ended=True) == []


# --------------------------------------------------------------------------- latency


def test_p95_above_the_limit_is_a_breach() -> None:
    plan = CanaryPlan(max_p95_latency_ms=500)
    [breach] = evaluate_guards(plan, 0, arm("baseline"), arm("canary", p95=750.0), bake_ended=False)
    assert (breach.guard, breach.observed, breach.limit) == (P95_LATENCY, 750.0, 500)
    assert "750 ms" in breach.message


def test_p95_at_the_limit_or_without_a_limit_is_fine() -> None:
    assert (
        guards(CanaryPlan(max_p95_latency_ms=500), arm("baseline"), arm("canary", p95=500.0)) == []
    )
    assert guards(CanaryPlan(), arm("baseline"), arm("canary", p95=99_999.0)) == []


def test_p95_needs_canary_samples_only() -> None:
    plan = CanaryPlan(max_p95_latency_ms=500, min_samples=20)
    # The baseline is short, the canary has enough: the absolute limit is judged mid-bake.
    assert guards(plan, arm("baseline", n=2), arm("canary", n=20, p95=900.0)) == [P95_LATENCY]
    assert guards(plan, arm("baseline", n=2), arm("canary", n=19, p95=900.0)) == []


# --------------------------------------------------------------------------- feedback / outcome


def test_feedback_drop_beyond_the_limit_is_a_breach() -> None:
    plan = CanaryPlan(max_feedback_drop=0.1)
    b = arm("baseline", feedback=(40, 0.8), outcome=(10, 5.0))
    c = arm("canary", feedback=(40, 0.6), outcome=(10, 4.95))
    [breach] = evaluate_guards(plan, 0, b, c, bake_ended=False)
    assert breach.guard == FEEDBACK and breach.observed == pytest.approx(0.2)
    c.mean_outcome = 4.5
    assert guards(plan, b, c) == [FEEDBACK, OUTCOME]


def test_feedback_is_skipped_without_values_on_both_arms_or_without_a_limit() -> None:
    b = arm("baseline", feedback=(40, 0.9))
    c = arm("canary", feedback=(0, None))
    assert guards(CanaryPlan(max_feedback_drop=0.1), b, c) == []
    assert guards(CanaryPlan(max_feedback_drop=None), b, arm("canary", feedback=(5, 0.0))) == []


# --------------------------------------------------------------------------- eval gate


def test_eval_gate_runs_only_when_the_bake_ends() -> None:
    plan = CanaryPlan(min_eval_score=0.7)
    assert guards(plan, arm("baseline"), arm("canary"), approval=0.5, bake_ended=False) == []
    assert guards(plan, arm("baseline"), arm("canary"), approval=0.5, bake_ended=True) == [
        EVAL_SCORE
    ]


def test_online_eval_score_wins_over_the_approval_score() -> None:
    plan = CanaryPlan(min_eval_score=0.7)
    good_online = arm("canary", evals=(30, 0.8))
    assert resolve_eval_score(good_online, 0.1) == 0.8
    assert guards(plan, arm("baseline"), good_online, approval=0.1, bake_ended=True) == []
    bad_online = arm("canary", evals=(30, 0.6))
    [breach] = evaluate_guards(
        plan, 0, arm("baseline"), bad_online, bake_ended=True, approval_eval_score=0.95
    )
    assert breach.guard == EVAL_SCORE and breach.observed == 0.6 and breach.limit == 0.7
    assert breach.message.startswith("cannot promote beyond 10%")


def test_no_score_at_all_cannot_promote() -> None:
    [breach] = evaluate_guards(
        CanaryPlan(), 0, arm("baseline"), arm("canary"), bake_ended=True, approval_eval_score=None
    )
    assert breach.guard == EVAL_SCORE and breach.observed is None
    assert "no evaluation score" in breach.message


def test_min_eval_score_null_disables_the_gate() -> None:
    plan = CanaryPlan(min_eval_score=None)
    assert eval_gate(plan, None) is None
    assert guards(plan, arm("baseline"), arm("canary"), approval=None, bake_ended=True) == []


def test_eval_gate_boundary() -> None:
    plan = CanaryPlan(min_eval_score=0.7)
    assert eval_gate(plan, 0.7) is None
    gate = eval_gate(plan, 0.69)
    assert gate is not None and gate.guard == EVAL_SCORE


def test_several_breaches_in_fixed_order_and_summary() -> None:
    plan = CanaryPlan(max_p95_latency_ms=100, max_feedback_drop=0.05)
    b = arm("baseline", n=10, feedback=(5, 0.9))
    c = arm("canary", n=10, errors=5, p95=300.0, feedback=(5, 0.1))
    found = evaluate_guards(plan, 0, b, c, bake_ended=True, approval_eval_score=None)
    assert [x.guard for x in found] == [MIN_SAMPLES, ERROR_RATE, P95_LATENCY, FEEDBACK, EVAL_SCORE]
    assert summarize(found).count("; ") == 4


def test_guards_are_deterministic() -> None:
    plan = CanaryPlan(max_p95_latency_ms=100)
    args = (plan, 0, arm("baseline", errors=1), arm("canary", errors=9, p95=400.0))
    assert evaluate_guards(*args, bake_ended=True) == evaluate_guards(*args, bake_ended=True)


# --------------------------------------------------------------------------- plan


def test_plan_defaults() -> None:
    plan = PlanSchema().to_data()
    assert plan.steps == [10, 50, 100] and plan.bake_time_s == [3600, 3600]
    assert plan.interval_for(0) == 300  # min(3600 / 4, 300)
    assert plan.min_samples == 20 and plan.max_error_rate_increase == 0.02
    assert plan.min_eval_score == 0.7 and plan.bake_for(2) == 0


def test_plan_bake_list_and_interval() -> None:
    plan = PlanSchema(
        steps=[1, 5, 25, 100], bake_time_s=[60, 600, 86400], check_interval_s=None
    ).to_data()
    assert plan.bake_time_s == [60, 600, 86400]
    assert [plan.interval_for(i) for i in range(3)] == [15, 150, 300]
    assert PlanSchema(check_interval_s=7).to_data().interval_for(1) == 7


@pytest.mark.parametrize(
    ("plan", "field", "text"),
    [
        ({"steps": [10, 50]}, "steps", "end at 100"),
        ({"steps": [50, 10, 100]}, "steps", "rise strictly"),
        ({"steps": [10, 10, 100]}, "steps", "rise strictly"),
        ({"steps": [0, 100]}, "steps", "(0, 100]"),
        ({"steps": [10, 150]}, "steps", "(0, 100]"),
        ({"steps": []}, "steps", "at least 1"),
        ({"bake_time_s": [60]}, "bake_time_s", "one bake time per step below 100%"),
        ({"bake_time_s": 0}, "bake_time_s", "1.."),
        ({"min_samples": -1}, "min_samples", "greater than or equal"),
        ({"max_error_rate_increase": 1.5}, "max_error_rate_increase", "less than or equal"),
        ({"min_eval_score": 2}, "min_eval_score", "less than or equal"),
    ],
)
def test_bad_plans_name_the_field(plan: dict[str, object], field: str, text: str) -> None:
    with pytest.raises(ValidationError) as err:
        DeploymentCreate.model_validate(
            {
                "project_id": "00000000-0000-0000-0000-000000000001",
                "prompt_version_id": "00000000-0000-0000-0000-000000000002",
                "environment": "prod",
                "plan": plan,
            }
        )
    [error] = err.value.errors()
    assert error["loc"][:2] == ("plan", field)
    assert text in error["msg"]


def test_unknown_environment_is_rejected() -> None:
    with pytest.raises(ValidationError) as err:
        DeploymentCreate.model_validate(
            {
                "project_id": "00000000-0000-0000-0000-000000000001",
                "prompt_version_id": "00000000-0000-0000-0000-000000000002",
                "environment": "production",
            }
        )
    assert err.value.errors()[0]["loc"] == ("environment",)


def test_min_eval_score_may_be_null() -> None:
    assert PlanSchema(min_eval_score=None).to_data().min_eval_score is None
