"""The hot path (``api.hotpath``) on the real app, Postgres and the stub LLM: it serves
``generate`` and ``/v1/chat/completions`` without an ORM session and answers exactly as the
FastAPI routes do (successes and errors); the pipeline's connection
(:class:`promptops.db.connection.PooledConnection`) commits its batches together or not at
all."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select

from promptops.db.connection import pooled_connection
from promptops.db.models import Role, Run
from promptops.db.session import get_session_factory
from promptops.llm import ModelCatalog
from tests.support.apps import hot_and_plain, issue_key
from tests.support.labels import serve_approved

#: Fields of a generate answer that differ from one call to the next.
VOLATILE = {"run_id", "trace_id", "metrics"}


@pytest.fixture
async def apps(
    pg_url: str, catalog: ModelCatalog, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[dict[str, Any]]:
    """The same app twice, with the hot path on and off, one organization and project with a
    labelled prompt and a budget; plus an Editor, a Viewer and an Admin key."""
    org = f"hot-{uuid.uuid4().hex[:8]}"
    admin = await issue_key(pg_url, organization=org, email=f"a-{org}@h.ex")
    viewer = await issue_key(pg_url, organization=org, email=f"v-{org}@h.ex", role=Role.VIEWER)
    async with hot_and_plain(pg_url, catalog, monkeypatch) as (built, clients):
        auth = {"Authorization": f"Bearer {admin.key}"}
        api = clients["plain"]
        project = (await api.post("/api/v1/projects", json={"name": "hot"}, headers=auth)).json()
        prompt = (
            await api.post(
                f"/api/v1/projects/{project['id']}/prompts", json={"name": "greet"}, headers=auth
            )
        ).json()
        version = (
            await api.post(
                f"/api/v1/prompts/{prompt['id']}/versions",
                headers=auth,
                json={"body": "Say {{ text }}", "variables": {"text": "str"}, "model": "stub"},
            )
        ).json()
        await serve_approved(pg_url, prompt["id"], version["id"])
        r = await api.put(
            f"/api/v1/projects/{project['id']}/budgets",
            headers=auth,
            json={"daily_usd": "100", "monthly_tokens": 10_000_000},
        )
        assert r.status_code < 300, r.text
        yield {
            "apps": built,
            "clients": clients,
            "admin": admin.key,
            "viewer": viewer.key,
            "project": project,
            "version": version,
        }


def _generate_body(ctx: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "project_id": ctx["project"]["id"],
        "prompt": "greet",
        "variables": {"text": "hello there"},
        "subject_id": "u-1",
        **extra,
    }


async def test_generate_runs_without_an_orm_session(
    apps: dict[str, Any], pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A plain generate is served by the hot path: no SQLAlchemy session is opened (once the
    caller's key is in the principal cache), and the run and the budget settlement are
    written."""
    app = apps["apps"]["hot"]
    warm = await apps["clients"]["hot"].post(
        "/api/v1/generate",
        json=_generate_body(apps),
        headers={"Authorization": f"Bearer {apps['admin']}"},
    )
    assert warm.status_code == 200, warm.text
    opened: list[object] = []
    factory = app.state.session_factory

    def counting_factory(*a: Any, **kw: Any) -> Any:
        opened.append(object())
        return factory(*a, **kw)

    counting_factory.kw = factory.kw  # type: ignore[attr-defined]
    monkeypatch.setattr(app.state, "session_factory", counting_factory)
    r = await apps["clients"]["hot"].post(
        "/api/v1/generate",
        json=_generate_body(apps),
        headers={"Authorization": f"Bearer {apps['admin']}"},
    )
    assert r.status_code == 200, r.text
    assert opened == []
    body = r.json()
    async with get_session_factory(pg_url)() as session:
        run = (
            await session.execute(select(Run).where(Run.id == uuid.UUID(body["run_id"])))
        ).scalar_one()
    assert run.success and run.source == "generate" and run.subject_id == "u-1"
    assert run.tokens_in == body["metrics"]["tokens"]["prompt"] > 0
    budget = (
        await apps["clients"]["plain"].get(
            f"/api/v1/projects/{apps['project']['id']}/budgets",
            headers={"Authorization": f"Bearer {apps['admin']}"},
        )
    ).json()
    usage = {u["period"]: u for u in budget["usage"]}
    # Settled: nothing stays reserved; the run's usage is spent in both limited periods.
    assert usage["day"]["reserved_usd"] == 0 and usage["month"]["reserved_tokens"] == 0
    async with get_session_factory(pg_url)() as session:
        runs = (
            (
                await session.execute(
                    select(Run).where(Run.project_id == uuid.UUID(apps["project"]["id"]))
                )
            )
            .scalars()
            .all()
        )
    assert len(runs) == 2
    assert usage["day"]["spent_usd"] == pytest.approx(float(sum(r.cost_usd for r in runs)))
    assert usage["month"]["spent_tokens"] == sum(r.tokens_in + r.tokens_out for r in runs)


@pytest.mark.parametrize(
    "case",
    [
        "ok",
        "missing_field",
        "bad_json_type",
        "unknown_prompt",
        "bad_variables",
        "viewer",
        "no_key",
        "bad_key",
    ],
)
async def test_generate_answers_like_the_fastapi_route(apps: dict[str, Any], case: str) -> None:
    body: Any = _generate_body(apps)
    headers = {"Authorization": f"Bearer {apps['admin']}"}
    if case == "missing_field":
        body = {"variables": {"text": "x"}, "decoding": {"temperature": "hot"}}
    elif case == "bad_json_type":
        body = _generate_body(apps, subject_id=["not", "a", "string"])
    elif case == "unknown_prompt":
        body = _generate_body(apps, prompt="nope")
    elif case == "bad_variables":
        body = _generate_body(apps, variables={})
    elif case == "viewer":
        headers = {"Authorization": f"Bearer {apps['viewer']}"}
    elif case == "no_key":
        headers = {}
    elif case == "bad_key":
        headers = {"Authorization": "Bearer po_nope_nope"}
    answers = {
        name: await client.post("/api/v1/generate", json=body, headers=headers)
        for name, client in apps["clients"].items()
    }
    hot, plain = answers["hot"], answers["plain"]
    assert hot.status_code == plain.status_code, (hot.text, plain.text)
    assert {k: v for k, v in hot.headers.items() if k in ("www-authenticate", "retry-after")} == {
        k: v for k, v in plain.headers.items() if k in ("www-authenticate", "retry-after")
    }
    if case == "ok":
        assert hot.status_code == 200
        strip = lambda d: {k: v for k, v in d.items() if k not in VOLATILE}
        assert strip(hot.json()) == strip(plain.json())
        assert set(hot.json()) == set(plain.json())
    else:
        assert hot.status_code >= 400
        assert hot.json() == plain.json()


@pytest.mark.parametrize("case", ["ok", "prompt", "no_messages", "unknown_project", "bad_model"])
async def test_chat_completions_answer_like_the_fastapi_route(
    apps: dict[str, Any], case: str
) -> None:
    headers = {"Authorization": f"Bearer {apps['admin']}", "OpenAI-Project": "hot"}
    body: dict[str, Any] = {"model": "stub", "messages": [{"role": "user", "content": "hi"}]}
    if case == "prompt":
        body = {"model": "prompt:greet", "messages": [], "variables": {"text": "yo"}}
    elif case == "no_messages":
        body["messages"] = []
    elif case == "unknown_project":
        headers["OpenAI-Project"] = "nowhere"
    elif case == "bad_model":
        body["model"] = "no-such-model"
    answers = {
        name: await client.post("/v1/chat/completions", json=body, headers=headers)
        for name, client in apps["clients"].items()
    }
    hot, plain = answers["hot"], answers["plain"]
    assert hot.status_code == plain.status_code, (hot.text, plain.text)
    if hot.status_code == 200:
        a, b = hot.json(), plain.json()
        assert a["choices"] == b["choices"] and a["usage"] == b["usage"]
        assert set(a) == set(b) and set(a["promptops"]) == set(b["promptops"])
    else:
        assert hot.json() == plain.json()


async def test_atomic_statements_commit_together_or_not_at_all(pg_url: str) -> None:
    """Inside ``atomic`` a call's connection holds its statements back and sends them as one
    query: all are written, or none when the block raises or one statement fails."""
    marker = f"atomic-{uuid.uuid4().hex[:8]}"
    insert = "INSERT INTO organizations (id, name) VALUES (%(id)s, %(name)s)"

    async def count() -> int:
        async with await pooled_connection(pg_url) as other:
            row = await other.fetchone(
                "SELECT count(*) FROM organizations WHERE name LIKE %(m)s", {"m": f"{marker}%"}
            )
            assert row is not None
            return int(row[0])

    async with await pooled_connection(pg_url) as db:
        async with db.atomic():
            for i in range(2):
                await db.execute(insert, {"id": uuid.uuid4(), "name": f"{marker}-{i}"})
            assert await count() == 0  # held back until the block ends
        assert await count() == 2
        with pytest.raises(RuntimeError):
            async with db.atomic():
                await db.execute(insert, {"id": uuid.uuid4(), "name": f"{marker}-x"})
                raise RuntimeError("the block failed")
        assert await count() == 2
        duplicate = uuid.uuid4()
        with pytest.raises(Exception, match="duplicate key"):
            async with db.atomic():
                await db.execute(insert, {"id": duplicate, "name": f"{marker}-y"})
                await db.execute(insert, {"id": duplicate, "name": f"{marker}-z"})
        assert await count() == 2


async def test_batches_commit_durably_and_lone_statements_asynchronously(pg_url: str) -> None:
    """A call's connection commits asynchronously (the reservation), except the batches of
    ``atomic`` (run records), which wait for their WAL flush unless the connection says
    otherwise (``PROMPTOPS_RUN_COMMIT=async``)."""
    insert = (
        "INSERT INTO organizations (id, name) VALUES "
        "(%(id)s, %(prefix)s || current_setting('synchronous_commit'))"
    )
    prefix = f"commit-{uuid.uuid4().hex[:8]}-"
    async with await pooled_connection(pg_url) as db:
        await db.execute(insert, {"id": uuid.uuid4(), "prefix": prefix + "lone-"})
        async with db.atomic():
            await db.execute(insert, {"id": uuid.uuid4(), "prefix": prefix + "batch-"})
        row = await db.fetchone(
            "SELECT string_agg(name, ',' ORDER BY name) FROM organizations WHERE name LIKE %(p)s",
            {"p": f"{prefix}%"},
        )
    assert row is not None
    assert row[0] == f"{prefix}batch-on,{prefix}lone-off"
    # PROMPTOPS_RUN_COMMIT=async: the batches commit asynchronously too.
    async with await pooled_connection(pg_url, durable=False) as db:
        async with db.atomic():
            await db.execute(insert, {"id": uuid.uuid4(), "prefix": prefix + "async-"})
        row = await db.fetchone(
            "SELECT name FROM organizations WHERE name LIKE %(p)s", {"p": f"{prefix}async-%"}
        )
    assert row == (f"{prefix}async-off",)


async def test_hot_requests_are_counted_under_their_route(apps: dict[str, Any]) -> None:
    """The metrics middleware labels a hot-path request with its route template."""
    client = apps["clients"]["hot"]
    r = await client.post(
        "/api/v1/generate",
        json=_generate_body(apps),
        headers={"Authorization": f"Bearer {apps['admin']}"},
    )
    assert r.status_code == 200, r.text
    text = (await client.get("/metrics")).text
    assert (
        'promptops_http_requests_total{method="POST",route="/api/v1/generate",status="200"}' in text
    ), [line for line in text.splitlines() if "requests_total{" in line]
