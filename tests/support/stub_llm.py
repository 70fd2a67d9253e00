"""A fault-injecting OpenAI-compatible stub server for tests and benchmarks.

Answers ``POST /v1/chat/completions`` after ``latency_s`` with a deterministic reply: the first
``echo_words`` words of the last user message (so metrics have something real to score), or
``fixed_reply`` when set; ``replies`` are used up first, one per call, in order (for schema
retries). ``fail_next`` makes the next N calls fail with ``fail_status``; besides, each call fails
with probability ``error_rate`` (a ``random.Random(seed)``, so runs repeat) with a status drawn
from ``error_statuses``. A request with ``tools`` is answered with ``tool_call`` (``{"name",
"arguments": <JSON text>}``) when set, finish reason ``tool_calls``. ``"stream": true`` answers
with Server-Sent Events in OpenAI's chunk format (one chunk per word, ``stream_chunk_delay_s``
apart), a usage chunk when ``stream_options.include_usage``, then ``data: [DONE]``;
``stream_abort_after`` cuts the next stream's connection after that many words.
``requests`` keeps each successful request's JSON body.
Runs uvicorn in a background thread on a free loopback port.
"""

from __future__ import annotations

import asyncio
import json
import random
import socket
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse


@dataclass
class StubConfig:
    latency_s: float = 0.0
    echo_words: int = 6
    fixed_reply: str | None = None
    fail_next: int = 0
    fail_status: int = 500
    calls: int = 0
    prompts: list[str] = field(default_factory=list)
    #: The ``Authorization`` header of each call (which provider key was used).
    authorizations: list[str] = field(default_factory=list)
    error_rate: float = 0.0
    error_statuses: tuple[int, ...] = (500,)
    seed: int = 0
    replies: list[str] = field(default_factory=list)
    tool_call: dict[str, Any] | None = None
    stream_chunk_delay_s: float = 0.0
    #: Cut the connection after this many content chunks of the next stream (then reset).
    stream_abort_after: int | None = None
    requests: list[dict[str, Any]] = field(default_factory=list)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def build_app(cfg: StubConfig) -> FastAPI:
    app = FastAPI()
    lock = threading.Lock()
    rng = random.Random(cfg.seed)

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": "stub", "object": "model"}]}

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Any:
        body = await request.json()
        with lock:
            cfg.calls += 1
            fail = cfg.fail_next > 0
            status = cfg.fail_status
            if fail:
                cfg.fail_next -= 1
            elif cfg.error_rate > 0 and rng.random() < cfg.error_rate:
                fail, status = True, rng.choice(cfg.error_statuses)
        if cfg.latency_s:
            await asyncio.sleep(cfg.latency_s)
        if fail:
            return JSONResponse(
                status_code=status, content={"error": {"message": "injected failure"}}
            )
        user = [m["content"] for m in body["messages"] if m["role"] == "user"][-1]
        cfg.prompts.append(user)
        cfg.authorizations.append(request.headers.get("authorization", ""))
        cfg.requests.append(body)
        with lock:
            queued = cfg.replies.pop(0) if cfg.replies else None
        if queued is not None:
            reply = queued
        else:
            reply = (
                cfg.fixed_reply
                if cfg.fixed_reply is not None
                else " ".join(user.split()[: cfg.echo_words])
            )
        tool_calls = None
        if body.get("tools") and cfg.tool_call is not None:
            tool_calls = [
                {
                    "id": f"call_{cfg.calls}",
                    "type": "function",
                    "function": {
                        "name": cfg.tool_call["name"],
                        "arguments": cfg.tool_call.get("arguments", "{}"),
                    },
                }
            ]
            reply = ""
        usage = {
            "prompt_tokens": len(user.split()),
            "completion_tokens": len(reply.split()),
            "total_tokens": len(user.split()) + len(reply.split()),
        }
        finish = "tool_calls" if tool_calls else "stop"
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            return StreamingResponse(
                _sse(
                    cfg,
                    body.get("model", "stub"),
                    reply,
                    tool_calls,
                    finish,
                    usage if include_usage else None,
                ),
                media_type="text/event-stream",
            )
        message: dict[str, Any] = {"role": "assistant", "content": None if tool_calls else reply}
        if tool_calls:
            message["tool_calls"] = tool_calls
        return {
            "id": f"stub-{cfg.calls}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "stub"),
            "choices": [{"index": 0, "finish_reason": finish, "message": message}],
            "usage": usage,
        }

    return app


async def _sse(
    cfg: StubConfig,
    model: str,
    reply: str,
    tool_calls: list[dict[str, Any]] | None,
    finish: str,
    usage: dict[str, int] | None,
) -> AsyncIterator[str]:
    """OpenAI ``chat.completion.chunk`` events: role, one chunk per word (or the tool call in
    two argument fragments), the finish reason, the usage chunk (empty choices), ``[DONE]``."""
    base = {
        "id": f"stub-{cfg.calls}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
    }

    def event(choices: list[dict[str, Any]], **extra: Any) -> str:
        return f"data: {json.dumps({**base, 'choices': choices, **extra})}\n\n"

    yield event(
        [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]
    )
    if tool_calls:
        call = tool_calls[0]
        args = call["function"]["arguments"]
        half = len(args) // 2
        yield event(
            [
                {
                    "index": 0,
                    "finish_reason": None,
                    "delta": {
                        "tool_calls": [
                            {
                                "index": 0,
                                "id": call["id"],
                                "type": "function",
                                "function": {
                                    "name": call["function"]["name"],
                                    "arguments": args[:half],
                                },
                            }
                        ]
                    },
                }
            ]
        )
        yield event(
            [
                {
                    "index": 0,
                    "finish_reason": None,
                    "delta": {"tool_calls": [{"index": 0, "function": {"arguments": args[half:]}}]},
                }
            ]
        )
    else:
        words = reply.split(" ")
        abort_after, cfg.stream_abort_after = cfg.stream_abort_after, None
        for i, word in enumerate(words):
            if abort_after is not None and i >= abort_after:
                raise RuntimeError("stub: stream aborted on purpose")
            if cfg.stream_chunk_delay_s:
                await asyncio.sleep(cfg.stream_chunk_delay_s)
            piece = word if i == 0 else " " + word
            yield event([{"index": 0, "delta": {"content": piece}, "finish_reason": None}])
    yield event([{"index": 0, "delta": {}, "finish_reason": finish}])
    if usage is not None:
        yield event([], usage=usage)
    yield "data: [DONE]\n\n"


class StubLLMServer:
    def __init__(self, cfg: StubConfig | None = None) -> None:
        self.cfg = cfg or StubConfig()
        self.port = free_port()
        self._server = uvicorn.Server(
            uvicorn.Config(
                build_app(self.cfg),
                host="127.0.0.1",
                port=self.port,
                log_level="warning",
                access_log=False,
            )
        )
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> StubLLMServer:
        self._thread.start()
        deadline = time.time() + 10
        while not self._server.started:
            if time.time() > deadline:
                raise RuntimeError("stub LLM server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=5)

    def model_list(
        self, name: str = "stub", *, input_cost: float = 1e-6, output_cost: float = 2e-6
    ) -> dict[str, Any]:
        return {
            "model_list": [
                {
                    "model_name": name,
                    "litellm_params": {
                        "model": f"openai/{name}",
                        "api_base": self.base_url,
                        "api_key": "none",
                    },
                    "model_info": {
                        "input_cost_per_token": input_cost,
                        "output_cost_per_token": output_cost,
                    },
                }
            ]
        }
