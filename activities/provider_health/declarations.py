"""Typed declaration of the provider health activity (implemented by
:class:`activities.provider_health.activities.ProviderHealthActivities`; see
:mod:`activities`)."""

from __future__ import annotations

from temporalio import activity

from activities.provider_health.types import CheckProviderHealthInput, CheckProviderHealthResult

__all__ = ["check_provider_health"]


@activity.defn(name="check_provider_health")
async def check_provider_health(inp: CheckProviderHealthInput) -> CheckProviderHealthResult:
    """Probe each deployment (``max_tokens=1``, its own key) and write one
    ``provider_health_checks`` row each, idempotent per ``run_key``. A failed probe is a result
    (``ok=False``); only a database error fails the activity (retryable)."""
    raise NotImplementedError
