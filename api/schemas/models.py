"""Model deployments as the gateway sees them: breaker state, health and rolling figures."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict


class HealthCheckPublic(BaseModel):
    """The latest periodic health check of a deployment (Temporal Schedule
    ``provider-health-check``): a one-token completion sent with the deployment's own key.
    ``latency_ms`` in ms; ``status_code`` the provider's HTTP status (None for a timeout or
    connection error); ``error`` the provider's message with secrets redacted."""

    model_config = ConfigDict(from_attributes=True)

    ok: bool
    checked_at: datetime
    latency_ms: float | None
    status_code: int | None
    error: str | None


class ProviderPublic(BaseModel):
    """One configured deployment (a ``model_name`` of the model list).

    ``breaker_state``: ``closed`` (calls go through), ``open`` (skipped, no request sent),
    ``half_open`` (the cool-down passed; one probe call decides). ``health``: ``down`` while open,
    ``degraded`` while half-open or with a rolling error rate >= 10 %, else ``healthy``.
    Figures cover the deployment's last 200 calls within 5 minutes in this process: ``calls``
    and ``errors`` (retryable failures: 429, 5xx, timeouts), ``error_rate`` = errors / calls,
    p50/p95 latency in ms (nearest rank, successful calls; null without any). ``last_error``
    is the provider's message of the latest failed call (any kind), with its HTTP status.
    """

    model_name: str
    provider: str | None
    breaker_state: Literal["closed", "open", "half_open"]
    health: Literal["healthy", "degraded", "down"]
    calls: int
    errors: int
    error_rate: float
    p50_latency_ms: float | None
    p95_latency_ms: float | None
    last_error: str | None
    last_error_status: int | None
    last_error_at: datetime | None
    #: The latest periodic health check (shared by every API process); None before the first.
    last_check: HealthCheckPublic | None = None


class ProvidersPublic(BaseModel):
    data: list[ProviderPublic]
    count: int
