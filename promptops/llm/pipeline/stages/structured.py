"""The structured-output stage: a call with a JSON Schema (and no tools) gets an answer valid
against it, or fails.

Unary calls go through :func:`promptops.llm.structured.complete_structured`: an invalid answer
is asked again with the validation error fed back, at most ``max_attempts`` provider calls in
all (the budget reserved for all of them); after the last one the call fails with
:class:`promptops.errors.ProviderFailed` answered 422 on ``schema`` (the request asked for a shape
the model did not produce: not a server error) and is recorded as a failed run. A streamed
answer was already sent when it ends, so it is validated then without a retry: an invalid one
is recorded as a failed run and reported (``CallOutcome.success`` False).
"""

from __future__ import annotations

from typing import Any

from promptops.errors import ProviderFailed
from promptops.llm.pipeline.call import CallOutcome, ModelCall, Next
from promptops.llm.structured import (
    DEFAULT_MAX_ATTEMPTS,
    StructuredOutputError,
    complete_structured,
    validate_output,
)
from promptops.llm.types import Completion

#: HTTP status of a call whose answers never met its JSON Schema.
SCHEMA_NOT_MET = 422


class StructuredOutputStage:
    """See the module docstring."""

    name = "structured"

    def __init__(self, max_attempts: int = DEFAULT_MAX_ATTEMPTS) -> None:
        self.max_attempts = max_attempts

    async def __call__(self, call: ModelCall, call_next: Next) -> CallOutcome:
        schema = call.schema
        if schema is None or call.request.tools:
            return await call_next(call)
        if call.request.stream:

            async def validate(outcome: CallOutcome) -> None:
                value, problem = validate_output(outcome.text, schema)
                if problem is None:
                    outcome.output = value
                else:
                    outcome.success = False
                    outcome.error = f"the model's answer failed the JSON Schema: {problem}"

            outcome = await call_next(call)
            return await outcome.then(validate)

        outcomes: list[CallOutcome] = []

        async def one_call(messages: list[dict[str, Any]]) -> Completion:
            call.attempt_messages = messages
            outcome = await call_next(call)
            outcomes.append(outcome)
            if outcome.completion is None:  # pragma: no cover - the provider stage sets it
                raise RuntimeError("the structured-output stage needs a provider answer")
            return outcome.completion

        try:
            result = await complete_structured(
                one_call, call.messages, schema, max_attempts=self.max_attempts
            )
        except StructuredOutputError as exc:
            raise ProviderFailed(
                f"the model's answer failed the JSON Schema: {exc}",
                status_code=SCHEMA_NOT_MET,
                field="schema",
            ) from exc
        finally:
            call.attempt_messages = None
        outcome = outcomes[-1]
        outcome.fill(call.completions)
        outcome.output = result.parsed
        return outcome
