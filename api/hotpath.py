"""The gateway's hot path: ``POST /api/v1/generate`` and ``POST /v1/chat/completions`` served
without FastAPI's per-request machinery and without SQLAlchemy.

Issue 4 sets the gateway's overhead at <= 3 ms (P50) over a direct call to the provider, with
the run record and the budget reservation included. Measured on a 2-core box, FastAPI's
routing, dependency solving, body and response-model handling cost about 1.2 ms per request,
and an ``AsyncSession`` (checkout, greenlet bridge, ``BEGIN``/``COMMIT``, reset on return) about
0.5 ms more: together most of the budget. So this ASGI middleware, placed right inside the metrics
and tracing middleware and before Starlette's own middleware and router, answers those two routes
itself:

1. the body is parsed once (JSON, then the route's own pydantic model: the same schema as the
   OpenAPI document; FastAPI's 422 shape on errors);
2. the caller is authenticated by :func:`api.deps.get_principal` (the same code, the principal
   cache, the key's rate limit) and must be an Editor;
3. the route's own endpoint function (:func:`api.routers.runs.generate`,
   :func:`api.routers.openai_compat.chat_completions`) runs with a
   :class:`promptops.db.driver.RequestConnection` in place of the request's session: the raw
   statements of the path (serving lookup, provider key, exact cache, run insert, budget
   settlement) run on an autocommit psycopg connection, the run insert and the settlement in
   one transaction sent in one round trip, and any ORM code the request still reaches (policy
   routing, error explanations) gets a session of its own;
4. errors become the same responses as FastAPI's handlers give (:mod:`api.errors`).

Streaming requests (``"stream": true``), bodies that are not JSON, and every other route go to
the FastAPI app unchanged. ``PROMPTOPS_HOT_PATH=0`` sends everything there.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic_core import to_json
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from api.deps import get_principal
from api.errors import APIError, api_error_response, validation_error_response
from api.routers import openai_compat, runs
from api.schemas.openai_compat import ChatCompletionRequest
from api.schemas.runs import GenerateRequest, RunResult
from promptops.db.driver import RequestConnection, request_pool
from promptops.db.models import Role

logger = logging.getLogger(__name__)

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

_RUN_RESULT: TypeAdapter[RunResult] = TypeAdapter(RunResult)


async def _generate(request: Request, db: RequestConnection, body: Any) -> bytes:
    state = request.app.state
    result = await runs.generate(body, db, await _editor(request, db), state.gateway,
                                 state.secret_box)
    return _RUN_RESULT.dump_json(_RUN_RESULT.validate_python(result))


async def _chat_completions(request: Request, db: RequestConnection, body: Any) -> bytes:
    state = request.app.state
    result = await openai_compat.chat_completions(
        body, request, db, await _editor(request, db), state.gateway, state.secret_box)
    return to_json(result)


async def _editor(request: Request, db: RequestConnection) -> Any:
    principal = await get_principal(request, db)  # type: ignore[arg-type]
    principal.require(Role.EDITOR)
    return principal


#: path -> (body model, handler producing the JSON answer)
ROUTES: dict[str, tuple[type[BaseModel], Callable[..., Awaitable[bytes]]]] = {
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

    def __init__(self, app: Any, *, enabled: bool = True) -> None:
        self.app = app
        self.enabled = enabled

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = (ROUTES.get(scope["path"])
                 if scope["type"] == "http" and scope["method"] == "POST" and self.enabled
                 else None)
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
                    body=data) from None
            state = request.app.state
            async with RequestConnection(await request_pool(state.session_factory.kw["bind"]),
                                         state.session_factory,
                                         durable=state.settings.run_commit == "durable") as db:
                try:
                    content = await handler(request, db, body)
                    await db.commit()
                except BaseException:
                    await db.rollback()
                    raise
            response = Response(content, media_type="application/json")
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
            return value.split(b";", 1)[0].strip().lower() == b"application/json"
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

    async def replayed() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed

