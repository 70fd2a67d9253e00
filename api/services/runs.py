"""Synchronous test runs, production inference (``generate``) and the OpenAI-compatible API:
every request-path LLM call of the API goes through :class:`RunService`.

One call, in order (each step is skipped when it does not apply):

1. **route**: ``model`` names a model of the model list (tried first, then its
   ``router_settings.fallbacks``) or ``policy:<name>``, a project routing policy
   (:mod:`promptops.llm.routing.policy`) that ranks its candidates on live figures; the decision and its
   reason are stored on the run (``Run.routing``).
2. **cache**: when the project opted in (``Project.cache_settings``), the exact cache (SHA-256 of
   model, messages, decoding, schema, tools) and then the semantic cache (pgvector cosine
   similarity within the same project, prompt version, model and parameters) are consulted; a
   hit is recorded as a run with ``cache_hit`` and zero cost and never reaches the provider.
3. **budget**: the request's maximum usage (prompt estimate + ``max_tokens``, at the most
   expensive candidate's prices, times the structured-output attempts) is reserved before the
   provider call (HTTP 429 naming the budget when it does not fit) and settled after.
4. **call**: the gateway tries the candidates in order (breakers, fallbacks on retryable
   errors); with a JSON Schema the answer is validated and retried with the error fed back
   (:mod:`promptops.llm.structured`).
5. **record**: the run (tokens, cost, latency, trace id, attempts, routing), the cache entry and
   the Prometheus figures. A provider failure is committed as a failed run, because canary
   guards count errors per arm.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import Principal
from api.errors import APIError, Unprocessable
from api.services.budgets import BudgetExceeded, BudgetGuard, Reservation
from api.services.prompts import PromptService, version_content
from api.services.provider_keys import provider_credential
from promptops import telemetry
from promptops.db.driver import atomic
from promptops.db.models import ENVIRONMENT_LABELS, PromptVersion
from promptops.db.repositories import PromptRepository, RunRepository
from promptops.db.repositories.runs import RunRecord
from promptops.db.repositories.serving import ProjectFacts, Served, ServingRepository
from promptops.governance.security import DecryptionError, SecretBox
from promptops.governance.traffic import choose_arm
from promptops.llm import (
    Completion,
    GatewayError,
    LLMGateway,
    ModelEntry,
    ProviderOverride,
    StreamDelta,
    StreamDone,
)
from promptops.llm.budgets.guard import hold_to_bound
from promptops.llm.cache import (
    CachedResponse,
    CacheSettings,
    ResponseCache,
    embed_text,
    exact_cache_key,
    params_key,
    semantic_text,
)
from promptops.llm.routing.figures import resolve_policy_route
from promptops.llm.routing.policy import NoEligibleModel, RoutingDecision
from promptops.llm.structured import (
    StructuredOutputError,
    complete_structured,
    parse_fenced,
    response_format_for,
    schema_of,
    validate_output,
)
from promptops.llm.templating import TemplateError

#: Calls (first answer + retries with the validation error fed back) for a JSON Schema.
STRUCTURED_MAX_ATTEMPTS = 3


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


@dataclass
class LLMRequest:
    """One model call as the API received it.

    ``messages`` are the rendered chat messages (OpenAI format); ``version``/``variables`` are
    set when they come from a prompt version. ``model``: a model name, ``policy:<name>`` or None
    (the version's model, else the catalog default). ``response_format`` is passed to the
    provider as given (OpenAI format); its JSON Schema (``json_schema.schema``) or ``schema`` is
    validated on the answer. ``tools``/``tool_choice`` pass through (OpenAI format).
    """

    project_id: uuid.UUID
    messages: list[dict[str, Any]]
    source: str
    version: PromptVersion | None = None
    variables: dict[str, Any] = field(default_factory=dict)
    model: str | None = None
    decoding: dict[str, Any] = field(default_factory=dict)
    response_format: dict[str, Any] | None = None
    schema: dict[str, Any] | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    routing: Routing = field(default_factory=Routing)
    #: Chat messages appended after a rendered version (OpenAI-compatible ``prompt:`` calls);
    #: already part of ``messages``, kept apart for the semantic cache's text.
    extra_messages: list[dict[str, Any]] = field(default_factory=list)
    #: The project's organization, cache settings and budget limits when the caller already
    #: read them (the one-query serving lookup); else :meth:`RunService.call` reads them.
    project: ProjectFacts | None = None

    def semantic_text(self) -> str:
        """What the semantic cache embeds (:func:`promptops.llm.cache.semantic_text`)."""
        if self.version is None:
            return semantic_text(self.messages)
        return semantic_text(self.messages, self.variables,
                             extra_messages=self.extra_messages)


@dataclass
class CallResult:
    """What a caller gets back: the recorded run, the output (parsed JSON under a schema) and,
    when a provider answered, its completion (``None`` for cache hits)."""

    run: Any  # a Run, or a RunRecord (the request path's plain record)
    output: Any
    completion: Completion | None = None
    tool_calls: list[dict[str, Any]] | None = None
    finish_reason: str | None = None


@dataclass
class _Plan:
    """A request after routing: the models to try in order, their entries, the decision."""

    candidates: list[str]
    entries: list[ModelEntry]
    decision: RoutingDecision | None
    credentials: ProviderOverride | None
    schema: dict[str, Any] | None
    cache: CacheSettings
    organization_id: uuid.UUID
    exact_key: str | None = None
    semantic_scope: tuple[str, list[float] | None] | None = None

    @property
    def requested_model(self) -> str:
        return self.candidates[0]


def _gateway_status(exc: GatewayError) -> APIError:
    """HTTP error for a failed provider call, with the provider's message: 429 stays 429; a
    provider's 400/404/413/422 (bad request, unknown model, context window) is passed through
    as 400, as the LiteLLM proxy does; 503 when no deployment could be tried (breakers open);
    else 502 (including a provider's 401/403: the deployment's credentials, not the caller's)."""
    err: APIError = BadGateway(f"model call failed: {exc}")
    if exc.status_code == 429:
        err.status_code = 429
        return err
    if exc.status_code in (400, 404, 413, 422) and not exc.retryable:
        err.status_code = 400
        return err
    if exc.status_code == 503 and exc.attempts and all(
            a.get("error") == "circuit open" for a in exc.attempts):
        err.status_code = 503
    return err


class RunService:
    def __init__(self, session: AsyncSession, principal: Principal, gateway: LLMGateway,
                 secret_box: SecretBox | None = None) -> None:
        self.session = session
        self.principal = principal
        self.gateway = gateway
        self.secret_box = secret_box
        self.prompts = PromptService(session, principal)
        self.runs = RunRepository(session)

    # ------------------------------------------------------------------ prompt versions

    async def execute(
        self, version: PromptVersion, variables: dict[str, Any], *, source: str,
        model: str | None = None, decoding: dict[str, Any] | None = None,
        response_format: dict[str, Any] | None = None, routing: Routing | None = None,
    ) -> tuple[Any, Any]:
        """Render ``version`` with ``variables``, call the model, record the run.

        Returns (run, output) where output is the parsed JSON when a schema applies.
        Raises Unprocessable (template/variables, unknown model or policy), BudgetExceeded (429,
        before the provider call and with nothing recorded), BadGateway (502), 429 or 503 when
        the provider fails (recorded as a failed run).
        """
        request = await self.version_request(version, variables, source=source, model=model,
                                             decoding=decoding, response_format=response_format,
                                             routing=routing)
        result = await self.call(request)
        return result.run, result.output

    async def version_request(
        self, version: PromptVersion, variables: dict[str, Any], *, source: str,
        model: str | None = None, decoding: dict[str, Any] | None = None,
        response_format: dict[str, Any] | None = None, routing: Routing | None = None,
        extra_messages: list[dict[str, Any]] | None = None, project: ProjectFacts | None = None,
    ) -> LLMRequest:
        """The :class:`LLMRequest` of a prompt version rendered with ``variables`` (plus
        ``extra_messages`` appended, for the OpenAI-compatible API). Raises Unprocessable."""
        try:
            messages = version_content(version).render_messages(variables)
        except TemplateError as exc:
            raise Unprocessable(str(exc), field=exc.field) from exc
        project_id = (project.id if project is not None else
                      await PromptRepository(self.session).project_of_prompt(version.prompt_id))
        return LLMRequest(
            project_id=project_id, project=project, messages=[*messages, *(extra_messages or [])],
            source=source, version=version, variables=variables,
            model=model or version.model, decoding={**version.decoding, **(decoding or {})},
            response_format=response_format or version.response_format,
            routing=routing or Routing(), extra_messages=list(extra_messages or []))

    # ------------------------------------------------------------------ planning

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

    async def _plan(self, request: LLMRequest) -> _Plan:
        if request.project is None:
            request.project = await ServingRepository(self.session).project(request.project_id)
        facts = request.project
        try:
            cache = CacheSettings.model_validate(facts.cache_settings)
        except ValueError:
            cache = CacheSettings()
        decision: RoutingDecision | None = None
        try:
            decision = await resolve_policy_route(
                self.session, self.gateway, request.project_id, request.model or "",
                request.messages, request.decoding.get("max_tokens"))
            if decision is not None:
                candidates = list(decision.ordered)
            else:
                candidates = self.gateway.catalog.candidates(request.model or None)
            entries = [self.gateway.catalog.get(name) for name in candidates]
        except NoEligibleModel as exc:
            raise Unprocessable(str(exc), field="model") from exc
        except GatewayError as exc:
            raise Unprocessable(str(exc), field="model") from exc
        schema = request.schema
        if schema is not None and request.response_format is None:
            # A bare schema: the provider's response-schema mode where it has one, else the
            # schema stated in a system message (the answer is validated either way).
            request.response_format, instruction = response_format_for(entries[0], schema)
            if instruction is not None:
                request.messages = [instruction, *request.messages]
        if schema is None and request.response_format:
            schema = schema_of(request.response_format)
        return _Plan(candidates=candidates, entries=entries, decision=decision,
                     credentials=await self._tenant_credentials(entries[0]), schema=schema,
                     cache=cache, organization_id=facts.organization_id)

    def _base_run(self, request: LLMRequest, plan: _Plan | None, **values: Any) -> Any:
        routing = request.routing
        return RunRecord(
            id=uuid.uuid4(), project_id=request.project_id,
            prompt_version_id=request.version.id if request.version else None,
            source=request.source, variables=request.variables,
            rendered_input=request.messages, subject_id=routing.subject_id,
            environment=routing.environment, deployment_id=routing.deployment_id,
            arm=routing.arm, trace_id=telemetry.current_trace_id(),
            routing=plan.decision.as_dict() if plan and plan.decision else None,
            **values)

    # ------------------------------------------------------------------ cache

    async def _cache_lookup(self, request: LLMRequest, plan: _Plan
                            ) -> tuple[str, CachedResponse] | None:
        if not (plan.cache.exact.enabled or plan.cache.semantic.enabled):
            return None
        cache = ResponseCache(self.session)
        model = plan.requested_model
        if plan.cache.exact.enabled:
            plan.exact_key = exact_cache_key(model, request.messages, request.decoding,
                                             request.response_format, request.tools,
                                             request.tool_choice)
            hit = await cache.get_exact(request.project_id, plan.exact_key)
            if hit is not None:
                return "exact", hit
        if plan.cache.semantic.enabled:
            pkey = params_key(request.decoding, request.response_format, request.tools,
                              request.tool_choice)
            try:
                embedding = await embed_text(request.semantic_text())
            except RuntimeError:  # embedding model files missing: exact cache only
                embedding = None
            plan.semantic_scope = (pkey, embedding)
            found = await cache.get_semantic(
                request.project_id, request.version.id if request.version else None, model,
                pkey, embedding, plan.cache.semantic.threshold)
            if found is not None:
                return "semantic", found[0]
        return None

    async def _cache_store(self, request: LLMRequest, plan: _Plan,
                           completion: Completion) -> None:
        if plan.exact_key is None and plan.semantic_scope is None:
            return
        if completion.model != plan.requested_model:
            return  # a fallback answered: do not serve it as the requested model's answer
        response = CachedResponse(output=completion.output, tokens_in=completion.tokens_in,
                                  tokens_out=completion.tokens_out,
                                  finish_reason=completion.finish_reason,
                                  tool_calls=completion.tool_calls)
        cache = ResponseCache(self.session)
        version_id = request.version.id if request.version else None
        if plan.exact_key is not None:
            await cache.put_exact(plan.organization_id, request.project_id, plan.exact_key,
                                  completion.model, version_id, response,
                                  plan.cache.exact.ttl_s)
        if plan.semantic_scope is not None:
            pkey, embedding = plan.semantic_scope
            await cache.put_semantic(
                plan.organization_id, request.project_id, version_id, completion.model, pkey,
                request.semantic_text(), embedding, response, plan.cache.semantic.ttl_s)

    async def _cache_hit_result(self, request: LLMRequest, plan: _Plan, kind: str,
                                hit: CachedResponse, started: float) -> CallResult:
        output = _parse(hit.output) if plan.schema is not None else hit.output
        async with atomic(self.session):  # the run and the entry's hit count: one round trip
            run = await self.runs.insert(self._base_run(
                request, plan, model=plan.requested_model, output=hit.output, success=True,
                tokens_in=hit.tokens_in, tokens_out=hit.tokens_out, cost_usd=Decimal(0),
                latency_ms=(time.perf_counter() - started) * 1000.0, cache_hit=True,
                cache_kind=kind))
            if kind == "exact" and plan.exact_key is not None:
                await ResponseCache(self.session).count_exact_hit(request.project_id,
                                                                  plan.exact_key)
        telemetry.record_cache_hit(kind)
        telemetry.record_llm_call(plan.requested_model, "cache_hit", run.latency_ms, 0, 0, 0.0)
        return CallResult(run=run, output=output, tool_calls=hit.tool_calls,
                          finish_reason=hit.finish_reason)

    # ------------------------------------------------------------------ budget

    async def _reserve(self, request: LLMRequest, plan: _Plan
                       ) -> tuple[BudgetGuard, Reservation | None]:
        guard = BudgetGuard(self.session)
        attempts = STRUCTURED_MAX_ATTEMPTS if plan.schema is not None else 1
        try:
            reservation = await guard.reserve(request.project_id, plan.entries,
                                              request.messages,
                                              request.decoding.get("max_tokens"),
                                              attempts=attempts,
                                              limits=request.project.budget
                                              if request.project else None)
        except BudgetExceeded:
            telemetry.record_budget_rejection()
            raise
        hold_to_bound(request.decoding, reservation)
        return guard, reservation

    # ------------------------------------------------------------------ call

    async def call(self, request: LLMRequest) -> CallResult:
        """Route, consult the cache, reserve the budget, call the provider(s), record the run.
        Raises the errors listed on :meth:`execute`."""
        started = time.perf_counter()
        plan = await self._plan(request)
        hit = await self._cache_lookup(request, plan)
        if hit is not None:
            return await self._cache_hit_result(request, plan, hit[0], hit[1], started)
        guard, reservation = await self._reserve(request, plan)
        completions: list[Completion] = []

        async def one_call(messages: list[dict[str, Any]]) -> Completion:
            completion = await self.gateway.complete(
                messages, candidates=plan.candidates, decoding=request.decoding,
                response_format=request.response_format, tools=request.tools,
                tool_choice=request.tool_choice, credentials=plan.credentials)
            completions.append(completion)
            return completion

        try:
            if plan.schema is not None and not request.tools:
                structured = await complete_structured(one_call, request.messages, plan.schema,
                                                       max_attempts=STRUCTURED_MAX_ATTEMPTS)
                completion, output = structured.completion, structured.parsed
            else:
                completion = await one_call(request.messages)
                output = completion.output
        except BaseException as exc:
            spent = _spent(completions)
            if reservation is not None:
                await guard.settle(reservation, usd=spent[0], tokens=spent[1])
            if not isinstance(exc, GatewayError | StructuredOutputError):
                raise
            await self._record_failure(request, plan, exc, completions, started)
            if isinstance(exc, StructuredOutputError):
                raise BadGateway(f"the model's answer failed the JSON Schema: {exc}") from exc
            raise _gateway_status(exc) from exc
        usd, tokens = _spent(completions)
        # The run, its cache entry and the settlement commit together (under a request
        # connection: one transaction sent in one round trip).
        async with atomic(self.session):
            run = await self.runs.insert(self._base_run(
                request, plan, model=completion.model, output=completion.output, success=True,
                tokens_in=sum(c.tokens_in for c in completions),
                tokens_out=sum(c.tokens_out for c in completions), cost_usd=usd,
                latency_ms=(time.perf_counter() - started) * 1000.0,
                attempts=_attempts(completions)))
            await self._cache_store(request, plan, completion)
            if reservation is not None:
                # Last statement before the commit: the usage row is locked briefly. A request
                # that fails from here on rolls the settlement back with its run, and the
                # reservation stays held (reported as reserved, never as spent).
                await guard.settle_in(self.session, reservation, usd=usd, tokens=tokens)
        for c in completions:
            telemetry.record_llm_call(c.model, "ok", c.latency_ms, c.tokens_in, c.tokens_out,
                                      c.cost_usd)
        return CallResult(run=run, output=output, completion=completion,
                          tool_calls=completion.tool_calls,
                          finish_reason=completion.finish_reason)

    async def _record_failure(self, request: LLMRequest, plan: _Plan, exc: BaseException,
                              completions: list[Completion], started: float) -> None:
        attempts = list(_attempts(completions) or [])
        if isinstance(exc, GatewayError):
            attempts = [*attempts, *exc.attempts]
        usd, _ = _spent(completions)
        failed_model = (completions[-1].model if completions
                        else next((a["model"] for a in reversed(attempts) if a.get("model")),
                                  plan.requested_model))
        telemetry.record_llm_call(failed_model, "error",
                                  (time.perf_counter() - started) * 1000.0, 0, 0, 0.0)
        async with atomic(self.session):  # a durable commit, like every run record
            await self.runs.insert(self._base_run(
                request, plan, model=failed_model,
                output=completions[-1].output if completions else None, success=False,
                error=str(exc)[:2000], tokens_in=sum(c.tokens_in for c in completions),
                tokens_out=sum(c.tokens_out for c in completions), cost_usd=usd,
                latency_ms=(time.perf_counter() - started) * 1000.0,
                attempts=attempts or None))
        # The request-scoped session rolls back on errors; this failed run must survive.
        await self.session.commit()

    # ------------------------------------------------------------------ streaming

    async def stream(self, request: LLMRequest) -> AsyncIterator[dict[str, Any]]:
        """Like :meth:`call`, as events: ``{"type": "delta", "text"}`` ... then one
        ``{"type": "done", "result": CallResult}`` or ``{"type": "error", "status", "message"}``.

        Routing, cache and budget errors are raised before the first event (so the API can
        still answer 4xx); a provider failure after that is an ``error`` event (recorded as a
        failed run). A cache hit streams the stored answer as one delta. With a JSON Schema the
        answer is validated at the end (no retry: the text was already sent)."""
        started = time.perf_counter()
        plan = await self._plan(request)
        hit = await self._cache_lookup(request, plan)
        guard: BudgetGuard | None = None
        reservation: Reservation | None = None
        if hit is None:
            guard, reservation = await self._reserve(request, plan)
        return self._stream_events(request, plan, hit, guard, reservation, started)

    async def _stream_events(self, request: LLMRequest, plan: _Plan,
                             hit: tuple[str, CachedResponse] | None, guard: BudgetGuard | None,
                             reservation: Reservation | None, started: float
                             ) -> AsyncIterator[dict[str, Any]]:
        # The request's session outlives its dependency here (the response streams after the
        # endpoint returned): commit explicitly and always give the connection back.
        try:
            async for event in self._stream_body(request, plan, hit, guard, reservation,
                                                 started):
                yield event
        finally:
            await self.session.close()

    async def _stream_body(self, request: LLMRequest, plan: _Plan,
                           hit: tuple[str, CachedResponse] | None, guard: BudgetGuard | None,
                           reservation: Reservation | None, started: float
                           ) -> AsyncIterator[dict[str, Any]]:
        if hit is not None:
            result = await self._cache_hit_result(request, plan, hit[0], hit[1], started)
            await self.session.commit()
            yield {"type": "delta", "text": hit[1].output}
            yield {"type": "done", "result": result}
            return
        completion: Completion | None = None
        settled = False
        try:
            async for event in self.gateway.stream(
                    request.messages, candidates=plan.candidates, decoding=request.decoding,
                    response_format=request.response_format, tools=request.tools,
                    tool_choice=request.tool_choice, credentials=plan.credentials):
                if isinstance(event, StreamDelta):
                    if event.text:
                        yield {"type": "delta", "text": event.text}
                elif isinstance(event, StreamDone):
                    completion = event.completion
        except GatewayError as exc:
            if reservation is not None and guard is not None:
                await guard.release(reservation)
                settled = True
            await self._record_failure(request, plan, exc, [], started)
            err = _gateway_status(exc)
            yield {"type": "error", "status": err.status_code, "message": err.message}
            return
        finally:
            if not settled and reservation is not None and guard is not None:
                usd, tokens = _spent([completion] if completion else [])
                await guard.settle(reservation, usd=usd, tokens=tokens)
        assert completion is not None  # the gateway always ends with StreamDone
        output: Any = completion.output
        success, error = True, None
        if plan.schema is not None:
            value, problem = validate_output(completion.output, plan.schema)
            if problem is None:
                output = value
            else:
                success, error = False, f"the model's answer failed the JSON Schema: {problem}"
        run = await self.runs.insert(self._base_run(
            request, plan, model=completion.model, output=completion.output, success=success,
            error=error, tokens_in=completion.tokens_in, tokens_out=completion.tokens_out,
            cost_usd=Decimal(str(completion.cost_usd)),
            latency_ms=(time.perf_counter() - started) * 1000.0,
            attempts=_attempts([completion])))
        telemetry.record_llm_call(completion.model, "ok" if success else "error",
                                  completion.latency_ms, completion.tokens_in,
                                  completion.tokens_out, completion.cost_usd)
        if success:
            await self._cache_store(request, plan, completion)
        await self.session.commit()
        if not success:
            yield {"type": "error", "status": 502, "message": error, "run_id": str(run.id)}
            return
        yield {"type": "done", "result": CallResult(
            run=run, output=output, completion=completion, tool_calls=completion.tool_calls,
            finish_reason=completion.finish_reason)}


def environment_of_label(label: str | None) -> tuple[str | None, str]:
    """(environment, label) served for ``label`` (default ``production``, environment prod;
    a label that no environment serves has environment None)."""
    label = label or ENVIRONMENT_LABELS["prod"]
    by_label = {v: k for k, v in ENVIRONMENT_LABELS.items()}
    return by_label.get(label), label


async def serve_choice(session: AsyncSession, principal: Principal, served: Served,
                       environment: str | None, subject_id: str | None
                       ) -> tuple[PromptVersion, Routing]:
    """The version a request for a label is served: the label's version (``served``), or,
    while a canary deployment is active in ``environment``, the canary's candidate for the
    subjects whose sticky hash falls under the canary weight (:func:`promptops.governance.traffic.
    choose_arm`; a request without ``subject_id`` is drawn afresh)."""
    deployment = served.deployment
    if deployment is None:
        return served.version, Routing(subject_id=subject_id, environment=environment)
    arm = choose_arm(deployment.canary_weight, deployment.id, subject_id or uuid.uuid4().hex)
    version = served.version
    if arm == "canary":
        version = await PromptService(session, principal).get_version(
            deployment.candidate_version_id)
    return version, Routing(subject_id=subject_id, environment=environment,
                            deployment_id=deployment.id, arm=arm)


def _spent(completions: list[Completion]) -> tuple[Decimal, int]:
    """Provider-reported usage of the calls made: (USD, prompt + completion tokens)."""
    usd = sum((Decimal(str(c.cost_usd)) for c in completions), Decimal(0))
    return usd, sum(c.tokens_in + c.tokens_out for c in completions)


def _attempts(completions: list[Completion]) -> list[dict[str, Any]] | None:
    out = [a for c in completions for a in c.attempts]
    return out or None


def _parse(text: str) -> Any:
    """A cached structured answer as the JSON value it was validated as, else the text."""
    try:
        return parse_fenced(text)
    except (ValueError, TypeError):
        return text

