"""Request body size limits: 413 with a message naming the size and the limit.

:class:`BodyLimit` is pure ASGI middleware; :func:`api.main.create_app` puts it right inside the
metrics middleware and OUTSIDE the hot path (:mod:`api.hotpath`), which reads the bodies of
``/api/v1/generate`` and ``/v1/chat/completions`` itself, so one limit covers every route.

Two limits (bytes, from :class:`promptops.settings.Settings`):

- ``PROMPTOPS_MAX_BODY_BYTES`` (default 8 MiB) for every request: JSON bodies, prompt
  versions with long templates, chat requests with long contexts or inline images;
- ``PROMPTOPS_MAX_UPLOAD_BYTES`` (default 200 MiB) for dataset imports
  (``POST /api/v1/datasets/{id}/examples``), whose JSONL/CSV files are larger.

Cost per request: one scan of the header list for ``Content-Length``. A declared length over
the limit is answered at once, without reading the body; a body within its declared length is
passed through untouched (the server frames it, never delivering more). Only a body without
``Content-Length`` (chunked) has its bytes counted as it streams, and is cut off with 413 as
soon as it passes the limit.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import api_error_response
from promptops.errors import PayloadTooLarge
from promptops.settings import Settings

__all__ = ["BodyLimit", "BodyTooLarge"]

_UPLOAD_PREFIX = "/api/v1/datasets/"
_UPLOAD_SUFFIX = "/examples"


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` when a streamed body passes the limit: 413. An
    ``HTTPException``, so FastAPI's body parsing re-raises it instead of answering 400, and the
    app answers it through :func:`api.errors.http_error_response` (OpenAI's shape under
    ``/v1``); where nothing inside answers it (the hot path), :class:`BodyLimit` does."""

    def __init__(self, message: str) -> None:
        super().__init__(status_code=PayloadTooLarge.status_code, detail=message)
        self.message = message


def _mib(n: int) -> str:
    return f" ({n / 2**20:g} MiB)" if n >= 2**20 else ""


class BodyLimit:
    """Refuse request bodies over ``max_bytes`` (``upload_bytes`` for dataset imports) with
    413 ``{"detail": "..."}`` (OpenAI's error shape under ``/v1``). See the module docstring
    for what it costs and when bytes are counted."""

    def __init__(self, app: ASGIApp, *, max_bytes: int, upload_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.upload_bytes = upload_bytes

    @classmethod
    def from_settings(cls, app: ASGIApp, settings: Settings) -> BodyLimit:
        return cls(app, max_bytes=settings.max_body_bytes, upload_bytes=settings.max_upload_bytes)

    def limit_for(self, method: str, path: str) -> tuple[int, str]:
        """The limit in bytes for a request, and the setting that holds it."""
        if method == "POST" and path.endswith(_UPLOAD_SUFFIX) and path.startswith(_UPLOAD_PREFIX):
            return self.upload_bytes, "PROMPTOPS_MAX_UPLOAD_BYTES"
        return self.max_bytes, "PROMPTOPS_MAX_BODY_BYTES"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, setting = self.limit_for(scope["method"], scope["path"])
        declared: int | None = None
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = None
                break
        if declared is not None:
            if declared > limit:
                await self._refuse(
                    scope, receive, send, self._message(f"{declared} bytes", limit, setting, scope)
                )
                return
            await self.app(scope, receive, send)
            return
        await self._counted(scope, receive, send, limit, setting)

    async def _counted(
        self, scope: Scope, receive: Receive, send: Send, limit: int, setting: str
    ) -> None:
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(
                        self._message(f"more than {limit} bytes", limit, setting, scope)
                    )
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge as exc:
            if started:
                raise
            await self._refuse(scope, receive, send, exc.message)

    @staticmethod
    def _message(size: str, limit: int, setting: str, scope: Scope) -> str:
        return (
            f"request body too large: {size}, over the limit of {limit} bytes"
            f"{_mib(limit)} for {scope['method']} {scope['path']} (set by {setting})"
        )

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, message: str) -> None:
        request = Request(scope, receive)
        response = await api_error_response(request, PayloadTooLarge(message))
        await response(scope, receive, send)
