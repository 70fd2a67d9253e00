"""Fallbacks, fail-fast and circuit breakers of the gateway against TWO stub providers, and
``GET /api/v1/models/providers`` on the real app."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from promptops.db.models import Role
from promptops.llm import GatewayError, LLMGateway, ModelCatalog
from tests.support.apps import issue_key, running_app
from tests.support.stub_llm import StubConfig, StubLLMServer
from tests.support.stubs import FakeClock, fallback_catalog, reset, two_stubs

MSG = [{"role": "user", "content": "alpha beta gamma"}]


@pytest.fixture(scope="module")
def stubs() -> Iterator[tuple[StubLLMServer, StubLLMServer]]:
    with two_stubs() as pair:
        yield pair


@pytest.fixture
def two(stubs: tuple[StubLLMServer, StubLLMServer]) -> tuple[StubLLMServer, StubLLMServer]:
    reset(*stubs)
    return stubs


async def test_retryable_failure_falls_back_in_order(two: tuple[StubLLMServer, ...]) -> None:
    primary, backup = two
    third = StubLLMServer(StubConfig(fixed_reply="from third")).start()
    try:
        models = (
            primary.model_list("primary")["model_list"]
            + backup.model_list("backup")["model_list"]
            + third.model_list("third")["model_list"]
        )
        cat = ModelCatalog.from_dict(
            {
                "model_list": models,
                "router_settings": {"fallbacks": [{"primary": ["third", "backup"]}]},
            }
        )
        gw = LLMGateway(cat)
        primary.cfg.fail_next, primary.cfg.fail_status = 1, 503
        third.cfg.fail_next, third.cfg.fail_status = 1, 429
        c = await gw.complete(MSG, model="primary")
        assert (c.model, c.output) == ("backup", "from backup")
        assert [(a["model"], a["status"]) for a in c.attempts] == [
            ("primary", 503),
            ("third", 429),
            ("backup", 200),
        ]
        assert c.attempts[-1]["error"] is None and "injected failure" in c.attempts[0]["error"]
        assert (primary.cfg.calls, third.cfg.calls, backup.cfg.calls) == (1, 1, 1)
        # Healthy primary: answers itself, no fallback touched.
        c = await gw.complete(MSG, model="primary")
        assert c.model == "primary" and [a["model"] for a in c.attempts] == ["primary"]
        assert backup.cfg.calls == 1
    finally:
        third.stop()


async def test_every_candidate_failing_raises_with_attempts(two: tuple[StubLLMServer, ...]) -> None:
    primary, backup = two
    gw = LLMGateway(fallback_catalog(primary, backup))
    primary.cfg.fail_next, primary.cfg.fail_status = 1, 503
    backup.cfg.fail_next, backup.cfg.fail_status = 1, 502
    with pytest.raises(GatewayError) as e:
        await gw.complete(MSG, model="primary")
    assert e.value.retryable and e.value.status_code == 502
    assert [a["model"] for a in e.value.attempts] == ["primary", "backup"]
    assert "every candidate model failed" in str(e.value)


async def test_non_retryable_error_fails_fast_without_fallback(
    two: tuple[StubLLMServer, ...],
) -> None:
    primary, backup = two
    gw = LLMGateway(fallback_catalog(primary, backup))
    for status in (400, 401):
        primary.cfg.fail_next, primary.cfg.fail_status = 1, status
        with pytest.raises(GatewayError) as e:
            await gw.complete(MSG, model="primary")
        assert not e.value.retryable and e.value.status_code == status
        assert "injected failure" in str(e.value)  # the provider's own message
        assert [a["model"] for a in e.value.attempts] == ["primary"]
    assert backup.cfg.calls == 0
    # Client errors do not count against the deployment.
    assert gw.deployments.get("primary").breaker.state.value == "closed"


async def test_breaker_skips_dead_primary_then_one_probe_recovers_it(
    two: tuple[StubLLMServer, ...],
) -> None:
    primary, backup = two
    clock = FakeClock()
    gw = LLMGateway(
        fallback_catalog(primary, backup, allowed_fails=3, cooldown_time=30), clock=clock
    )
    primary.cfg.error_rate, primary.cfg.error_statuses = 1.0, (503, 500)
    for _ in range(3):
        assert (await gw.complete(MSG, model="primary")).model == "backup"
    assert primary.cfg.calls == 3
    assert gw.deployments.get("primary").breaker.state.value == "open"
    for _ in range(5):  # open: the primary gets no request at all
        c = await gw.complete(MSG, model="primary")
        assert c.model == "backup"
        assert c.attempts[0] == {"model": "primary", "error": "circuit open", "status": None}
    assert primary.cfg.calls == 3 and backup.cfg.calls == 8
    clock.now += 29
    await gw.complete(MSG, model="primary")
    assert primary.cfg.calls == 3
    # Cool-down over, still broken: one probe, which fails and re-opens the breaker.
    clock.now += 1
    assert (await gw.complete(MSG, model="primary")).model == "backup"
    assert primary.cfg.calls == 4
    assert gw.deployments.get("primary").breaker.state.value == "open"
    await gw.complete(MSG, model="primary")
    assert primary.cfg.calls == 4
    # The provider recovers; after the next cool-down one probe closes the breaker.
    primary.cfg.error_rate = 0.0
    clock.now += 30
    c = await gw.complete(MSG, model="primary")
    assert (c.model, primary.cfg.calls) == ("primary", 5)
    assert gw.deployments.get("primary").breaker.state.value == "closed"
    assert (await gw.complete(MSG, model="primary")).model == "primary"
    assert primary.cfg.calls == 6


async def test_breaker_open_without_fallback_sends_nothing(two: tuple[StubLLMServer, ...]) -> None:
    primary, backup = two
    clock = FakeClock()
    gw = LLMGateway(fallback_catalog(primary, backup, allowed_fails=2), clock=clock)
    backup.cfg.fail_next, backup.cfg.fail_status = 2, 500
    for _ in range(2):
        with pytest.raises(GatewayError):
            await gw.complete(MSG, model="backup")
    with pytest.raises(GatewayError) as e:
        await gw.complete(MSG, model="backup")
    assert e.value.retryable and e.value.status_code == 503
    assert e.value.attempts == [{"model": "backup", "error": "circuit open", "status": None}]
    assert backup.cfg.calls == 2


async def test_providers_endpoint_shows_breaker_states(
    two: tuple[StubLLMServer, ...], pg_url: str
) -> None:
    primary, backup = two
    cat = fallback_catalog(primary, backup, allowed_fails=2, cooldown_time=600)
    async with running_app(pg_url, None, cat, f"tq-{uuid.uuid4().hex[:8]}") as running:
        gw: LLMGateway = running.app.state.gateway
        primary.cfg.fail_next, primary.cfg.fail_status = 2, 503
        for _ in range(2):
            assert (await gw.complete(MSG, model="primary")).model == "backup"
        key = await issue_key(
            pg_url,
            organization=f"org-m-{uuid.uuid4().hex[:6]}",
            email=f"v-{uuid.uuid4().hex[:6]}@m.example",
            role=Role.VIEWER,
        )
        async with running.client(key.key) as client:
            r = await client.get("/models/providers")
            assert r.status_code == 200, r.text
            body = r.json()
        async with running.client(None) as anonymous:
            assert (await anonymous.get("/models/providers")).status_code == 401
    assert body["count"] == 2
    rows = {row["model_name"]: row for row in body["data"]}
    assert [row["model_name"] for row in body["data"]] == ["primary", "backup"]
    p, b = rows["primary"], rows["backup"]
    assert (p["breaker_state"], p["health"]) == ("open", "down")
    assert p["calls"] == 2 and p["errors"] == 2 and p["error_rate"] == 1.0
    assert p["p50_latency_ms"] is None and p["last_error_status"] == 503
    assert "injected failure" in p["last_error"] and p["provider"] == "openai"
    assert (b["breaker_state"], b["health"]) == ("closed", "healthy")
    assert b["calls"] == 2 and b["error_rate"] == 0.0 and b["last_error"] is None
    assert 0 < b["p50_latency_ms"] <= b["p95_latency_ms"]
