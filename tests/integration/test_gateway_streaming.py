"""Streaming, tool calls and explicit candidate order of the gateway against stub providers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from promptops.llm import (
    Completion,
    GatewayError,
    LLMGateway,
    ModelCatalog,
    StreamDelta,
    StreamDone,
    StreamEvent,
    UnknownModelError,
)
from promptops.llm.breakers import BreakerState
from tests.support.stub_llm import StubLLMServer
from tests.support.stubs import FakeClock, fallback_catalog, reset, two_stubs

MSG = [{"role": "user", "content": "alpha beta gamma"}]
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather of a city",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
]


@pytest.fixture(scope="module")
def stubs() -> Iterator[tuple[StubLLMServer, StubLLMServer]]:
    with two_stubs("one two three four from primary", "five six from backup") as pair:
        yield pair


@pytest.fixture
def two(stubs: tuple[StubLLMServer, StubLLMServer]) -> tuple[StubLLMServer, StubLLMServer]:
    reset(*stubs)
    return stubs


async def collect(gw: LLMGateway, **kwargs: Any) -> tuple[list[StreamDelta], Completion]:
    deltas: list[StreamDelta] = []
    done: list[StreamDone] = []
    async for event in gw.stream(MSG, **kwargs):
        assert not done, "nothing may follow StreamDone"
        if isinstance(event, StreamDelta):
            deltas.append(event)
        else:
            done.append(event)
    assert len(done) == 1
    return deltas, done[0].completion


async def test_deltas_concatenate_to_the_output_and_done_is_metered(
    stub_llm: StubLLMServer, catalog: ModelCatalog
) -> None:
    previous = stub_llm.cfg.fixed_reply
    stub_llm.cfg.fixed_reply = "the quick brown fox jumps"
    try:
        deltas, completion = await collect(LLMGateway(catalog))
    finally:
        stub_llm.cfg.fixed_reply = previous
    assert len(deltas) == 5
    assert "".join(d.text for d in deltas) == completion.output == "the quick brown fox jumps"
    # The stub's usage chunk: prompt = words of the user message, completion = reply words.
    assert (completion.tokens_in, completion.tokens_out) == (3, 5)
    entry = catalog.get(None)
    assert completion.cost_usd == pytest.approx(entry.cost_usd(3, 5))
    assert completion.cost_usd > 0
    assert completion.finish_reason == "stop"
    assert completion.ttft_ms is not None and 0 < completion.ttft_ms <= completion.latency_ms
    assert completion.attempts == [{"model": entry.model_name, "error": None, "status": 200}]


async def test_stream_falls_back_before_the_first_chunk(two: tuple[StubLLMServer, ...]) -> None:
    primary, backup = two
    primary.cfg.fail_next = 1
    deltas, completion = await collect(
        LLMGateway(fallback_catalog(primary, backup)), model="primary"
    )
    assert "".join(d.text for d in deltas) == "five six from backup"
    assert completion.model == "backup"
    assert [(a["model"], a["status"]) for a in completion.attempts] == [
        ("primary", 500),
        ("backup", 200),
    ]


async def test_non_retryable_stream_error_fails_fast(two: tuple[StubLLMServer, ...]) -> None:
    primary, backup = two
    primary.cfg.fail_next, primary.cfg.fail_status = 1, 400
    with pytest.raises(GatewayError) as info:
        await collect(LLMGateway(fallback_catalog(primary, backup)), model="primary")
    assert info.value.status_code == 400 and not info.value.retryable
    assert backup.cfg.calls == 0


async def test_error_after_the_first_delta_does_not_fall_back(
    two: tuple[StubLLMServer, ...],
) -> None:
    primary, backup = two
    primary.cfg.stream_abort_after = 2
    seen: list[str] = []
    with pytest.raises(GatewayError) as info:
        async for event in LLMGateway(fallback_catalog(primary, backup)).stream(
            MSG, model="primary"
        ):
            assert isinstance(event, StreamDelta)
            seen.append(event.text)
    assert "".join(seen) == "one two"
    assert info.value.retryable is False
    assert [a["model"] for a in info.value.attempts] == ["primary"]
    assert backup.cfg.calls == 0


async def test_closing_the_stream_early_frees_a_half_open_probe(
    two: tuple[StubLLMServer, ...],
) -> None:
    primary, backup = two
    clock = FakeClock()
    gw = LLMGateway(
        fallback_catalog(primary, backup, allowed_fails=1, cooldown_time=30), clock=clock
    )
    primary.cfg.fail_next = 1
    await collect(gw, model="primary")  # primary fails once -> its breaker opens
    breaker = gw.deployments.get("primary").breaker
    assert breaker.state is BreakerState.OPEN
    clock.now += 31  # cool-down over: the next call is the single half-open probe
    stream = gw.stream(MSG, model="primary")
    first = await stream.__anext__()
    assert isinstance(first, StreamDelta) and first.text == "one"
    await stream.aclose()  # the client went away mid-stream
    assert breaker.state is BreakerState.HALF_OPEN
    assert breaker.try_acquire(), "the probe slot must be free again"
    breaker.release()
    _, completion = await collect(gw, model="primary")
    assert completion.model == "primary"
    assert breaker.state is BreakerState.CLOSED


async def test_tools_pass_through(two: tuple[StubLLMServer, ...]) -> None:
    primary, backup = two
    args = json.dumps({"city": "Paris"})
    primary.cfg.tool_call = {"name": "get_weather", "arguments": args}
    gw = LLMGateway(fallback_catalog(primary, backup))
    completion = await gw.complete(MSG, model="primary", tools=TOOLS, tool_choice="auto")
    assert completion.finish_reason == "tool_calls"
    assert completion.tool_calls is not None and len(completion.tool_calls) == 1
    call = completion.tool_calls[0]
    assert call["type"] == "function" and call["id"]
    assert call["function"] == {"name": "get_weather", "arguments": args}
    sent = primary.cfg.requests[-1]
    assert sent["tools"] == TOOLS and sent["tool_choice"] == "auto"

    deltas, streamed = await collect(gw, model="primary", tools=TOOLS)
    assert any(d.tool_calls for d in deltas)
    assert streamed.finish_reason == "tool_calls"
    assert streamed.tool_calls is not None
    assert streamed.tool_calls[0]["function"] == {"name": "get_weather", "arguments": args}


async def test_without_tools_no_tool_calls(two: tuple[StubLLMServer, ...]) -> None:
    primary, backup = two
    primary.cfg.tool_call = {"name": "get_weather", "arguments": "{}"}
    completion = await LLMGateway(fallback_catalog(primary, backup)).complete(MSG, model="primary")
    assert completion.tool_calls is None
    assert "tools" not in primary.cfg.requests[-1]


async def test_candidates_order_is_honoured(two: tuple[StubLLMServer, ...]) -> None:
    primary, backup = two
    gw = LLMGateway(fallback_catalog(primary, backup))
    completion = await gw.complete(MSG, model="primary", candidates=["backup", "primary"])
    assert completion.model == "backup" and primary.cfg.calls == 0
    backup.cfg.fail_next = 1
    completion = await gw.complete(MSG, candidates=["backup", "primary"])
    assert [a["model"] for a in completion.attempts] == ["backup", "primary"]
    assert completion.model == "primary"
    # No fallbacks beyond the given list: backup's own chain is not consulted.
    backup.cfg.fail_next = 1
    with pytest.raises(GatewayError) as info:
        await gw.complete(MSG, candidates=["backup"])
    assert [a["model"] for a in info.value.attempts] == ["backup"]
    events: list[StreamEvent] = [e async for e in gw.stream(MSG, candidates=["backup"])]
    assert isinstance(events[-1], StreamDone) and events[-1].completion.model == "backup"


async def test_unknown_or_empty_candidates_are_rejected(two: tuple[StubLLMServer, ...]) -> None:
    gw = LLMGateway(fallback_catalog(*two))
    with pytest.raises(UnknownModelError):
        await gw.complete(MSG, candidates=["primary", "nope"])
    with pytest.raises(GatewayError) as info:
        await gw.complete(MSG, candidates=[])
    assert info.value.status_code == 400
    assert two[0].cfg.calls == 0
