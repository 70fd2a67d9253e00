"""Helpers to build a project with prompt versions and a dataset through the API."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import httpx


async def make_eval_fixture(
    api: httpx.AsyncClient,
    n_examples: int,
    *,
    bodies: tuple[str, ...] = ("{{ text }}", "Summary: {{ text }}"),
    expected: str = "alpha beta gamma",
) -> dict[str, Any]:
    project = (await api.post("/projects", json={"name": f"p-{uuid.uuid4().hex[:8]}"})).json()
    prompt = (await api.post(f"/projects/{project['id']}/prompts", json={"name": "s"})).json()
    versions = []
    for body in bodies:
        r = await api.post(
            f"/prompts/{prompt['id']}/versions", json={"body": body, "variables": {"text": "str"}}
        )
        assert r.status_code == 201, r.text
        versions.append(r.json()["id"])
    ds = (await api.post("/datasets", json={"project_id": project["id"], "name": "g"})).json()
    rows = [
        json.dumps(
            {"id": f"ex{i:05d}", "input": {"text": f"alpha beta gamma {i}"}, "expected": expected}
        )
        for i in range(n_examples)
    ]
    r = await api.post(
        f"/datasets/{ds['id']}/examples",
        content="\n".join(rows),
        headers={"content-type": "application/x-ndjson"},
    )
    assert r.status_code == 201, r.text
    return {
        "project_id": project["id"],
        "prompt_id": prompt["id"],
        "versions": versions,
        "dataset_id": ds["id"],
    }


async def wait_for_eval(
    api: httpx.AsyncClient,
    eval_id: str,
    *,
    timeout_s: float = 60,
    statuses: tuple[str, ...] = ("Completed", "Failed", "Cancelled"),
) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        r = await api.get(f"/evals/{eval_id}")
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        if body["status"] in statuses:
            return body
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"evaluation {eval_id} still {body['status']}: {body['progress']}")
        await asyncio.sleep(0.2)
