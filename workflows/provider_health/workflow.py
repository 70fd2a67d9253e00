"""``ProviderHealthCheckWorkflow``: one round of provider health checks.

Runs the single activity ``check_provider_health`` (probe each deployment with a minimal
completion, write one ``provider_health_checks`` row each, keyed by this run's id so a retry
cannot write twice) and returns which deployments answered. Started every
``health_check_interval_s`` seconds by the Temporal Schedule ``provider-health-check`` (overlap
policy SKIP: a slow round is never stacked). Deterministic: all I/O is in the activity.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.provider_health.types import (
        CheckProviderHealthInput,
        CheckProviderHealthResult,
    )
    from workflows.provider_health.types import (
        ProviderHealthCheckInput,
        ProviderHealthCheckResult,
    )

#: Probes time out after ~10 s each and run concurrently; the rest is one INSERT.
ACTIVITY_TIMEOUT = timedelta(seconds=60)
#: A failed probe is a result, so retries only cover database or worker failures; the next
#: scheduled round comes soon anyway.
RETRY = RetryPolicy(initial_interval=timedelta(seconds=2), backoff_coefficient=2.0,
                    maximum_interval=timedelta(seconds=20), maximum_attempts=3)


@workflow.defn
class ProviderHealthCheckWorkflow:
    @workflow.run
    async def run(self, inp: ProviderHealthCheckInput) -> ProviderHealthCheckResult:
        result: CheckProviderHealthResult = await workflow.execute_activity(
            "check_provider_health",
            CheckProviderHealthInput(run_key=workflow.info().run_id, models=list(inp.models)),
            result_type=CheckProviderHealthResult,
            start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=RETRY,
        )
        return ProviderHealthCheckResult(
            ok={c.model_name: c.ok for c in result.checks},
            failed=[c.model_name for c in result.checks if not c.ok])
