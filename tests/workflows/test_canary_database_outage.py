"""``CanaryRolloutWorkflow`` when the platform's own database is unavailable at the check that
decides a step (the end of its bake): the guard figures fail with ``ServiceUnavailable`` past the
activity's retries (minutes), which is no verdict on the candidate. The workflow holds the step
and asks again every check interval, then judges the real figures; a failure of any other kind
is still the ``figures_unavailable`` breach that rolls back.

Time-skipping test server, the four deployment activities replaced by same-named stand-ins (the
figures fail for their first ``failures`` calls of the deciding check).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from temporalio import activity
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.deployment.types import (
    ArmFigures,
    ComputeFiguresInput,
    ComputeFiguresResult,
    FinishDeploymentInput,
    FinishDeploymentResult,
    SetStepInput,
    SetStepResult,
    StartDeploymentInput,
    StartDeploymentResult,
)
from activities.errors import SERVICE_UNAVAILABLE
from activities.retry_policies import STANDARD
from workflows.canary.types import CanaryPlan, CanaryResult, CanaryRolloutInput
from workflows.canary.workflow import CanaryRolloutWorkflow

DAY = 86400
#: One step at 50% baking a day, a check every 6 hours: checks 1-3 mid-bake, then the verdict.
PLAN = CanaryPlan(steps=[50.0, 100.0], bake_time_s=[DAY], check_interval_s=6 * 3600, min_samples=20)
MID_BAKE_CHECKS = 3


@dataclass
class Deployment:
    """Stand-in deployment activities: healthy figures, except that the deciding check's
    first ``failures`` calls fail with an error of type ``failure_type``."""

    failure_type: str
    failures: int
    figure_calls: int = 0
    finished: list[str] = field(default_factory=list)

    @activity.defn(name="start_deployment")
    async def start_deployment(self, inp: StartDeploymentInput) -> StartDeploymentResult:
        return StartDeploymentResult(
            deployment_id=inp.deployment_id,
            project_id="p",
            prompt_id="q",
            environment="prod",
            label="production",
            candidate_version_id="v2",
            baseline_version_id="v1",
            status="Running",
        )

    @activity.defn(name="set_deployment_step")
    async def set_deployment_step(self, inp: SetStepInput) -> SetStepResult:
        return SetStepResult(changed=True)

    @activity.defn(name="compute_deployment_figures")
    async def compute_deployment_figures(self, inp: ComputeFiguresInput) -> ComputeFiguresResult:
        self.figure_calls += 1
        if MID_BAKE_CHECKS < self.figure_calls <= MID_BAKE_CHECKS + self.failures:
            raise ApplicationError(
                "the database is unavailable (OperationalError); retry in a few seconds",
                type=self.failure_type,
            )
        healthy = ArmFigures(arm="baseline", n=30, errors=0, error_rate=0.0, p95_latency_ms=200.0)
        return ComputeFiguresResult(
            baseline=healthy,
            canary=ArmFigures(**{**healthy.__dict__, "arm": "canary"}),
            approval_eval_score=0.9,
        )

    @activity.defn(name="finish_deployment")
    async def finish_deployment(self, inp: FinishDeploymentInput) -> FinishDeploymentResult:
        self.finished.append(inp.status)
        return FinishDeploymentResult(status=inp.status, changed=True)


async def rollout(env: WorkflowEnvironment, deployment: Deployment) -> CanaryResult:
    task_queue = f"tq-{uuid.uuid4().hex[:12]}"
    async with Worker(
        env.client,
        task_queue=task_queue,
        workflows=[CanaryRolloutWorkflow],
        activities=[
            deployment.start_deployment,
            deployment.set_deployment_step,
            deployment.compute_deployment_figures,
            deployment.finish_deployment,
        ],
    ):
        return await env.client.execute_workflow(
            CanaryRolloutWorkflow.run,
            CanaryRolloutInput(deployment_id=str(uuid.uuid4()), plan=PLAN),
            id=f"canary-outage-{task_queue}",
            task_queue=task_queue,
        )


#: More failures than one activity's retry policy allows: the check fails as a whole, twice.
OUTAGE = int(STANDARD.maximum_attempts) * 2 - 5


async def test_a_database_outage_at_the_deciding_check_waits_and_promotes(
    temporal_ts_env: WorkflowEnvironment,
) -> None:
    deployment = Deployment(failure_type=SERVICE_UNAVAILABLE, failures=OUTAGE)
    result = await rollout(temporal_ts_env, deployment)
    assert result.status == "Promoted", (result.reason, result.breaches)
    assert result.breaches == []
    assert deployment.finished == ["Promoted"]
    # The check was asked for again after each exhausted activity, until the figures came.
    assert deployment.figure_calls == MID_BAKE_CHECKS + OUTAGE + 1


async def test_other_figure_failures_at_the_deciding_check_still_roll_back(
    temporal_ts_env: WorkflowEnvironment,
) -> None:
    deployment = Deployment(failure_type="ProgrammingError", failures=OUTAGE)
    result = await rollout(temporal_ts_env, deployment)
    assert result.status == "RolledBack"
    assert [b.guard for b in result.breaches] == ["figures_unavailable"]
    assert deployment.finished == ["RolledBack"]
    assert deployment.figure_calls == MID_BAKE_CHECKS + int(STANDARD.maximum_attempts)
