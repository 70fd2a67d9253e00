"""The model deployments the gateway routes to, with circuit-breaker state and health."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import CurrentPrincipal, GatewayDep, SessionDep
from api.schemas.common import ERROR_RESPONSES
from api.schemas.models import HealthCheckPublic, ProviderPublic, ProvidersPublic
from promptops.db.repositories.health import HealthCheckRepository

router = APIRouter(prefix="/models", tags=["models"], responses=ERROR_RESPONSES)


@router.get("/providers", response_model=ProvidersPublic)
async def list_providers(
    gateway: GatewayDep, principal: CurrentPrincipal, session: SessionDep
) -> ProvidersPublic:
    """Every configured deployment in model-list order: breaker state (``closed`` | ``open`` |
    ``half_open``), health (``healthy`` | ``degraded`` | ``down``), p50/p95 latency in ms,
    error rate, calls and the last error, as this API process's gateway has seen them (figures
    are per process, not cluster-wide), and ``last_check``: the latest periodic health check
    (from the database, so cluster-wide; null before the first). Any role; 401 without a valid
    key."""
    checks = await HealthCheckRepository(session).latest_by_model()
    rows = []
    for status in gateway.provider_status():
        check = checks.get(status["model_name"])
        rows.append(
            ProviderPublic.model_validate(
                {
                    **status,
                    "last_check": None
                    if check is None
                    else HealthCheckPublic.model_validate(check),
                }
            )
        )
    return ProvidersPublic(data=rows, count=len(rows))
