"""The OpenAI-compatible API driven by the official ``openai`` SDK over real HTTP: plain and
``prompt:`` models, streaming with usage, errors in OpenAI's shape, and ``GET /v1/models``."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import openai
import pytest
from sqlalchemy import select

from promptops.db.models import Run
from promptops.db.session import get_session_factory
from promptops.llm import ModelCatalog
from tests.support.apps import issue_key, serving_app
from tests.support.labels import serve_approved
from tests.support.stub_llm import StubLLMServer


@pytest.fixture
async def served(
    pg_url: str, catalog: ModelCatalog, task_queue: str
) -> AsyncIterator[dict[str, Any]]:
    org = f"oai-{uuid.uuid4().hex[:8]}"
    key = await issue_key(pg_url, organization=org, email=f"dev-{uuid.uuid4().hex[:6]}@o.ex")
    async with serving_app(pg_url, None, catalog, task_queue) as base:
        import httpx

        async with httpx.AsyncClient(
            base_url=f"{base}/api/v1", timeout=60, headers={"Authorization": f"Bearer {key.key}"}
        ) as api:
            project = (await api.post("/projects", json={"name": "support"})).json()
            prompt = (
                await api.post(f"/projects/{project['id']}/prompts", json={"name": "triage"})
            ).json()
            r = await api.post(
                f"/prompts/{prompt['id']}/versions",
                json={
                    "body": "Ticket: {{ ticket }}",
                    "system": "You triage tickets.",
                    "variables": {"ticket": "str"},
                },
            )
            assert r.status_code == 201, r.text
            version = r.json()["id"]
            await serve_approved(pg_url, prompt["id"], version)
            client = openai.AsyncOpenAI(base_url=f"{base}/v1", api_key=key.key, max_retries=0)
            yield {
                "client": client,
                "api": api,
                "project": project,
                "version": version,
                "key": key.key,
                "base": base,
            }
            await client.close()


async def _run(pg_url: str, run_id: str) -> Run:
    async with get_session_factory(pg_url)() as session:
        run = (await session.execute(select(Run).where(Run.id == uuid.UUID(run_id)))).scalar_one()
        return run


async def test_chat_completion_with_a_model_name(
    served: dict[str, Any], pg_url: str, catalog: ModelCatalog
) -> None:
    client: openai.AsyncOpenAI = served["client"]
    model = catalog.default_model
    out = await client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": "alpha beta gamma delta"}],
        max_tokens=20,
        user="user-7",
    )
    assert out.object == "chat.completion" and out.model == model
    assert out.choices[0].message.role == "assistant"
    assert out.choices[0].message.content.startswith("alpha beta")
    assert out.usage.total_tokens == out.usage.prompt_tokens + out.usage.completion_tokens > 0
    extras = out.model_extra["promptops"]
    run = await _run(pg_url, extras["run_id"])
    assert run.source == "openai" and run.prompt_version_id is None
    assert run.project_id == uuid.UUID(served["project"]["id"])
    assert run.subject_id == "user-7" and run.output == out.choices[0].message.content


async def test_prompt_model_renders_the_label_and_appends_messages(
    served: dict[str, Any], pg_url: str, stub_llm: StubLLMServer
) -> None:
    client: openai.AsyncOpenAI = served["client"]
    out = await client.chat.completions.create(
        model="prompt:triage@production",
        messages=[{"role": "user", "content": "please hurry"}],
        extra_body={"variables": {"ticket": "printer on fire"}},
    )
    run = await _run(pg_url, out.model_extra["promptops"]["run_id"])
    assert str(run.prompt_version_id) == served["version"]
    assert [m["role"] for m in run.rendered_input] == ["system", "user", "user"]
    assert run.rendered_input[1]["content"] == "Ticket: printer on fire"
    assert run.rendered_input[2]["content"] == "please hurry"
    # Missing variable: a 422 in OpenAI's error shape naming the variable.
    with pytest.raises(openai.UnprocessableEntityError) as info:
        await client.chat.completions.create(model="prompt:triage", messages=[])
    assert "ticket" in info.value.message
    assert info.value.body["type"] == "invalid_request_error"


async def test_streaming_through_the_sdk_ends_with_usage(
    served: dict[str, Any], pg_url: str, catalog: ModelCatalog
) -> None:
    client: openai.AsyncOpenAI = served["client"]
    stream = await client.chat.completions.create(
        model=catalog.default_model,
        stream=True,
        stream_options={"include_usage": True},
        messages=[{"role": "user", "content": "one two three four five six"}],
    )
    text, usage, finish, chunks = "", None, None, 0
    async for chunk in stream:
        chunks += 1
        if chunk.usage is not None:
            usage = chunk.usage
            extras = chunk.model_extra["promptops"]
        for choice in chunk.choices:
            text += choice.delta.content or ""
            finish = choice.finish_reason or finish
    assert chunks >= 3 and finish == "stop"
    assert text.startswith("one two three")
    assert usage is not None and usage.completion_tokens > 0
    run = await _run(pg_url, extras["run_id"])
    assert run.output == text and run.tokens_out == usage.completion_tokens


async def test_errors_use_openai_shape(served: dict[str, Any]) -> None:
    client: openai.AsyncOpenAI = served["client"]
    with pytest.raises(openai.UnprocessableEntityError) as info:
        await client.chat.completions.create(
            model="no-such-model", messages=[{"role": "user", "content": "x"}]
        )
    assert "no-such-model" in info.value.message and info.value.body["param"] == "model"
    with pytest.raises(openai.NotFoundError):
        await client.chat.completions.create(
            model="prompt:nope", messages=[{"role": "user", "content": "x"}]
        )
    bad = openai.AsyncOpenAI(base_url=client.base_url, api_key="po_bad_key", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        await bad.chat.completions.create(model="x", messages=[{"role": "user", "content": "x"}])
    await bad.close()
    with pytest.raises(openai.UnprocessableEntityError) as info:
        await client.chat.completions.create(model="prompt:triage", messages=[], temperature=9)
    assert info.value.body["param"] == "temperature"


async def test_models_lists_catalog_and_project_prompts(
    served: dict[str, Any], catalog: ModelCatalog
) -> None:
    client: openai.AsyncOpenAI = served["client"]
    ids = [m.id async for m in client.models.list()]
    assert ids[: len(catalog.entries)] == list(catalog.entries)
    assert "prompt:triage" in ids


async def test_project_must_be_chosen_when_the_org_has_several(
    served: dict[str, Any], catalog: ModelCatalog
) -> None:
    api = served["api"]
    await api.post("/projects", json={"name": "second"})
    client: openai.AsyncOpenAI = served["client"]
    msgs = [{"role": "user", "content": "hello there"}]
    with pytest.raises(openai.UnprocessableEntityError) as info:
        await client.chat.completions.create(model=catalog.default_model, messages=msgs)
    assert "OpenAI-Project" in info.value.message
    chosen = openai.AsyncOpenAI(
        base_url=client.base_url, api_key=served["key"], project="support", max_retries=0
    )
    out = await chosen.chat.completions.create(model=catalog.default_model, messages=msgs)
    assert out.choices[0].message.content
    other = openai.AsyncOpenAI(
        base_url=client.base_url, api_key=served["key"], project=str(uuid.uuid4()), max_retries=0
    )
    with pytest.raises(openai.NotFoundError):
        await other.chat.completions.create(model=catalog.default_model, messages=msgs)
    await chosen.close()
    await other.close()


async def test_another_organizations_project_is_not_reachable(
    served: dict[str, Any], pg_url: str, catalog: ModelCatalog
) -> None:
    import httpx

    other_key = await issue_key(
        pg_url, organization=f"oai-b-{uuid.uuid4().hex[:8]}", email=f"b-{uuid.uuid4().hex[:6]}@o.ex"
    )
    async with httpx.AsyncClient(
        base_url=f"{served['base']}/api/v1",
        timeout=60,
        headers={"Authorization": f"Bearer {other_key.key}"},
    ) as b:
        theirs = (await b.post("/projects", json={"name": "secret-b"})).json()
        await b.post(f"/projects/{theirs['id']}/prompts", json={"name": "secret-prompt"})
    msgs = [{"role": "user", "content": "hello"}]
    for project in (theirs["id"], "secret-b"):
        intruder = openai.AsyncOpenAI(
            base_url=served["client"].base_url,
            api_key=served["key"],
            project=project,
            max_retries=0,
        )
        with pytest.raises(openai.NotFoundError):
            await intruder.chat.completions.create(model=catalog.default_model, messages=msgs)
        ids = [m.id async for m in intruder.models.list()]
        assert "prompt:secret-prompt" not in ids
        await intruder.close()
