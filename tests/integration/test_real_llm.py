"""The evaluation path end to end with the real local model (SmolLM2-135M on llama.cpp).

Where the model matters — JSON-schema constrained labels, real token counts, real latency — the
stub is not enough: this runs a small evaluation through the real embedded LLM server.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from temporalio.testing import WorkflowEnvironment

from promptops.devstack.demo import SPAM_TASK
from promptops.devstack.llm import find_smollm2_gguf, start_llm_server
from promptops.llm import ModelCatalog
from tests.support.apps import issue_key, running_app
from tests.support.evals import wait_for_eval
from tests.support.stub_llm import free_port
from workers.main import build_worker

EMAILS = [
    ("sa-1", "Cheap meds online!!!", "Buy viagra now, 80% off, click here to order today.", "spam"),
    (
        "sa-2",
        "Re: build failure on sparc",
        (
            "The nightly build broke after the last commit to "
            "configure.in; I'll revert it tonight unless someone has a fix."
        ),
        "ham",
    ),
    (
        "sa-3",
        "Make $5000 a week from home",
        ("Our proven system pays you cash. Reply REMOVE to stop receiving these offers."),
        "spam",
    ),
]


@pytest.fixture(scope="module")
def real_llm() -> Iterator[ModelCatalog]:
    server, base = start_llm_server(
        find_smollm2_gguf(), port=free_port(), n_ctx=2048, n_parallel=2, threads=2
    )
    try:
        yield ModelCatalog.from_dict(
            {
                "model_list": [
                    {
                        "model_name": "smollm2-135m",
                        "litellm_params": {
                            "model": "openai/smollm2-135m",
                            "api_base": f"{base}/v1",
                            "api_key": "none",
                        },
                        "model_info": {"input_cost_per_token": 1e-7, "output_cost_per_token": 2e-7},
                    }
                ]
            }
        )
    finally:
        del server


async def test_spam_filter_evaluation_on_real_model(
    real_llm: ModelCatalog, pg_url: str, temporal_env: WorkflowEnvironment, task_queue: str
) -> None:
    key = await issue_key(pg_url)
    async with (
        running_app(pg_url, temporal_env.client, real_llm, task_queue) as running,
        running.client(key.key) as api,
    ):
        project = (await api.post("/projects", json={"name": f"real-{task_queue}"})).json()
        prompt = (
            await api.post(f"/projects/{project['id']}/prompts", json={"name": "spam"})
        ).json()
        versions = []
        for spec in SPAM_TASK.versions:
            r = await api.post(f"/prompts/{prompt['id']}/versions", json=spec)
            assert r.status_code == 201, r.text
            versions.append(r.json()["id"])
        ds = (
            await api.post("/datasets", json={"project_id": project["id"], "name": "mail"})
        ).json()
        import json

        body = "\n".join(
            json.dumps({"id": i, "input": {"subject": s, "body": b}, "expected": y})
            for i, s, b, y in EMAILS
        )
        await api.post(
            f"/datasets/{ds['id']}/examples",
            content=body,
            headers={"content-type": "application/x-ndjson"},
        )
        async with build_worker(temporal_env.client, task_queue, pg_url, real_llm):
            r = await api.post(
                "/evals/run",
                json={
                    "prompt_version_ids": versions,
                    "dataset_id": ds["id"],
                    "metrics": SPAM_TASK.metrics,
                    "positive_label": "spam",
                    "concurrency": 2,
                },
            )
            assert r.status_code == 202, r.text
            result = await wait_for_eval(api, r.json()["id"], timeout_s=240)
    assert result["status"] == "Completed"
    assert len(result["rows"]) == 6
    for row in result["rows"]:
        # The JSON schema constrains the real model's output to a valid label.
        assert json.loads(row["output"])["label"] in ("spam", "ham")
        assert row["predicted_label"] in ("spam", "ham")
        assert row["tokens_in"] > 20 and row["tokens_out"] > 0 and row["latency_ms"] > 0
    for v in result["summary"]["versions"]:
        assert 0.0 <= v["metrics"]["accuracy"]["value"] <= 1.0
        assert v["cost_usd"] == pytest.approx(v["tokens_in"] * 1e-7 + v["tokens_out"] * 2e-7)
