"""Routing policies of a project: create or replace, read, delete (audited) and preview.

Every call first checks the project is in the caller's scope (404 otherwise, before any other
check, so another organization's projects look absent). Models are checked against the
gateway's catalog (422 naming ``candidates`` / ``fallbacks``).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import Principal
from api.errors import NotFound, Unprocessable
from api.schemas.routing_policies import RoutingPolicyPut, RoutingPreviewRequest
from api.services.identity import record_audit
from api.services.prompts import PromptService
from promptops.db.connection import SessionSQL
from promptops.db.models import Role, RoutingPolicy
from promptops.db.repositories.routing import RoutingPolicyRepository
from promptops.llm import LLMGateway, UnknownModelError
from promptops.llm.routing.figures import decide, spec_of
from promptops.llm.routing.policy import (
    NoEligibleModel,
    RoutingPolicySpec,
    UnknownPolicyModel,
    is_valid_policy_name,
)


def _summary(row: RoutingPolicy) -> dict[str, Any]:
    return {
        "strategy": row.strategy,
        "candidates": list(row.candidates),
        "fallbacks": list(row.fallbacks),
        "constraints": dict(row.constraints),
        "description": row.description,
    }


class RoutingPolicyService:
    """Reads for any role; changes for Editor and up (403 otherwise)."""

    def __init__(self, session: AsyncSession, principal: Principal, gateway: LLMGateway) -> None:
        self.session = session
        self.principal = principal
        self.gateway = gateway
        self.policies = RoutingPolicyRepository(session)

    async def _project(self, project_id: uuid.UUID) -> None:
        await PromptService(self.session, self.principal).get_project(project_id)

    async def list(self, project_id: uuid.UUID) -> list[RoutingPolicy]:
        await self._project(project_id)
        return list(await self.policies.list(project_id))

    async def get(self, project_id: uuid.UUID, name: str) -> RoutingPolicy:
        await self._project(project_id)
        row = await self.policies.get(project_id, name)
        if row is None:
            raise NotFound(f"routing policy {name!r} not found in this project")
        return row

    async def put(self, project_id: uuid.UUID, name: str, data: RoutingPolicyPut) -> RoutingPolicy:
        """Create or replace; audited as ``routing_policy.create`` / ``.update``. 422 for a bad
        name or a model the catalog does not have (field ``candidates`` / ``fallbacks``)."""
        self.principal.require(Role.EDITOR)
        await self._project(project_id)
        if not is_valid_policy_name(name):
            raise Unprocessable(
                f"policy name {name!r}: 1-100 letters, digits, '.', '_' or '-', starting with "
                "a letter or digit",
                field="name",
            )
        spec = RoutingPolicySpec(name=name, **data.model_dump())
        try:
            spec.validate_models(self.gateway.catalog)
        except UnknownPolicyModel as exc:
            raise Unprocessable(str(exc), field=f"{exc.field}.{exc.index}") from exc
        before = await self.policies.get(project_id, name)
        before_summary = _summary(before) if before is not None else None
        row = await self.policies.put(
            project_id,
            name,
            {
                "strategy": spec.strategy,
                "candidates": spec.candidates,
                "fallbacks": spec.fallbacks,
                "constraints": spec.constraints.model_dump(exclude_none=True),
                "description": spec.description,
            },
            self.principal.actor,
        )
        await record_audit(
            self.session,
            self.principal,
            "routing_policy.update" if before else "routing_policy.create",
            "routing_policy",
            row.id,
            before=before_summary,
            after={"name": name, **_summary(row)},
        )
        return row

    async def delete(self, project_id: uuid.UUID, name: str) -> None:
        """Delete (Editor); audited as ``routing_policy.delete``. 404 if absent."""
        self.principal.require(Role.EDITOR)
        row = await self.get(project_id, name)
        before = {"name": name, **_summary(row)}
        await self.policies.delete(project_id, name)
        await record_audit(
            self.session,
            self.principal,
            "routing_policy.delete",
            "routing_policy",
            row.id,
            before=before,
        )

    async def preview(
        self, project_id: uuid.UUID, name: str, data: RoutingPreviewRequest
    ) -> dict[str, Any]:
        """The decision the policy would take now for ``data`` (live figures, quality always
        looked up); nothing recorded. 422 (field ``model``) when no candidate is eligible
        and there is no fallback, or a candidate left the catalog."""
        row = await self.get(project_id, name)
        try:
            decision = await decide(
                SessionSQL(self.session),
                self.gateway,
                project_id,
                spec_of(row),
                data.messages,
                data.max_tokens,
                with_quality=True,
            )
        except (NoEligibleModel, UnknownModelError) as exc:
            raise Unprocessable(str(exc), field="model") from exc
        return decision.as_dict()
