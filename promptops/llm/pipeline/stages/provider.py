"""The provider stage, last of the pipeline: the gateway tries the route's candidates in order
(circuit breakers, fallbacks on retryable errors; :mod:`promptops.llm.gateway`).

A slow model never holds a database connection: the call's connection goes back to its pool
once the provider has kept it waiting ``hold_ms`` (a fast answer keeps it; a stream gives it
back at once).
A provider failure becomes :class:`promptops.errors.ProviderFailed` with the provider's message
and a status: 429 stays 429; a provider's 400/404/413/422 (bad request, unknown model, context
window) is passed through as 400, as the LiteLLM proxy does; 503 when no deployment could be
tried (every breaker open); else 502 (a provider's 401/403 included: the deployment's
credentials, not the caller's). ``retryable`` follows the provider's error.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator

from promptops.errors import ProviderFailed
from promptops.llm.errors import GatewayError
from promptops.llm.gateway import LLMGateway
from promptops.llm.pipeline.call import CallOutcome, ModelCall, Next, Route
from promptops.llm.types import StreamDelta, StreamDone


def provider_failed(exc: GatewayError) -> ProviderFailed:
    """The domain error for a failed provider call (status rules in the module docstring)."""
    status = 502
    if exc.status_code == 429:
        status = 429
    elif exc.status_code in (400, 404, 413, 422) and not exc.retryable:
        status = 400
    elif (
        exc.status_code == 503
        and exc.attempts
        and all(a.get("error") == "circuit open" for a in exc.attempts)
    ):
        status = 503
    return ProviderFailed(
        f"model call failed: {exc}",
        status_code=status,
        retryable=exc.retryable,
        attempts=exc.attempts,
    )


class ProviderStage:
    """See the module docstring."""

    name = "provider"

    def __init__(self, gateway: LLMGateway, *, hold_ms: float = 50.0) -> None:
        self.gateway = gateway
        self.hold_s = hold_ms / 1000.0

    async def __call__(self, call: ModelCall, call_next: Next) -> CallOutcome:
        route = call.route
        if route is None:  # pragma: no cover - the route stage always sets it
            raise RuntimeError("the provider stage runs after route")
        if call.request.stream:
            await call.db.release()
            outcome = CallOutcome(model=route.requested_model)
            outcome.deltas = self._stream(call, route, outcome)
            return outcome
        giving_back = call.db.release_later(self.hold_s)
        try:
            completion = await self.gateway.complete(
                call.attempt_messages or call.messages,
                candidates=route.candidates,
                decoding=call.decoding,
                response_format=call.response_format,
                tools=call.request.tools,
                tool_choice=call.request.tool_choice,
                credentials=route.credentials,
            )
        except GatewayError as exc:
            raise provider_failed(exc) from exc
        finally:
            giving_back.cancel()
        call.completions.append(completion)
        outcome = CallOutcome()
        outcome.fill(call.completions)
        return outcome

    async def _stream(
        self, call: ModelCall, route: Route, outcome: CallOutcome
    ) -> AsyncGenerator[str, None]:
        try:
            async for event in self.gateway.stream(
                call.messages,
                candidates=route.candidates,
                decoding=call.decoding,
                response_format=call.response_format,
                tools=call.request.tools,
                tool_choice=call.request.tool_choice,
                credentials=route.credentials,
            ):
                if isinstance(event, StreamDelta):
                    if event.text:
                        yield event.text
                elif isinstance(event, StreamDone):
                    call.completions.append(event.completion)
        except GatewayError as exc:
            raise provider_failed(exc) from exc
        outcome.fill(call.completions)
