"""Input and result of ``ProviderHealthCheckWorkflow``."""

from __future__ import annotations

from dataclasses import dataclass, field

#: Id of the Temporal Schedule that starts the workflow (its runs get ids
#: ``provider-health-check-<timestamp>``).
SCHEDULE_ID = "provider-health-check"


@dataclass
class ProviderHealthCheckInput:
    """``models``: deployments to probe; empty = every deployment of the worker's catalog."""

    models: list[str] = field(default_factory=list)


@dataclass
class ProviderHealthCheckResult:
    """Per deployment: ``ok`` by model name; ``failed``: the names that failed their probe."""

    ok: dict[str, bool] = field(default_factory=dict)
    failed: list[str] = field(default_factory=list)
