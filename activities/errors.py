"""Error types of Temporal failures: every ``ApplicationError.type`` the activities and the
workflows raise, and the one mapping of domain errors (:mod:`promptops.errors`) to
``ApplicationError`` for activities.

Workflows name these types in their retry policies (:mod:`activities.retry_policies`) and
check them on failures; activities raise them. The module lives in ``activities/`` so that both
layers can import it (workflows may import activity types, never the other way round). The API
must not import ``activities``: the review errors it maps to HTTP statuses reach it re-exported
by :mod:`workflows.approval.types`.

Mapping rule (:func:`application_error`): ``type`` is the domain error's class name (the
constants of the first block below), ``non_retryable`` is ``not error.retryable`` (bad input,
a missing row or an exhausted budget is never retried; a provider outage or a database restart
is). ``tests/unit/test_activity_errors.py`` checks that every domain error has its constant.
"""

from __future__ import annotations

from typing import Final

from temporalio.exceptions import ApplicationError

from promptops.errors import PromptOpsError

__all__ = [
    "ALREADY_DECIDED",
    "BUDGET_EXCEEDED",
    "CONFLICT",
    "DOMAIN_ERROR_TYPES",
    "FORBIDDEN",
    "INVALID_INPUT",
    "INVALID_REVIEW",
    "INVALID_STATE",
    "MISCONFIGURED",
    "NOT_A_REVIEWER",
    "NOT_FOUND",
    "NOT_VISIBLE",
    "NOT_WAITING",
    "OWN_VERSION",
    "PARSE_ERROR",
    "PAYLOAD_TOO_LARGE",
    "PROVIDER_FAILED",
    "RATE_LIMITED",
    "RERANKER_LOAD_ERROR",
    "SERVICE_UNAVAILABLE",
    "UNAUTHORIZED",
    "UPDATE_REJECTED",
    "WEBHOOK_FAILED",
    "application_error",
]

# --- domain errors (promptops.errors), by class name --------------------------------------
INVALID_INPUT: Final = "InvalidInput"
UNAUTHORIZED: Final = "Unauthorized"
FORBIDDEN: Final = "Forbidden"
NOT_FOUND: Final = "NotFound"
CONFLICT: Final = "Conflict"
PAYLOAD_TOO_LARGE: Final = "PayloadTooLarge"
RATE_LIMITED: Final = "RateLimited"
BUDGET_EXCEEDED: Final = "BudgetExceeded"
PROVIDER_FAILED: Final = "ProviderFailed"
SERVICE_UNAVAILABLE: Final = "ServiceUnavailable"
MISCONFIGURED: Final = "Misconfigured"
PARSE_ERROR: Final = "ParseError"  # promptops.retrieval.parsing: an InvalidInput
RERANKER_LOAD_ERROR: Final = "RerankerLoadError"  # promptops.retrieval.rerank: Misconfigured

#: The type of every domain error :func:`application_error` can produce.
DOMAIN_ERROR_TYPES: Final = (
    INVALID_INPUT,
    UNAUTHORIZED,
    FORBIDDEN,
    NOT_FOUND,
    CONFLICT,
    PAYLOAD_TOO_LARGE,
    RATE_LIMITED,
    BUDGET_EXCEEDED,
    PROVIDER_FAILED,
    SERVICE_UNAVAILABLE,
    MISCONFIGURED,
    PARSE_ERROR,
    RERANKER_LOAD_ERROR,
)

# --- not domain errors: the state of a workflow's rows --------------------------------------
#: The state forbids the change (a version already Approved or Rejected, a deployment already
#: ended); not retryable.
INVALID_STATE: Final = "InvalidState"
#: The row is not committed yet (a deployment the API is still inserting); retryable.
NOT_VISIBLE: Final = "NotVisible"
#: The approval reminder webhook answered an error or was unreachable; retryable.
WEBHOOK_FAILED: Final = "WebhookFailed"

# --- raised by workflows' update handlers and validators -----------------------------------
#: An operator's canary update (``promote_now``) was refused by the workflow (a failed gate).
UPDATE_REJECTED: Final = "Rejected"
#: Review decisions (``approve`` / ``reject`` updates) the approval workflow refuses; the API
#: answers them with 409, 403, 403, 409 and 422.
NOT_WAITING: Final = "NotWaiting"
OWN_VERSION: Final = "OwnVersion"
NOT_A_REVIEWER: Final = "NotAReviewer"
ALREADY_DECIDED: Final = "AlreadyDecided"
INVALID_REVIEW: Final = "InvalidReview"


def application_error(exc: PromptOpsError, prefix: str = "") -> ApplicationError:
    """``exc`` as an ``ApplicationError``: ``type`` its class name (one of
    :data:`DOMAIN_ERROR_TYPES` for the platform's errors), ``non_retryable`` ``not
    exc.retryable``, the message prefixed with ``prefix`` (e.g. ``"example 17: "``). Raise it
    ``from exc`` so the domain error stays the cause."""
    return ApplicationError(
        f"{prefix}{exc.message}", type=type(exc).__name__, non_retryable=not exc.retryable
    )
