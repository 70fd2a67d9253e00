"""Tenant isolation over every route of the OpenAPI schema.

An Admin key of organization A is sent at every ``/api/v1`` operation with the ids of
organization B's objects. Operations that name an object of B must answer 403 or 404 and change
nothing; collection operations (no path parameter, no body naming B) must not leak any of B's
ids or names. Operations with a request body or a required query parameter must be listed in
:data:`BODIES` (the test fails for one that is not), so a new route cannot skip the check.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from promptops.db.models import (
    Approval,
    AuditLog,
    Deployment,
    Evaluation,
    Label,
    PromptVersion,
    Role,
)
from promptops.db.session import get_session_factory
from promptops.llm import ModelCatalog
from tests.support.apps import RunningApp, issue_key, running_app
from tests.support.labels import serve_approved

B = dict[str, str]
Body = Callable[[B], Any]

#: Path parameter name -> key of organization B's object ids.
PATH_PARAMS = {
    "project_id": "project",
    "prompt_id": "prompt",
    "version_id": "version",
    "dataset_id": "dataset",
    "evaluation_id": "evaluation",
    "run_id": "run",
    "deployment_id": "deployment",
    "user_id": "user",
    "key_id": "api_key",
    "credential_id": "provider_key",
    "provider_key_id": "provider_key",
    "api_key_id": "api_key",
    "approval_id": "approval",
    "name": "label",
    "index_id": "index",
    "chunk_id": "chunk",
    "ingestion_id": "ingestion",
}

#: "METHOD path" -> (body, query) for operations that need them. A body naming one of B's
#: objects makes the operation a targeted one (403/404 expected).
BODIES: dict[str, tuple[Body | None, Body | None]] = {
    "POST /api/v1/projects": (lambda b: {"name": f"a-{uuid.uuid4().hex[:6]}"}, None),
    "POST /api/v1/projects/{project_id}/prompts": (lambda b: {"name": "x"}, None),
    "POST /api/v1/prompts/{prompt_id}/versions": (
        lambda b: {"body": "Hi {{ n }}", "variables": {"n": "str"}},
        None,
    ),
    "GET /api/v1/prompts/{prompt_id}/diff": (None, lambda b: {"from": 1, "to": 2}),
    # Renders the template it is sent; reads no stored object (checked for leaks only).
    "POST /api/v1/prompts/render": (
        lambda b: {"body": "Hi {{ n }}", "variables": {"n": "str"}, "values": {"n": "x"}},
        None,
    ),
    "POST /api/v1/prompt_versions/{version_id}/render": (lambda b: {"variables": {"n": "x"}}, None),
    "PUT /api/v1/prompts/{prompt_id}/labels/{name}": (
        lambda b: {"prompt_version_id": b["version2"]},
        None,
    ),
    "POST /api/v1/prompts/{prompt_id}/labels/{name}/rollback": (
        lambda b: {"prompt_version_id": b["version2"], "reason": "x"},
        None,
    ),
    "POST /api/v1/datasets": (lambda b: {"project_id": b["project"], "name": "stolen"}, None),
    "GET /api/v1/datasets": (None, lambda b: {"project_id": b["project"]}),
    "GET /api/v1/evals": (None, lambda b: {"project_id": b["project"]}),
    "POST /api/v1/datasets/{dataset_id}/examples": (
        lambda b: [{"id": "z", "input": {"n": "x"}, "expected": "x"}],
        None,
    ),
    "POST /api/v1/runs/execute": (
        lambda b: {"prompt_version_id": b["version"], "variables": {"n": "x"}},
        None,
    ),
    "POST /api/v1/generate": (lambda b: {"prompt_id": b["prompt"], "variables": {"n": "x"}}, None),
    "GET /api/v1/runs": (None, lambda b: {"project_id": b["project"]}),
    "POST /api/v1/runs/{run_id}/feedback": (lambda b: {"thumbs": True}, None),
    "POST /api/v1/outcomes": (lambda b: {"name": "x", "value": 1, "run_id": b["run"]}, None),
    "POST /api/v1/members": (
        lambda b: {
            "email": f"m-{uuid.uuid4().hex[:6]}@a.example",
            "role": "Viewer",
            "project_id": b["project"],
        },
        None,
    ),
    "PATCH /api/v1/members/{user_id}": (lambda b: {"role": "Viewer"}, None),
    "POST /api/v1/api_keys": (
        lambda b: {"name": "x", "role": "Viewer", "project_id": b["project"]},
        None,
    ),
    "PATCH /api/v1/api_keys/{key_id}": (lambda b: {"rate_limit_rpm": 1}, None),
    "POST /api/v1/provider_keys": (
        lambda b: {"provider": "openai", "name": "a-openai", "api_key": "sk-a-1234567890"},
        None,
    ),
    "PUT /api/v1/provider_keys/{credential_id}": (
        lambda b: {"api_key": "sk-a-replaced-0987654321"},
        None,
    ),
    "PUT /api/v1/projects/{project_id}/approval_policy": (
        lambda b: {"required_approvals": 1},
        None,
    ),
    "PUT /api/v1/projects/{project_id}/budgets": (lambda b: {"daily_usd": 0}, None),
    "PUT /api/v1/projects/{project_id}/routing_policies/{name}": (
        lambda b: {"strategy": "cost_first", "candidates": ["stub"]},
        None,
    ),
    "POST /api/v1/projects/{project_id}/routing_policies/{name}/preview": (
        lambda b: {"max_tokens": 16},
        None,
    ),
    "PUT /api/v1/projects/{project_id}/cache": (lambda b: {"exact": {"enabled": True}}, None),
    "POST /api/v1/cache/purge": (lambda b: {"project_id": b["project"]}, None),
    "POST /api/v1/prompt_versions/{version_id}/approve": (lambda b: {"comment": "ok"}, None),
    "POST /api/v1/prompt_versions/{version_id}/reject": (lambda b: {"comment": "no"}, None),
    "POST /api/v1/deployments": (
        lambda b: {
            "project_id": b["project"],
            "prompt_version_id": b["version2"],
            "environment": "prod",
        },
        None,
    ),
    "POST /api/v1/deployments/{deployment_id}/pause": (lambda b: {"reason": "x"}, None),
    "POST /api/v1/deployments/{deployment_id}/resume": (lambda b: {"reason": "x"}, None),
    "POST /api/v1/deployments/{deployment_id}/promote": (lambda b: {"reason": "x"}, None),
    "POST /api/v1/deployments/{deployment_id}/abort": (lambda b: {"reason": "x"}, None),
    "POST /api/v1/retrieval/indexes": (
        lambda b: {"project_id": b["project"], "name": "stolen-index"},
        None,
    ),
    "POST /api/v1/retrieval/indexes/{index_id}/ingest": (
        lambda b: {"source": {"kind": "inline", "documents": [{"name": "x", "text": "y"}]}},
        None,
    ),
    "POST /api/v1/retrieval/query": (
        lambda b: {"index_id": b["index"], "query": "secret", "mode": "keyword"},
        None,
    ),
    "POST /api/v1/evals/run": (
        lambda b: {
            "prompt_version_ids": [b["version"]],
            "dataset_id": b["dataset"],
            "metrics": ["exact_match"],
        },
        None,
    ),
}


async def _org_b(running: RunningApp, pg_url: str) -> B:
    """Organization B with one of every object, made through its own Admin key."""
    email = f"b-{uuid.uuid4().hex[:6]}@b.example"
    key_b = await issue_key(pg_url, organization=f"org-b-{uuid.uuid4().hex[:6]}", email=email)
    ids: B = {
        "org": str(key_b.organization_id),
        "user": str(key_b.user_id),
        "email": email,
        "api_key": str(key_b.id),
        "label": "production",
    }
    async with running.client(key_b.key) as b:

        async def ok(r: httpx.Response) -> dict[str, Any]:
            assert r.status_code < 300, r.text
            return dict(r.json())

        ids["project"] = (
            await ok(
                await b.post("/projects", json={"name": f"secret-project-{uuid.uuid4().hex[:6]}"})
            )
        )["id"]
        ids["prompt"] = (
            await ok(
                await b.post(f"/projects/{ids['project']}/prompts", json={"name": "secret-prompt"})
            )
        )["id"]
        for n, body in ((1, "Hello {{ n }}"), (2, "Hi {{ n }}")):
            v = await ok(
                await b.post(
                    f"/prompts/{ids['prompt']}/versions",
                    json={"body": body, "variables": {"n": "str"}},
                )
            )
            ids["version" if n == 1 else "version2"] = v["id"]
        await serve_approved(pg_url, ids["prompt"], ids["version"])
        ids["index"] = (
            await ok(
                await b.post(
                    "/retrieval/indexes",
                    json={"project_id": ids["project"], "name": "secret-index"},
                )
            )
        )["id"]
        ids["chunk"] = str(uuid.uuid4())
        ids["ingestion"] = f"ingest-{ids['index']}-{'0' * 16}"
        ids["dataset"] = (
            await ok(
                await b.post("/datasets", json={"project_id": ids["project"], "name": "secret-set"})
            )
        )["id"]
        await ok(
            await b.post(
                f"/datasets/{ids['dataset']}/examples",
                content='{"id": "e1", "input": {"n": "a"}, "expected": "a"}\n',
                headers={"content-type": "application/x-ndjson"},
            )
        )
        ids["run"] = (
            await ok(
                await b.post(
                    "/generate",
                    json={"prompt_id": ids["prompt"], "variables": {"n": "x"}, "subject_id": "s"},
                )
            )
        )["run_id"]
        for path, field, body in (
            (
                "/provider_keys",
                "provider_key",
                {"provider": "openai", "name": "b-openai", "api_key": "sk-secret-b-0000"},
            ),
        ):
            r = await b.post(path, json=body)
            if r.status_code == 201:
                ids[field] = r.json()["id"]
    async with get_session_factory(pg_url)() as session:
        ids["evaluation"] = f"eval-b-{uuid.uuid4().hex[:8]}"
        session.add(
            Evaluation(
                id=ids["evaluation"],
                project_id=uuid.UUID(ids["project"]),
                dataset_id=uuid.UUID(ids["dataset"]),
                prompt_version_ids=[ids["version"]],
                metrics=["exact_match"],
                config={},
                status="Completed",
            )
        )
        dep_id = uuid.uuid4()
        session.add(
            Deployment(
                id=dep_id,
                project_id=uuid.UUID(ids["project"]),
                prompt_id=uuid.UUID(ids["prompt"]),
                environment="staging",
                candidate_version_id=uuid.UUID(ids["version2"]),
                baseline_version_id=uuid.UUID(ids["version"]),
                plan={},
                status="Running",
                canary_weight=10.0,
                current_step=0,
                workflow_id=f"canary-{dep_id}",
                created_by="b",
            )
        )
        ids["deployment"] = str(dep_id)
        ids["approval"] = f"approval-{ids['version2']}"
        session.add(
            Approval(
                id=ids["approval"],
                project_id=uuid.UUID(ids["project"]),
                prompt_version_id=uuid.UUID(ids["version2"]),
                status="Pending",
                required_approvals=1,
                policy={},
                requested_by="b",
            )
        )
        await session.commit()
    ids.setdefault("provider_key", str(uuid.uuid4()))
    return ids


async def _snapshot(pg_url: str, ids: B) -> dict[str, Any]:
    async with get_session_factory(pg_url)() as session:
        label = (
            (
                await session.execute(
                    select(Label.prompt_version_id).where(
                        Label.prompt_id == uuid.UUID(ids["prompt"])
                    )
                )
            )
            .scalars()
            .all()
        )
        versions = (
            await session.execute(
                select(PromptVersion.id, PromptVersion.status).where(
                    PromptVersion.prompt_id == uuid.UUID(ids["prompt"])
                )
            )
        ).all()
        dep = await session.get(Deployment, uuid.UUID(ids["deployment"]))
        audit = (
            (
                await session.execute(
                    select(AuditLog.id).where(AuditLog.organization_id == uuid.UUID(ids["org"]))
                )
            )
            .scalars()
            .all()
        )
        assert dep is not None
        return {
            "labels": sorted(map(str, label)),
            "versions": sorted(map(str, versions)),
            "deployment": (dep.status, dep.canary_weight),
            "audit": len(audit),
        }


def _operations(app: Any) -> list[tuple[str, str, dict[str, Any]]]:
    ops = []
    for path, item in app.openapi()["paths"].items():
        if not path.startswith("/api/v1"):
            continue
        for method, op in item.items():
            ops.append((method.upper(), path, op))
    return ops


async def test_every_route_refuses_another_organizations_objects(
    pg_url: str,
    catalog: ModelCatalog,
    task_queue: str,
    temporal_env: Any,
) -> None:
    async with running_app(pg_url, temporal_env.client, catalog, task_queue) as running:
        ids = await _org_b(running, pg_url)
        before = await _snapshot(pg_url, ids)
        key_a = await issue_key(
            pg_url,
            organization=f"org-a-{uuid.uuid4().hex[:6]}",
            email=f"a-{uuid.uuid4().hex[:6]}@a.example",
            role=Role.ADMIN,
        )
        secrets = [v for k, v in ids.items() if k != "label"] + [
            "secret-project",
            "secret-prompt",
            "secret-set",
        ]
        problems: list[str] = []
        checked = 0
        async with running.client(key_a.key, prefix="") as a:
            for method, path, op in _operations(running.app):
                route = f"{method} {path}"
                params = re.findall(r"{(\w+)}", path)
                needs_query = any(
                    p.get("required") and p["in"] == "query" for p in op.get("parameters", [])
                )
                body_fn, query_fn = BODIES.get(route, (None, None))
                if ("requestBody" in op and body_fn is None) or (needs_query and query_fn is None):
                    problems.append(f"{route}: not in the isolation matrix (add its body/query)")
                    continue
                unknown = [p for p in params if p not in PATH_PARAMS]
                if unknown:
                    problems.append(f"{route}: path parameter(s) {unknown} not mapped")
                    continue
                url = path
                for p in params:
                    url = url.replace("{" + p + "}", ids[PATH_PARAMS[p]])
                body = body_fn(ids) if body_fn else None
                query = query_fn(ids) if query_fn else None
                r = await a.request(method, url, json=body, params=query)
                checked += 1
                names_b = bool(params) or any(
                    v in str(body) + str(query) for v in ids.values() if len(v) > 20
                )
                if names_b:
                    if r.status_code not in (403, 404):
                        problems.append(f"{route}: {r.status_code} {r.text[:200]}")
                else:
                    leaked = [s for s in secrets if s in r.text]
                    if leaked:
                        problems.append(f"{route}: leaks {leaked}")
        assert not problems, "\n".join(problems)
        assert checked >= 25
        assert await _snapshot(pg_url, ids) == before


@pytest.mark.parametrize("role", [Role.VIEWER])
async def test_project_scoped_key_cannot_reach_sibling_project(
    pg_url: str,
    catalog: ModelCatalog,
    task_queue: str,
    temporal_env: Any,
    role: Role,
) -> None:
    org = f"org-s-{uuid.uuid4().hex[:6]}"
    admin = await issue_key(pg_url, organization=org, email=f"adm-{uuid.uuid4().hex[:6]}@s.ex")
    async with running_app(pg_url, temporal_env.client, catalog, task_queue) as running:
        async with running.client(admin.key) as c:
            p1 = (await c.post("/projects", json={"name": "one"})).json()["id"]
            p2 = (await c.post("/projects", json={"name": "two"})).json()["id"]
            pr2 = (await c.post(f"/projects/{p2}/prompts", json={"name": "x"})).json()["id"]
        scoped = await issue_key(
            pg_url,
            organization=org,
            email=f"v-{uuid.uuid4().hex[:6]}@s.ex",
            role=role,
            project_id=uuid.UUID(p1),
        )
        async with running.client(scoped.key) as c:
            listed = (await c.get("/projects")).json()["data"]
            assert [p["id"] for p in listed] == [p1]
            assert (await c.get(f"/projects/{p2}")).status_code == 404
            assert (await c.get(f"/prompts/{pr2}")).status_code == 404
            assert (await c.get(f"/projects/{p1}")).status_code == 200
