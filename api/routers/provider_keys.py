"""Provider API keys (Admin only): stored encrypted, never returned, never logged."""

from __future__ import annotations

import uuid
from typing import Any, TypeVar

from fastapi import APIRouter, Request, Response, status
from pydantic import ValidationError

from api.deps import AdminPrincipal, SessionDep
from api.errors import Unprocessable
from api.schemas.common import ERROR_RESPONSES
from api.schemas.identity import (
    ProviderKeyCreate,
    ProviderKeyPublic,
    ProviderKeyReplace,
    ProviderKeysPublic,
)
from api.services.provider_keys import ProviderKeyService
from promptops.db.models import ProviderCredential

Body = TypeVar("Body", ProviderKeyCreate, ProviderKeyReplace)

router = APIRouter(prefix="/provider_keys", tags=["provider keys"], responses=ERROR_RESPONSES)


def _service(
    request: Request, session: SessionDep, principal: AdminPrincipal
) -> ProviderKeyService:
    return ProviderKeyService(session, principal, request.app.state.secret_box)


async def _parse(request: Request, model: type[Body]) -> Body:
    """Validate the body ourselves: FastAPI's 422 echoes the offending input, which for a
    model-level error (a missing field) is the whole body, provider key included."""
    try:
        return model.model_validate_json(await request.body())
    except ValidationError as exc:
        errors = exc.errors(include_input=False, include_url=False)
        field = ".".join(str(part) for part in errors[0]["loc"]) or None
        message = "; ".join(
            f"{'.'.join(str(x) for x in e['loc']) or 'body'}: {e['msg']}" for e in errors
        )
        raise Unprocessable(message, field=field) from None


@router.post(
    "",
    response_model=ProviderKeyPublic,
    status_code=status.HTTP_201_CREATED,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": ProviderKeyCreate.model_json_schema()}},
        }
    },
)
async def create_provider_key(
    request: Request, session: SessionDep, principal: AdminPrincipal
) -> ProviderCredential:
    """Store a provider key for the organization, sealed with AES-256-GCM. Body:
    ``{provider, name, api_key, api_base?}``. The response has only id, provider, name, hint
    (last four characters), api_base and times; no response, error or log line carries the
    key. 409 if the name is taken, 422 naming the field (without echoing values)."""
    service = _service(request, session, principal)
    return await service.create(await _parse(request, ProviderKeyCreate))


@router.get("", response_model=ProviderKeysPublic)
async def list_provider_keys(
    request: Request, session: SessionDep, principal: AdminPrincipal
) -> dict[str, Any]:
    """The organization's provider keys: provider, name, hint, api_base; never the key."""
    data = await _service(request, session, principal).list_credentials()
    return {"data": data, "count": len(data)}


@router.put(
    "/{credential_id}",
    response_model=ProviderKeyPublic,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": ProviderKeyReplace.model_json_schema()}},
        }
    },
)
async def replace_provider_key(
    credential_id: uuid.UUID, request: Request, session: SessionDep, principal: AdminPrincipal
) -> ProviderCredential:
    """Replace a stored key's secret and API base (body ``{api_key, api_base?}``; blank
    api_base = the provider's default), keeping its id, provider and name. The answer is as
    for create: the new hint, never the key. 404 if not of this organization, 422 naming the
    field (without echoing values)."""
    service = _service(request, session, principal)
    return await service.replace(credential_id, await _parse(request, ProviderKeyReplace))


@router.delete("/{credential_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_provider_key(
    credential_id: uuid.UUID, request: Request, session: SessionDep, principal: AdminPrincipal
) -> Response:
    """Delete a provider key (its ciphertext with it). 404 if not of this organization."""
    await _service(request, session, principal).delete(credential_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
