"""Input and result of ``check_provider_health`` (one dataclass each, so fields can be added
without breaking running workflows). Latencies are milliseconds."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class CheckProviderHealthInput:
    """``run_key``: makes the rows of one workflow run idempotent (the workflow's run id): a
    retried activity writes the same row ids. ``models``: deployments to probe (empty = every
    deployment of the worker's model catalog)."""

    run_key: str
    models: list[str] = field(default_factory=list)


@dataclass
class ProviderCheck:
    """One probe: ``ok`` when the deployment answered; ``status_code`` the provider's HTTP
    status (200 when ok; None for a timeout or connection error); ``error`` the provider's
    message, secrets redacted (``promptops.llm.gateway.redact_secrets``)."""

    model_name: str
    ok: bool
    latency_ms: float | None
    status_code: int | None
    error: str | None
    checked_at: str


@dataclass
class CheckProviderHealthResult:
    checks: list[ProviderCheck] = field(default_factory=list)
    #: Rows written by this attempt (0 when a previous attempt already wrote them all).
    written: int = 0
