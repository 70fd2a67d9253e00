"""BatchEvaluationWorkflow on the real Temporal dev server, real Postgres, stub LLM."""

from __future__ import annotations

import httpx
import pytest
from temporalio.client import WorkflowFailureError
from temporalio.testing import WorkflowEnvironment

from promptops.llm import ModelCatalog
from tests.support.evals import make_eval_fixture, wait_for_eval
from workers.main import build_worker
from workflows.evaluation.types import BatchEvaluationInput
from workflows.evaluation.workflow import BatchEvaluationWorkflow


async def test_evaluation_scores_compares_and_records_rows(
    api: httpx.AsyncClient,
    temporal_env: WorkflowEnvironment,
    pg_url: str,
    catalog: ModelCatalog,
    task_queue: str,
) -> None:
    fx = await make_eval_fixture(api, 12)
    async with build_worker(temporal_env.client, task_queue, pg_url, catalog):
        r = await api.post(
            "/evals/run",
            json={
                "prompt_version_ids": fx["versions"],
                "dataset_id": fx["dataset_id"],
                "metrics": ["exact_match", "token_f1", "rouge1", "bleu", "latency_ms", "cost_usd"],
                "concurrency": 3,
                "chunk_size": 5,
            },
        )
        assert r.status_code == 202, r.text
        eval_id = r.json()["id"]
        assert r.json()["temporal_ui_url"].endswith(f"/workflows/{eval_id}")
        body = await wait_for_eval(api, eval_id)
    assert body["status"] == "Completed"
    assert body["progress"] == {"done": 24, "total": 24, "versions": []} or (
        body["progress"]["done"] == 24
    )
    v1, v2 = body["summary"]["versions"]
    # The stub echoes the first 6 words of the prompt: v1 echoes "alpha beta gamma i",
    # v2 echoes "Summary: alpha beta gamma i", so v1's token F1 is higher on every example.
    assert v1["metrics"]["token_f1"]["value"] == pytest.approx(2 * 0.75 * 1 / 1.75)
    assert v2["metrics"]["token_f1"]["value"] < v1["metrics"]["token_f1"]["value"]
    assert v1["metrics"]["exact_match"]["value"] == 0.0
    for v in (v1, v2):
        m = v["metrics"]["rouge1"]
        assert m["ci_low"] <= m["value"] <= m["ci_high"]
        assert v["n"] == 12 and v["tokens_in"] > 0 and v["cost_usd"] > 0
        assert v["latency_ms"]["p95"] >= v["latency_ms"]["p50"] > 0
    cmp = body["summary"]["comparisons"][0]
    assert cmp["n_paired"] == 12
    assert cmp["metrics"]["token_f1"]["diff"] < 0 and cmp["metrics"]["token_f1"]["p_value"] < 0.05
    assert len(body["rows"]) == 24
    row = body["rows"][0]
    assert set(row) >= {"input", "output", "expected", "metrics"}
    assert row["input"] == {"text": "alpha beta gamma 0"}


async def test_label_metrics_and_mcnemar(
    api: httpx.AsyncClient,
    temporal_env: WorkflowEnvironment,
    pg_url: str,
    catalog: ModelCatalog,
    task_queue: str,
) -> None:
    # v1 echoes "spam ..." -> predicts spam for all; v2 echoes "ham ..." -> predicts ham.
    fx = await make_eval_fixture(
        api, 10, bodies=("spam {{ text }}", "ham {{ text }}"), expected="spam"
    )
    async with build_worker(temporal_env.client, task_queue, pg_url, catalog):
        r = await api.post(
            "/evals/run",
            json={
                "prompt_version_ids": fx["versions"],
                "dataset_id": fx["dataset_id"],
                "metrics": ["accuracy", "precision", "recall", "f1"],
                "positive_label": "spam",
            },
        )
        body = await wait_for_eval(api, r.json()["id"])
    v1, v2 = body["summary"]["versions"]
    assert v1["metrics"]["accuracy"]["value"] == 1.0
    assert v1["metrics"]["recall"]["value"] == 1.0
    assert v2["metrics"]["accuracy"]["value"] == 0.0
    cmp = body["summary"]["comparisons"][0]["metrics"]["accuracy"]
    assert cmp["test"] == "mcnemar" and cmp["diff"] == -1.0 and cmp["p_value"] < 0.01


async def test_bad_requests_are_4xx_naming_the_field(api: httpx.AsyncClient) -> None:
    fx = await make_eval_fixture(api, 2)
    r = await api.post(
        "/evals/run",
        json={
            "prompt_version_ids": fx["versions"],
            "dataset_id": fx["dataset_id"],
            "metrics": ["bogus"],
        },
    )
    assert (
        r.status_code == 422 and "bogus" in r.text and r.json()["detail"][0]["loc"][-1] == "metrics"
    )
    r = await api.post(
        "/evals/run",
        json={"prompt_version_ids": [], "dataset_id": fx["dataset_id"], "metrics": ["bleu"]},
    )
    assert r.status_code == 422 and "prompt_version_ids" in r.text


async def test_continue_as_new_keeps_progress(
    api: httpx.AsyncClient,
    temporal_env: WorkflowEnvironment,
    pg_url: str,
    catalog: ModelCatalog,
    task_queue: str,
) -> None:
    fx = await make_eval_fixture(api, 9, bodies=("{{ text }}",))
    async with build_worker(temporal_env.client, task_queue, pg_url, catalog):
        handle = await temporal_env.client.start_workflow(
            BatchEvaluationWorkflow.run,
            BatchEvaluationInput(
                evaluation_id=f"eval-can-{task_queue}",
                prompt_version_ids=fx["versions"],
                dataset_id=fx["dataset_id"],
                metrics=["token_f1"],
                chunk_size=2,
                chunks_per_run=2,
            ),
            id=f"eval-can-{task_queue}",
            task_queue=task_queue,
        )
        result = await handle.result()
        runs = 0
        async for _ in temporal_env.client.list_workflows(f"WorkflowId = '{handle.id}'"):
            runs += 1
    assert result.status == "Completed"
    assert result.summary["versions"][0]["n"] == 9
    assert runs >= 3  # 5 chunks at 2 per run: the history was cut by continue-as-new


async def test_unknown_dataset_fails_without_retrying(
    temporal_env: WorkflowEnvironment,
    pg_url: str,
    catalog: ModelCatalog,
    task_queue: str,
) -> None:
    async with build_worker(temporal_env.client, task_queue, pg_url, catalog):
        with pytest.raises(WorkflowFailureError) as err:
            await temporal_env.client.execute_workflow(
                BatchEvaluationWorkflow.run,
                BatchEvaluationInput(
                    evaluation_id="eval-missing",
                    prompt_version_ids=["x"],
                    dataset_id="00000000-0000-0000-0000-000000000000",
                    metrics=["bleu"],
                ),
                id=f"eval-missing-{task_queue}",
                task_queue=task_queue,
            )
    activity_error = err.value.cause
    assert "not found" in str(activity_error.cause)
    assert (
        activity_error.retry_state is not None
        and activity_error.retry_state.name == "NON_RETRYABLE_FAILURE"
    )
