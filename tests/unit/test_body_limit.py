"""api/limits.py: request bodies over the limit are answered 413 naming the size and the limit,
before the app reads them when Content-Length says so, as soon as a chunked body passes it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from starlette.types import Message, Receive, Scope, Send

from api.errors import install_handlers
from api.limits import BodyLimit, BodyTooLarge
from promptops.settings import Settings

LIMIT = 1000
UPLOAD_LIMIT = 5000


class Recorder:
    """An ASGI app that reads the whole body and answers 200 with its length."""

    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.calls += 1
        size = 0
        while True:
            message = await receive()
            size += len(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = json.dumps({"received": size}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _client(app: Any) -> httpx.AsyncClient:
    limited = BodyLimit(app, max_bytes=LIMIT, upload_bytes=UPLOAD_LIMIT)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=limited), base_url="http://t")


async def _chunks(total: int, size: int = 100) -> AsyncIterator[bytes]:
    for start in range(0, total, size):
        yield b"x" * min(size, total - start)


async def test_a_declared_length_over_the_limit_is_refused_without_reading_the_body() -> None:
    app = Recorder()
    async with _client(app) as client:
        response = await client.post("/api/v1/generate", content=b"x" * (LIMIT + 1))
    assert response.status_code == 413
    detail = response.json()["detail"]
    assert f"{LIMIT + 1} bytes" in detail and f"limit of {LIMIT} bytes" in detail
    assert "POST /api/v1/generate" in detail and "PROMPTOPS_MAX_BODY_BYTES" in detail
    assert app.calls == 0


async def test_a_body_within_the_limit_reaches_the_app_untouched() -> None:
    app = Recorder()
    async with _client(app) as client:
        response = await client.post("/api/v1/generate", content=b"x" * LIMIT)
    assert response.status_code == 200 and response.json() == {"received": LIMIT}


async def test_a_chunked_body_is_cut_off_once_it_passes_the_limit() -> None:
    app = Recorder()
    async with _client(app) as client:
        response = await client.post("/api/v1/projects", content=_chunks(LIMIT + 500))
        small = await client.post("/api/v1/projects", content=_chunks(LIMIT))
    assert response.status_code == 413
    assert f"more than {LIMIT} bytes" in response.json()["detail"]
    assert small.status_code == 200 and small.json() == {"received": LIMIT}


async def test_dataset_imports_have_the_larger_upload_limit() -> None:
    app = Recorder()
    path = "/api/v1/datasets/0b7c8a57-3c5e-4d53-9f57-9e9a4f3a1c11/examples"
    async with _client(app) as client:
        within = await client.post(path, content=b"x" * UPLOAD_LIMIT)
        over = await client.post(path, content=b"x" * (UPLOAD_LIMIT + 1))
        other_route = await client.post("/api/v1/datasets", content=b"x" * (LIMIT + 1))
    assert within.status_code == 200
    assert over.status_code == 413 and "PROMPTOPS_MAX_UPLOAD_BYTES" in over.json()["detail"]
    assert other_route.status_code == 413


async def test_under_v1_the_answer_has_openais_error_shape() -> None:
    async with _client(Recorder()) as client:
        response = await client.post("/v1/chat/completions", content=b"x" * (LIMIT + 1))
    assert response.status_code == 413
    error = response.json()["error"]
    assert error["code"] == 413 and "request body too large" in error["message"]


async def test_a_fastapi_route_reading_a_chunked_body_answers_413_not_400() -> None:
    app = FastAPI()
    install_handlers(app)

    @app.post("/api/v1/things")
    async def things(body: dict[str, Any]) -> dict[str, Any]:
        return body

    @app.post("/v1/things")
    async def v1_things(request: Request) -> dict[str, int]:
        return {"size": len(await request.body())}

    payload = json.dumps({"text": "x" * LIMIT}).encode()

    async def stream() -> AsyncIterator[bytes]:
        yield payload

    async with _client(app) as client:
        routed = await client.post(
            "/api/v1/things", content=stream(), headers={"content-type": "application/json"}
        )
        v1 = await client.post("/v1/things", content=_chunks(LIMIT + 1))
    assert routed.status_code == 413 and "request body too large" in routed.json()["detail"]
    assert v1.status_code == 413 and v1.json()["error"]["code"] == 413


async def test_an_answer_already_started_is_not_replaced() -> None:
    async def streams_first(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        while (await receive()).get("more_body"):
            pass

    limited = BodyLimit(streams_first, max_bytes=LIMIT, upload_bytes=UPLOAD_LIMIT)
    scope: Scope = {"type": "http", "method": "POST", "path": "/x", "headers": []}
    messages = iter([{"type": "http.request", "body": b"x" * (LIMIT + 1), "more_body": True}])
    sent: list[Message] = []

    async def receive() -> Message:
        return next(messages)

    async def send(message: Message) -> None:
        sent.append(message)

    with pytest.raises(BodyTooLarge):
        await limited(scope, receive, send)
    assert [m["type"] for m in sent] == ["http.response.start"]


def test_the_limits_come_from_the_settings() -> None:
    settings = Settings(PROMPTOPS_MAX_BODY_BYTES=123, PROMPTOPS_MAX_UPLOAD_BYTES=456)
    limited = BodyLimit.from_settings(Recorder(), settings)
    assert limited.limit_for("POST", "/api/v1/generate") == (123, "PROMPTOPS_MAX_BODY_BYTES")
    assert limited.limit_for("POST", "/api/v1/datasets/abc/examples") == (
        456,
        "PROMPTOPS_MAX_UPLOAD_BYTES",
    )
    assert limited.limit_for("GET", "/api/v1/datasets/abc/examples")[0] == 123
    assert Settings().max_body_bytes == 8 * 2**20
    assert Settings().max_upload_bytes == 200 * 2**20
