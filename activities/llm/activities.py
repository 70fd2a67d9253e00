"""Model calls for workflows: the activity later workflows (optimisation trials, LLM judges,
editors, graph nodes) call, through the same model-call pipeline as the API (routing, budget,
caches when asked, structured outputs, run record). Retries belong to Temporal; the call is
idempotent: its run is keyed by ``idempotency_key`` (default ``{workflow_id}:{activity_id}``),
and a retry after the run was recorded returns it without calling the model again."""

from __future__ import annotations

import uuid
from typing import Any

from temporalio import activity

from activities.errors import application_error
from activities.llm.types import CallModelInput, CallModelResult
from activities.outages import database_outage_retryable
from promptops.db.connection import SessionSQL
from promptops.db.models import Role
from promptops.db.repositories.runs import RunRepository
from promptops.db.repositories.serving import ServingRepository
from promptops.db.session import get_session_factory
from promptops.errors import NotFound, PromptOpsError, ServiceUnavailable
from promptops.governance.auth import Principal
from promptops.llm.pipeline import CallRequest, Pipeline, PromptTarget, RunLink
from promptops.llm.structured import parse_fenced


class LLMActivities:
    """Built with the process's :class:`promptops.llm.pipeline.Pipeline` and the database
    URL (to read back a call already recorded)."""

    def __init__(self, database_url: str, pipeline: Pipeline) -> None:
        self._sessions = get_session_factory(database_url)
        self._pipeline = pipeline

    @activity.defn(name="call_model")
    @database_outage_retryable
    async def call_model(self, inp: CallModelInput) -> CallModelResult:
        """One model call (see :class:`activities.llm.types.CallModelInput`). Fails with an
        ``ApplicationError`` whose type is the domain error's name (``InvalidInput``,
        ``NotFound``, ``BudgetExceeded``, ``ProviderFailed``...), non-retryable unless the
        error is (a provider outage, the database restarting)."""
        info = activity.info()
        key = inp.idempotency_key or f"{info.workflow_id}:{info.activity_id}"
        project_id = uuid.UUID(inp.project_id)
        async with self._sessions() as session:
            recorded = await RunRepository(session).by_idempotency_key(key)
            if recorded is not None:
                return _result(
                    recorded,
                    _stored_output(recorded.output, bool(inp.schema or inp.response_format)),
                )
            try:
                project = await ServingRepository(SessionSQL(session)).project(project_id)
            except LookupError as exc:
                raise application_error(NotFound(f"project {inp.project_id} not found")) from exc
        principal = Principal(
            organization_id=project.organization_id,
            actor=f"workflow:{info.workflow_id}",
            request_id=key[:64],
            role=Role.EDITOR,
            project_id=project_id,
        )
        target = None
        if inp.prompt_version_id or inp.prompt_id or inp.prompt:
            target = PromptTarget(
                version_id=uuid.UUID(inp.prompt_version_id) if inp.prompt_version_id else None,
                prompt_id=uuid.UUID(inp.prompt_id) if inp.prompt_id else None,
                project_id=project_id if inp.prompt else None,
                prompt_name=inp.prompt,
                label=inp.label,
            )
        request = CallRequest(
            source=inp.source,
            principal=principal,
            target=target,
            project=project,
            messages=list(inp.messages),
            variables=dict(inp.variables),
            model=inp.model,
            decoding=dict(inp.decoding),
            schema=inp.schema,
            response_format=inp.response_format,
            subject_id=inp.subject_id,
            cache=inp.cache,
            run=RunLink(idempotency_key=key, workflow_id=info.workflow_id),
        )
        try:
            outcome = await self._pipeline.run(request)
        except ServiceUnavailable:
            raise  # retried by Temporal (database_outage_retryable maps it)
        except PromptOpsError as exc:
            raise application_error(exc) from exc
        return _result(outcome.run, outcome.output)


def _result(run: Any, output: Any) -> CallModelResult:
    return CallModelResult(
        run_id=str(run.id),
        model=run.model,
        output=output,
        text=run.output or "",
        tokens_in=run.tokens_in,
        tokens_out=run.tokens_out,
        cost_usd=float(run.cost_usd or 0),
        latency_ms=float(run.latency_ms or 0),
        cache_hit=bool(run.cache_hit),
        success=bool(run.success),
        error=run.error,
    )


def _stored_output(text: str | None, structured: bool) -> Any:
    """A recorded answer as the call returned it: the parsed JSON value under a schema."""
    if not structured or text is None:
        return text or ""
    try:
        return parse_fenced(text)
    except (ValueError, TypeError):
        return text
