"""Provider health: ``ProviderHealthCheckWorkflow`` probes every model deployment once; the
Temporal Schedule ``provider-health-check`` (:func:`ensure_health_check_schedule`, in
``workflows.provider_health.schedule``) runs it periodically."""

from workflows.provider_health.workflow import ProviderHealthCheckWorkflow

__all__ = ["ProviderHealthCheckWorkflow"]
