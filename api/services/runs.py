"""Synchronous test runs and production inference (``generate``)."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import Principal
from api.errors import APIError, Unprocessable
from api.services.budgets import BudgetGuard
from api.services.prompts import PromptService, version_content
from api.services.provider_keys import provider_credential
from promptops.budgets import DEFAULT_MAX_TOKENS
from promptops.db.models import PromptVersion, Run
from promptops.db.repositories import PromptRepository, RunRepository
from promptops.gateway import GatewayError, LLMGateway, ModelEntry, ProviderOverride
from promptops.security import DecryptionError, SecretBox
from promptops.templating import TemplateError


class BadGateway(APIError):
    status_code = 502


class ServerMisconfigured(APIError):
    status_code = 500


@dataclass(frozen=True)
class Routing:
    """How ``generate`` picked the version: the caller's subject id, the environment, and the
    deployment + arm when a canary was splitting the traffic."""

    subject_id: str | None = None
    environment: str | None = None
    deployment_id: uuid.UUID | None = None
    arm: str | None = None


class RunService:
    def __init__(self, session: AsyncSession, principal: Principal, gateway: LLMGateway,
                 secret_box: SecretBox | None = None) -> None:
        self.session = session
        self.principal = principal
        self.gateway = gateway
        self.secret_box = secret_box
        self.prompts = PromptService(session, principal)
        self.runs = RunRepository(session)

    async def _tenant_credentials(self, entry: ModelEntry) -> ProviderOverride | None:
        """The organization's own key for the model's provider, if it stored one."""
        provider = entry.provider
        if self.secret_box is None or provider is None:
            return None
        try:
            secret = await provider_credential(self.session, self.secret_box,
                                               self.principal.organization_id, provider)
        except DecryptionError as exc:
            raise ServerMisconfigured(str(exc)) from exc
        return ProviderOverride(secret.api_key, secret.api_base) if secret else None

    async def execute(
        self, version: PromptVersion, variables: dict[str, Any], *, source: str,
        model: str | None = None, decoding: dict[str, Any] | None = None,
        response_format: dict[str, Any] | None = None, routing: Routing | None = None,
    ) -> tuple[Run, Any]:
        """Render ``version`` with ``variables``, call the model, record the run.

        Returns (run, output) where output is the parsed JSON when a schema applies.
        Raises Unprocessable (template/variables, unknown model), BudgetExceeded (429, before
        the provider call and with nothing recorded) when the request's maximum usage does not
        fit in a project budget, BadGateway (502) or 429 when the provider fails; a provider
        failure is still recorded as a run with ``success=False`` (committed before the error
        is returned), because canary guards count errors per arm.
        """
        routing = routing or Routing()
        try:
            messages = version_content(version).render_messages(variables)
        except TemplateError as exc:
            raise Unprocessable(str(exc), field=exc.field) from exc
        merged_decoding = {**version.decoding, **(decoding or {})}
        fmt = response_format or version.response_format
        project_id = await PromptRepository(self.session).project_of_prompt(version.prompt_id)
        try:
            entry = self.gateway.catalog.get(model or version.model)
        except GatewayError as exc:
            raise Unprocessable(str(exc), field="model") from exc
        credentials = await self._tenant_credentials(entry)
        guard = BudgetGuard(self.session)
        reservation = await guard.reserve(project_id, entry, messages,
                                          merged_decoding.get("max_tokens"))
        if reservation is not None and merged_decoding.get("max_tokens") is None:
            # The reservation assumed this cap; the provider must honour it for the bound.
            merged_decoding["max_tokens"] = DEFAULT_MAX_TOKENS
        started = time.perf_counter()
        try:
            completion = await self.gateway.complete(
                messages, model=model or version.model, decoding=merged_decoding,
                response_format=fmt, credentials=credentials,
            )
        except BaseException as exc:
            if reservation is not None:
                await guard.release(reservation)
            if not isinstance(exc, GatewayError):
                raise
            if exc.status_code == 400 and "unknown model" in str(exc):
                raise Unprocessable(str(exc), field="model") from exc
            await self.runs.add(Run(
                id=uuid.uuid4(), project_id=project_id, prompt_version_id=version.id,
                source=source, model=model or version.model or "", variables=variables,
                rendered_input=messages, output=None, success=False, error=str(exc)[:2000],
                latency_ms=(time.perf_counter() - started) * 1000.0,
                subject_id=routing.subject_id, environment=routing.environment,
                deployment_id=routing.deployment_id, arm=routing.arm,
            ))
            # The request-scoped session rolls back on errors; this failed run must survive.
            await self.session.commit()
            err = BadGateway(f"model call failed: {exc}")
            if exc.status_code == 429:
                err.status_code = 429
            raise err from exc
        if reservation is not None:
            await guard.settle(reservation, usd=Decimal(str(completion.cost_usd)),
                               tokens=completion.tokens_in + completion.tokens_out)
        output: Any = completion.output
        if fmt:
            try:
                output = json.loads(completion.output)
            except json.JSONDecodeError:
                output = completion.output
        run = await self.runs.add(Run(
            id=uuid.uuid4(), project_id=project_id, prompt_version_id=version.id, source=source,
            model=completion.model, variables=variables, rendered_input=messages,
            output=completion.output, success=True, tokens_in=completion.tokens_in,
            tokens_out=completion.tokens_out, cost_usd=Decimal(str(completion.cost_usd)),
            latency_ms=completion.latency_ms, subject_id=routing.subject_id,
            environment=routing.environment, deployment_id=routing.deployment_id,
            arm=routing.arm,
        ))
        return run, output
