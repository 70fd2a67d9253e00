"""The one mapping of domain errors (:mod:`promptops.errors`) to Temporal's ``ApplicationError``
for activities: ``type`` is the error's class name (``InvalidInput``, ``NotFound``,
``BudgetExceeded``, ``ProviderFailed``...), ``non_retryable`` is ``not error.retryable`` (bad
input is never retried; a provider outage or a database restart is)."""

from __future__ import annotations

from temporalio.exceptions import ApplicationError

from promptops.errors import PromptOpsError


def application_error(exc: PromptOpsError, prefix: str = "") -> ApplicationError:
    """``exc`` as an ``ApplicationError`` (message prefixed with ``prefix``); raise it
    ``from exc``."""
    return ApplicationError(f"{prefix}{exc.message}", type=type(exc).__name__,
                            non_retryable=not exc.retryable)
