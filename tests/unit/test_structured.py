"""Structured outputs: validation, retry with the error fed back, schema checks, formats."""

from __future__ import annotations

import json
from typing import Any

import pytest

from promptops.llm import Completion, ModelCatalog, ModelEntry
from promptops.llm.structured import (
    StructuredOutputError,
    check_schema,
    complete_structured,
    response_format_for,
    schema_of,
    validation_error,
)

SCHEMA = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}},
    "required": ["name", "age"],
    "additionalProperties": False,
}
MSG = [{"role": "user", "content": "Who is Ada?"}]


class ScriptedModel:
    """A ``call`` that answers with the given outputs in order and records each request."""

    def __init__(self, *outputs: str) -> None:
        self.outputs = list(outputs)
        self.requests: list[list[dict[str, Any]]] = []

    async def __call__(self, messages: list[dict[str, Any]]) -> Completion:
        self.requests.append(messages)
        output = self.outputs.pop(0)
        return Completion(
            model="m", output=output, tokens_in=10, tokens_out=5, cost_usd=0.001, latency_ms=1.0
        )


async def test_valid_first_time() -> None:
    model = ScriptedModel(json.dumps({"name": "Ada", "age": 36}))
    result = await complete_structured(model, MSG, SCHEMA)
    assert result.parsed == {"name": "Ada", "age": 36}
    assert result.attempts == 1 and result.errors == []
    assert result.completions == [result.completion]
    assert model.requests == [MSG]


async def test_invalid_json_then_valid_feeds_the_error_back() -> None:
    model = ScriptedModel("Sure! Ada is 36.", json.dumps({"name": "Ada", "age": 36}))
    result = await complete_structured(model, MSG, SCHEMA)
    assert result.attempts == 2 and len(result.completions) == 2
    assert result.parsed == {"name": "Ada", "age": 36}
    assert len(result.errors) == 1 and "not valid JSON" in result.errors[0]
    second = model.requests[1]
    assert second[: len(MSG)] == MSG
    assert second[-2] == {"role": "assistant", "content": "Sure! Ada is 36."}
    assert second[-1]["role"] == "user"
    assert second[-1]["content"].startswith(
        "Your previous answer was not valid against the JSON Schema: $: not valid JSON"
    )
    assert second[-1]["content"].endswith("Reply with only a JSON value that satisfies the schema.")
    assert model.requests[0] == MSG  # the caller's list is not mutated


async def test_schema_error_names_the_path() -> None:
    model = ScriptedModel(
        json.dumps({"name": "Ada", "age": -1}), json.dumps({"name": "Ada", "age": 36})
    )
    result = await complete_structured(model, MSG, SCHEMA)
    assert result.attempts == 2
    assert result.errors[0].startswith("$.age: -1 is less than the minimum of 0")
    assert "$.age: -1 is less than the minimum of 0" in model.requests[1][-1]["content"]


async def test_always_invalid_raises_after_max_attempts_with_all_completions() -> None:
    model = ScriptedModel('{"name": "Ada"}', "[]", '{"name": 3, "age": 1}', "never used")
    with pytest.raises(StructuredOutputError) as info:
        await complete_structured(model, MSG, SCHEMA, max_attempts=3)
    err = info.value
    assert err.attempts == 3 and len(err.completions) == 3 and len(model.requests) == 3
    assert len(err.errors) == 3
    assert "$.name: 3 is not of type 'string'" in str(err)
    # Each retry carries the whole conversation so far.
    assert len(model.requests[2]) == len(MSG) + 4
    assert sum(c.cost_usd for c in err.completions) == pytest.approx(0.003)


async def test_bad_schema_is_a_value_error_before_any_call() -> None:
    model = ScriptedModel("{}")
    with pytest.raises(ValueError, match="invalid JSON Schema"):
        await complete_structured(model, MSG, {"type": "objekt"})
    with pytest.raises(ValueError, match="must be an object"):
        check_schema("not a schema")
    with pytest.raises(ValueError, match="max_attempts"):
        await complete_structured(model, MSG, SCHEMA, max_attempts=0)
    assert model.requests == []


def test_format_checking_is_off_and_fences_are_tolerated() -> None:
    schema = {"type": "string", "format": "email"}
    assert validation_error('"not an email"', schema) is None
    assert validation_error('```json\n{"name": "Ada", "age": 1}\n```', SCHEMA) is None
    assert validation_error('{"name": "Ada"}', SCHEMA) == "$: 'age' is a required property"


def test_schema_of_reads_a_response_format() -> None:
    fmt = {"type": "json_schema", "json_schema": {"name": "output", "schema": SCHEMA}}
    assert schema_of(fmt) == SCHEMA
    assert schema_of({"type": "json_object"}) is None
    assert schema_of(None) is None


def test_response_format_for_providers_with_and_without_schema_support() -> None:
    native = ModelEntry("gpt", {"model": "openai/gpt-4o-mini"})
    fmt, instruction = response_format_for(native, SCHEMA)
    assert instruction is None
    assert fmt == {
        "type": "json_schema",
        "json_schema": {"name": "output", "schema": SCHEMA, "strict": False},
    }

    local = ModelEntry("tiny", {"model": "openai/smollm2-135m"})
    fmt, instruction = response_format_for(local, SCHEMA)
    assert fmt is None and instruction is not None
    assert (
        instruction["role"] == "system" and '"required": ["name", "age"]' in instruction["content"]
    )

    catalog = ModelCatalog.from_dict(
        {
            "model_list": [
                {
                    "model_name": "tiny",
                    "litellm_params": {"model": "openai/smollm2-135m"},
                    "model_info": {"supports_response_schema": True},
                }
            ]
        }
    )
    assert catalog.get("tiny").supports_response_schema is True
    fmt, instruction = response_format_for("tiny", SCHEMA, catalog=catalog)
    assert fmt is not None and instruction is None
    with pytest.raises(ValueError):
        response_format_for(native, {"type": 5})
