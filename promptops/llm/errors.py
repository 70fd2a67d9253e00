"""Errors of the LLM gateway: a failed provider call, classified as retryable or not, and the
redaction applied before a provider's message is shown to other tenants."""

from __future__ import annotations

import re
from typing import Any

__all__ = ["GatewayError", "UnknownModelError", "redact_secrets"]


class GatewayError(RuntimeError):
    """A failed LLM call. ``retryable`` is True for 429, 5xx, timeouts and connection errors.
    ``attempts`` lists the candidates tried, as in :attr:`Completion.attempts`."""

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        status_code: int | None = None,
        attempts: list[dict[str, Any]] | None = None,
    ):
        super().__init__(message)
        self.retryable = retryable
        self.status_code = status_code
        self.attempts: list[dict[str, Any]] = list(attempts or [])


class UnknownModelError(GatewayError):
    def __init__(self, model: str, known: list[str]):
        super().__init__(
            f"unknown model {model!r}; configured models: {', '.join(known) or '(none)'}",
            retryable=False,
            status_code=400,
        )


_SECRET_PATTERN = re.compile(
    r"(?i)(bearer\s+\S+|\b(?:sk|po|pk|rk)[-_][A-Za-z0-9_\-]{6,}|"
    r"(?:api[_-]?key|authorization|token)[\"']?\s*[:=]\s*[\"']?[^\s\"',}]+)"
)


def redact_secrets(text: str, *, limit: int = 500) -> str:
    """``text`` with bearer tokens, ``sk-``/``po_``-style keys and ``api_key=...`` values
    replaced by ``[redacted]``, cut to ``limit`` characters."""
    return _SECRET_PATTERN.sub("[redacted]", text)[:limit]
