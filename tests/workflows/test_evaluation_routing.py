"""Evaluations of a version whose model is a routing policy (``policy:<name>``)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment

from promptops.db.models import Run
from promptops.db.session import get_session_factory
from promptops.llm import ModelCatalog
from tests.support.evals import make_eval_fixture, wait_for_eval
from tests.support.stub_llm import StubLLMServer
from workers.main import build_worker


@pytest.fixture
def catalog(stub_llm: StubLLMServer) -> ModelCatalog:
    """``dear`` and ``cheap``: the same stub at prices 100x apart (the app and the worker)."""
    models = (
        stub_llm.model_list("dear", input_cost=1e-5, output_cost=2e-5)["model_list"]
        + stub_llm.model_list("cheap", input_cost=1e-7, output_cost=2e-7)["model_list"]
    )
    return ModelCatalog.from_dict({"model_list": models})


async def _evaluate(
    api: httpx.AsyncClient, version: str, dataset_id: str
) -> tuple[str, dict[str, Any]]:
    """Run the ``token_f1`` evaluation of one version to its end: (eval id, its final state)."""
    r = await api.post(
        "/evals/run",
        json={"prompt_version_ids": [version], "dataset_id": dataset_id, "metrics": ["token_f1"]},
    )
    assert r.status_code == 202, r.text
    eval_id = r.json()["id"]
    return eval_id, await wait_for_eval(api, eval_id)


async def _runs_column(pg_url: str, eval_id: str, column: Any) -> list[Any]:
    """``column`` of every run the evaluation recorded."""
    async with get_session_factory(pg_url)() as session:
        return list(
            (await session.execute(select(column).where(Run.evaluation_id == eval_id)))
            .scalars()
            .all()
        )


async def test_a_policy_model_is_routed_by_the_projects_policy(
    api: httpx.AsyncClient,
    temporal_env: WorkflowEnvironment,
    pg_url: str,
    catalog: ModelCatalog,
    task_queue: str,
) -> None:
    """A version whose model is ``policy:<name>`` is evaluated on the model the project's
    routing policy picks (here the cheaper of two); an unknown policy fails the evaluation
    with a message naming it."""
    fx = await make_eval_fixture(api, 3, bodies=("{{ text }}",))
    r = await api.put(
        f"/projects/{fx['project_id']}/routing_policies/thrifty",
        json={"strategy": "cost_first", "candidates": ["dear", "cheap"]},
    )
    assert r.status_code in (200, 201), r.text
    versions = []
    for policy in ("thrifty", "missing"):
        r = await api.post(
            f"/prompts/{fx['prompt_id']}/versions",
            json={
                "body": f"{{{{ text }}}} via {policy}",
                "variables": {"text": "str"},
                "model": f"policy:{policy}",
            },
        )
        assert r.status_code == 201, r.text
        versions.append(r.json()["id"])
    async with build_worker(temporal_env.client, task_queue, pg_url, catalog):
        eval_id, body = await _evaluate(api, versions[0], fx["dataset_id"])
        assert body["status"] == "Completed", body
        models = await _runs_column(pg_url, eval_id, Run.model)
        assert len(models) == 3 and set(models) == {"cheap"}
        _, body = await _evaluate(api, versions[1], fx["dataset_id"])
    assert body["status"] == "Failed" and "missing" in (body["error"] or ""), body


async def test_evaluation_calls_are_budgeted(
    api: httpx.AsyncClient,
    temporal_env: WorkflowEnvironment,
    pg_url: str,
    catalog: ModelCatalog,
    task_queue: str,
) -> None:
    """Every evaluation call reserves against the project's budget before the provider is
    asked and settles after: the spend equals the runs' cost; a budget too small for one call
    stops the evaluation with a message naming the budget."""
    fx = await make_eval_fixture(api, 4, bodies=("{{ text }}",))
    r = await api.post(
        f"/prompts/{fx['prompt_id']}/versions",
        json={
            "body": "{{ text }} priced",
            "variables": {"text": "str"},
            "model": "dear",
            "decoding": {"max_tokens": 20},
        },
    )
    version = r.json()["id"]
    r = await api.put(f"/projects/{fx['project_id']}/budgets", json={"daily_usd": 1})
    assert r.status_code == 200, r.text
    async with build_worker(temporal_env.client, task_queue, pg_url, catalog):
        eval_id, body = await _evaluate(api, version, fx["dataset_id"])
        assert body["status"] == "Completed", body
        costs = await _runs_column(pg_url, eval_id, Run.cost_usd)
        day = (await api.get(f"/projects/{fx['project_id']}/budgets")).json()["usage"][0]
        assert len(costs) == 4 and sum(costs) > 0
        assert day["spent_usd"] == pytest.approx(float(sum(costs)))
        assert day["reserved_usd"] == 0
        # A limit below one call's bound (prompt + 20 tokens at "dear" prices) stops it.
        r = await api.put(
            f"/projects/{fx['project_id']}/budgets", json={"daily_usd": float(sum(costs)) + 1e-6}
        )
        _, body = await _evaluate(api, version, fx["dataset_id"])
    assert body["status"] == "Failed", body
    assert "daily USD budget" in (body["error"] or ""), body
