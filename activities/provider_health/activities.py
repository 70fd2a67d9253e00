"""``check_provider_health``: probe every deployment of the model catalog with a minimal chat
completion (``max_tokens=1``, a short timeout) sent with the deployment's own key (never a
tenant's), and write one ``provider_health_checks`` row per deployment.

Rows are idempotent per workflow run: the id is ``uuid5(HEALTH_NAMESPACE, "{run_key}:{model}")``
inserted with ``ON CONFLICT (id) DO NOTHING``, so a retried activity cannot write twice.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime

from temporalio import activity

from activities.outages import database_outage_retryable
from activities.provider_health.types import (
    CheckProviderHealthInput,
    CheckProviderHealthResult,
    ProviderCheck,
)
from promptops.db.repositories.health import HealthCheckRepository
from promptops.db.session import get_session_factory
from promptops.llm import GatewayError, LLMGateway, redact_secrets

#: Namespace of the row ids (``uuid5``); fixed forever so retries map to the same ids.
HEALTH_NAMESPACE = uuid.UUID("0b7c4d38-5f0e-4c55-9a43-6d1f8e1c2a90")
PROBE_MESSAGES = [{"role": "user", "content": "ping"}]
#: Default timeout of one probe in seconds.
PROBE_TIMEOUT_S = 10.0


def check_id(run_key: str, model_name: str) -> uuid.UUID:
    """The row id of ``model_name``'s check in the workflow run ``run_key``."""
    return uuid.uuid5(HEALTH_NAMESPACE, f"{run_key}:{model_name}")


class ProviderHealthActivities:
    """Built with a database URL and a gateway over the worker's model catalog.

    The probes go through ``LLMGateway._call`` (one deployment, no fallbacks, no breaker): a
    health check must reach the deployment even while its breaker is open, and must not count
    against the serving path's breakers. ``timeout_s``: timeout of one probe in seconds (a
    private gateway with this timeout is used; the given one supplies the catalog).
    """

    def __init__(
        self, database_url: str, gateway: LLMGateway, *, timeout_s: float = PROBE_TIMEOUT_S
    ) -> None:
        self._sessions = get_session_factory(database_url)
        self._gateway = LLMGateway(gateway.catalog, timeout_s=timeout_s)

    async def _probe(self, model_name: str) -> ProviderCheck:
        entry = self._gateway.catalog.get(model_name)
        started = time.perf_counter()
        checked_at = datetime.now(UTC).isoformat()
        try:
            # credentials=None: the deployment's own key from the model list, never a tenant's.
            done = await self._gateway.call_deployment(
                entry, PROBE_MESSAGES, {"max_tokens": 1}, None, None
            )
        except GatewayError as err:
            return ProviderCheck(
                model_name=model_name,
                ok=False,
                latency_ms=(time.perf_counter() - started) * 1000.0,
                status_code=err.status_code,
                error=redact_secrets(str(err)),
                checked_at=checked_at,
            )
        return ProviderCheck(
            model_name=model_name,
            ok=True,
            latency_ms=done.latency_ms,
            status_code=200,
            error=None,
            checked_at=checked_at,
        )

    @activity.defn(name="check_provider_health")
    @database_outage_retryable
    async def check_provider_health(
        self,
        inp: CheckProviderHealthInput,
    ) -> CheckProviderHealthResult:
        """Probe the deployments concurrently and write one row each (idempotent per
        ``run_key``). A failed probe is a result (``ok=False``), not an activity failure;
        only a database error fails the activity (and Temporal retries it)."""
        names = inp.models or list(self._gateway.catalog.entries)
        checks = list(await asyncio.gather(*(self._probe(n) for n in names)))
        if not checks:
            return CheckProviderHealthResult()
        rows = [
            {
                "id": check_id(inp.run_key, c.model_name),
                "model_name": c.model_name,
                "checked_at": datetime.fromisoformat(c.checked_at),
                "ok": c.ok,
                "latency_ms": c.latency_ms,
                "status_code": c.status_code,
                "error": c.error,
            }
            for c in checks
        ]
        async with self._sessions() as session:
            written = await HealthCheckRepository(session).add_once(rows)
            await session.commit()
        return CheckProviderHealthResult(checks=checks, written=written)
