"""The whole OpenAPI schema of the running app, fuzzed with schemathesis (issue 10, item 7).

The real app (uvicorn on a loopback port, the real Postgres, Temporal and a worker, the stub
LLM) is fuzzed by ``schemathesis run`` in its own process, as its own organization with its own
Admin key. Every phase runs: coverage (boundary values: the largest integers, empty and
overlong strings, wrong types, unexpected methods), fuzzing (valid and invalid data) and
stateful sequences along OpenAPI links (:mod:`tests.support.fuzz_hooks`) from each operation
that creates or lists something to those that take its id. The organization is seeded first
(a prompt with an approved version in a canary deployment and two drafts, a dataset with an
evaluation, a run, a routing policy, a member, an API key, a provider key) and every other
call takes those ids wherever it takes an id, so every operation is reached with ids that
exist. Checks: ``not_a_server_error`` and the response conformance checks (status code,
content type, response schema). The test fails on any 5xx, on any conformance failure, and
when an operation is never answered anything but 404, 405 or 422; afterwards a normal call of
another organization must still work.
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from temporalio.testing import WorkflowEnvironment

from promptops.db.models import Role
from promptops.llm import ModelCatalog
from tests.support.apps import issue_key, serving_app
from workers.main import build_worker

logger = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parents[2]

#: Run-time budget (CI: the whole suite under 20 min): about 4,500 requests, 35-45 s of
#: fuzzing on 2 shared cores (the test ~45 s with the seeding). Coverage is a fixed set of
#: cases per operation (~15 s); fuzzing draws MAX_EXAMPLES cases per operation, valid and
#: invalid (~15 s); the stateful phase runs up to STATEFUL_EXAMPLES sequences of up to
#: STATEFUL_STEPS calls (Hypothesis ends it after ~40 here, ~3 s). The examples phase has no
#: examples to use. A fixed SEED and one worker make every run draw the same cases.
MAX_EXAMPLES = 25
STATEFUL_EXAMPLES = 100
STATEFUL_STEPS = 8
SEED = 20261203
#: A run that has not ended by then is stopped and fails.
FUZZ_TIMEOUT_S = 900
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
)
#: Answers that do not show the operation was reached with usable input: unknown ids, the
#: coverage phase's unexpected methods, and request validation.
NOT_REACHED = {404, 405, 422}


def _config(base_url: str) -> str:
    checks = "\n".join(f"{name}.enabled = true" for name in CHECKS)
    return f"""
base-url = "{base_url}"
headers = {{ Authorization = "Bearer ${{PROMPTOPS_FUZZ_KEY}}" }}
seed = {SEED}
workers = 1
request-timeout = 60
hooks = "tests.support.fuzz_hooks"

[generation]
max-examples = {MAX_EXAMPLES}
database = "none"

[phases.examples]
enabled = false

[phases.stateful]
max-steps = {STATEFUL_STEPS}

[phases.stateful.generation]
max-examples = {STATEFUL_EXAMPLES}
database = "none"

[checks]
enabled = false
{checks}
"""


async def _ok(response: httpx.Response) -> dict[str, Any]:
    assert response.is_success, (
        f"{response.request.method} {response.request.url}: {response.status_code} {response.text}"
    )
    data: dict[str, Any] = response.json()
    return data


async def _until(client: httpx.AsyncClient, path: str, field: str, value: str) -> None:
    """Poll ``GET path`` until its ``field`` is ``value`` (a workflow got there)."""
    for _ in range(600):
        if (await _ok(await client.get(path))).get(field) == value:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"GET {path}: {field} never became {value!r}")


async def _seed(admin: httpx.AsyncClient, reviewer: httpx.AsyncClient) -> dict[str, list[str]]:
    """The fuzz organization's things, and their ids by parameter name: a project whose
    prompt has an approved version rolling out as a canary and two drafts (one without
    variables, so any model call works), a dataset with an evaluation, a run, a routing
    policy, a member, an API key and a provider key."""
    project = await _ok(await admin.post("/projects", json={"name": "seed"}))
    prompt = await _ok(
        await admin.post(f"/projects/{project['id']}/prompts", json={"name": "seed"})
    )
    versions = [
        await _ok(await admin.post(f"/prompts/{prompt['id']}/versions", json=body))
        for body in (
            {"body": "{{ text }}", "variables": {"text": "str"}},
            {"body": "Say {{ text }}", "variables": {"text": "str"}},
            {"body": "Say hello"},
        )
    ]
    approved = versions[0]["id"]
    approval = await _ok(await admin.post(f"/prompt_versions/{approved}/submit_for_approval"))
    await _until(admin, f"/prompt_versions/{approved}/approval", "phase", "waiting")
    await _ok(await reviewer.post(f"/prompt_versions/{approved}/approve", json={}))
    await _until(admin, f"/prompt_versions/{approved}", "status", "Approved")
    deployment = await _ok(
        await admin.post(
            "/deployments",
            json={
                "project_id": project["id"],
                "prompt_version_id": approved,
                "environment": "dev",
                "plan": {"steps": [50, 100], "bake_time_s": 3600},
            },
        )
    )
    dataset = await _ok(
        await admin.post("/datasets", json={"project_id": project["id"], "name": "seed"})
    )
    rows = "\n".join(
        json.dumps({"id": f"e{i}", "input": {"text": f"alpha {i}"}, "expected": f"alpha {i}"})
        for i in range(3)
    )
    await _ok(
        await admin.post(
            f"/datasets/{dataset['id']}/examples",
            content=rows,
            headers={"Content-Type": "application/x-ndjson"},
        )
    )
    evaluation = await _ok(
        await admin.post(
            "/evals/run",
            json={
                "prompt_version_ids": [approved],
                "dataset_id": dataset["id"],
                "metrics": ["exact_match"],
            },
        )
    )
    run = await _ok(
        await admin.post(
            "/runs/execute",
            json={"prompt_version_id": versions[1]["id"], "variables": {"text": "hello"}},
        )
    )
    await _ok(
        await admin.put(
            f"/projects/{project['id']}/routing_policies/seed",
            json={"strategy": "cost_first", "candidates": ["stub"]},
        )
    )
    member = await _ok(
        await admin.post(
            "/members",
            json={"email": f"member-{uuid.uuid4().hex[:8]}@example.com", "role": "Viewer"},
        )
    )
    key = await _ok(await admin.post("/api_keys", json={"name": "seed", "role": "Viewer"}))
    credential = await _ok(
        await admin.post(
            "/provider_keys",
            json={"provider": "openai", "name": "seed", "api_key": "sk-seed-0123456789"},
        )
    )
    index = await _ok(
        await admin.post("/retrieval/indexes", json={"project_id": project["id"], "name": "seed"})
    )
    ingestion = await _ok(
        await admin.post(
            f"/retrieval/indexes/{index['id']}/ingest",
            json={
                "source": {
                    "kind": "inline",
                    "documents": [{"name": "seed.md", "text": "# Seed\n\nalpha beta gamma"}],
                }
            },
        )
    )
    await _until(admin, f"/retrieval/ingestions/{ingestion['id']}", "status", "Completed")
    hits = await _ok(
        await admin.post(
            "/retrieval/query",
            json={"index_id": index["id"], "query": "alpha", "mode": "keyword"},
        )
    )
    return {
        "index_id": [index["id"]],
        "ingestion_id": [ingestion["id"]],
        "chunk_id": [h["chunk_id"] for h in hits["hits"]],
        "project_id": [project["id"]],
        "prompt_id": [prompt["id"]],
        "version_id": [v["id"] for v in versions],
        "prompt_version_id": [v["id"] for v in versions],
        "deployment_id": [deployment["deployment"]["id"]],
        "approval_id": [approval["approval_id"]],
        "dataset_id": [dataset["id"]],
        "evaluation_id": [evaluation["id"]],
        "run_id": [str(run["run_id"])],
        "user_id": [member["user_id"]],
        "key_id": [key["id"]],
        "credential_id": [credential["id"]],
    }


async def _fuzz(
    base_url: str,
    key: str,
    own_ids: dict[str, list[str]],
    seeded_ids: dict[str, list[str]],
    workdir: Path,
) -> tuple[int, str]:
    """``schemathesis run`` over the app's schema; its exit code and output."""
    config = workdir / "schemathesis.toml"
    config.write_text(_config(base_url))
    env = {
        **os.environ,
        "PROMPTOPS_FUZZ_KEY": key,
        "PROMPTOPS_FUZZ_OWN_IDS": json.dumps(own_ids),
        "PROMPTOPS_FUZZ_SEEDED_IDS": json.dumps(seeded_ids),
        "PROMPTOPS_FUZZ_LOG": str(workdir / "answers.tsv"),
        "PYTHONPATH": str(ROOT),
        "NO_COLOR": "1",
        "COLUMNS": "160",
    }
    proc = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "schemathesis"),
        "--config-file",
        str(config),
        "run",
        f"{base_url}/openapi.json",
        "--report",
        "junit",
        "--report-dir",
        str(workdir / "report"),
        cwd=workdir,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), FUZZ_TIMEOUT_S)
    except TimeoutError:
        proc.kill()
        out, _ = await proc.communicate()
    assert proc.returncode is not None
    output = out.decode(errors="replace")
    (workdir / "schemathesis.log").write_text(output)
    return proc.returncode, output


def _answers(log: Path) -> dict[str, collections.Counter[int]]:
    """Status codes answered per operation (``METHOD /path/{template}``)."""
    statuses: dict[str, collections.Counter[int]] = collections.defaultdict(collections.Counter)
    for line in log.read_text().splitlines():
        label, _, status = line.rpartition("\t")
        statuses[label][int(status)] += 1
    return statuses


async def test_fuzzing_the_whole_schema_finds_no_5xx_and_spares_other_tenants(
    pg_url: str,
    temporal_env: WorkflowEnvironment,
    catalog: ModelCatalog,
    task_queue: str,
    tmp_path: Path,
) -> None:
    suffix = uuid.uuid4().hex[:8]
    fuzzer = await issue_key(
        pg_url, organization=f"fuzz-{suffix}", email=f"fuzz-{suffix}@example.com"
    )
    reviewer = await issue_key(
        pg_url,
        organization=f"fuzz-{suffix}",
        email=f"reviewer-{suffix}@example.com",
        role=Role.EDITOR,
    )
    bystander = await issue_key(
        pg_url, organization=f"bystander-{suffix}", email=f"bystander-{suffix}@example.com"
    )

    def client(base_url: str, key: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=f"{base_url}/api/v1", timeout=60, headers={"Authorization": f"Bearer {key}"}
        )

    async with (
        serving_app(pg_url, temporal_env.client, catalog, task_queue) as base_url,
        build_worker(temporal_env.client, task_queue, pg_url, catalog),
    ):
        async with client(base_url, fuzzer.key) as admin, client(base_url, reviewer.key) as review:
            seeded = await _seed(admin, review)
        own = {"key_id": [str(fuzzer.id)], "user_id": [str(fuzzer.user_id)]}
        async with httpx.AsyncClient(base_url=base_url) as anonymous:
            schema = (await anonymous.get("/openapi.json")).json()
        operations = sorted(
            f"{method.upper()} {path}" for path, item in schema["paths"].items() for method in item
        )
        started = time.monotonic()
        code, output = await _fuzz(base_url, fuzzer.key, own, seeded, tmp_path)
        elapsed = time.monotonic() - started
        async with client(base_url, bystander.key) as other:
            project = await _ok(await other.post("/projects", json={"name": "after-fuzz"}))
            prompt = await _ok(
                await other.post(f"/projects/{project['id']}/prompts", json={"name": "echo"})
            )
            version = await _ok(
                await other.post(
                    f"/prompts/{prompt['id']}/versions",
                    json={"body": "Say {{ text }}", "variables": {"text": "str"}},
                )
            )
            executed = await other.post(
                "/runs/execute",
                json={"prompt_version_id": version["id"], "variables": {"text": "hello there"}},
            )
            generated = await other.post(
                "/generate",
                json={"prompt_version_id": version["id"], "variables": {"text": "hello again"}},
            )

    statuses = _answers(tmp_path / "answers.tsv")
    unreached = sorted(label for label, seen in statuses.items() if set(seen) <= NOT_REACHED)
    requests = sum(sum(seen.values()) for seen in statuses.values())
    logger.info(
        "fuzzed %d operations in %.0f s (%d requests); not reached with usable input: %d %s",
        len(statuses),
        elapsed,
        requests,
        len(unreached),
        unreached,
    )
    server_errors = {
        label: dict(seen)
        for label, seen in statuses.items()
        if any(status >= 500 for status in seen)
    }
    assert not server_errors, server_errors
    assert code == 0, output[-30000:]
    assert sorted(statuses) == operations, "operations never called"
    assert not unreached, {label: dict(statuses[label]) for label in unreached}
    assert executed.status_code == 200, executed.text
    assert executed.json()["output"] == "Say hello there"
    assert generated.status_code == 200, generated.text
