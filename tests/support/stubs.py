"""Two stub providers, ``primary`` falling back to ``backup``, for the gateway tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from promptops.llm import ModelCatalog
from tests.support.stub_llm import StubConfig, StubLLMServer


class FakeClock:
    """A monotonic clock the test moves by hand (``clock.now += 30``)."""

    def __init__(self) -> None:
        self.now = 5000.0

    def __call__(self) -> float:
        return self.now


@contextmanager
def two_stubs(
    primary_reply: str | None = "from primary", backup_reply: str | None = "from backup"
) -> Iterator[tuple[StubLLMServer, StubLLMServer]]:
    """Two running stubs answering with fixed replies (None: echo the prompt)."""
    primary = StubLLMServer(StubConfig(fixed_reply=primary_reply)).start()
    backup = StubLLMServer(StubConfig(fixed_reply=backup_reply)).start()
    try:
        yield primary, backup
    finally:
        primary.stop()
        backup.stop()


def reset(*stubs: StubLLMServer) -> None:
    """Back to healthy: no injected failures or latency, counters and recorded requests (and
    their Authorization headers) cleared."""
    for s in stubs:
        s.cfg.fail_next, s.cfg.fail_status, s.cfg.error_rate, s.cfg.calls = 0, 500, 0.0, 0
        s.cfg.tool_call, s.cfg.stream_abort_after, s.cfg.replies = None, None, []
        s.cfg.latency_s = 0.0
        s.cfg.requests.clear()
        s.cfg.authorizations.clear()


def fallback_catalog(
    primary: StubLLMServer,
    backup: StubLLMServer,
    *,
    primary_prices: tuple[float, float] = (1e-6, 2e-6),
    backup_prices: tuple[float, float] = (1e-6, 2e-6),
    **router_settings: Any,
) -> ModelCatalog:
    """Models ``primary`` and ``backup`` (prices in USD per input/output token), ``primary``
    falling back to ``backup``; ``router_settings`` adds breaker settings."""
    models = (
        primary.model_list("primary", input_cost=primary_prices[0], output_cost=primary_prices[1])[
            "model_list"
        ]
        + backup.model_list("backup", input_cost=backup_prices[0], output_cost=backup_prices[1])[
            "model_list"
        ]
    )
    return ModelCatalog.from_dict(
        {
            "model_list": models,
            "router_settings": {"fallbacks": [{"primary": ["backup"]}], **router_settings},
        }
    )
