"""The circuit breaker's state machine and the rolling stats, on a hand-moved clock."""

from __future__ import annotations

import asyncio

import pytest

from promptops.llm import ModelCatalog
from promptops.llm.breakers import (
    BreakerSettings,
    BreakerState,
    CircuitBreaker,
    DeploymentRegistry,
    DeploymentStats,
    Health,
    nearest_rank,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def breaker(
    clock: FakeClock, n: int = 5, window: float = 60, cooldown: float = 30
) -> CircuitBreaker:
    return CircuitBreaker(BreakerSettings(n, window, cooldown), clock=clock)


def test_opens_at_n_failures_within_the_window() -> None:
    clock = FakeClock()
    b = breaker(clock)
    for _ in range(4):
        assert b.try_acquire()
        b.record_failure()
        clock.advance(1)
    assert b.state is BreakerState.CLOSED
    assert b.try_acquire()
    b.record_failure()
    assert b.state is BreakerState.OPEN
    assert not b.try_acquire()  # skipped at once while open
    clock.advance(29.9)
    assert not b.try_acquire()


def test_failures_outside_the_window_do_not_count() -> None:
    clock = FakeClock()
    b = breaker(clock, n=3, window=10)
    b.record_failure()
    b.record_failure()
    clock.advance(11)
    b.record_failure()
    b.record_failure()
    assert b.state is BreakerState.CLOSED  # 2 in the window; the first two expired
    clock.advance(1)
    b.record_failure()
    assert b.state is BreakerState.OPEN


def test_success_while_closed_does_not_reset_the_window_but_probe_success_closes() -> None:
    clock = FakeClock()
    b = breaker(clock, n=2)
    b.record_failure()
    b.record_failure()
    assert b.state is BreakerState.OPEN
    clock.advance(30)
    assert b.state is BreakerState.HALF_OPEN
    assert b.try_acquire()  # the probe
    b.record_success()
    assert b.state is BreakerState.CLOSED
    b.record_failure()  # the old failures were forgotten: one is not enough
    assert b.state is BreakerState.CLOSED


def test_half_open_lets_exactly_one_probe_and_failure_reopens() -> None:
    clock = FakeClock()
    b = breaker(clock, n=1, cooldown=5)
    b.record_failure()
    clock.advance(5)
    granted = [b.try_acquire() for _ in range(10)]
    assert granted.count(True) == 1 and granted[0]
    b.record_failure()
    assert b.state is BreakerState.OPEN
    assert not b.try_acquire()
    clock.advance(4.9)
    assert not b.try_acquire()
    clock.advance(0.1)
    assert b.try_acquire()
    b.record_success()
    assert b.state is BreakerState.CLOSED
    assert all(b.try_acquire() for _ in range(5))


async def test_half_open_single_probe_under_concurrency() -> None:
    clock = FakeClock()
    b = breaker(clock, n=1, cooldown=1)
    b.record_failure()
    clock.advance(1)
    sent = 0
    release = asyncio.Event()

    async def caller() -> str:
        nonlocal sent
        if not b.try_acquire():
            return "skipped"
        sent += 1
        await release.wait()  # the probe is in flight while the others arrive
        b.record_success()
        return "probe"

    tasks = [asyncio.create_task(caller()) for _ in range(20)]
    await asyncio.sleep(0)
    release.set()
    results = await asyncio.gather(*tasks)
    assert sent == 1 and results.count("probe") == 1 and results.count("skipped") == 19
    assert b.state is BreakerState.CLOSED


def test_release_frees_the_probe_slot_without_a_verdict() -> None:
    clock = FakeClock()
    b = breaker(clock, n=1, cooldown=1)
    b.record_failure()
    clock.advance(1)
    assert b.try_acquire()
    assert not b.try_acquire()
    b.release()  # e.g. the probe got a 400: says nothing about the deployment
    assert b.state is BreakerState.HALF_OPEN
    assert b.try_acquire()


def test_settings_from_router_settings_and_defaults() -> None:
    assert BreakerSettings.from_router_settings(None) == BreakerSettings(5, 60.0, 30.0)
    s = BreakerSettings.from_router_settings(
        {"allowed_fails": 2, "cooldown_time": 7, "allowed_fails_window": 15}
    )
    assert (s.failure_threshold, s.window_s, s.cooldown_s) == (2, 15.0, 7.0)
    with pytest.raises(ValueError, match="allowed_fails"):
        BreakerSettings.from_router_settings({"allowed_fails": 0})


def test_nearest_rank() -> None:
    values = [15, 20, 35, 40, 50]  # Wikipedia's nearest-rank example
    assert nearest_rank(values, 5) == 15
    assert nearest_rank(values, 30) == 20
    assert nearest_rank(values, 40) == 20
    assert nearest_rank(values, 50) == 35
    assert nearest_rank(values, 100) == 50
    assert nearest_rank([], 50) is None
    assert nearest_rank(range(1, 101), 95) == 95


def test_stats_roll_over_calls_and_window() -> None:
    clock = FakeClock()
    stats = DeploymentStats(max_calls=10, window_s=60, clock=clock)
    for ms in range(1, 21):  # only the last 10 stay: 11..20
        stats.record(float(ms), ok=True)
    snap = stats.snapshot()
    assert snap["calls"] == 10 and snap["p50_latency_ms"] == 15 and snap["p95_latency_ms"] == 20
    stats.record(5.0, ok=False, error="boom", status_code=503)
    stats.record(5.0, ok=False, error="bad", status_code=400, counts=False)
    snap = stats.snapshot()
    assert snap["errors"] == 1 and snap["error_rate"] == pytest.approx(0.1)
    assert stats.last_error is not None and stats.last_error.status_code == 400
    clock.advance(61)
    assert stats.snapshot() == {
        "calls": 0,
        "errors": 0,
        "error_rate": 0.0,
        "p50_latency_ms": None,
        "p95_latency_ms": None,
    }


def test_deployment_health() -> None:
    clock = FakeClock()
    reg = DeploymentRegistry(BreakerSettings(2, 60, 10), clock=clock)
    d = reg.get("m")
    assert reg.get("m") is d and d.health() is Health.HEALTHY
    d.stats.record(1.0, ok=False)
    d.breaker.record_failure()
    assert d.health() is Health.DEGRADED  # error rate 100 %
    d.breaker.record_failure()
    assert d.health() is Health.DOWN and d.snapshot()["breaker_state"] == "open"
    clock.advance(10)
    assert d.health() is Health.DEGRADED and d.snapshot()["breaker_state"] == "half_open"


def test_catalog_parses_fallbacks_and_router_settings() -> None:
    models = [{"model_name": n, "litellm_params": {"model": f"openai/{n}"}} for n in "abc"]
    cat = ModelCatalog.from_dict(
        {
            "model_list": models,
            "router_settings": {
                "fallbacks": [{"a": ["c", "b"]}, {"b": ["a"]}],
                "allowed_fails": 3,
                "cooldown_time": 9,
            },
        }
    )
    assert cat.candidates("a") == ["a", "c", "b"]
    assert cat.candidates(None) == ["a", "c", "b"]
    assert cat.candidates("b") == ["b", "a"]
    assert cat.candidates("c") == ["c"]
    assert ModelCatalog.from_dict({"model_list": models}).fallbacks == {}
    with pytest.raises(ValueError, match="unknown model 'z'"):
        ModelCatalog.from_dict(
            {"model_list": models, "router_settings": {"fallbacks": [{"a": ["z"]}]}}
        )
    with pytest.raises(ValueError, match="allowed_fails"):
        ModelCatalog.from_dict({"model_list": models, "router_settings": {"allowed_fails": -1}})
