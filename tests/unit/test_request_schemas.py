"""What the request schemas refuse at the door (api/schemas): values that cannot be stored,
integers beyond their columns, unprintable names, provider keys that cannot be sent in an HTTP
header, URLs that are not http(s). Each refusal names the field."""

from __future__ import annotations

import math
import uuid
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from api.schemas.approvals import ApprovalPolicyPut
from api.schemas.common import INT32_MAX, INT64_MAX, unstorable
from api.schemas.datasets import DatasetCreate
from api.schemas.identity import ApiKeyCreate, ApiKeyUpdate, MemberCreate, ProviderKeyCreate
from api.schemas.openai_compat import ChatCompletionRequest
from api.schemas.projects import ProjectCreate
from api.schemas.prompts import PromptCreate, PromptVersionCreate
from api.schemas.runs import GenerateRequest, OutcomeCreate


def _refusal(model: type[BaseModel], data: dict[str, Any]) -> tuple[tuple[str | int, ...], str]:
    """The location and message of the first error validating ``data``."""
    with pytest.raises(ValidationError) as info:
        model.model_validate(data)
    error = info.value.errors(include_input=False)[0]
    return tuple(error["loc"]), error["msg"]


@pytest.mark.parametrize(
    ("value", "where", "why"),
    [
        ("a\x00b", "", "NUL character"),
        ("a\ud800b", "", "lone surrogate (U+D800)"),
        ({"text": ["ok", "x\x00"]}, "text[1]", "NUL character"),
        ({"k\x00": 1}, "", "key 'k\\x00'"),
        ([1.0, math.inf], "[1]", "not a finite number"),
        ({"x": math.nan}, "x", "not a finite number"),
    ],
)
def test_unstorable_names_the_culprit_and_why(value: Any, where: str, why: str) -> None:
    reason = unstorable(value)
    assert reason is not None and why in reason
    assert reason.startswith(f"{where}: ") if where else ":" not in reason.split(" ")[0]


def test_storable_values_pass_at_any_depth() -> None:
    deep: dict[str, Any] = {}
    node = deep
    for _ in range(5000):  # deeper than the interpreter's recursion limit
        node["a"] = {}
        node = node["a"]
    node["text"] = "déjà vu, 東京, emoji 🙂"
    assert unstorable(deep) is None
    node["text"] = "\x00"
    reason = unstorable(deep, "variables")
    assert reason is not None and reason.startswith("...a.a.") and len(reason) < 200
    assert reason.endswith("a.text: contains a NUL character (U+0000), which cannot be stored")


def test_prompt_versions_refuse_what_cannot_be_stored_naming_the_field() -> None:
    base = {"body": "Say {{ text }}", "variables": {"text": "str"}}
    assert _refusal(PromptVersionCreate, {**base, "body": "Say \x00 {{ text }}"})[0] == ("body",)
    loc, msg = _refusal(PromptVersionCreate, {**base, "variables": {"text": "s\udc00"}})
    assert loc == ("variables",) and "text: contains a lone surrogate" in msg
    loc, _ = _refusal(PromptVersionCreate, {**base, "decoding": {"seed": INT64_MAX + 1}})
    assert loc == ("decoding", "seed")
    loc, _ = _refusal(PromptVersionCreate, {**base, "decoding": {"temperature": math.nan}})
    assert loc == ("decoding", "temperature")
    assert _refusal(PromptVersionCreate, {**base, "model": "m" * 201})[0] == ("model",)
    ok = PromptVersionCreate.model_validate({**base, "decoding": {"seed": INT64_MAX}})
    assert ok.decoding.seed == INT64_MAX


@pytest.mark.parametrize("model", [ProjectCreate, PromptCreate, ApiKeyCreate])
@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("bad\nname", "U+000A"),
        ("zero\u200bwidth", "U+200B"),
        ("   ", "blank"),
        ("n" * 201, "at most 200"),
    ],
)
def test_names_are_printable_and_bounded(model: type[BaseModel], name: str, why: str) -> None:
    data: dict[str, Any] = {"name": name, "role": "Viewer"}
    loc, msg = _refusal(model, data)
    assert loc == ("name",) and why in msg


def test_a_name_may_use_any_printable_script() -> None:
    assert ProjectCreate.model_validate({"name": "Équipe 東京 – triage"}).name
    loc, msg = _refusal(
        DatasetCreate, {"project_id": str(uuid.uuid4()), "name": "d", "task_type": "gen\teration"}
    )
    assert loc == ("task_type",) and "U+0009" in msg


@pytest.mark.parametrize("field", ["rate_limit_rpm"])
def test_api_key_rate_limits_fit_their_integer_column(field: str) -> None:
    data = {"name": "k", "role": "Viewer", field: INT32_MAX + 1}
    assert _refusal(ApiKeyCreate, data)[0] == (field,)
    assert _refusal(ApiKeyUpdate, {field: 2**64})[0] == (field,)
    assert ApiKeyUpdate.model_validate({field: INT32_MAX}).rate_limit_rpm == INT32_MAX


@pytest.mark.parametrize(
    ("key", "why"),
    [
        ("", "at least 1"),
        ("sk abc", "visible ASCII"),
        ("sk-\tabc", "visible ASCII"),
        ("sk-é", "visible ASCII"),
        ("sk-\x00", "visible ASCII"),
        ("sk-abc\n", "visible ASCII"),
        ("k" * 4097, "at most 4096"),
    ],
)
def test_provider_keys_must_fit_in_an_http_header(key: str, why: str) -> None:
    with pytest.raises(ValidationError) as info:
        ProviderKeyCreate.model_validate({"provider": "openai", "name": "n", "api_key": key})
    errors = info.value.errors(include_input=False)
    assert errors[0]["loc"] == ("api_key",) and why in errors[0]["msg"]
    if key:  # the messages never quote the key (the router answers without the inputs)
        assert key not in str(errors)


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com",
        "https://",
        "http://exa mple.com",
        "https://example.com:99999",
        "https://example.com/\x7f",
        "javascript:alert(1)",
    ],
)
def test_urls_must_be_http_urls(url: str) -> None:
    loc, msg = _refusal(
        ProviderKeyCreate, {"provider": "openai", "name": "n", "api_key": "sk-1", "api_base": url}
    )
    assert loc == ("api_base",) and "http(s) URL" in msg
    loc, _ = _refusal(ApprovalPolicyPut, {"webhook_url": url})
    assert loc == ("webhook_url",)


def test_good_urls_pass_and_blank_ones_mean_the_default() -> None:
    key = ProviderKeyCreate.model_validate(
        {
            "provider": "openai",
            "name": "n",
            "api_key": "sk-1",
            "api_base": " https://api.example.com:8443/v1 ",
        }
    )
    assert key.api_base == "https://api.example.com:8443/v1"
    assert (
        ProviderKeyCreate.model_validate(
            {"provider": "openai", "name": "n", "api_key": "sk-1", "api_base": " "}
        ).api_base
        is None
    )
    assert ApprovalPolicyPut.model_validate({"webhook_url": ""}).webhook_url is None


def test_approval_policy_bounds_the_examples_it_evaluates() -> None:
    assert _refusal(ApprovalPolicyPut, {"eval_max_examples": INT32_MAX + 1})[0] == (
        "eval_max_examples",
    )


def test_emails_fit_the_actor_columns() -> None:
    loc, msg = _refusal(MemberCreate, {"email": "a" * 190 + "@example.com", "role": "Viewer"})
    assert loc == ("email",) and "200 characters" in msg
    assert _refusal(MemberCreate, {"email": "a\x01b@example.com", "role": "Viewer"})[0] == (
        "email",
    )


def test_the_hot_path_bodies_refuse_what_cannot_be_stored() -> None:
    loc, msg = _refusal(
        GenerateRequest, {"prompt_version_id": str(uuid.uuid4()), "variables": {"q": "x\x00"}}
    )
    assert loc == ("variables",) and "q: contains a NUL" in msg
    assert _refusal(GenerateRequest, {"label": "l" * 101})[0] == ("label",)
    loc, _ = _refusal(ChatCompletionRequest, {"model": "stub", "seed": -(2**63) - 1})
    assert loc == ("seed",)
    loc, _ = _refusal(
        ChatCompletionRequest,
        {"model": "stub", "messages": [{"role": "user", "content": "hi\ud800"}]},
    )
    assert loc == ("messages", 0, "content")
    assert _refusal(OutcomeCreate, {"name": "n", "value": math.inf})[0] == ("value",)
