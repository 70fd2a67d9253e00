"""The gateway's hot path: ``POST /api/v1/generate`` and ``POST /v1/chat/completions`` served
without FastAPI's per-request machinery. A transport and nothing more:

1. parse: the body once (JSON, then the route's own pydantic model: the same schema as the
   OpenAPI document; FastAPI's 422 shape on errors);
2. authenticate: :func:`api.deps.authorize` (the same function ``require_role`` calls: the
   principal cache, the key's rate limit), role Editor;
3. call the service: :class:`api.services.serving.ServingService`, which the FastAPI routes
   call too (the model-call pipeline on its own autocommit connection);
4. serialise: the same response builders as the routes (:func:`api.schemas.runs.run_result`,
   :func:`api.schemas.openai_compat.completion_object`); errors through the same handlers
   (:mod:`api.errors`).

Why it exists: measured on a 2-core box, FastAPI's routing, dependency solving, body and
response-model handling cost about 1.2 ms per request, most of the gateway's overhead budget.
Streaming requests (``"stream": true``), bodies that are not JSON, and every other route go to
the FastAPI app unchanged. ``PROMPTOPS_HOT_PATH=0`` sends everything there.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic_core import to_json
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.deps import authorize
from api.errors import APIError, api_error_response, validation_error_response
from api.schemas.openai_compat import ChatCompletionRequest, completion_object
from api.schemas.runs import GenerateRequest, RunResult, run_result
from api.services.serving import ServingService
from promptops.db.errors import database_errors
from promptops.db.models import Role

logger = logging.getLogger(__name__)

_RUN_RESULT: TypeAdapter[RunResult] = TypeAdapter(RunResult)


async def _generate(request: Request, body: Any) -> bytes:
    service = ServingService(request.app.state.pipeline, await authorize(request, Role.EDITOR))
    result = run_result(await service.generate(body))
    return _RUN_RESULT.dump_json(_RUN_RESULT.validate_python(result))


async def _chat_completions(request: Request, body: Any) -> bytes:
    service = ServingService(request.app.state.pipeline, await authorize(request, Role.EDITOR))
    outcome = await service.chat_completion(body, request.headers.get("openai-project"))
    return to_json(completion_object(outcome, int(time.time())))


#: path -> (body model, handler producing the JSON answer)
ROUTES: dict[str, tuple[type[BaseModel], Callable[[Request, Any], Awaitable[bytes]]]] = {
    "/api/v1/generate": (GenerateRequest, _generate),
    "/v1/chat/completions": (ChatCompletionRequest, _chat_completions),
}


@dataclass(frozen=True)
class _Route:
    """What :func:`promptops.telemetry._route_template` reads off ``scope["route"]``."""

    path_format: str


_ROUTE_TEMPLATES = {path: _Route(path) for path in ROUTES}


class HotPath:
    """Pure ASGI middleware serving :data:`ROUTES` (see the module docstring); everything else
    goes to ``app``. :func:`api.main.create_app` puts it right inside the metrics middleware,
    before Starlette's own stack; it answers an unexpected error with a plain 500, as
    Starlette's ``ServerErrorMiddleware`` does."""

    def __init__(self, app: ASGIApp, *, enabled: bool = True) -> None:
        self.app = app
        self.enabled = enabled

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = (
            ROUTES.get(scope["path"])
            if scope["type"] == "http" and scope["method"] == "POST" and self.enabled
            else None
        )
        if route is None or not _json_content(scope):
            await self.app(scope, receive, send)
            return
        raw = await _read_body(receive)
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError:
            data = None
        if not isinstance(data, dict) or data.get("stream"):
            # Streams, and bodies FastAPI must answer itself (its 422 names the JSON error).
            await self.app(scope, _replay(raw, receive), send)
            return
        model, handler = route
        scope["route"] = _ROUTE_TEMPLATES[scope["path"]]  # the metrics' route label
        request = Request(scope, receive)
        response: Response
        try:
            try:
                body = model.model_validate(data)
            except ValidationError as exc:
                raise RequestValidationError(
                    [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)],
                    body=data,
                ) from None
            with database_errors():  # an outage anywhere on the path: 503, not 500
                answer = await handler(request, body)
            response = Response(answer, media_type="application/json")
        except APIError as exc:
            response = await api_error_response(request, exc)
        except RequestValidationError as exc:
            response = await validation_error_response(request, exc)
        except Exception:
            # What Starlette's ServerErrorMiddleware does for the other routes.
            logger.exception("unhandled error on %s", scope["path"])
            response = PlainTextResponse("Internal Server Error", status_code=500)
        await response(scope, receive, send)


def _json_content(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"content-type":
            return bool(value.split(b";", 1)[0].strip().lower() == b"application/json")
    return False


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the app the body already read, then defers to the server's."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed
