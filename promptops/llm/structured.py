"""Structured outputs: a JSON Schema on a request, passed to the provider where it is supported
and always validated on the answer, with bounded retries that feed the validation error back.

Validation uses ``jsonschema``'s Draft 2020-12 validator with format checking off (``format``
is an annotation by default in 2020-12, and providers differ in which formats they honour).

How a schema reaches the model (:func:`response_format_for`):

- a provider that supports response schemas (``model_info.supports_response_schema: true`` in
  the model list, else ``litellm.supports_response_schema(model, custom_llm_provider)``) gets
  ``response_format={"type": "json_schema", "json_schema": {"name": "output", "schema": ...,
  "strict": false}}``. ``strict`` stays off because OpenAI's strict mode accepts only a subset
  of JSON Schema (every property required, no ``additionalProperties``); our own validation is
  the guarantee instead.
- any other model gets no ``response_format`` and a system message (:func:`schema_instruction`)
  that states the schema.

Typical use (``call`` is a closure over :meth:`promptops.llm.gateway.LLMGateway.complete`)::

    fmt, instruction = response_format_for(entry, schema)
    messages = ([instruction] if instruction else []) + messages
    result = await complete_structured(
        lambda msgs: gateway.complete(msgs, model=entry.model_name, response_format=fmt),
        messages, schema)
    result.parsed, result.attempts, sum(c.cost_usd for c in result.completions)
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from promptops.llm import Completion, ModelEntry

DEFAULT_MAX_ATTEMPTS = 3

FEEDBACK = (
    "Your previous answer was not valid against the JSON Schema: {error}. "
    "Reply with only a JSON value that satisfies the schema."
)

Call = Callable[[list[dict[str, Any]]], Awaitable[Completion]]


class StructuredOutputError(RuntimeError):
    """Every attempt gave an answer that is not valid JSON or fails the schema. The message names
    the last validation error; ``attempts`` is the number of calls made and ``completions`` holds
    each of them (to meter tokens and cost); ``errors`` has one validation error per attempt."""

    def __init__(
        self,
        message: str,
        *,
        attempts: int,
        completions: list[Completion],
        errors: list[str] | None = None,
    ):
        super().__init__(message)
        self.attempts = attempts
        self.completions = list(completions)
        self.errors = list(errors or [])


@dataclass(frozen=True)
class StructuredResult:
    """A valid structured answer. ``completion`` is the last (valid) call, ``parsed`` its JSON
    value, ``attempts`` the number of calls made, ``errors`` the validation error of each failed
    attempt in order, ``completions`` every call (sum their tokens and ``cost_usd``)."""

    completion: Completion
    parsed: Any
    attempts: int
    errors: list[str] = field(default_factory=list)
    completions: list[Completion] = field(default_factory=list)


def check_schema(schema: Any) -> None:
    """Raise ``ValueError`` naming the problem when ``schema`` is not a valid Draft 2020-12
    JSON Schema (it must be an object or a boolean)."""
    if not isinstance(schema, Mapping | bool):
        # ValueError like every other bad-schema case: callers map it to a 422 on the field.
        raise ValueError(  # noqa: TRY004
            f"the JSON Schema must be an object, not {type(schema).__name__}"
        )
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        where = _path(exc.absolute_path)
        raise ValueError(f"invalid JSON Schema at {where}: {exc.message}") from None


def schema_of(response_format: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The JSON Schema inside an OpenAI ``response_format`` (``{"type": "json_schema",
    "json_schema": {"schema": {...}}}``); None for ``json_object``/``text`` or no format."""
    if not response_format or response_format.get("type") != "json_schema":
        return None
    inner = response_format.get("json_schema") or {}
    schema = inner.get("schema") if isinstance(inner, Mapping) else None
    return dict(schema) if isinstance(schema, Mapping) else None


def validation_error(output: str, schema: Mapping[str, Any] | bool) -> str | None:
    """None when ``output`` is JSON valid against ``schema``; otherwise the first error as
    ``"<path>: <message>"`` (path ``$`` for the root, e.g. ``$.items[0].price``)."""
    return validate_output(output, schema)[1]


def validate_output(output: str, schema: Mapping[str, Any] | bool) -> tuple[Any, str | None]:
    """``(value, None)`` for JSON (:func:`parse_fenced`) valid against ``schema``, else
    ``(value or None, error)`` as in :func:`validation_error`: one parse for both answers."""
    return _validate(output, Draft202012Validator(schema))


def parse_fenced(output: str) -> Any:
    """``output`` parsed as JSON; one surrounding Markdown code fence (```json ... ```) is
    tolerated, since many models add one even when told not to. Raises ``ValueError``."""
    text = output.strip()
    if text.startswith("```"):
        text = text.split("\n", 1)[1] if "\n" in text else ""
        if text.rstrip().endswith("```"):
            text = text.rstrip()[:-3]
    return json.loads(text)


def _validate(output: str, validator: Draft202012Validator) -> tuple[Any, str | None]:
    try:
        value = parse_fenced(output)
    except ValueError as exc:
        return None, f"$: not valid JSON ({exc})"
    errors = sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path))
    if not errors:
        return value, None
    first = errors[0]
    return value, f"{_path(first.absolute_path)}: {first.message}"


def _path(parts: Any) -> str:
    out = "$"
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


async def complete_structured(
    call: Call,
    messages: list[dict[str, Any]],
    schema: Mapping[str, Any] | bool,
    *,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
) -> StructuredResult:
    """Call ``call(messages)`` until its answer is JSON valid against ``schema``, at most
    ``max_attempts`` calls in all. After an invalid answer the next call's messages are the
    previous ones plus the assistant's answer and a user message feeding the error back
    (:data:`FEEDBACK`, ``"<path>: <message>"``).

    Raises ``ValueError`` for an invalid schema or ``max_attempts < 1`` (before any call),
    :class:`StructuredOutputError` when the last attempt is still invalid, and whatever
    ``call`` raises (e.g. :class:`promptops.llm.gateway.GatewayError`) as is.
    """
    if max_attempts < 1:
        raise ValueError("max_attempts must be at least 1")
    check_schema(schema)
    validator = Draft202012Validator(schema)
    history = list(messages)
    completions: list[Completion] = []
    errors: list[str] = []
    for attempt in range(1, max_attempts + 1):
        completion = await call(history)
        completions.append(completion)
        value, error = _validate(completion.output, validator)
        if error is None:
            return StructuredResult(
                completion=completion,
                parsed=value,
                attempts=attempt,
                errors=errors,
                completions=completions,
            )
        errors.append(error)
        history = [
            *history,
            {"role": "assistant", "content": completion.output},
            {"role": "user", "content": FEEDBACK.format(error=error)},
        ]
    raise StructuredOutputError(
        f"the answer failed the JSON Schema after {max_attempts} attempt(s): {errors[-1]}",
        attempts=max_attempts,
        completions=completions,
        errors=errors,
    )


def supports_response_schema(entry: ModelEntry) -> bool:
    """Whether ``entry``'s provider accepts a ``json_schema`` response format: the model list's
    ``model_info.supports_response_schema`` when set, else LiteLLM's model map (False for a
    model it does not know)."""
    if entry.supports_response_schema is not None:
        return entry.supports_response_schema
    import litellm

    model = str(entry.litellm_params.get("model", entry.model_name))
    provider = entry.provider
    if provider and model.lower().startswith(provider + "/"):
        model = model.split("/", 1)[1]
    try:
        return bool(litellm.supports_response_schema(model=model, custom_llm_provider=provider))
    except Exception:  # noqa: BLE001 - LiteLLM raises for models missing from its map
        return False


def schema_instruction(schema: Mapping[str, Any] | bool) -> dict[str, Any]:
    """A system message that states ``schema`` for models without response-schema support."""
    return {
        "role": "system",
        "content": (
            "Answer with only a JSON value (no prose, no code fence) that is valid against this "
            f"JSON Schema:\n{json.dumps(schema, sort_keys=True)}"
        ),
    }


def response_format_for(
    entry_or_model: ModelEntry | str,
    schema: Mapping[str, Any] | bool,
    *,
    catalog: Any = None,
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """``(response_format, system_message)`` for asking ``entry_or_model`` for ``schema``:
    ``({"type": "json_schema", "json_schema": {"name": "output", "schema": schema, "strict":
    False}}, None)`` when the provider supports response schemas, else ``(None,
    schema_instruction(schema))`` to prepend to the messages. A model *name* is looked up in
    ``catalog`` (a :class:`promptops.llm.gateway.ModelCatalog`) when given, else treated as a
    LiteLLM model string. Raises ``ValueError`` for an invalid schema."""
    check_schema(schema)
    if isinstance(entry_or_model, ModelEntry):
        entry = entry_or_model
    elif catalog is not None:
        entry = catalog.get(entry_or_model)
    else:
        entry = ModelEntry(model_name=entry_or_model, litellm_params={"model": entry_or_model})
    if supports_response_schema(entry):
        return (
            {
                "type": "json_schema",
                "json_schema": {"name": "output", "schema": schema, "strict": False},
            },
            None,
        )
    return None, schema_instruction(schema)
