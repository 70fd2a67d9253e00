"""Circuit breakers and rolling health figures per model deployment (``model_name``).

A :class:`CircuitBreaker` follows the classic three-state machine (Nygard, *Release It!*;
the same shape as LiteLLM's Router cooldowns, without its retries of cooled-down deployments):

- ``closed``: calls go through; each *retryable* failure (429, 5xx, timeout, connection error)
  is remembered with its time. When ``failure_threshold`` failures fall within the last
  ``window_s`` seconds the breaker opens.
- ``open``: :meth:`CircuitBreaker.try_acquire` answers False at once, so no request is sent to
  the dead deployment, until ``cooldown_s`` seconds have passed since it opened.
- ``half_open``: exactly one caller (the probe) is let through; every other caller is refused
  while the probe is in flight. The probe's success closes the breaker (failures forgotten), its
  failure re-opens it for another cool-down.

:class:`DeploymentStats` keeps the last ``max_calls`` calls that reached the provider (and at
most ``window_s`` seconds old): p50/p95 latency in ms by the nearest-rank method over successful
calls, and error rate = retryable failures / calls.

Times come from an injectable ``clock`` (seconds, monotonic) so tests can move time by hand.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

Clock = Callable[[], float]

DEFAULT_FAILURE_THRESHOLD = 5
DEFAULT_WINDOW_S = 60.0
DEFAULT_COOLDOWN_S = 30.0
#: A closed breaker whose rolling error rate reaches this is reported ``degraded``.
DEGRADED_ERROR_RATE = 0.1


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class Health(StrEnum):
    HEALTHY = "healthy"
    DEGRADED = "degraded"
    DOWN = "down"


@dataclass(frozen=True)
class BreakerSettings:
    """Thresholds of every breaker: opens at ``failure_threshold`` retryable failures within
    ``window_s`` seconds; lets one probe through ``cooldown_s`` seconds after opening."""

    failure_threshold: int = DEFAULT_FAILURE_THRESHOLD
    window_s: float = DEFAULT_WINDOW_S
    cooldown_s: float = DEFAULT_COOLDOWN_S

    def __post_init__(self) -> None:
        if self.failure_threshold < 1:
            raise ValueError("router_settings.allowed_fails must be >= 1")
        if self.window_s <= 0 or self.cooldown_s < 0:
            raise ValueError("breaker window must be > 0 s and cooldown_time >= 0 s")

    @classmethod
    def from_router_settings(cls, settings: Mapping[str, Any] | None) -> BreakerSettings:
        """Read LiteLLM-style ``router_settings``: ``allowed_fails`` (failures that open the
        breaker; here the breaker opens when the count *reaches* it), ``cooldown_time``
        (seconds) and the PromptOps extra ``allowed_fails_window`` (seconds, default 60, as
        LiteLLM counts failures per minute). Raises ``ValueError`` for bad values."""
        s = settings or {}
        return cls(
            failure_threshold=int(s.get("allowed_fails", DEFAULT_FAILURE_THRESHOLD)),
            window_s=float(s.get("allowed_fails_window", DEFAULT_WINDOW_S)),
            cooldown_s=float(s.get("cooldown_time", DEFAULT_COOLDOWN_S)),
        )


class CircuitBreaker:
    """One deployment's breaker. Thread-safe; every method is O(threshold)."""

    def __init__(
        self, settings: BreakerSettings | None = None, *, clock: Clock = time.monotonic
    ) -> None:
        self.settings = settings or BreakerSettings()
        self._clock = clock
        self._lock = threading.Lock()
        self._state = BreakerState.CLOSED
        self._failures: deque[float] = deque()
        self._opened_at = 0.0
        self._probe_in_flight = False

    @property
    def state(self) -> BreakerState:
        """The current state; an open breaker whose cool-down has passed reads ``half_open``
        (the probe slot is free) even before a caller takes the probe."""
        with self._lock:
            if (
                self._state is BreakerState.OPEN
                and self._clock() - self._opened_at >= self.settings.cooldown_s
            ):
                return BreakerState.HALF_OPEN
            return self._state

    def try_acquire(self) -> bool:
        """May a call be sent now? True when closed, or for the single half-open probe (the
        caller must then report :meth:`record_success`, :meth:`record_failure` or
        :meth:`release`). False while open or while another probe is in flight."""
        with self._lock:
            if self._state is BreakerState.CLOSED:
                return True
            if self._state is BreakerState.OPEN:
                if self._clock() - self._opened_at < self.settings.cooldown_s:
                    return False
                self._state = BreakerState.HALF_OPEN
                self._probe_in_flight = False
            if self._probe_in_flight:
                return False
            self._probe_in_flight = True
            return True

    def record_success(self) -> None:
        """A call answered: a half-open breaker closes and forgets its failures."""
        with self._lock:
            if self._state is BreakerState.HALF_OPEN:
                self._state = BreakerState.CLOSED
                self._probe_in_flight = False
                self._failures.clear()

    def record_failure(self) -> None:
        """A retryable failure: counted while closed (opens at the threshold within the window);
        a failed probe re-opens the breaker for another cool-down."""
        with self._lock:
            now = self._clock()
            if self._state is BreakerState.HALF_OPEN:
                self._open(now)
                return
            if self._state is BreakerState.OPEN:
                return  # a call let through before the breaker opened; already counted as open
            self._failures.append(now)
            while self._failures and now - self._failures[0] > self.settings.window_s:
                self._failures.popleft()
            if len(self._failures) >= self.settings.failure_threshold:
                self._open(now)

    def release(self) -> None:
        """A call ended without a verdict on the deployment's health (a non-retryable error such
        as 400, or cancellation): a half-open probe slot is freed for the next caller."""
        with self._lock:
            if self._state is BreakerState.HALF_OPEN:
                self._probe_in_flight = False

    def _open(self, now: float) -> None:
        self._state = BreakerState.OPEN
        self._opened_at = now
        self._probe_in_flight = False
        self._failures.clear()


def nearest_rank(values: Iterable[float], p: float) -> float | None:
    """The ``p``-th percentile (0 < p <= 100) by the nearest-rank method: the value of rank
    ``ceil(p / 100 * n)`` in ascending order (NIST/Wikipedia "Percentile", nearest-rank);
    None when there are no values."""
    ordered = sorted(values)
    if not ordered:
        return None
    rank = max(1, math.ceil(p / 100.0 * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True)
class _Call:
    at: float
    latency_ms: float
    ok: bool


@dataclass(frozen=True)
class LastError:
    message: str
    status_code: int | None
    at: datetime


class DeploymentStats:
    """Rolling figures of one deployment over the last ``max_calls`` calls no older than
    ``window_s`` seconds. Only calls that reached the provider are recorded."""

    def __init__(
        self, *, max_calls: int = 200, window_s: float = 300.0, clock: Clock = time.monotonic
    ) -> None:
        self.window_s = window_s
        self._clock = clock
        self._lock = threading.Lock()
        self._calls: deque[_Call] = deque(maxlen=max_calls)
        self.last_error: LastError | None = None

    def record(
        self,
        latency_ms: float,
        *,
        ok: bool,
        error: str | None = None,
        status_code: int | None = None,
        counts: bool = True,
    ) -> None:
        """Record one call. ``counts=False`` (non-retryable errors: the caller's fault) keeps
        the call out of latency and error rate but still updates ``last_error``."""
        with self._lock:
            if counts:
                self._calls.append(_Call(self._clock(), latency_ms, ok))
            if error is not None:
                self.last_error = LastError(error, status_code, datetime.now(UTC))

    def _recent(self) -> list[_Call]:
        now = self._clock()
        return [c for c in self._calls if now - c.at <= self.window_s]

    def snapshot(self) -> dict[str, Any]:
        """``{calls, errors, error_rate, p50_latency_ms, p95_latency_ms}``; percentiles over
        successful calls (None without any), error rate 0.0 without calls."""
        with self._lock:
            recent = self._recent()
        latencies = [c.latency_ms for c in recent if c.ok]
        errors = sum(1 for c in recent if not c.ok)
        return {
            "calls": len(recent),
            "errors": errors,
            "error_rate": errors / len(recent) if recent else 0.0,
            "p50_latency_ms": nearest_rank(latencies, 50),
            "p95_latency_ms": nearest_rank(latencies, 95),
        }


@dataclass
class Deployment:
    """A deployment's breaker and stats together."""

    model_name: str
    breaker: CircuitBreaker
    stats: DeploymentStats

    def health(self) -> Health:
        """``down`` while the breaker is open; ``degraded`` while half-open or when the rolling
        error rate reaches :data:`DEGRADED_ERROR_RATE`; ``healthy`` otherwise."""
        state = self.breaker.state
        if state is BreakerState.OPEN:
            return Health.DOWN
        if state is BreakerState.HALF_OPEN:
            return Health.DEGRADED
        if self.stats.snapshot()["error_rate"] >= DEGRADED_ERROR_RATE:
            return Health.DEGRADED
        return Health.HEALTHY

    def snapshot(self) -> dict[str, Any]:
        """Everything ``GET /models/providers`` shows for this deployment."""
        last = self.stats.last_error
        return {
            "model_name": self.model_name,
            "breaker_state": self.breaker.state.value,
            "health": self.health().value,
            **self.stats.snapshot(),
            "last_error": last.message if last else None,
            "last_error_status": last.status_code if last else None,
            "last_error_at": last.at if last else None,
        }


class DeploymentRegistry:
    """Breakers and stats by ``model_name``, created on first use with shared settings."""

    def __init__(
        self, settings: BreakerSettings | None = None, *, clock: Clock = time.monotonic
    ) -> None:
        self.settings = settings or BreakerSettings()
        self._clock = clock
        self._lock = threading.Lock()
        self._deployments: dict[str, Deployment] = {}

    def get(self, model_name: str) -> Deployment:
        with self._lock:
            found = self._deployments.get(model_name)
            if found is None:
                found = Deployment(
                    model_name,
                    CircuitBreaker(self.settings, clock=self._clock),
                    DeploymentStats(clock=self._clock),
                )
                self._deployments[model_name] = found
            return found
