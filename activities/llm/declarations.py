"""Typed declaration of the model-call activity (implemented by
:class:`activities.llm.activities.LLMActivities`; see :mod:`activities`)."""

from __future__ import annotations

from temporalio import activity

from activities.llm.types import CallModelInput, CallModelResult

__all__ = ["call_model"]


@activity.defn(name="call_model")
async def call_model(inp: CallModelInput) -> CallModelResult:
    """One model call through the model-call pipeline, idempotent by ``idempotency_key`` (a
    retry returns the recorded run). Fails with the domain error's type (``InvalidInput``,
    ``NotFound``, ``BudgetExceeded``, ``ProviderFailed``...), retryable only when the error is
    (:func:`activities.errors.application_error`)."""
    raise NotImplementedError
