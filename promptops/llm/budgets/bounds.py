"""Budget arithmetic shared by the API and workers: the most a request can cost, and periods.

A request is checked against its project's budgets BEFORE the provider call by reserving its
maximum usage (:func:`max_usage`); after the call the reservation is replaced by the actual
usage the provider reported. Formulas:

- prompt tokens (estimate, before tokenizing) = ceil(characters of all message contents / 4)
  + 4 per message + 3. Four characters per token is OpenAI's rule of thumb for English text;
  the per-message and reply-priming overheads are those of OpenAI's chat format (the
  ``num_tokens_from_messages`` recipe of the OpenAI cookbook). It is an estimate: text that
  tokenizes worse than 4 characters per token (code, non-Latin scripts) can use more.
- completion tokens (bound) = the request's ``max_tokens``, or :data:`DEFAULT_MAX_TOKENS` when
  it sets none (the gateway then passes that cap to the provider, so the bound holds).
- maximum cost (USD) = prompt tokens x input price per token + completion tokens x output
  price per token (the model list's ``input_cost_per_token`` / ``output_cost_per_token``).

Periods are calendar periods in UTC: a day starts at 00:00 UTC, a month on its 1st.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

#: Characters per token of the prompt estimate (OpenAI's rule of thumb for English).
CHARS_PER_TOKEN = 4
#: Tokens of chat-format overhead per message and for priming the reply (OpenAI cookbook).
TOKENS_PER_MESSAGE = 4
REPLY_PRIMING_TOKENS = 3
#: Completion tokens reserved (and passed as ``max_tokens``) when a request sets no limit.
DEFAULT_MAX_TOKENS = 1024


class Period(StrEnum):
    DAY = "day"
    MONTH = "month"


#: Period -> (USD limit field, token limit field) of a project's budget.
PERIOD_FIELDS = {
    Period.DAY: ("daily_usd", "daily_tokens"),
    Period.MONTH: ("monthly_usd", "monthly_tokens"),
}


@dataclass(frozen=True)
class Usage:
    """An amount of usage: tokens (prompt + completion) and USD."""

    tokens: int
    usd: Decimal


def _content_chars(content: Any) -> int:
    if content is None:
        return 0
    if isinstance(content, str):
        return len(content)
    if isinstance(content, list):  # OpenAI content parts: count the text parts
        return sum(
            len(str(part.get("text", ""))) if isinstance(part, Mapping) else len(str(part))
            for part in content
        )
    return len(str(content))


def estimate_prompt_tokens(messages: Iterable[Mapping[str, Any]]) -> int:
    """Estimated prompt tokens of chat ``messages``: ceil(content characters / 4) + 4 per
    message + 3 (see the module docstring for the source)."""
    chars = 0
    count = 0
    for message in messages:
        count += 1
        chars += _content_chars(message.get("content"))
    return math.ceil(chars / CHARS_PER_TOKEN) + TOKENS_PER_MESSAGE * count + REPLY_PRIMING_TOKENS


def completion_token_bound(max_tokens: int | None) -> int:
    """The request's ``max_tokens``, or :data:`DEFAULT_MAX_TOKENS` when it is None."""
    return DEFAULT_MAX_TOKENS if max_tokens is None else max(0, int(max_tokens))


def max_usage(
    prompt_tokens: int,
    max_tokens: int | None,
    input_cost_per_token: float,
    output_cost_per_token: float,
) -> Usage:
    """The most one request can use: tokens = prompt + completion bound; USD = prompt x input
    price + completion bound x output price (prices in USD per token)."""
    completion = completion_token_bound(max_tokens)
    usd = Decimal(prompt_tokens) * Decimal(str(input_cost_per_token)) + Decimal(
        completion
    ) * Decimal(str(output_cost_per_token))
    return Usage(tokens=prompt_tokens + completion, usd=usd)


def period_start(period: Period | str, now: datetime | None = None) -> date:
    """First day (UTC) of the ``period`` containing ``now`` (default: the current time). A
    naive ``now`` is taken as UTC."""
    now = now or datetime.now(UTC)
    if now.tzinfo is not None:
        now = now.astimezone(UTC)
    today = now.date()
    if Period(period) is Period.DAY:
        return today
    return today.replace(day=1)


def period_end(period: Period | str, start: date) -> date:
    """First day of the next period after the one starting on ``start`` (exclusive end)."""
    if Period(period) is Period.DAY:
        return date.fromordinal(start.toordinal() + 1)
    return date(start.year + start.month // 12, start.month % 12 + 1, 1)
