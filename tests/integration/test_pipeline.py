"""The model-call pipeline on the real app, Postgres and the stub LLM: a stage added once
applies to every transport (the hot path, the FastAPI routes, the OpenAI-compatible API, test
runs and workflow activities); an unapproved version called explicitly is a test call; a stored
provider key that cannot be sent fails only its tenant's calls to that provider, naming the key;
a call's connection goes back to the pool while a slow provider answers; the LLM activity is
idempotent."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select, update
from temporalio.testing import ActivityEnvironment

from activities.llm.activities import LLMActivities
from activities.llm.types import CallModelInput
from promptops.db.connection import (
    CommitGroup,
    PooledConnection,
    connection_pool,
    pooled_connection,
)
from promptops.db.models import PromptVersion, ProviderCredential, Run
from promptops.db.session import get_session_factory
from promptops.errors import InvalidInput
from promptops.governance.security import credential_aad
from promptops.llm import ModelCatalog
from promptops.llm.credentials import CREDENTIALS
from promptops.llm.pipeline import CallOutcome, ModelCall, Next, Pipeline
from tests.support.apps import hot_and_plain, issue_key
from tests.support.stub_llm import StubLLMServer


class Blocklist:
    """A stage of the kind the guardrail issue adds: refuses calls whose variables or
    messages contain a word, before anything is recorded or spent."""

    name = "blocklist"

    def __init__(self, word: str) -> None:
        self.word = word
        self.seen: list[str] = []

    async def __call__(self, call: ModelCall, call_next: Next) -> CallOutcome:
        self.seen.append(call.request.source)
        text = " ".join(str(m.get("content")) for m in call.messages)
        if self.word in text:
            raise InvalidInput(f"the input contains {self.word!r}", field="variables")
        return await call_next(call)


@pytest.fixture
async def ctx(
    pg_url: str, catalog: ModelCatalog, stub_llm: StubLLMServer, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[dict[str, Any]]:
    """The app with the hot path on (``hot``) and off (``plain``), both with a
    :class:`Blocklist` stage after ``route``; one organization with a project, a prompt whose
    version 1 is labelled ``beta``."""
    stub_llm.cfg.latency_s = 0.0
    org = f"pipe-{uuid.uuid4().hex[:8]}"
    admin = await issue_key(pg_url, organization=org, email=f"a-{org}@p.ex")
    guards = {}
    async with hot_and_plain(
        pg_url, catalog, monkeypatch, {"Authorization": f"Bearer {admin.key}"}
    ) as (built, clients):
        for name, app in built.items():
            guards[name] = Blocklist("forbidden")
            app.state.pipeline = app.state.pipeline.with_stage(guards[name], after="route")
        api = clients["plain"]
        project = (await api.post("/api/v1/projects", json={"name": "pipe"})).json()
        prompt = (
            await api.post(f"/api/v1/projects/{project['id']}/prompts", json={"name": "echo"})
        ).json()
        version = (
            await api.post(
                f"/api/v1/prompts/{prompt['id']}/versions",
                json={"body": "Say {{ text }}", "variables": {"text": "str"}, "model": "stub"},
            )
        ).json()
        r = await api.put(
            f"/api/v1/prompts/{prompt['id']}/labels/beta", json={"prompt_version_id": version["id"]}
        )
        assert r.status_code == 200, r.text
        yield {
            "clients": clients,
            "guards": guards,
            "project": project,
            "prompt": prompt,
            "version": version,
            "admin": admin,
            "apps": built,
        }


async def _runs(pg_url: str, project_id: str) -> list[Run]:
    async with get_session_factory(pg_url)() as session:
        return list(
            (
                await session.execute(
                    select(Run)
                    .where(Run.project_id == uuid.UUID(project_id))
                    .order_by(Run.created_at)
                )
            ).scalars()
        )


async def test_a_stage_added_once_applies_to_every_transport(
    ctx: dict[str, Any], pg_url: str
) -> None:
    label_call = {"prompt_id": ctx["prompt"]["id"], "label": "beta"}
    for name in ("hot", "plain"):
        client = ctx["clients"][name]
        ok = await client.post(
            "/api/v1/generate", json={**label_call, "variables": {"text": "hello"}}
        )
        assert ok.status_code == 200, ok.text
        refusals = [
            await client.post(
                "/api/v1/generate", json={**label_call, "variables": {"text": "forbidden"}}
            ),
            await client.post(
                "/api/v1/generate",
                json={**label_call, "variables": {"text": "forbidden"}, "stream": True},
            ),
            await client.post(
                "/api/v1/runs/execute",
                json={
                    "prompt_version_id": ctx["version"]["id"],
                    "variables": {"text": "forbidden"},
                },
            ),
            await client.post(
                "/v1/chat/completions",
                headers={"OpenAI-Project": "pipe"},
                json={
                    "model": "stub",
                    "messages": [{"role": "user", "content": "a forbidden question"}],
                },
            ),
        ]
        assert [r.status_code for r in refusals] == [422, 422, 422, 422], [r.text for r in refusals]
        assert "forbidden" in refusals[0].json()["detail"][0]["msg"]
        assert refusals[3].json()["error"]["param"] == "variables"  # OpenAI's error shape
        assert ctx["guards"][name].seen == ["generate", "generate", "generate", "execute", "openai"]
    # Refused calls were stopped before the record stage: only the two good ones left runs.
    runs = await _runs(pg_url, ctx["project"]["id"])
    assert [(r.source, r.success) for r in runs] == [("generate", True), ("generate", True)]


async def test_an_unapproved_version_called_explicitly_is_a_test_call(
    ctx: dict[str, Any], pg_url: str
) -> None:
    api = ctx["clients"]["hot"]
    body = {
        "prompt_version_id": ctx["version"]["id"],
        "variables": {"text": "hi"},
        "subject_id": "u-7",
    }
    draft = await api.post("/api/v1/generate", json=body)
    assert draft.status_code == 200, draft.text
    async with get_session_factory(pg_url)() as session:
        await session.execute(
            update(PromptVersion)
            .where(PromptVersion.id == uuid.UUID(ctx["version"]["id"]))
            .values(status="Approved")
        )
        await session.commit()
    approved = await api.post("/api/v1/generate", json=body)
    by_label = await api.post(
        "/api/v1/generate",
        json={"prompt_id": ctx["prompt"]["id"], "label": "beta", "variables": {"text": "hi"}},
    )
    runs = {r.id: r for r in await _runs(pg_url, ctx["project"]["id"])}
    sources = [runs[uuid.UUID(r.json()["run_id"])].source for r in (draft, approved, by_label)]
    assert sources == ["test", "generate", "generate"]
    # A test call never carries a deployment: canary figures never count it.
    assert runs[uuid.UUID(draft.json()["run_id"])].deployment_id is None


async def test_an_unusable_stored_key_fails_only_its_tenants_calls(
    ctx: dict[str, Any], pg_url: str, catalog: ModelCatalog
) -> None:
    """A provider key made of characters no HTTP header carries (stored before keys were
    validated at the door) fails the calls that would use it with an error naming it; the same
    request from another organization is served."""
    box = ctx["apps"]["hot"].state.secret_box
    org = ctx["admin"].organization_id
    nonce, ciphertext = box.encrypt("sk-\u00e9\x01 bad", credential_aad(org, "openai"))
    async with get_session_factory(pg_url)() as session:
        session.add(
            ProviderCredential(
                id=uuid.uuid4(),
                organization_id=org,
                provider="openai",
                name="legacy",
                ciphertext=ciphertext,
                nonce=nonce,
                key_id=box.key_id,
                hint="",
                created_by="test",
            )
        )
        await session.commit()
    CREDENTIALS.invalidate()
    body = {"prompt_id": ctx["prompt"]["id"], "label": "beta", "variables": {"text": "hi"}}
    for client in ctx["clients"].values():
        r = await client.post("/api/v1/generate", json=body)
        assert r.status_code == 422, r.text
        detail = r.json()["detail"][0]
        assert detail["loc"][-1] == "provider_key" and "'legacy'" in detail["msg"]
    other = await issue_key(
        pg_url,
        organization=f"pipe-other-{uuid.uuid4().hex[:8]}",
        email=f"o-{uuid.uuid4().hex[:6]}@p.ex",
    )
    client = ctx["clients"]["hot"]
    r = await client.post(
        "/v1/chat/completions",
        headers={"Authorization": f"Bearer {other.key}"},
        json={"model": "stub", "messages": [{"role": "user", "content": "hi"}]},
    )
    # The other organization has no project yet: 422 for the project, not for any key.
    assert r.status_code == 422 and r.json()["error"]["param"] == "OpenAI-Project", r.text
    project = (
        await client.post(
            "/api/v1/projects",
            json={"name": "fine"},
            headers={"Authorization": f"Bearer {other.key}"},
        )
    ).json()
    r = await client.post(
        "/v1/chat/completions",
        headers={"Authorization": f"Bearer {other.key}", "OpenAI-Project": project["id"]},
        json={"model": "stub", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert r.status_code == 200, r.text


async def test_a_slow_provider_does_not_hold_a_database_connection(pg_url: str) -> None:
    """``release_later``: a wait that ends in time keeps the connection; a longer one gives it
    back to the pool while it lasts, and the next statement draws another."""
    async with await pooled_connection(pg_url) as db:
        await db.fetchone("SELECT 1", {})
        fast = db._conn
        handle = db.release_later(0.2)
        handle.cancel()
        assert db._conn is fast
        db.release_later(0.01)
        await asyncio.sleep(0.1)
        assert db._conn is None
        assert await db.fetchone("SELECT 2", {}) == (2,)


async def test_the_llm_activity_is_idempotent(
    ctx: dict[str, Any], pg_url: str, stub_llm: StubLLMServer
) -> None:
    pipeline: Pipeline = ctx["apps"]["plain"].state.pipeline
    activities = LLMActivities(pg_url, pipeline)
    inp = CallModelInput(
        project_id=ctx["project"]["id"],
        prompt_id=ctx["prompt"]["id"],
        label="beta",
        variables={"text": "judge me"},
        idempotency_key=f"wf-{uuid.uuid4().hex}:1",
    )
    env = ActivityEnvironment()
    before = stub_llm.cfg.calls
    first = await env.run(activities.call_model, inp)
    again = await env.run(activities.call_model, inp)
    assert first.run_id == again.run_id and first.text == again.text and first.text
    assert stub_llm.cfg.calls == before + 1  # the retry read the recorded run back
    runs = [
        r
        for r in await _runs(pg_url, ctx["project"]["id"])
        if r.idempotency_key == inp.idempotency_key
    ]
    assert len(runs) == 1 and runs[0].source == "workflow" and runs[0].tokens_in > 0


async def test_a_commit_group_writes_concurrent_batches_together(pg_url: str) -> None:
    """Batches that arrive while one is being written go in one transaction (fewer commits
    than calls); a failing statement fails every batch of its group and writes none of them."""
    marker = f"group-{uuid.uuid4().hex[:8]}"
    insert = "INSERT INTO organizations (id, name) VALUES (%(id)s, %(name)s)"
    pool = await connection_pool(pg_url)
    group = CommitGroup(pool)

    async def one(i: int, org_id: uuid.UUID | None = None) -> None:
        async with PooledConnection(pool, group=group) as db, db.atomic():
            await db.execute(insert, {"id": org_id or uuid.uuid4(), "name": f"{marker}-{i}"})

    await asyncio.gather(*(one(i) for i in range(20)))
    assert 1 <= group.commits < 20
    duplicate = uuid.uuid4()
    results = await asyncio.gather(one(100, duplicate), one(101, duplicate), return_exceptions=True)
    assert all(isinstance(r, Exception) and "duplicate key" in str(r) for r in results), results
    await group.aclose()
    async with await pooled_connection(pg_url) as db:
        row = await db.fetchone(
            "SELECT count(*) FROM organizations WHERE name LIKE %(m)s", {"m": f"{marker}-%"}
        )
    assert row == (20,)
