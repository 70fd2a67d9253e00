"""The model deployments the gateway routes to, with circuit-breaker state and health."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import CurrentPrincipal, GatewayDep
from api.schemas.models import ProviderPublic, ProvidersPublic

router = APIRouter(prefix="/models", tags=["models"])


@router.get("/providers", response_model=ProvidersPublic)
async def list_providers(gateway: GatewayDep, principal: CurrentPrincipal) -> ProvidersPublic:
    """Every configured deployment in model-list order: breaker state (``closed`` | ``open`` |
    ``half_open``), health (``healthy`` | ``degraded`` | ``down``), p50/p95 latency in ms,
    error rate, calls and the last error, as this API process's gateway has seen them (figures
    are per process, not cluster-wide). Any role; 401 without a valid key."""
    rows = [ProviderPublic.model_validate(row) for row in gateway.provider_status()]
    return ProvidersPublic(data=rows, count=len(rows))
