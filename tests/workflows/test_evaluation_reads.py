"""What the web app reads about evaluations: the project's list with live statuses, the metric
registry, per-example rows paged and filtered to disagreements, and the CSV export. Real
Temporal dev server, real Postgres, stub LLM (it echoes the first words of the prompt)."""

from __future__ import annotations

import csv
import io
import json
import uuid
from typing import Any

import httpx
from temporalio.client import WorkflowFailureError
from temporalio.testing import WorkflowEnvironment

from promptops.db.models import Evaluation
from promptops.db.session import get_session_factory
from promptops.llm import ModelCatalog
from tests.support.evals import wait_for_eval
from workers.main import build_worker
from workflows.evaluation.types import BatchEvaluationInput
from workflows.evaluation.workflow import BatchEvaluationWorkflow


async def _fixture(api: httpx.AsyncClient) -> dict[str, Any]:
    """Two versions, six examples: v1 echoes the text, v2 prefixes "Summary:". Even examples
    expect the text itself (v1 right, v2 wrong: a disagreement), odd ones a formula-like
    string neither produces (both wrong: they agree)."""
    project = (await api.post("/projects", json={"name": f"p-{uuid.uuid4().hex[:8]}"})).json()
    prompt = (await api.post(f"/projects/{project['id']}/prompts", json={"name": "echo"})).json()
    versions = []
    for body in ("{{ text }}", "Summary: {{ text }}"):
        r = await api.post(
            f"/prompts/{prompt['id']}/versions", json={"body": body, "variables": {"text": "str"}}
        )
        assert r.status_code == 201, r.text
        versions.append(r.json()["id"])
    ds = (await api.post("/datasets", json={"project_id": project["id"], "name": "g"})).json()
    rows = [
        json.dumps(
            {
                "id": f"ex{i}",
                "input": {"text": f"alpha beta {i}"},
                "expected": f"alpha beta {i}" if i % 2 == 0 else "=1+1",
            }
        )
        for i in range(6)
    ]
    r = await api.post(
        f"/datasets/{ds['id']}/examples",
        content="\n".join(rows),
        headers={"content-type": "application/x-ndjson"},
    )
    assert r.status_code == 201, r.text
    return {"project_id": project["id"], "versions": versions, "dataset_id": ds["id"]}


async def test_list_examples_disagreements_and_csv(
    api: httpx.AsyncClient,
    temporal_env: WorkflowEnvironment,
    pg_url: str,
    catalog: ModelCatalog,
    task_queue: str,
) -> None:
    fx = await _fixture(api)
    async with build_worker(temporal_env.client, task_queue, pg_url, catalog):
        r = await api.post(
            "/evals/run",
            json={
                "prompt_version_ids": fx["versions"],
                "dataset_id": fx["dataset_id"],
                "metrics": ["exact_match", "latency_ms"],
                "concurrency": 2,
            },
        )
        assert r.status_code == 202, r.text
        eval_id = r.json()["id"]
        body = await wait_for_eval(api, eval_id)
    assert body["status"] == "Completed"
    assert body["project_id"] == fx["project_id"] and body["dataset_name"] == "g"
    assert [(v["prompt_name"], v["version"]) for v in body["versions"]] == [
        ("echo", 1),
        ("echo", 2),
    ]

    listed = (await api.get("/evals", params={"project_id": fx["project_id"]})).json()
    assert listed["count"] == 1
    item = listed["data"][0]
    assert item["id"] == eval_id and item["status"] == "Completed"
    assert item["dataset_name"] == "g" and [v["id"] for v in item["versions"]] == fx["versions"]
    assert item["temporal_ui_url"].endswith(f"/workflows/{eval_id}")

    page = (await api.get(f"/evals/{eval_id}/examples", params={"limit": 4})).json()
    assert page["count"] == 6
    assert [e["example_id"] for e in page["data"]] == ["ex0", "ex1", "ex2", "ex3"]
    first = page["data"][0]
    assert first["input"] == {"text": "alpha beta 0"} and first["expected"] == "alpha beta 0"
    by_version = {run["prompt_version_id"]: run for run in first["runs"]}
    assert by_version[fx["versions"][0]]["metrics"] == {"exact_match": 1.0}
    assert by_version[fx["versions"][1]]["metrics"] == {"exact_match": 0.0}
    assert by_version[fx["versions"][1]]["output"].startswith("Summary:")
    rest = (await api.get(f"/evals/{eval_id}/examples", params={"offset": 4})).json()
    assert [e["example_id"] for e in rest["data"]] == ["ex4", "ex5"]

    disagree = (
        await api.get(f"/evals/{eval_id}/examples", params={"disagreements": "true"})
    ).json()
    assert disagree["count"] == 3
    assert [e["example_id"] for e in disagree["data"]] == ["ex0", "ex2", "ex4"]

    r = await api.get(f"/evals/{eval_id}/rows.csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert f'filename="{eval_id}-rows.csv"' in r.headers["content-disposition"]
    lines = list(csv.DictReader(io.StringIO(r.text)))
    assert len(lines) == 12
    assert list(lines[0])[-1] == "exact_match" and "latency_ms" in lines[0]
    ex1 = [line for line in lines if line["example_id"] == "ex1"]
    assert {line["version"] for line in ex1} == {"1", "2"}
    # A formula-like cell is defused with a leading quote; JSON inputs are JSON text.
    assert ex1[0]["expected"] == "'=1+1"
    assert json.loads(ex1[0]["input"]) == {"text": "alpha beta 1"}
    ex0 = {line["version"]: line for line in lines if line["example_id"] == "ex0"}
    assert ex0["1"]["exact_match"] == "1.0" and ex0["2"]["exact_match"] == "0.0"
    assert ex0["1"]["prompt"] == "echo" and ex0["1"]["success"] == "true"


async def test_metric_registry_lists_every_metric(api: httpx.AsyncClient) -> None:
    r = await api.get("/evals/metrics")
    assert r.status_code == 200
    metrics = {m["name"]: m for m in r.json()["data"]}
    assert {"exact_match", "token_f1", "rouge1", "accuracy", "latency_ms", "cost_usd"} <= set(
        metrics
    )
    assert metrics["accuracy"]["kind"] == "label"
    assert metrics["latency_ms"]["higher_is_better"] is False
    assert r.json()["count"] == len(metrics)


async def test_a_failed_workflow_shows_failed_in_the_list(
    api: httpx.AsyncClient,
    temporal_env: WorkflowEnvironment,
    pg_url: str,
    catalog: ModelCatalog,
    task_queue: str,
) -> None:
    """A workflow that fails before it can record its end leaves the row Running: the list
    asks Temporal and says Failed; the evaluation itself says why."""
    fx = await _fixture(api)
    eval_id = f"eval-fails-{task_queue}"
    async with get_session_factory(pg_url)() as session:
        session.add(
            Evaluation(
                id=eval_id,
                project_id=uuid.UUID(fx["project_id"]),
                dataset_id=uuid.UUID(fx["dataset_id"]),
                prompt_version_ids=fx["versions"],
                metrics=["exact_match"],
                config={},
                status="Running",
            )
        )
        await session.commit()
    async with build_worker(temporal_env.client, task_queue, pg_url, catalog):
        try:
            await temporal_env.client.execute_workflow(
                BatchEvaluationWorkflow.run,
                BatchEvaluationInput(
                    evaluation_id=eval_id,
                    prompt_version_ids=fx["versions"],
                    dataset_id=fx["dataset_id"],
                    metrics=["exact_match"],
                    concurrency=0,
                ),
                id=eval_id,
                task_queue=task_queue,
            )
        except WorkflowFailureError:
            pass
    listed = (await api.get("/evals", params={"project_id": fx["project_id"]})).json()
    assert [(e["id"], e["status"]) for e in listed["data"]] == [(eval_id, "Failed")]
    one = (await api.get(f"/evals/{eval_id}", params={"rows": 0})).json()
    assert one["status"] == "Failed" and "concurrency" in one["error"]


async def test_reads_of_unknown_things_are_404(api: httpx.AsyncClient) -> None:
    assert (await api.get("/evals", params={"project_id": str(uuid.uuid4())})).status_code == 404
    for path in ("/evals/eval-nope/examples", "/evals/eval-nope/rows.csv"):
        r = await api.get(path)
        assert r.status_code == 404 and "not found" in r.json()["detail"]
