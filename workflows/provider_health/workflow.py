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

with workflow.unsafe.imports_passed_through():
    from activities.provider_health.declarations import check_provider_health
    from activities.provider_health.types import CheckProviderHealthInput
    from activities.retry_policies import HEALTH_CHECK
    from workflows.provider_health.types import (
        ProviderHealthCheckInput,
        ProviderHealthCheckResult,
    )

#: Probes time out after ~10 s each and run concurrently; the rest is one INSERT.
ACTIVITY_TIMEOUT = timedelta(seconds=60)


@workflow.defn
class ProviderHealthCheckWorkflow:
    @workflow.run
    async def run(self, inp: ProviderHealthCheckInput) -> ProviderHealthCheckResult:
        result = await workflow.execute_activity(
            check_provider_health,
            CheckProviderHealthInput(run_key=workflow.info().run_id, models=list(inp.models)),
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=HEALTH_CHECK,
        )
        return ProviderHealthCheckResult(
            ok={c.model_name: c.ok for c in result.checks},
            failed=[c.model_name for c in result.checks if not c.ok],
        )
