"""The gateway's direct path for OpenAI-compatible deployments (no ``litellm.acompletion`` for
non-streaming calls), checked against the LiteLLM path on the same stub: same request body,
same Completion, same error classification; fallbacks and breakers over it; the opt-outs."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import litellm
import pytest

from promptops.llm import GatewayError, LLMGateway, ModelCatalog
from tests.support.stub_llm import StubConfig, StubLLMServer, free_port
from tests.support.stubs import reset

MSG = [
    {"role": "system", "content": "be brief"},
    {"role": "user", "content": "alpha beta gamma delta"},
]
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "lookup",
            "description": "look a word up",
            "parameters": {"type": "object", "properties": {"word": {"type": "string"}}},
        },
    }
]


@pytest.fixture(scope="module")
def server() -> Iterator[StubLLMServer]:
    s = StubLLMServer(StubConfig()).start()
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture
def stub(server: StubLLMServer) -> StubLLMServer:
    reset(server)
    return server


class LiteLLMCalls:
    """Counts ``litellm.acompletion`` calls (``fail``: raise instead of calling it)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, *, fail: bool = False) -> None:
        self.count = 0
        original = litellm.acompletion

        async def counted(*args: Any, **kwargs: Any) -> Any:
            self.count += 1
            self.kwargs = kwargs
            if fail:
                raise AssertionError("litellm.acompletion must not be called")
            return await original(*args, **kwargs)

        monkeypatch.setattr(litellm, "acompletion", counted)


def gateways(stub: StubLLMServer, **kw: Any) -> tuple[LLMGateway, LLMGateway]:
    """(fast path, LiteLLM path) gateways on the same stub catalog."""
    cat = ModelCatalog.from_dict(stub.model_list())
    return LLMGateway(cat, fast_path=True, **kw), LLMGateway(cat, fast_path=False, **kw)


def comparable(c: Any) -> Any:
    """``c`` without what differs per call: latency and the stub's call-numbered tool ids."""
    calls = [{**t, "id": "call"} for t in c.tool_calls] if c.tool_calls else c.tool_calls
    return replace(c, latency_ms=0.0, tool_calls=calls)


async def test_fast_path_answers_without_litellm(
    stub: StubLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = LiteLLMCalls(monkeypatch, fail=True)
    gw = LLMGateway(ModelCatalog.from_dict(stub.model_list()), fast_path=True)
    for _ in range(3):  # keep-alive: the pooled client is reused
        c = await gw.complete(MSG)
        assert (c.model, c.output, c.finish_reason) == ("stub", "alpha beta gamma delta", "stop")
        assert (c.tokens_in, c.tokens_out) == (4, 4)
        assert c.cost_usd == pytest.approx(4 * 1e-6 + 4 * 2e-6)
        assert c.latency_ms > 0 and c.attempts == [{"model": "stub", "error": None, "status": 200}]
    assert calls.count == 0 and stub.cfg.calls == 3
    assert stub.cfg.requests[-1]["model"] == "stub"  # the openai/ prefix is stripped
    assert stub.cfg.authorizations[-1] == "Bearer none"
    client = gw.direct._http
    await gw.aclose()
    assert client is not None and client.closed and gw.direct._http is None
    c = await gw.complete(MSG)  # a closed gateway opens a new pool on its next call
    assert c.output == "alpha beta gamma delta"
    await gw.aclose()
    await gw.aclose()  # idempotent


async def test_same_request_and_completion_as_litellm(stub: StubLLMServer) -> None:
    fast, slow = gateways(stub)
    decoding = {
        "temperature": 0.2,
        "top_p": 0.9,
        "max_tokens": 16,
        "stop": ["\n\n"],
        "seed": 7,
        "presence_penalty": 0.1,
        "frequency_penalty": 0.2,
    }
    response_format = {
        "type": "json_schema",
        "json_schema": {
            "name": "answer",
            "schema": {"type": "object", "properties": {"a": {"type": "string"}}},
        },
    }
    got = []
    for gw in (fast, slow):
        c = await gw.complete(MSG, decoding=decoding, response_format=response_format)
        got.append((comparable(c), stub.cfg.requests[-1], stub.cfg.authorizations[-1]))
    assert got[0] == got[1]
    assert got[0][1]["max_tokens"] == 16 and got[0][1]["response_format"] == response_format
    await fast.aclose()


async def test_tools_pass_through_like_litellm(
    stub: StubLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    stub.cfg.tool_call = {"name": "lookup", "arguments": '{"word": "alpha"}'}
    fast, slow = gateways(stub)
    got = []
    for gw in (fast, slow):
        c = await gw.complete(MSG, tools=TOOLS, tool_choice="required")
        got.append((comparable(c), stub.cfg.requests[-1]))
    assert got[0] == got[1]
    c, body = got[0]
    assert body["tools"] == TOOLS and body["tool_choice"] == "required"
    assert c.finish_reason == "tool_calls" and c.output == ""
    assert c.tool_calls == [
        {
            "id": "call",
            "type": "function",
            "function": {"name": "lookup", "arguments": '{"word": "alpha"}'},
        }
    ]
    await fast.aclose()


@pytest.mark.parametrize("status", [400, 401, 403, 404, 408, 422, 429, 500, 502, 503])
async def test_http_errors_classify_like_litellm(stub: StubLLMServer, status: int) -> None:
    fast, slow = gateways(stub)
    got = []
    for gw in (fast, slow):
        stub.cfg.fail_next, stub.cfg.fail_status = 1, status
        with pytest.raises(GatewayError) as info:
            await gw.complete(MSG)
        err = info.value
        assert "injected failure" in str(err)
        assert err.attempts == [{"model": "stub", "error": str(err), "status": status}]
        got.append((err.retryable, err.status_code))
    assert got[0] == got[1]
    assert got[0] == (status in (408, 429) or status >= 500, status)
    await fast.aclose()


def test_non_json_error_body_keeps_the_text() -> None:
    from promptops.llm.providers.openai_compatible import http_error as _http_error

    err = _http_error(502, b"<html>bad gateway</html>")
    assert (err.retryable, err.status_code) == (True, 502) and "bad gateway" in str(err)
    err = _http_error(400, b'{"error": {"message": "maximum context length is 2048 tokens"}}')
    assert not err.retryable and str(err).startswith("ContextWindowExceededError")


async def test_connection_error_and_timeout_classify_like_litellm(stub: StubLLMServer) -> None:
    dead = ModelCatalog.from_dict(
        {
            "model_list": [
                {
                    "model_name": "dead",
                    "litellm_params": {
                        "model": "openai/dead",
                        "api_base": f"http://127.0.0.1:{free_port()}/v1",
                        "api_key": "k",
                    },
                }
            ]
        }
    )
    got = []
    for fast in (True, False):
        with pytest.raises(GatewayError) as info:
            await LLMGateway(dead, fast_path=fast).complete(MSG)
        got.append((info.value.retryable, info.value.status_code))
    assert got[0] == got[1] and got[0][0] is True

    stub.cfg.latency_s = 0.5
    got = []
    for gw in gateways(stub, timeout_s=0.1):
        with pytest.raises(GatewayError) as info:
            await gw.complete(MSG)
        got.append((info.value.retryable, info.value.status_code))
    assert got[0] == got[1] == (True, 408)


async def test_fallbacks_and_breakers_over_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = LiteLLMCalls(monkeypatch, fail=True)
    primary = StubLLMServer(StubConfig(fixed_reply="from primary")).start()
    backup = StubLLMServer(StubConfig(fixed_reply="from backup")).start()
    try:
        cat = ModelCatalog.from_dict(
            {
                "model_list": primary.model_list("primary")["model_list"]
                + backup.model_list("backup")["model_list"],
                "router_settings": {
                    "fallbacks": [{"primary": ["backup"]}],
                    "allowed_fails": 2,
                    "cooldown_time": 30,
                },
            }
        )
        gw = LLMGateway(cat, fast_path=True)
        primary.cfg.fail_next, primary.cfg.fail_status = 2, 503
        for _ in range(2):
            c = await gw.complete(MSG, model="primary")
            assert (c.model, c.output) == ("backup", "from backup")
            assert [(a["model"], a["status"]) for a in c.attempts] == [
                ("primary", 503),
                ("backup", 200),
            ]
        # Two retryable failures opened the primary's breaker: skipped without a request.
        c = await gw.complete(MSG, model="primary")
        assert [(a["model"], a["error"]) for a in c.attempts] == [
            ("primary", "circuit open"),
            ("backup", None),
        ]
        assert primary.cfg.calls == 2 and backup.cfg.calls == 3
        # A non-retryable error fails at once, no fallback.
        backup.cfg.fail_next, backup.cfg.fail_status = 1, 401
        with pytest.raises(GatewayError) as info:
            await gw.complete(MSG, model="backup")
        assert (info.value.retryable, info.value.status_code) == (False, 401)
        assert calls.count == 0
        await gw.aclose()
    finally:
        primary.stop()
        backup.stop()


def _flagged(stub: StubLLMServer, where: str, value: Any) -> ModelCatalog:
    data = stub.model_list()
    item = data["model_list"][0]
    item.setdefault(where, {})["promptops_fast_path"] = value
    return ModelCatalog.from_dict(data)


@pytest.mark.parametrize(
    ("where", "value"),
    [("model_info", False), ("litellm_params", False), ("litellm_params", "false")],
)
async def test_model_list_flag_opts_out(
    stub: StubLLMServer, monkeypatch: pytest.MonkeyPatch, where: str, value: Any
) -> None:
    calls = LiteLLMCalls(monkeypatch)
    cat = _flagged(stub, where, value)
    assert cat.get("stub").fast_path is False
    c = await LLMGateway(cat).complete(MSG)
    assert c.output == "alpha beta gamma delta" and calls.count == 1
    assert "promptops_fast_path" not in calls.kwargs  # the flag is ours, not LiteLLM's
    assert "promptops_fast_path" not in stub.cfg.requests[-1]


async def test_env_switch_opts_out(stub: StubLLMServer, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = LiteLLMCalls(monkeypatch)
    cat = ModelCatalog.from_dict(stub.model_list())
    monkeypatch.setenv("PROMPTOPS_GATEWAY_FAST_PATH", "0")
    gw = LLMGateway(cat)
    assert gw.fast_path is False
    await gw.complete(MSG)
    assert calls.count == 1
    monkeypatch.setenv("PROMPTOPS_GATEWAY_FAST_PATH", "1")
    gw = LLMGateway(cat)
    await gw.complete(MSG)
    assert calls.count == 1 and gw.fast_path is True
    await gw.aclose()


async def test_other_deployments_keep_litellm(
    stub: StubLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = LiteLLMCalls(monkeypatch)
    data = stub.model_list()
    # A parameter the fast path does not know (LiteLLM's own retry count) -> LiteLLM.
    data["model_list"][0]["litellm_params"]["max_retries"] = 0
    await LLMGateway(ModelCatalog.from_dict(data), fast_path=True).complete(MSG)
    assert calls.count == 1
    # Streaming keeps LiteLLM too.
    events = [
        e
        async for e in LLMGateway(ModelCatalog.from_dict(stub.model_list()), fast_path=True).stream(
            MSG
        )
    ]
    assert calls.count == 2 and events


async def test_extra_headers_and_tenant_key(
    stub: StubLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from promptops.llm import ProviderOverride
    from promptops.llm.providers.common import request_kwargs
    from promptops.llm.providers.openai_compatible import openai_request as _openai_request

    LiteLLMCalls(monkeypatch, fail=True)
    data = stub.model_list()
    data["model_list"][0]["litellm_params"]["extra_headers"] = {"X-Team": "blue"}
    gw = LLMGateway(ModelCatalog.from_dict(data), fast_path=True)
    await gw.complete(MSG, credentials=ProviderOverride(api_key="sk-tenant-123456"))
    assert stub.cfg.authorizations[-1] == "Bearer sk-tenant-123456"
    await gw.aclose()
    kwargs = request_kwargs(gw.catalog.get("stub"), None, None, None)
    url, headers, _ = _openai_request(MSG, kwargs)
    assert url == f"{stub.base_url}/chat/completions"
    assert headers["X-Team"] == "blue" and headers["Authorization"] == "Bearer none"
