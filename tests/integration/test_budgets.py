"""Budgets through the real app on the real Postgres: reservations under concurrency, 429s,
settlement with actual usage, release on provider failure, roles and tenant scope."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from promptops.db.models import AuditLog, BudgetUsage, Role, Run
from promptops.db.session import get_session_factory
from promptops.llm import ModelCatalog
from promptops.llm.budgets.bounds import estimate_prompt_tokens, max_usage
from tests.support.apps import RunningApp, issue_key, running_app
from tests.support.stub_llm import StubLLMServer

INPUT_PRICE = 0.001
OUTPUT_PRICE = 0.002
MAX_TOKENS = 10
#: The prompt renders to one user message "Hello x".
MESSAGES = [{"role": "user", "content": "Hello x"}]
#: The stub reports words as tokens and echoes the prompt: 2 in, 2 out.
ACTUAL_USD = Decimal(2) * Decimal(str(INPUT_PRICE)) + Decimal(2) * Decimal(str(OUTPUT_PRICE))
ACTUAL_TOKENS = 4


@pytest.fixture
def priced_catalog(stub_llm: StubLLMServer) -> ModelCatalog:
    return ModelCatalog.from_dict(
        stub_llm.model_list(input_cost=INPUT_PRICE, output_cost=OUTPUT_PRICE)
    )


@pytest.fixture
async def app(
    pg_url: str, priced_catalog: ModelCatalog, task_queue: str
) -> AsyncIterator[RunningApp]:
    async with running_app(pg_url, None, priced_catalog, task_queue) as running:
        yield running


@pytest.fixture
async def org(pg_url: str) -> str:
    return f"org-budget-{uuid.uuid4().hex[:8]}"


@pytest.fixture
async def admin(app: RunningApp, pg_url: str, org: str) -> AsyncIterator[httpx.AsyncClient]:
    key = await issue_key(pg_url, organization=org, email=f"adm-{uuid.uuid4().hex[:6]}@b.ex")
    async with app.client(key.key) as client:
        yield client


async def _setup(admin: httpx.AsyncClient) -> tuple[str, str]:
    """A project with one prompt version 'Hello {{ n }}'; returns (project id, version id)."""
    project = (
        await admin.post("/projects", json={"name": f"budgeted-{uuid.uuid4().hex[:6]}"})
    ).json()["id"]
    prompt = (await admin.post(f"/projects/{project}/prompts", json={"name": "p"})).json()["id"]
    version = await admin.post(
        f"/prompts/{prompt}/versions", json={"body": "Hello {{ n }}", "variables": {"n": "str"}}
    )
    assert version.status_code == 201, version.text
    return project, version.json()["id"]


def _execute(version: str) -> dict[str, Any]:
    return {
        "prompt_version_id": version,
        "variables": {"n": "x"},
        "decoding": {"max_tokens": MAX_TOKENS},
    }


async def _usage_rows(pg_url: str, project: str) -> list[BudgetUsage]:
    async with get_session_factory(pg_url)() as session:
        return list(
            (
                await session.execute(
                    select(BudgetUsage).where(BudgetUsage.project_id == uuid.UUID(project))
                )
            )
            .scalars()
            .all()
        )


async def _runs(pg_url: str, project: str) -> int:
    async with get_session_factory(pg_url)() as session:
        return int(
            (
                await session.execute(
                    select(func.count())
                    .select_from(Run)
                    .where(Run.project_id == uuid.UUID(project))
                )
            ).scalar_one()
        )


def test_the_fixture_prompt_matches_the_estimate() -> None:
    usage = max_usage(estimate_prompt_tokens(MESSAGES), MAX_TOKENS, INPUT_PRICE, OUTPUT_PRICE)
    assert usage.tokens == 9 + MAX_TOKENS
    assert usage.usd == Decimal("0.029")


async def test_fifty_concurrent_requests_never_overspend(
    admin: httpx.AsyncClient,
    pg_url: str,
    stub_llm: StubLLMServer,
) -> None:
    project, version = await _setup(admin)
    worth = max_usage(estimate_prompt_tokens(MESSAGES), MAX_TOKENS, INPUT_PRICE, OUTPUT_PRICE)
    n = 5
    limit = worth.usd * n
    r = await admin.put(f"/projects/{project}/budgets", json={"daily_usd": str(limit)})
    assert r.status_code == 200, r.text
    # Latency keeps all 50 in flight at once, so reservations (not settled spend) decide.
    stub_llm.cfg.latency_s = 0.3
    try:
        responses = await asyncio.gather(
            *(admin.post("/runs/execute", json=_execute(version)) for _ in range(50))
        )
    finally:
        stub_llm.cfg.latency_s = 0.0
    codes = [x.status_code for x in responses]
    ok = codes.count(200)
    refused = [x for x in responses if x.status_code == 429]
    assert ok + len(refused) == 50, codes
    # At least n fit (a refusal needs n reservations or their spend); settled spend of the
    # successes can never pass the limit.
    assert n <= ok <= int(limit / ACTUAL_USD), codes
    assert refused, "the budget must refuse some of 50 requests"
    message = refused[0].json()["detail"]
    assert message.startswith("daily USD budget of project 'budgeted-"), message
    assert "exhausted: spent " in message and "this request's max 0.029 > 0.145" in message
    rows = {row.period: row for row in await _usage_rows(pg_url, project)}
    assert set(rows) == {"day"}  # no monthly limit: no monthly row
    day = rows["day"]
    assert day.reserved_usd == 0 and day.reserved_tokens == 0
    assert day.spent_usd == ACTUAL_USD * ok <= limit
    assert day.spent_tokens == ACTUAL_TOKENS * ok
    # Refused requests recorded nothing: one run per 200.
    assert await _runs(pg_url, project) == ok

    got = (await admin.get(f"/projects/{project}/budgets")).json()
    assert got["daily_usd"] == pytest.approx(float(limit))
    assert got["monthly_usd"] is None and got["daily_tokens"] is None
    usage = {u["period"]: u for u in got["usage"]}
    assert usage["day"]["spent_usd"] == pytest.approx(float(ACTUAL_USD * ok))
    assert usage["day"]["reserved_usd"] == 0
    assert usage["day"]["remaining_usd"] == pytest.approx(float(limit - ACTUAL_USD * ok))
    assert usage["day"]["spent_tokens"] == ACTUAL_TOKENS * ok
    assert usage["month"]["remaining_usd"] is None and usage["month"]["spent_usd"] == 0


async def test_token_and_monthly_budgets_refuse_with_their_names(
    admin: httpx.AsyncClient,
    pg_url: str,
) -> None:
    project, version = await _setup(admin)
    await admin.put(f"/projects/{project}/budgets", json={"daily_tokens": 18})
    r = await admin.post("/runs/execute", json=_execute(version))
    assert r.status_code == 429
    name = (await admin.get(f"/projects/{project}")).json()["name"]
    assert r.json()["detail"] == (
        f"daily token budget of project {name!r}"
        " exhausted: spent 0 + reserved 0 + this request's max 19 > 18"
    )
    await admin.put(
        f"/projects/{project}/budgets", json={"daily_tokens": 19, "monthly_usd": "0.03"}
    )
    assert (await admin.post("/runs/execute", json=_execute(version))).status_code == 200
    r = await admin.post("/runs/execute", json=_execute(version))
    assert r.status_code == 429
    # The day is checked first: 4 tokens spent, and 4 + 19 > 19.
    assert "daily token budget" in r.json()["detail"]
    assert "spent 4 + reserved 0 + this request's max 19 > 19" in r.json()["detail"]
    await admin.put(f"/projects/{project}/budgets", json={"monthly_usd": "0.03"})
    r = await admin.post("/runs/execute", json=_execute(version))
    assert r.status_code == 429
    assert "monthly USD budget" in r.json()["detail"]
    assert "spent 0.006 + reserved 0.00 + this request's max 0.029 > 0.03" in r.json()["detail"]
    rows = {row.period: row for row in await _usage_rows(pg_url, project)}
    assert rows["month"].spent_usd == ACTUAL_USD and rows["month"].reserved_usd == 0
    assert rows["day"].spent_tokens == ACTUAL_TOKENS and rows["day"].reserved_tokens == 0
    assert await _runs(pg_url, project) == 1


async def test_provider_failure_releases_the_reservation(
    admin: httpx.AsyncClient,
    pg_url: str,
    stub_llm: StubLLMServer,
) -> None:
    project, version = await _setup(admin)
    await admin.put(f"/projects/{project}/budgets", json={"daily_usd": "1", "monthly_tokens": 1000})
    stub_llm.cfg.fail_next, stub_llm.cfg.fail_status = 1, 400
    try:
        r = await admin.post("/runs/execute", json=_execute(version))
    finally:
        stub_llm.cfg.fail_next, stub_llm.cfg.fail_status = 0, 500
    assert r.status_code == 400 and "injected failure" in r.text, r.text
    rows = {row.period: row for row in await _usage_rows(pg_url, project)}
    assert set(rows) == {"day", "month"}
    for row in rows.values():
        assert (row.spent_usd, row.reserved_usd, row.spent_tokens, row.reserved_tokens) == (
            0,
            0,
            0,
            0,
        )
    assert (await admin.post("/runs/execute", json=_execute(version))).status_code == 200
    rows = {row.period: row for row in await _usage_rows(pg_url, project)}
    assert rows["day"].spent_usd == ACTUAL_USD and rows["month"].spent_tokens == ACTUAL_TOKENS


async def test_without_a_budget_nothing_is_reserved(admin: httpx.AsyncClient, pg_url: str) -> None:
    project, version = await _setup(admin)
    assert (await admin.post("/runs/execute", json=_execute(version))).status_code == 200
    assert await _usage_rows(pg_url, project) == []
    got = (await admin.get(f"/projects/{project}/budgets")).json()
    assert [u["remaining_usd"] for u in got["usage"]] == [None, None]


async def test_put_is_admin_only_validated_audited_and_tenant_scoped(
    app: RunningApp,
    admin: httpx.AsyncClient,
    pg_url: str,
    org: str,
) -> None:
    project, _ = await _setup(admin)
    bad = await admin.put(f"/projects/{project}/budgets", json={"daily_usd": -1})
    assert bad.status_code == 422 and "daily_usd" in bad.text
    bad = await admin.put(f"/projects/{project}/budgets", json={"monthly_tokens": -5})
    assert bad.status_code == 422 and "monthly_tokens" in bad.text
    bad = await admin.put(f"/projects/{project}/budgets", json={"dayly_usd": 1})
    assert bad.status_code == 422 and "dayly_usd" in bad.text
    assert (
        await admin.put(
            f"/projects/{project}/budgets", json={"daily_usd": "2.5", "monthly_tokens": 100}
        )
    ).status_code == 200
    async with get_session_factory(pg_url)() as session:
        audit = (
            (
                await session.execute(
                    select(AuditLog).where(
                        AuditLog.action == "budget.update", AuditLog.entity_id == project
                    )
                )
            )
            .scalars()
            .all()
        )
    assert len(audit) == 1
    assert audit[0].after["daily_usd"].startswith("2.5") and audit[0].before is None
    assert audit[0].after["monthly_tokens"] == "100" and audit[0].after["monthly_usd"] is None

    viewer = await issue_key(
        pg_url, organization=org, email=f"v-{uuid.uuid4().hex[:6]}@b.ex", role=Role.VIEWER
    )
    async with app.client(viewer.key) as v:
        assert (
            await v.put(f"/projects/{project}/budgets", json={"daily_usd": None})
        ).status_code == 403
        seen = await v.get(f"/projects/{project}/budgets")
        assert seen.status_code == 200 and seen.json()["daily_usd"] == 2.5

    other = await issue_key(
        pg_url,
        organization=f"org-other-{uuid.uuid4().hex[:6]}",
        email=f"o-{uuid.uuid4().hex[:6]}@o.ex",
    )
    async with app.client(other.key) as o:
        assert (await o.get(f"/projects/{project}/budgets")).status_code == 404
        assert (
            await o.put(f"/projects/{project}/budgets", json={"daily_usd": 100})
        ).status_code == 404
    assert (await admin.get(f"/projects/{project}/budgets")).json()["daily_usd"] == 2.5
