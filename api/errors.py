"""The HTTP mapping of the domain errors (:mod:`promptops.errors`): status, a message naming the
field, and OpenAI's error shape under ``/v1``. A database outage that reaches a route as a raw
driver error is answered as :class:`promptops.errors.ServiceUnavailable` (503) too."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from promptops.db.errors import DRIVER_ERRORS, database_unavailable, unavailable
from promptops.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    PromptOpsError,
    RateLimited,
    ServiceUnavailable,
    Unauthorized,
)

#: The API's names for the domain errors of :mod:`promptops.errors` (one hierarchy: services,
#: the pipeline and activities raise the same classes; this module maps them to HTTP once).
APIError = PromptOpsError
Unprocessable = InvalidInput
Unavailable = ServiceUnavailable
__all__ = [
    "APIError",
    "Conflict",
    "Forbidden",
    "NotFound",
    "RateLimited",
    "Unauthorized",
    "Unavailable",
    "Unprocessable",
    "api_error_response",
    "database_error_response",
    "http_error_response",
    "install_handlers",
    "openai_error",
    "validation_error_response",
]

logger = logging.getLogger(__name__)


async def api_error_response(request: Request, exc: APIError) -> JSONResponse:
    """The response for a domain error: ``{"detail": ...}`` (FastAPI's shape, the field in
    ``loc``), or OpenAI's error shape under ``/v1``."""
    if _openai_path(request.url.path):
        return openai_error(
            exc.status_code,
            exc.message,
            param=exc.field,
            error_type=type(exc).__name__,
            headers=exc.headers,
        )
    detail: list[dict[str, object]] | str
    if exc.field:
        loc = ["body", *exc.field.split(".")]
        detail = [{"loc": loc, "msg": exc.message, "type": type(exc).__name__.lower()}]
    else:
        detail = exc.message
    headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
    if exc.headers:
        headers = {**(headers or {}), **exc.headers}
    return JSONResponse(status_code=exc.status_code, content={"detail": detail}, headers=headers)


async def validation_error_response(request: Request, exc: RequestValidationError) -> JSONResponse:
    """422 for a request that failed validation: FastAPI's own answer (``{"detail": [{"loc",
    "msg", "type", "input"}]}``), or OpenAI's error shape under ``/v1``. An ``input`` that JSON
    cannot carry (NaN, infinity, a lone surrogate: refused for exactly that reason) is echoed
    as its ASCII ``repr``."""
    if not _openai_path(request.url.path):
        return JSONResponse(
            status_code=422, content={"detail": _encodable(jsonable_encoder(exc.errors()))}
        )
    first = exc.errors()[0] if exc.errors() else {}
    param = ".".join(str(p) for p in first.get("loc", ())[1:]) or None
    return openai_error(
        422,
        f"{param or 'request'}: {first.get('msg', 'invalid request')}",
        param=param,
        error_type="invalid_request_error",
    )


async def database_error_response(request: Request, exc: Exception) -> JSONResponse:
    """503 for a driver error that means the database is unavailable
    (:func:`promptops.db.errors.database_unavailable`), in the shape of
    :func:`api_error_response` ("the database is unavailable (...); retry in a few seconds");
    the driver's own message, which names hosts and sockets, goes to the log only. Any other
    driver error is raised again: Starlette answers it with a 500, as before."""
    if not database_unavailable(exc):
        raise exc
    logger.warning(
        "%s %s: database unavailable: %s",
        request.method,
        request.url.path,
        " ".join(str(exc).split()),
    )
    return await api_error_response(request, unavailable(exc))


async def http_error_response(request: Request, exc: HTTPException) -> Response:
    """Starlette's own HTTP errors (404 for an unknown path, 405, FastAPI's 400 for a body it
    cannot parse): FastAPI's answer ``{"detail": ...}``, or OpenAI's error shape under
    ``/v1``."""
    if _openai_path(request.url.path):
        return openai_error(
            exc.status_code, str(exc.detail), headers=dict(exc.headers) if exc.headers else None
        )
    return await http_exception_handler(request, exc)


def _encodable(errors: Sequence[Any]) -> list[Any]:
    out: list[Any] = []
    for error in errors:
        try:
            json.dumps(error, allow_nan=False, ensure_ascii=False).encode("utf-8")
        except (ValueError, UnicodeEncodeError):
            error = {**error, "input": ascii(error.get("input"))}
        out.append(error)
    return out


def install_handlers(app: FastAPI) -> None:
    app.add_exception_handler(APIError, api_error_response)  # type: ignore[arg-type]
    app.add_exception_handler(HTTPException, http_error_response)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, validation_error_response)  # type: ignore[arg-type]
    for driver_error in DRIVER_ERRORS:
        app.add_exception_handler(driver_error, database_error_response)


def _openai_path(path: str) -> bool:
    return path == "/v1" or path.startswith("/v1/")


def openai_error(
    status_code: int,
    message: str,
    *,
    param: str | None = None,
    error_type: str = "api_error",
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """An error in the OpenAI API's shape (``{"error": {"message", "type", "param", "code"}}``),
    which the official SDKs parse into their exception's message."""
    kinds = {
        400: "invalid_request_error",
        401: "authentication_error",
        403: "permission_error",
        404: "not_found_error",
        409: "conflict_error",
        422: "invalid_request_error",
        429: "rate_limit_error",
    }
    headers = {
        **({"WWW-Authenticate": "Bearer"} if status_code == 401 else {}),
        **(headers or {}),
    } or None
    return JSONResponse(
        status_code=status_code,
        headers=headers,
        content={
            "error": {
                "message": message,
                "type": kinds.get(status_code, error_type),
                "param": param,
                "code": status_code,
            }
        },
    )
