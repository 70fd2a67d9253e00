"""``POST /api/v1/generate`` through the whole gateway path on the real app: fallbacks recorded
on the run, Server-Sent Events with token counts and cost in the last event, JSON Schema
validation with the error fed back, and the budget bound over every candidate."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from promptops.db.models import Run
from promptops.db.session import get_session_factory
from tests.support.apps import issue_key, running_app
from tests.support.stub_llm import StubLLMServer
from tests.support.stubs import fallback_catalog, reset, two_stubs


@pytest.fixture(scope="module")
def stubs() -> Iterator[tuple[StubLLMServer, StubLLMServer]]:
    with two_stubs(None, "from backup") as pair:
        yield pair


@pytest.fixture
async def app(
    stubs: tuple[StubLLMServer, StubLLMServer], pg_url: str
) -> AsyncIterator[dict[str, Any]]:
    primary, backup = stubs
    reset(*stubs)
    catalog = fallback_catalog(
        primary, backup, primary_prices=(1e-6, 2e-6), backup_prices=(1e-5, 4e-5), allowed_fails=100
    )
    key = await issue_key(
        pg_url, organization=f"gen-{uuid.uuid4().hex[:8]}", email=f"g-{uuid.uuid4().hex[:6]}@g.ex"
    )
    async with (
        running_app(pg_url, None, catalog, f"tq-{uuid.uuid4().hex[:8]}") as running,
        running.client(key.key) as api,
    ):
        project, version = await _prompt(api)
        yield {
            "api": api,
            "project": project,
            "version": version,
            "running": running,
            "primary": primary,
            "backup": backup,
        }


async def _prompt(api: httpx.AsyncClient) -> tuple[str, str]:
    """A project "gen" with prompt "p" ("Say: {{ text }}" on model primary): (project, version)."""
    project = (await api.post("/projects", json={"name": "gen"})).json()
    prompt = (await api.post(f"/projects/{project['id']}/prompts", json={"name": "p"})).json()
    r = await api.post(
        f"/prompts/{prompt['id']}/versions",
        json={"body": "Say: {{ text }}", "variables": {"text": "str"}, "model": "primary"},
    )
    assert r.status_code == 201, r.text
    return project["id"], r.json()["id"]


async def _run(pg_url: str, run_id: str) -> Run:
    async with get_session_factory(pg_url)() as session:
        return (await session.execute(select(Run).where(Run.id == uuid.UUID(run_id)))).scalar_one()


async def test_fallback_is_recorded_on_the_run(app: dict[str, Any], pg_url: str) -> None:
    app["primary"].cfg.fail_next, app["primary"].cfg.fail_status = 1, 503
    r = await app["api"].post(
        "/generate",
        json={"prompt_version_id": app["version"], "variables": {"text": "hello world"}},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["model"] == "backup" and body["output"] == "from backup"
    assert [(a["model"], a["status"]) for a in body["attempts"]] == [
        ("primary", 503),
        ("backup", 200),
    ]
    run = await _run(pg_url, body["run_id"])
    assert run.model == "backup" and run.attempts == body["attempts"]
    # A non-retryable provider error fails fast with the provider's message; run recorded.
    app["primary"].cfg.fail_next, app["primary"].cfg.fail_status = 1, 400
    r = await app["api"].post(
        "/generate", json={"prompt_version_id": app["version"], "variables": {"text": "x"}}
    )
    assert r.status_code == 400 and "injected failure" in r.text
    assert app["backup"].cfg.calls == 1


async def test_generate_streams_server_sent_events(app: dict[str, Any], pg_url: str) -> None:
    events: list[tuple[str, Any]] = []
    async with app["api"].stream(
        "POST",
        "/generate",
        json={
            "prompt_version_id": app["version"],
            "stream": True,
            "variables": {"text": "one two three four"},
        },
    ) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        event = None
        async for line in r.aiter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                events.append((event, json.loads(line[6:])))
    kinds = [e for e, _ in events]
    assert kinds[-1] == "done" and set(kinds[:-1]) == {"delta"} and len(kinds) >= 2
    text = "".join(d["text"] for e, d in events if e == "delta")
    done = events[-1][1]
    assert text == done["output"] and text.startswith("Say: one two")
    assert done["metrics"]["tokens"]["completion"] > 0
    assert done["metrics"]["cost_usd"] == pytest.approx(
        done["metrics"]["tokens"]["prompt"] * 1e-6 + done["metrics"]["tokens"]["completion"] * 2e-6
    )
    run = await _run(pg_url, done["run_id"])
    assert run.output == text and run.success


async def test_schema_violation_is_retried_with_the_error_fed_back(
    app: dict[str, Any], pg_url: str
) -> None:
    schema = {
        "type": "object",
        "properties": {"label": {"enum": ["spam", "ham"]}},
        "required": ["label"],
    }
    app["primary"].cfg.replies = ["not json at all", '{"label": "maybe"}', '{"label": "spam"}']
    r = await app["api"].post(
        "/generate",
        json={
            "prompt_version_id": app["version"],
            "variables": {"text": "buy now"},
            "schema": schema,
        },
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["output"] == {"label": "spam"}
    assert app["primary"].cfg.calls == 3
    fed_back = app["primary"].cfg.prompts[-1]
    assert "maybe" in fed_back or "JSON Schema" in fed_back
    run = await _run(pg_url, body["run_id"])
    assert len(run.attempts) == 3
    # Always invalid: 422 on `schema` naming the validation error (the request asked for what
    # the model did not produce: not a server error), recorded as a failed run.
    app["primary"].cfg.replies = ['{"label": 1}'] * 3
    r = await app["api"].post(
        "/generate",
        json={"prompt_version_id": app["version"], "variables": {"text": "x"}, "schema": schema},
    )
    assert r.status_code == 422 and "JSON Schema" in r.text, r.text
    assert r.json()["detail"][0]["loc"] == ["body", "schema"]
    # A schema that is not a JSON Schema: 422 naming the field.
    r = await app["api"].post(
        "/generate",
        json={
            "prompt_version_id": app["version"],
            "variables": {"text": "x"},
            "schema": {"type": "no-such-type"},
        },
    )
    assert r.status_code == 422 and "schema" in r.text


async def test_budget_reserves_for_the_most_expensive_candidate(app: dict[str, Any]) -> None:
    api: httpx.AsyncClient = app["api"]
    # primary's bound: ~ (prompt + 100) tokens at 2e-6 per output token ~ 0.0002 USD; backup's
    # is 20x that. A limit between the two refuses the call, though primary would answer.
    r = await api.put(f"/projects/{app['project']}/budgets", json={"daily_usd": 0.001})
    assert r.status_code == 200, r.text
    r = await api.post(
        "/generate",
        json={
            "prompt_version_id": app["version"],
            "variables": {"text": "x"},
            "decoding": {"max_tokens": 100},
        },
    )
    assert r.status_code == 429 and "daily" in r.text
    r = await api.post(
        "/generate",
        json={
            "prompt_version_id": app["version"],
            "variables": {"text": "x"},
            "model": "backup",
            "decoding": {"max_tokens": 10},
        },
    )
    assert r.status_code == 200, r.text


async def _gen(api: httpx.AsyncClient, version: str, text: str, **extra: Any) -> dict[str, Any]:
    r = await api.post(
        "/generate", json={"prompt_version_id": version, "variables": {"text": text}, **extra}
    )
    assert r.status_code == 200, r.text
    return r.json()


async def test_exact_cache_hits_cost_nothing_and_stay_in_their_tenant(
    app: dict[str, Any], pg_url: str
) -> None:
    api, primary = app["api"], app["primary"]
    r = await api.put(
        f"/projects/{app['project']}/cache", json={"exact": {"enabled": True, "ttl_s": 600}}
    )
    assert r.status_code == 200, r.text
    first = await _gen(api, app["version"], "cache me")
    assert first["cache_hit"] is False and primary.cfg.calls == 1
    second = await _gen(api, app["version"], "cache me")
    assert (second["cache_hit"], second["cache_kind"]) == (True, "exact")
    assert second["output"] == first["output"] and second["metrics"]["cost_usd"] == 0
    assert primary.cfg.calls == 1  # the provider was not asked again
    run = await _run(pg_url, second["run_id"])
    assert (
        run.cache_hit
        and run.cost_usd == 0
        and run.tokens_out == first["metrics"]["tokens"]["completion"]
    )
    # Other decoding parameters: another key, a miss.
    assert (await _gen(api, app["version"], "cache me", decoding={"temperature": 0.5}))[
        "cache_hit"
    ] is False
    assert primary.cfg.calls == 2
    # Another organization with the very same project, prompt and request never hits it.
    other = await issue_key(
        pg_url, organization=f"gen-b-{uuid.uuid4().hex[:8]}", email=f"b-{uuid.uuid4().hex[:6]}@g.ex"
    )
    async with app["running"].client(other.key) as api_b:
        project_b, version_b = await _prompt(api_b)
        await api_b.put(f"/projects/{project_b}/cache", json={"exact": {"enabled": True}})
        assert (await _gen(api_b, version_b, "cache me"))["cache_hit"] is False
        assert primary.cfg.calls == 3
        assert (await _gen(api_b, version_b, "cache me"))["cache_hit"] is True
    # Purge: the next call goes to the provider again.
    r = await api.post("/cache/purge", json={"project_id": app["project"]})
    assert r.status_code == 200 and r.json()["exact"] == 2, r.text
    assert (await _gen(api, app["version"], "cache me"))["cache_hit"] is False


async def test_semantic_cache_hits_a_paraphrase_only(app: dict[str, Any]) -> None:
    api, primary = app["api"], app["primary"]
    r = await api.put(
        f"/projects/{app['project']}/cache", json={"semantic": {"enabled": True, "threshold": 0.9}}
    )
    assert r.status_code == 200, r.text
    first = await _gen(api, app["version"], "What is the capital of France?")
    hit = await _gen(api, app["version"], "what's the capital city of France?")
    assert (hit["cache_hit"], hit["cache_kind"]) == (True, "semantic")
    assert hit["output"] == first["output"] and primary.cfg.calls == 1
    miss = await _gen(api, app["version"], "What is the capital of Germany?")
    assert miss["cache_hit"] is False and primary.cfg.calls == 2


async def test_routing_policy_decides_and_records_its_reason(
    app: dict[str, Any], pg_url: str
) -> None:
    api = app["api"]
    r = await api.put(
        f"/projects/{app['project']}/routing_policies/thrifty",
        json={"strategy": "cost_first", "candidates": ["backup", "primary"]},
    )
    assert r.status_code in (200, 201), r.text
    out = await _gen(api, app["version"], "route me", model="policy:thrifty")
    assert out["model"] == "primary"  # 10x cheaper than backup
    assert out["routing"]["policy"] == "thrifty" and out["routing"]["chosen"] == "primary"
    assert "cost_first" in out["routing"]["reason"]
    run = await _run(pg_url, out["run_id"])
    assert run.routing == out["routing"]
    # The policy's order is the fallback order: primary fails, backup answers.
    app["primary"].cfg.fail_next, app["primary"].cfg.fail_status = 1, 500
    out = await _gen(api, app["version"], "route me again", model="policy:thrifty")
    assert out["model"] == "backup"
    r = await api.post(
        "/generate",
        json={
            "prompt_version_id": app["version"],
            "variables": {"text": "x"},
            "model": "policy:nope",
        },
    )
    assert r.status_code == 422 and "nope" in r.text
