"""The record stage: every call that reached a provider (or a cache) leaves a run record.

On success the run (tokens, cost in USD, latency in ms, trace id, routing decision, attempts,
cache facts) is written together with :attr:`ModelCall.commit_with_run` (the budget settlement,
the cache entry, an exact hit's counter) in ONE ``atomic`` batch: one round trip and one durable
commit. A provider failure (:class:`promptops.errors.ProviderFailed`) is recorded as a failed
run, because canary guards count errors per arm, then propagates; a failure that Temporal will
retry under the same idempotency key is not recorded (the retry must be able to write it).
Errors raised before a provider was asked (bad input, budget, routing) leave no run.

The run goes through the request's :class:`promptops.llm.pipeline.call.RunSink` (default
:class:`RunTable`: the ``runs`` row alone; evaluations add their scores). The Prometheus figures
of each provider call (or cache hit) are counted here too.
"""

from __future__ import annotations

import time
import uuid
from decimal import Decimal
from typing import Any

from promptops import telemetry
from promptops.db.repositories.runs import RunRecord, RunWriter
from promptops.errors import ProviderFailed
from promptops.llm.pipeline.call import CallOutcome, ModelCall, Next, RunSink

#: Longest error message stored on a run.
MAX_ERROR_CHARS = 2000


class RunTable:
    """The default sink: the ``runs`` row (``ON CONFLICT DO NOTHING`` on its idempotency key
    when it has one, so a retried call never writes twice)."""

    async def write(self, call: ModelCall, run: Any, outcome: CallOutcome | None) -> None:
        writer = RunWriter(call.db)
        if run.idempotency_key is not None:
            await writer.insert_once(run, [])
        else:
            await writer.insert(run)


class RecordStage:
    """See the module docstring."""

    name = "record"

    def __init__(self, sink: RunSink | None = None) -> None:
        self.sink = sink or RunTable()

    async def __call__(self, call: ModelCall, call_next: Next) -> CallOutcome:
        try:
            outcome = await call_next(call)
        except ProviderFailed as exc:
            await self._failed(call, exc)
            raise

        async def record(done: CallOutcome) -> None:
            await self._succeeded(call, done)

        async def failed(exc: BaseException) -> None:
            if isinstance(exc, ProviderFailed):
                await self._failed(call, exc)

        return await outcome.then(record, failed)

    def _run(self, call: ModelCall, **values: Any) -> Any:
        request, route = call.request, call.route
        project = call.project
        if project is None:  # pragma: no cover - the resolve stage always sets it
            raise RuntimeError("the record stage runs after resolve")
        link = request.run
        return RunRecord(
            id=uuid.uuid4(),
            project_id=project.id,
            prompt_version_id=call.version.id if call.version is not None else None,
            source=call.source,
            variables=request.variables,
            rendered_input=call.messages,
            subject_id=request.subject_id,
            environment=call.environment,
            deployment_id=call.deployment_id,
            arm=call.arm,
            trace_id=telemetry.current_trace_id(),
            routing=route.decision.as_dict() if route and route.decision else None,
            idempotency_key=link.idempotency_key,
            workflow_id=link.workflow_id,
            evaluation_id=link.evaluation_id,
            example_id=link.example_id,
            retrieval=call.retrieval,
            latency_ms=(time.perf_counter() - call.started) * 1000.0,
            **values,
        )

    async def _write(self, call: ModelCall, run: Any, outcome: CallOutcome | None) -> None:
        if call.request.after_provider is not None:
            call.request.after_provider()
        sink = call.request.sink or self.sink
        async with call.db.atomic():
            await sink.write(call, run, outcome)
            for write in call.commit_with_run:
                await write()

    async def _succeeded(self, call: ModelCall, outcome: CallOutcome) -> None:
        run = self._run(
            call,
            model=outcome.model,
            output=outcome.text,
            success=outcome.success,
            error=outcome.error,
            tokens_in=outcome.tokens_in,
            tokens_out=outcome.tokens_out,
            cost_usd=outcome.cost_usd,
            attempts=outcome.attempts,
            cache_hit=outcome.cache_kind is not None,
            cache_kind=outcome.cache_kind,
        )
        await self._write(call, run, outcome)
        outcome.run = run
        if outcome.cache_kind is not None:
            telemetry.record_llm_call(outcome.model, "cache_hit", run.latency_ms, 0, 0, 0.0)
            return
        for c in call.completions:
            telemetry.record_llm_call(
                c.model,
                "ok" if outcome.success else "error",
                c.latency_ms,
                c.tokens_in,
                c.tokens_out,
                c.cost_usd,
            )

    async def _failed(self, call: ModelCall, exc: ProviderFailed) -> None:
        route = call.route
        attempts = [*(a for c in call.completions for a in c.attempts), *exc.attempts]
        failed_model = (
            call.completions[-1].model
            if call.completions
            else next(
                (a["model"] for a in reversed(attempts) if a.get("model")),
                route.requested_model if route else "",
            )
        )
        elapsed_ms = (time.perf_counter() - call.started) * 1000.0
        telemetry.record_llm_call(failed_model, "error", elapsed_ms, 0, 0, 0.0)
        if exc.retryable and call.request.run.idempotency_key is not None:
            return  # Temporal retries the call under the same key: it must stay writable
        usd, _ = call.spent()
        run = self._run(
            call,
            model=failed_model,
            output=call.completions[-1].output if call.completions else None,
            success=False,
            error=str(exc)[:MAX_ERROR_CHARS],
            tokens_in=sum(c.tokens_in for c in call.completions),
            tokens_out=sum(c.tokens_out for c in call.completions),
            cost_usd=usd if usd else Decimal(0),
            attempts=attempts or None,
        )
        call.commit_with_run.clear()  # nothing of a failed call lands with its record
        await self._write(call, run, None)
