"""``GET /api/v1/runs``: a project's runs newest first, filtered and paged, tenant-scoped; and
the run detail and variable errors the playground shows."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import pytest

from promptops.db.models import Role
from promptops.llm import ModelCatalog
from tests.support.apps import RunningApp, issue_key, running_app
from tests.support.stub_llm import StubLLMServer


@dataclass
class World:
    running: RunningApp
    api: httpx.AsyncClient
    pg_url: str
    org: str
    project: str
    prompt: str
    v1: str
    v2: str
    other_prompt: str


async def _ok(r: httpx.Response) -> dict[str, Any]:
    assert r.status_code < 300, r.text
    return dict(r.json())


@pytest.fixture
async def world(
    pg_url: str, temporal_env: Any, catalog: ModelCatalog, task_queue: str
) -> AsyncIterator[World]:
    org = f"runs-{uuid.uuid4().hex[:6]}"
    key = await issue_key(pg_url, organization=org, email=f"a-{uuid.uuid4().hex[:6]}@r.example")
    async with (
        running_app(pg_url, temporal_env.client, catalog, task_queue) as running,
        running.client(key.key) as api,
    ):
        project = (await _ok(await api.post("/projects", json={"name": "runs"})))["id"]
        prompt = (await _ok(await api.post(f"/projects/{project}/prompts", json={"name": "a"})))[
            "id"
        ]
        other = (await _ok(await api.post(f"/projects/{project}/prompts", json={"name": "b"})))[
            "id"
        ]
        body = {"body": "Say {{ w }} please", "variables": {"w": "str"}}
        v1 = (await _ok(await api.post(f"/prompts/{prompt}/versions", json=body)))["id"]
        v2 = (
            await _ok(
                await api.post(
                    f"/prompts/{prompt}/versions", json={**body, "body": "Now say {{ w }}"}
                )
            )
        )["id"]
        yield World(running, api, pg_url, org, project, prompt, v1, v2, other)


async def _execute(api: httpx.AsyncClient, version: str, word: str) -> str:
    r = await api.post(
        "/runs/execute", json={"prompt_version_id": version, "variables": {"w": word}}
    )
    return str((await _ok(r))["run_id"])


async def _list(api: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    return await _ok(await api.get("/runs", params=params))


async def test_runs_newest_first_filtered_and_paged(world: World, stub_llm: StubLLMServer) -> None:
    api = world.api
    other_version = (
        await _ok(
            await api.post(
                f"/prompts/{world.other_prompt}/versions",
                json={"body": "{{ w }}", "variables": {"w": "str"}},
            )
        )
    )["id"]
    made = [
        await _execute(api, world.v1, "one"),
        await _execute(api, world.v1, "two"),
        await _execute(api, world.v2, "three"),
        await _execute(api, other_version, "four"),
    ]
    # A long answer: the listing carries its first 200 characters only.
    stub_llm.cfg.replies = ["x" * 300]
    made.append(await _execute(api, world.v2, "five"))
    # A failed run (the answer never meets the schema): recorded with success false.
    stub_llm.cfg.replies = ["not json"] * 3
    r = await api.post(
        "/generate",
        json={
            "prompt_version_id": world.v1,
            "variables": {"w": "six"},
            "schema": {"type": "object"},
            "subject_id": "user-6",
        },
    )
    assert r.status_code == 422, r.text

    everything = await _list(api, project_id=world.project)
    rows = everything["data"]
    assert everything["count"] == 6 and everything["next_before"] is None
    assert [row["id"] for row in rows[1:]] == made[::-1]
    keys = [(datetime.fromisoformat(row["created_at"]), row["id"]) for row in rows]
    assert keys == sorted(keys, reverse=True)

    failed = rows[0]
    assert failed["success"] is False and failed["source"] == "test"
    assert "schema" in failed["error"].lower() and failed["subject_id"] == "user-6"
    long = next(row for row in rows if row["id"] == made[4])
    assert long["output_excerpt"] == "x" * 200 and long["prompt_version"] == 2
    first = next(row for row in rows if row["id"] == made[0])
    assert first["prompt_id"] == world.prompt and first["prompt_version_id"] == world.v1
    assert first["tokens_in"] > 0 and first["tokens_out"] > 0 and first["cost_usd"] > 0
    assert first["latency_ms"] >= 0 and first["cache_hit"] is False and first["model"] == "stub"

    by_prompt = await _list(api, project_id=world.project, prompt_id=world.prompt)
    assert {row["id"] for row in by_prompt["data"]} == {failed["id"], *made[:3], made[4]}
    by_version = await _list(api, project_id=world.project, prompt_version_id=world.v1)
    assert [row["id"] for row in by_version["data"]] == [failed["id"], made[1], made[0]]
    assert [
        row["id"] for row in (await _list(api, project_id=world.project, success=False))["data"]
    ] == [failed["id"]]
    # Draft versions called explicitly are test calls, whatever the route.
    assert (await _list(api, project_id=world.project, source="test"))["count"] == 6
    assert (await _list(api, project_id=world.project, source="generate"))["count"] == 0
    assert (await _list(api, project_id=world.project, model="stub"))["count"] == 6
    assert (await _list(api, project_id=world.project, model="other"))["count"] == 0
    assert (await _list(api, project_id=world.project, subject_id="user-6"))["count"] == 1
    window = await _list(
        api,
        project_id=world.project,
        created_after=rows[4]["created_at"],
        created_before=rows[1]["created_at"],
    )
    assert [row["id"] for row in window["data"]] == [row["id"] for row in rows[2:5]]

    # Keyset pages: disjoint, in order, and stable while a new run arrives between pages.
    page1 = await _list(api, project_id=world.project, limit=4)
    assert page1["count"] == 4 and page1["next_before"]
    newest = await _execute(api, world.v1, "seven")
    page2 = await _list(api, project_id=world.project, limit=4, before=page1["next_before"])
    assert [row["id"] for row in page1["data"] + page2["data"]] == [row["id"] for row in rows]
    assert page2["next_before"] is None
    # Offset pages count from the newest run.
    offset = await _list(api, project_id=world.project, offset=1, limit=2)
    assert [row["id"] for row in offset["data"]] == [rows[0]["id"], rows[1]["id"]]
    assert (await _list(api, project_id=world.project, limit=1))["data"][0]["id"] == newest


async def test_run_detail_has_the_input_messages_and_variables(world: World) -> None:
    run_id = await _execute(world.api, world.v1, "hello")
    run = await _ok(await world.api.get(f"/runs/{run_id}"))
    assert run["variables"] == {"w": "hello"}
    assert run["rendered_input"] == [{"role": "user", "content": "Say hello please"}]
    assert run["output"] and run["feedback"] == [] and run["workflow_id"] is None


async def test_a_missing_variable_is_named_in_loc(world: World) -> None:
    for stream in (False, True):
        r = await world.api.post(
            "/generate", json={"prompt_version_id": world.v1, "variables": {}, "stream": stream}
        )
        assert r.status_code == 422, r.text
        detail = r.json()["detail"][0]
        assert detail["loc"] == ["body", "variables", "w"]
        assert "missing values for variables: w" in detail["msg"]


async def test_bad_parameters_are_named(world: World) -> None:
    api = world.api
    r = await api.get("/runs")
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "project_id"
    for params, field in (
        ({"before": "yesterday"}, "before"),
        ({"before": f"{10**17}_{uuid.uuid4().hex}"}, "before"),
        ({"limit": 201}, "limit"),
        ({"offset": -1}, "offset"),
        ({"source": "x" * 21}, "source"),
    ):
        r = await api.get("/runs", params={"project_id": world.project, **params})
        assert r.status_code == 422, (params, r.text)
        assert r.json()["detail"][0]["loc"] == ["query", field]


async def test_runs_are_tenant_scoped(world: World) -> None:
    await _execute(world.api, world.v1, "mine")
    # Another organization: 404 for the project, and its own listing never shows these runs.
    stranger = await issue_key(
        world.pg_url,
        organization=f"other-{uuid.uuid4().hex[:6]}",
        email=f"s-{uuid.uuid4().hex[:6]}@o.example",
    )
    async with world.running.client(stranger.key) as other:
        r = await other.get("/runs", params={"project_id": world.project})
        assert r.status_code == 404
        own = (await _ok(await other.post("/projects", json={"name": "theirs"})))["id"]
        r = await other.get("/runs", params={"project_id": own, "prompt_id": world.prompt})
        assert (await _ok(r))["count"] == 0
        assert (
            await other.get(
                f"/runs/{(await _list(world.api, project_id=world.project))['data'][0]['id']}"
            )
        ).status_code == 404
    # A key scoped to one project: its project by default, a sibling project is 404.
    sibling = (await _ok(await world.api.post("/projects", json={"name": "sibling"})))["id"]
    scoped = await issue_key(
        world.pg_url,
        organization=world.org,
        email=f"v-{uuid.uuid4().hex[:6]}@r.example",
        role=Role.VIEWER,
        project_id=uuid.UUID(world.project),
    )
    async with world.running.client(scoped.key) as viewer:
        listed = await _ok(await viewer.get("/runs"))
        assert listed["count"] == 1 and listed["data"][0]["prompt_id"] == world.prompt
        assert (await viewer.get("/runs", params={"project_id": sibling})).status_code == 404


def _run_indexes(url: str) -> set[str]:
    import psycopg

    from promptops.db.session import normalize_url

    dsn = normalize_url(url).replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'runs' AND indexname IN "
            "('ix_runs_project_created', 'ix_runs_version_created', 'ix_runs_project_id', "
            "'ix_runs_prompt_version_id')"
        ).fetchall()
    return {name for (name,) in rows}


def test_migration_0007_replaces_the_run_indexes_both_ways() -> None:
    """0007 builds the listing indexes concurrently (outside the migration's transaction) in
    place of the single-column ones, and its downgrade puts those back."""
    from alembic import command

    from promptops.db.migrate import alembic_config
    from promptops.devstack.postgres import start_postgres
    from tests.conftest import STATE

    url = start_postgres(STATE / "pgdata", database=f"mig_{uuid.uuid4().hex[:10]}")
    command.upgrade(alembic_config(url), "head")
    assert _run_indexes(url) == {"ix_runs_project_created", "ix_runs_version_created"}
    command.downgrade(alembic_config(url), "0005")
    assert _run_indexes(url) == {"ix_runs_project_id", "ix_runs_prompt_version_id"}
    command.upgrade(alembic_config(url), "head")
    assert _run_indexes(url) == {"ix_runs_project_created", "ix_runs_version_created"}
