"""The budget arithmetic: maximum usage of a request and UTC calendar periods."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from promptops.llm.budgets.bounds import (
    DEFAULT_MAX_TOKENS,
    Period,
    completion_token_bound,
    estimate_prompt_tokens,
    max_usage,
    period_end,
    period_start,
)
from promptops.llm.budgets.guard import format_usd


def test_prompt_estimate_is_chars_over_four_rounded_up_plus_chat_overhead() -> None:
    # 9 + 1 characters -> ceil(10 / 4) = 3, + 4 per message x 2, + 3 priming.
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "x"}]
    assert estimate_prompt_tokens(messages) == 3 + 8 + 3
    assert estimate_prompt_tokens([]) == 3
    assert estimate_prompt_tokens([{"role": "user", "content": "abcd"}]) == 1 + 4 + 3
    assert estimate_prompt_tokens([{"role": "user", "content": "abcde"}]) == 2 + 4 + 3


def test_prompt_estimate_counts_text_parts_and_ignores_missing_content() -> None:
    parts = [{"type": "text", "text": "abcdefgh"}, {"type": "image_url", "image_url": {}}]
    assert estimate_prompt_tokens([{"role": "user", "content": parts}]) == 2 + 4 + 3
    assert estimate_prompt_tokens([{"role": "assistant", "content": None}]) == 0 + 4 + 3


def test_max_usage_is_prompt_times_input_price_plus_max_tokens_times_output_price() -> None:
    usage = max_usage(100, 50, input_cost_per_token=1e-6, output_cost_per_token=2e-6)
    assert usage.tokens == 150
    assert usage.usd == Decimal("0.0002")  # 100 x 1e-6 + 50 x 2e-6, exact in Decimal


def test_max_usage_without_max_tokens_uses_the_documented_default() -> None:
    assert completion_token_bound(None) == DEFAULT_MAX_TOKENS
    assert completion_token_bound(-3) == 0
    usage = max_usage(10, None, input_cost_per_token=0.0, output_cost_per_token=1e-5)
    assert usage.tokens == 10 + DEFAULT_MAX_TOKENS
    assert usage.usd == Decimal(DEFAULT_MAX_TOKENS) * Decimal("0.00001")


def test_free_model_costs_nothing_but_still_counts_tokens() -> None:
    usage = max_usage(7, 5, 0.0, 0.0)
    assert usage == type(usage)(tokens=12, usd=Decimal(0))


def test_period_starts_are_utc_calendar_day_and_month() -> None:
    t = datetime(2026, 3, 31, 23, 30, tzinfo=UTC)
    assert period_start(Period.DAY, t) == date(2026, 3, 31)
    assert period_start("month", t) == date(2026, 3, 1)
    # 01:30 on April 1st in UTC+2 is still March 31st in UTC.
    plus2 = datetime(2026, 4, 1, 1, 30, tzinfo=timezone(timedelta(hours=2)))
    assert period_start(Period.DAY, plus2) == date(2026, 3, 31)
    assert period_start(Period.MONTH, plus2) == date(2026, 3, 1)
    assert period_start(Period.DAY, datetime(2026, 1, 5, 12)) == date(2026, 1, 5)  # naive = UTC


def test_period_ends_roll_over_months_and_years() -> None:
    assert period_end(Period.DAY, date(2026, 2, 28)) == date(2026, 3, 1)
    assert period_end(Period.DAY, date(2028, 2, 28)) == date(2028, 2, 29)
    assert period_end(Period.MONTH, date(2026, 11, 1)) == date(2026, 12, 1)
    assert period_end(Period.MONTH, date(2026, 12, 1)) == date(2027, 1, 1)


def test_current_period_contains_now() -> None:
    now = datetime.now(UTC)
    for period in Period:
        start = period_start(period)
        assert start <= now.date() < period_end(period, start)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal(1), "1.00"),
        (Decimal("0.98"), "0.98"),
        (Decimal("0.0002"), "0.0002"),
        (Decimal("0.123456789"), "0.12345679"),
    ],
)
def test_usd_in_messages(value: Decimal, text: str) -> None:
    assert format_usd(value) == text
