"""The route stage: the models a call tries, in order, and the tenant's credentials.

``model`` is a model of the model list (tried first, then its ``router_settings.fallbacks``),
``policy:<name>`` (a project routing policy ranking its candidates on live figures,
:mod:`promptops.llm.routing`; the decision and its reason are stored on the run), or None (the
version's model, else the catalog's default). A bare JSON Schema goes to the provider the way
its first candidate supports (response-schema mode, else a system message stating it).
Errors: :class:`promptops.errors.InvalidInput` on ``model`` for an unknown model or policy, or a
policy whose every candidate is excluded.
"""

from __future__ import annotations

from promptops.errors import InvalidInput
from promptops.llm.credentials import CredentialStore
from promptops.llm.errors import GatewayError
from promptops.llm.gateway import LLMGateway
from promptops.llm.pipeline.call import CallOutcome, ModelCall, Next, Route
from promptops.llm.routing.figures import resolve_policy_route
from promptops.llm.routing.policy import NoEligibleModel
from promptops.llm.structured import response_format_for, schema_of


class RouteStage:
    """See the module docstring."""

    name = "route"

    def __init__(self, gateway: LLMGateway, credentials: CredentialStore) -> None:
        self.gateway = gateway
        self.credentials = credentials

    async def __call__(self, call: ModelCall, call_next: Next) -> CallOutcome:
        model = call.request.model or (call.version.model if call.version is not None else None)
        project = call.project
        if project is None:  # pragma: no cover - the resolve stage always sets it
            raise RuntimeError("the route stage runs after resolve")
        try:
            decision = await resolve_policy_route(
                call.db,
                self.gateway,
                project.id,
                model or "",
                call.messages,
                call.decoding.get("max_tokens"),
            )
            candidates = (
                list(decision.ordered)
                if decision is not None
                else self.gateway.catalog.candidates(model or None)
            )
            entries = [self.gateway.catalog.get(name) for name in candidates]
        except (NoEligibleModel, GatewayError) as exc:
            raise InvalidInput(str(exc), field="model") from exc
        if call.schema is not None and call.response_format is None:
            try:
                call.response_format, instruction = response_format_for(entries[0], call.schema)
            except ValueError as exc:
                raise InvalidInput(str(exc), field="schema") from exc
            if instruction is not None:
                call.messages = [instruction, *call.messages]
        if call.schema is None and call.response_format:
            call.schema = schema_of(call.response_format)
        call.route = Route(
            candidates=candidates,
            entries=entries,
            decision=decision,
            credentials=await self.credentials.for_entry(
                call.db, project.organization_id, entries[0]
            ),
        )
        return await call_next(call)
