"""Domain errors of the platform: what went wrong, in terms a caller can act on.

The core (the model-call pipeline, services, repositories' callers) raises these; each transport
maps them exactly once:

- HTTP: :func:`api.errors.install_handlers` answers ``status_code`` with ``message`` (the field
  in ``loc``, or OpenAI's error shape under ``/v1``) and ``headers``;
- Temporal activities: :func:`activities.errors.application_error` turns one into an
  ``ApplicationError`` whose ``type`` is the class name and whose ``non_retryable`` is
  ``not retryable``;
- the CLI prints ``message`` without a traceback.

``field`` names the request field at fault (dotted path, e.g. ``decoding.max_tokens``) when
there is one. ``retryable`` says whether the same call may succeed later unchanged (a provider
outage, a database restart), as opposed to bad input or a refused permission. Modelled on
polar's ``PolarError`` (``server/polar/exceptions.py``), which carries its status code.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "BudgetExceeded",
    "Conflict",
    "Forbidden",
    "InvalidInput",
    "Misconfigured",
    "NotFound",
    "PayloadTooLarge",
    "PromptOpsError",
    "ProviderFailed",
    "RateLimited",
    "ServiceUnavailable",
    "Unauthorized",
]


class PromptOpsError(Exception):
    """Base of every domain error. ``status_code``: the HTTP status a transport answers with;
    ``retryable``: whether retrying the same call unchanged may succeed; ``headers``: extra
    HTTP response headers (``Retry-After`` on a 429)."""

    status_code: int = 400
    retryable: bool = False
    headers: dict[str, str] | None = None

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidInput(PromptOpsError):
    """The request is well-formed but its content cannot be served (unknown model or policy,
    bad template variables, a schema that is not a JSON Schema): 422."""

    status_code = 422


class Unauthorized(PromptOpsError):
    """No valid API key: 401."""

    status_code = 401


class Forbidden(PromptOpsError):
    """The caller's role or scope does not allow this: 403."""

    status_code = 403


class NotFound(PromptOpsError):
    """The thing does not exist or is not the caller's to see: 404."""

    status_code = 404


class Conflict(PromptOpsError):
    """The request conflicts with the current state (duplicate name, wrong status): 409."""

    status_code = 409


class PayloadTooLarge(PromptOpsError):
    """The request body exceeds the configured limit: 413."""

    status_code = 413


class RateLimited(PromptOpsError):
    """Too many requests: 429 with ``Retry-After`` (seconds) and ``X-RateLimit-Limit`` /
    ``-Remaining``."""

    status_code = 429
    retryable = True

    def __init__(
        self,
        message: str,
        *,
        limit: int,
        remaining: int,
        retry_after_s: int,
        field: str | None = None,
    ) -> None:
        super().__init__(message, field=field)
        self.headers = {
            "Retry-After": str(retry_after_s),
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": str(remaining),
        }


class BudgetExceeded(PromptOpsError):
    """The call's maximum usage does not fit in one of its project's budgets; the message
    names the budget. 429, not retryable: the budget frees up only when its period ends or an
    Admin raises it."""

    status_code = 429


class ProviderFailed(PromptOpsError):
    """The model call failed at the provider (after fallbacks): 502 by default; the pipeline
    sets 400 for a provider's refusal of the request, 429 for its rate limit and 503 when every
    deployment's breaker was open. ``retryable`` follows the provider's error; ``attempts``
    lists the deployments tried (``{"model", "error", "status"}``)."""

    status_code = 502

    def __init__(
        self,
        message: str,
        *,
        status_code: int = 502,
        retryable: bool = False,
        attempts: list[dict[str, Any]] | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(message, field=field)
        self.status_code = status_code
        self.retryable = retryable
        self.attempts = list(attempts or [])


class ServiceUnavailable(PromptOpsError):
    """A service the platform needs (the database, Temporal) cannot be reached right now: 503,
    retryable."""

    status_code = 503
    retryable = True


class Misconfigured(PromptOpsError):
    """The server's own configuration or stored state is unusable (a provider key sealed with
    another encryption key): 500, not the caller's fault and not retryable."""

    status_code = 500
