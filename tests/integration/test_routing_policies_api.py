"""Routing policies through the real app on the real Postgres: CRUD and audit, 422 naming the
field, roles, another organization's projects (404), preview on live figures (cost, latency,
quality from evaluations) and ``resolve_policy_route`` as the pipeline calls it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from promptops.db.connection import SessionSQL
from promptops.db.models import AuditLog, EvaluationResult, Role, Run
from promptops.db.session import get_session_factory
from promptops.llm import LLMGateway, ModelCatalog
from promptops.llm.routing.figures import PolicyNotFound, resolve_policy_route
from promptops.llm.routing.policy import NoEligibleModel
from tests.support.apps import RunningApp, issue_key, running_app
from tests.support.stub_llm import StubLLMServer

MESSAGES = [{"role": "user", "content": "Summarise the meeting notes in two lines."}]


@pytest.fixture
def two_price_catalog(stub_llm: StubLLMServer) -> ModelCatalog:
    """``cheap`` and ``dear``: the same stub at prices 100x apart."""
    models = (
        stub_llm.model_list("cheap", input_cost=1e-7, output_cost=2e-7)["model_list"]
        + stub_llm.model_list("dear", input_cost=1e-5, output_cost=2e-5)["model_list"]
    )
    return ModelCatalog.from_dict({"model_list": models})


@pytest.fixture
async def app(
    pg_url: str, two_price_catalog: ModelCatalog, task_queue: str
) -> AsyncIterator[RunningApp]:
    async with running_app(pg_url, None, two_price_catalog, task_queue) as running:
        yield running


@pytest.fixture
def org() -> str:
    return f"org-routing-{uuid.uuid4().hex[:8]}"


@pytest.fixture
async def admin(app: RunningApp, pg_url: str, org: str) -> AsyncIterator[httpx.AsyncClient]:
    key = await issue_key(pg_url, organization=org, email=f"adm-{uuid.uuid4().hex[:6]}@r.ex")
    async with app.client(key.key) as client:
        yield client


@pytest.fixture
async def project(admin: httpx.AsyncClient) -> str:
    r = await admin.post("/projects", json={"name": f"routing-{uuid.uuid4().hex[:6]}"})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def _policy(strategy: str = "cost_first", **extra: Any) -> dict[str, Any]:
    return {"strategy": strategy, "candidates": ["dear", "cheap"], **extra}


async def test_crud_and_audit(admin: httpx.AsyncClient, project: str, pg_url: str) -> None:
    base = f"/projects/{project}/routing_policies"
    assert (await admin.get(base)).json() == {"data": [], "count": 0}
    r = await admin.put(
        f"{base}/default",
        json=_policy(
            fallbacks=["cheap"], constraints={"max_cost_usd": 0.01}, description="main route"
        ),
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["name"], body["strategy"], body["candidates"], body["fallbacks"]) == (
        "default",
        "cost_first",
        ["dear", "cheap"],
        ["cheap"],
    )
    assert body["constraints"] == {"max_cost_usd": 0.01} and body["description"] == "main route"
    first_id = body["id"]
    r = await admin.put(f"{base}/default", json=_policy("latency_first"))
    assert r.status_code == 200 and r.json()["id"] == first_id
    assert r.json()["strategy"] == "latency_first" and r.json()["fallbacks"] == []
    await admin.put(f"{base}/alt", json=_policy("quality_first"))
    listed = (await admin.get(base)).json()
    assert listed["count"] == 2 and [p["name"] for p in listed["data"]] == ["alt", "default"]
    got = await admin.get(f"{base}/default")
    assert got.status_code == 200 and got.json()["strategy"] == "latency_first"
    assert (await admin.delete(f"{base}/default")).status_code == 204
    assert (await admin.get(f"{base}/default")).status_code == 404
    assert (await admin.delete(f"{base}/default")).status_code == 404
    async with get_session_factory(pg_url)() as session:
        actions = (
            (
                await session.execute(
                    select(AuditLog.action)
                    .where(AuditLog.entity_type == "routing_policy", AuditLog.entity_id == first_id)
                    .order_by(AuditLog.created_at)
                )
            )
            .scalars()
            .all()
        )
    assert actions == ["routing_policy.create", "routing_policy.update", "routing_policy.delete"]


async def test_422_names_the_field(admin: httpx.AsyncClient, project: str) -> None:
    base = f"/projects/{project}/routing_policies"
    r = await admin.put(
        f"{base}/p", json={"strategy": "cost_first", "candidates": ["cheap", "gpt-9"]}
    )
    assert r.status_code == 422
    [detail] = r.json()["detail"]
    assert detail["loc"] == ["body", "candidates", "1"]
    assert "unknown model 'gpt-9'" in detail["msg"] and "cheap, dear" in detail["msg"]
    r = await admin.put(f"{base}/p", json=_policy(fallbacks=["nope"]))
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "fallbacks", "0"]
    r = await admin.put(
        f"{base}/p", json={"strategy": "cost_first", "candidates": ["cheap", "cheap"]}
    )
    assert r.status_code == 422 and "listed twice" in r.text
    r = await admin.put(f"{base}/p", json=_policy("fastest_first"))
    assert r.status_code == 422 and "strategy" in r.text
    r = await admin.put(f"{base}/p", json=_policy(constraints={"min_quality": 2}))
    assert r.status_code == 422 and "min_quality" in r.text
    r = await admin.put(f"{base}/bad%20name", json=_policy())
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "name"]
    assert (await admin.get(base)).json()["count"] == 0


async def test_roles_and_other_organization(
    app: RunningApp, admin: httpx.AsyncClient, project: str, pg_url: str, org: str
) -> None:
    base = f"/projects/{project}/routing_policies"
    assert (await admin.put(f"{base}/p", json=_policy())).status_code == 200
    viewer = await issue_key(
        pg_url, organization=org, email=f"v-{uuid.uuid4().hex[:6]}@r.ex", role=Role.VIEWER
    )
    async with app.client(viewer.key) as v:
        assert (await v.get(f"{base}/p")).status_code == 200
        assert (await v.post(f"{base}/p/preview", json={})).status_code == 200
        assert (await v.put(f"{base}/p", json=_policy())).status_code == 403
        assert (await v.delete(f"{base}/p")).status_code == 403
    other = await issue_key(
        pg_url,
        organization=f"org-other-{uuid.uuid4().hex[:6]}",
        email=f"o-{uuid.uuid4().hex[:6]}@r.ex",
    )
    async with app.client(other.key) as o:
        for method, path, body in (
            ("GET", base, None),
            ("GET", f"{base}/p", None),
            ("PUT", f"{base}/p", _policy()),
            ("PUT", f"{base}/new", _policy()),
            ("DELETE", f"{base}/p", None),
            ("POST", f"{base}/p/preview", {}),
        ):
            r = await o.request(method, path, json=body)
            assert r.status_code == 404, (method, path, r.text)
    assert (await admin.get(f"{base}/p")).json()["strategy"] == "cost_first"
    assert (await admin.get(f"{base}/new")).status_code == 404


async def test_preview_cost_first_picks_the_cheapest(
    admin: httpx.AsyncClient, project: str
) -> None:
    base = f"/projects/{project}/routing_policies"
    await admin.put(f"{base}/cheap-first", json=_policy(fallbacks=["dear"]))
    r = await admin.post(
        f"{base}/cheap-first/preview", json={"messages": MESSAGES, "max_tokens": 100}
    )
    assert r.status_code == 200, r.text
    d = r.json()
    assert (d["policy"], d["strategy"], d["chosen"], d["ordered"]) == (
        "cheap-first",
        "cost_first",
        "cheap",
        ["cheap", "dear"],
    )
    assert d["reason"].startswith("cost_first: cheap is the cheapest of 2 eligible candidates")
    figures = {c["model"]: c for c in d["candidates"]}
    # prompt estimate: ceil(41 chars / 4) + 4 + 3 = 18 tokens; completion bound 100.
    assert figures["cheap"]["est_cost_usd"] == pytest.approx(18 * 1e-7 + 100 * 2e-7)
    assert figures["dear"]["est_cost_usd"] == pytest.approx(18 * 1e-5 + 100 * 2e-5)
    assert all(c["eligible"] for c in d["candidates"])
    # A cost ceiling below the dear model's estimate excludes it, and says why.
    await admin.put(f"{base}/capped", json=_policy(constraints={"max_cost_usd": 0.001}))
    d = (
        await admin.post(f"{base}/capped/preview", json={"messages": MESSAGES, "max_tokens": 100})
    ).json()
    assert d["ordered"] == ["cheap"]
    assert "excluded: dear (est. cost $0.0022 > $0.001)" in d["reason"]
    # Nothing eligible and no fallback: 422 on the model field.
    await admin.put(f"{base}/none", json=_policy(constraints={"max_cost_usd": 1e-9}))
    r = await admin.post(f"{base}/none/preview", json={})
    assert r.status_code == 422 and "no eligible candidate" in r.text
    assert r.json()["detail"][0]["loc"] == ["body", "model"]
    assert (await admin.post(f"{base}/missing/preview", json={})).status_code == 404


async def test_preview_latency_first_prefers_the_faster(
    app: RunningApp, admin: httpx.AsyncClient, project: str
) -> None:
    base = f"/projects/{project}/routing_policies"
    gw: LLMGateway = app.app.state.gateway
    for _ in range(20):
        gw.deployments.get("cheap").stats.record(900.0, ok=True)
        gw.deployments.get("dear").stats.record(120.0, ok=True)
    await admin.put(
        f"{base}/fast", json={"strategy": "latency_first", "candidates": ["cheap", "dear"]}
    )
    d = (await admin.post(f"{base}/fast/preview", json={})).json()
    assert d["ordered"] == ["dear", "cheap"]
    assert d["reason"] == (
        "latency_first: dear is the fastest of 2 eligible candidates (p95 120 ms)"
    )
    figures = {c["model"]: c for c in d["candidates"]}
    assert figures["cheap"]["p95_latency_ms"] == 900.0 and figures["cheap"]["calls"] >= 20
    # cost_first with a p95 ceiling: the cheap but slow model is excluded.
    await admin.put(f"{base}/cheap-fast", json=_policy(constraints={"max_p95_latency_ms": 500}))
    d = (await admin.post(f"{base}/cheap-fast/preview", json={})).json()
    assert d["ordered"] == ["dear"]
    assert "excluded: cheap (p95 900 ms > 500 ms)" in d["reason"]
    # An open breaker excludes a candidate.
    breaker = gw.deployments.get("dear").breaker
    for _ in range(breaker.settings.failure_threshold):
        breaker.record_failure()
    d = (await admin.post(f"{base}/fast/preview", json={})).json()
    assert d["ordered"] == ["cheap"] and "dear (circuit breaker open)" in d["reason"]


async def _score(pg_url: str, project: str, model: str, metric: str, value: float) -> None:
    async with get_session_factory(pg_url)() as session:
        run = Run(
            id=uuid.uuid4(),
            project_id=uuid.UUID(project),
            source="evaluation",
            model=model,
            variables={},
            rendered_input=[],
        )
        session.add(run)
        await session.flush()
        session.add(EvaluationResult(run_id=run.id, metric=metric, value=value))
        await session.commit()


async def test_quality_from_recent_evaluations(
    app: RunningApp, admin: httpx.AsyncClient, project: str, pg_url: str
) -> None:
    base = f"/projects/{project}/routing_policies"
    await _score(pg_url, project, "dear", "exact_match", 1.0)
    await _score(pg_url, project, "dear", "token_f1", 0.8)
    await _score(pg_url, project, "cheap", "exact_match", 0.0)
    await _score(pg_url, project, "cheap", "latency_ms", 400.0)  # not a quality metric
    await admin.put(
        f"{base}/best",
        json={
            "strategy": "quality_first",
            "candidates": ["cheap", "dear"],
            "constraints": {"min_quality": 0.5},
        },
    )
    d = (await admin.post(f"{base}/best/preview", json={})).json()
    figures = {c["model"]: c for c in d["candidates"]}
    assert figures["dear"]["quality"] == pytest.approx(0.9)
    assert figures["dear"]["quality_samples"] == 2
    assert (figures["cheap"]["quality"], figures["cheap"]["quality_samples"]) == (0.0, 1)
    assert d["ordered"] == ["dear"]
    assert "excluded: cheap (quality 0.00 < 0.50)" in d["reason"]


async def test_resolve_policy_route_as_run_service_calls_it(
    app: RunningApp, admin: httpx.AsyncClient, project: str, pg_url: str
) -> None:
    base = f"/projects/{project}/routing_policies"
    await admin.put(f"{base}/route", json=_policy())
    await admin.put(f"{base}/closed", json=_policy(constraints={"max_cost_usd": 1e-9}))
    gw: LLMGateway = app.app.state.gateway
    pid = uuid.UUID(project)
    async with get_session_factory(pg_url)() as session:
        db = SessionSQL(session)
        assert await resolve_policy_route(db, gw, pid, "cheap", MESSAGES, 10) is None
        assert await resolve_policy_route(db, gw, pid, None, MESSAGES, 10) is None
        decision = await resolve_policy_route(db, gw, pid, "policy:route", MESSAGES, 10)
        assert decision is not None and decision.chosen == "cheap"
        stored = decision.as_dict()
        assert (stored["policy"], stored["strategy"], stored["chosen"]) == (
            "route",
            "cost_first",
            "cheap",
        )
        with pytest.raises(PolicyNotFound) as e:
            await resolve_policy_route(db, gw, pid, "policy:nope", MESSAGES, 10)
        assert not e.value.retryable and "closed, route" in str(e.value)
        with pytest.raises(NoEligibleModel):
            await resolve_policy_route(db, gw, pid, "policy:closed", MESSAGES, 10)
        # Another project's policies are invisible.
        with pytest.raises(PolicyNotFound):
            await resolve_policy_route(db, gw, uuid.uuid4(), "policy:route", MESSAGES, 10)
