"""Domain errors raised by services and their HTTP mapping (4xx with a message naming the field)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse


class APIError(Exception):
    status_code = 400

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class Unauthorized(APIError):
    status_code = 401


class Forbidden(APIError):
    status_code = 403


class NotFound(APIError):
    status_code = 404


class Conflict(APIError):
    status_code = 409


class Unprocessable(APIError):
    status_code = 422


class Unavailable(APIError):
    status_code = 503


def install_handlers(app: FastAPI) -> None:
    @app.exception_handler(APIError)
    async def _handle(_: Request, exc: APIError) -> JSONResponse:
        detail: list[dict[str, object]] | str
        if exc.field:
            loc = ["body", *exc.field.split(".")]
            detail = [{"loc": loc, "msg": exc.message, "type": type(exc).__name__.lower()}]
        else:
            detail = exc.message
        headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
        return JSONResponse(status_code=exc.status_code, content={"detail": detail},
                            headers=headers)
