"""A fault-injecting OpenAI-compatible stub server for tests and benchmarks.

Answers ``POST /v1/chat/completions`` after ``latency_s`` with a deterministic reply: the first
``echo_words`` words of the last user message (so metrics have something real to score), or
``fixed_reply`` when set. ``fail_next`` makes the next N calls fail with ``fail_status``;
besides, each call fails with probability ``error_rate`` (a ``random.Random(seed)``, so runs
repeat) with a status drawn from ``error_statuses``.
Runs uvicorn in a background thread on a free loopback port.
"""

from __future__ import annotations

import asyncio
import random
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse


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
            return JSONResponse(status_code=status,
                                content={"error": {"message": "injected failure"}})
        user = [m["content"] for m in body["messages"] if m["role"] == "user"][-1]
        cfg.prompts.append(user)
        cfg.authorizations.append(request.headers.get("authorization", ""))
        reply = cfg.fixed_reply if cfg.fixed_reply is not None else " ".join(
            user.split()[: cfg.echo_words])
        return {
            "id": f"stub-{cfg.calls}", "object": "chat.completion", "created": int(time.time()),
            "model": body.get("model", "stub"),
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": reply}}],
            "usage": {"prompt_tokens": len(user.split()), "completion_tokens": len(reply.split()),
                      "total_tokens": len(user.split()) + len(reply.split())},
        }

    return app


class StubLLMServer:
    def __init__(self, cfg: StubConfig | None = None) -> None:
        self.cfg = cfg or StubConfig()
        self.port = free_port()
        self._server = uvicorn.Server(uvicorn.Config(
            build_app(self.cfg), host="127.0.0.1", port=self.port, log_level="warning",
            access_log=False))
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

    def model_list(self, name: str = "stub", *, input_cost: float = 1e-6,
                   output_cost: float = 2e-6) -> dict[str, Any]:
        return {"model_list": [{
            "model_name": name,
            "litellm_params": {"model": f"openai/{name}", "api_base": self.base_url,
                               "api_key": "none"},
            "model_info": {"input_cost_per_token": input_cost,
                           "output_cost_per_token": output_cost},
        }]}
