"""Exact-cache keys, semantic params keys, the embedded text and the cache settings."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from promptops.llm.cache import (
    CachedResponse,
    CacheSettings,
    exact_cache_key,
    params_key,
    semantic_text,
)

MESSAGES = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "What is the capital of France?"},
]
DECODING = {"temperature": 0.2, "max_tokens": 50}
SCHEMA = {"type": "json_schema", "json_schema": {"name": "a", "schema": {"type": "object"}}}
TOOLS = [{"type": "function", "function": {"name": "lookup", "parameters": {}}}]


def _key(**overrides: object) -> str:
    args: dict[str, object] = {
        "model": "gpt-x",
        "messages": MESSAGES,
        "decoding": DECODING,
        "response_format": SCHEMA,
        "tools": TOOLS,
        "tool_choice": "auto",
    }
    args.update(overrides)
    return exact_cache_key(**args)  # type: ignore[arg-type]


def test_key_is_a_stable_sha256_hex() -> None:
    key = _key()
    assert len(key) == 64 and int(key, 16) >= 0
    assert key == _key()
    # Pinned: a change of the canonical form must be deliberate (bump KEY_VERSION).
    assert exact_cache_key("m", [{"role": "user", "content": "hi"}]) == exact_cache_key(
        "m", [{"content": "hi", "role": "user"}], {}, None, [], None
    )


@pytest.mark.parametrize(
    "change",
    [
        {"model": "gpt-y"},
        {"messages": [*MESSAGES[:1], {"role": "user", "content": "What is the capital of Spain?"}]},
        {"messages": list(reversed(MESSAGES))},
        {"decoding": {"temperature": 0.3, "max_tokens": 50}},
        {"decoding": {"temperature": 0.2, "max_tokens": 51}},
        {"decoding": {"temperature": 0.2, "max_tokens": 50, "seed": 1}},
        {"response_format": None},
        {"response_format": {"type": "json_object"}},
        {"tools": None},
        {"tools": [{"type": "function", "function": {"name": "other", "parameters": {}}}]},
        {"tool_choice": "required"},
    ],
)
def test_every_component_changes_the_key(change: dict[str, object]) -> None:
    assert _key(**change) != _key()


def test_parameter_order_and_missing_values_do_not_matter() -> None:
    assert _key(decoding={"max_tokens": 50, "temperature": 0.2}) == _key()
    assert _key(decoding={"max_tokens": 50, "temperature": 0.2, "top_p": None}) == _key()
    assert _key(decoding={"temperature": 0.2, "max_tokens": 50.0}) == _key()
    reordered = {"json_schema": {"schema": {"type": "object"}, "name": "a"}, "type": "json_schema"}
    assert _key(response_format=reordered) == _key()
    assert exact_cache_key("m", MESSAGES, {}) == exact_cache_key("m", MESSAGES, None)
    assert exact_cache_key("m", MESSAGES, {"temperature": 1}) == exact_cache_key(
        "m", MESSAGES, {"temperature": 1.0}
    )


def test_params_key_ignores_prompt_and_model_but_not_parameters() -> None:
    base = params_key(DECODING, SCHEMA, TOOLS, "auto")
    assert base == params_key({"max_tokens": 50, "temperature": 0.2}, SCHEMA, TOOLS, "auto")
    assert params_key({}, None, None, None) == params_key()
    for other in (
        params_key({"temperature": 0.9}, SCHEMA, TOOLS, "auto"),
        params_key(DECODING, None, TOOLS, "auto"),
        params_key(DECODING, SCHEMA, None, "auto"),
        params_key(DECODING, SCHEMA, TOOLS, "none"),
    ):
        assert other != base
    assert len(base) == 64


def test_semantic_text_of_a_prompt_version_is_its_variables_only() -> None:
    rendered = [
        {"role": "system", "content": "A very long shared template. " * 50},
        {"role": "user", "content": "Question: What is the capital of France?"},
    ]
    text = semantic_text(
        rendered, {"question": "What is the capital of France?", "audience": "kids", "n": 3}
    )
    assert text == ("audience: kids\nn: 3\nquestion: What is the capital of France?")
    assert "template" not in text
    # Non-string values are canonical JSON (key order irrelevant).
    assert semantic_text([], {"ctx": {"b": 1, "a": 2}}) == semantic_text(
        [], {"ctx": {"a": 2, "b": 1}}
    )
    # A version without variables embeds nothing but is still version-scoped.
    assert semantic_text(rendered, {}) == ""
    # Messages appended after the rendered version are part of the text.
    extra = [{"role": "user", "content": "And Spain?"}]
    assert semantic_text(rendered, {"q": "x"}, extra_messages=extra) == "q: x\nuser: And Spain?"


def test_semantic_text_of_raw_messages_is_role_and_content_lines() -> None:
    assert semantic_text(MESSAGES) == ("system: Be brief.\nuser: What is the capital of France?")
    parts = [
        {
            "role": "user",
            "content": [{"type": "text", "text": "Hi"}, {"type": "text", "text": "there"}],
        },
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "1", "function": {"name": "f", "arguments": "{}"}}],
        },
    ]
    text = semantic_text(parts)
    assert text.startswith("user: Hi there\nassistant: ")
    assert '"name": "f"' in text


def test_cached_response_round_trips() -> None:
    response = CachedResponse(
        output="Paris", tokens_in=7, tokens_out=1, finish_reason="stop", tool_calls=[{"id": "1"}]
    )
    assert CachedResponse.from_dict(response.to_dict()) == response
    assert CachedResponse.from_dict({"output": "x"}) == CachedResponse(output="x")


def test_settings_default_off_and_validate() -> None:
    settings = CacheSettings.model_validate({})
    assert not settings.exact.enabled and not settings.semantic.enabled
    assert settings.exact.ttl_s == 3600 and settings.semantic.threshold == 0.95
    assert (
        CacheSettings.model_validate(
            {"semantic": {"enabled": True, "threshold": 1}}
        ).semantic.threshold
        == 1.0
    )
    for bad in (
        {"semantic": {"threshold": 1.5}},
        {"semantic": {"threshold": 0}},
        {"exact": {"ttl_s": 0}},
        {"exact": {"colour": "red"}},
    ):
        with pytest.raises(ValidationError):
            CacheSettings.model_validate(bad)
