"""Protected labels on the real app, Postgres and Temporal: ``production`` (and ``dev`` /
``staging`` where an Admin marks them) points only at approved versions and moves only through
a deployment or an Admin's audited emergency rollback to a version it served before.

What is checked: a plain PUT is refused for every role and every version status (the hole an
Admin could use to point production at a Draft); marking labels protected (Admin, audited,
idempotent, only labels deployments move, never while one points at an unapproved version);
the rollback (Admin only, reason required and audited, only to an approved version the label
served before, refused while a deployment of the prompt to that environment is active); the
deployment activity's promotion still moves the label and its rollback/abort leave it; the
history the rollback rule reads is written for every writer and backfilled by migration 0005.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from alembic import command
from sqlalchemy import select, update
from sqlalchemy.exc import DBAPIError
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment
from temporalio.worker import Worker

from activities.deployment.activities import DeploymentActivities
from activities.deployment.types import ABORTED, PROMOTED, ROLLED_BACK, FinishDeploymentInput
from promptops.db.migrate import alembic_config, upgrade_head
from promptops.db.models import (
    AuditLog,
    Deployment,
    Label,
    LabelHistory,
    Organization,
    Project,
    Prompt,
    PromptVersion,
    PromptVersionStatus,
    Role,
)
from promptops.db.session import get_engine, get_session_factory
from promptops.llm import ModelCatalog
from tests.conftest import STATE
from tests.support.apps import issue_key, running_app
from tests.support.canary import canary_worker, make_versions
from tests.support.labels import serve_approved

APPROVED = PromptVersionStatus.APPROVED
DRAFT = PromptVersionStatus.DRAFT


@dataclass
class Prompt_:
    project: str
    prompt: str
    versions: list[str]


async def make_prompt(
    api: httpx.AsyncClient, pg_url: str, statuses: list[PromptVersionStatus]
) -> Prompt_:
    """A project and prompt with one version per status (v1, v2, ...), nothing labelled."""
    project = (await api.post("/projects", json={"name": f"pl-{uuid.uuid4().hex[:8]}"})).json()
    prompt = (await api.post(f"/projects/{project['id']}/prompts", json={"name": "p"})).json()
    ids = []
    for i, status in enumerate(statuses):
        r = await api.post(
            f"/prompts/{prompt['id']}/versions",
            json={"body": f"v{i + 1} {{{{ q }}}}", "variables": {"q": "str"}},
        )
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
        async with get_session_factory(pg_url)() as session:
            await session.execute(
                update(PromptVersion).where(PromptVersion.id == ids[-1]).values(status=status)
            )
            await session.commit()
    return Prompt_(project["id"], prompt["id"], ids)


async def point(pg_url: str, prompt_id: str, version_id: str, label: str = "production") -> None:
    """Move a label with plain SQL and leave the version's status alone (what the PUT hole
    allowed before protected labels)."""
    async with get_session_factory(pg_url)() as session:
        row = (
            await session.execute(
                select(Label).where(Label.prompt_id == uuid.UUID(prompt_id), Label.name == label)
            )
        ).scalar_one_or_none()
        if row is None:
            session.add(
                Label(
                    id=uuid.uuid4(),
                    prompt_id=uuid.UUID(prompt_id),
                    name=label,
                    prompt_version_id=uuid.UUID(version_id),
                )
            )
        else:
            row.prompt_version_id = uuid.UUID(version_id)
        await session.commit()


async def labels_of(api: httpx.AsyncClient, prompt_id: str) -> dict[str, str]:
    data = (await api.get(f"/prompts/{prompt_id}/labels")).json()["data"]
    return {x["name"]: x["prompt_version_id"] for x in data}


async def audit(api: httpx.AsyncClient, action: str, entity_id: str) -> list[dict[str, Any]]:
    r = await api.get("/audit", params={"action": action, "entity_id": entity_id})
    assert r.status_code == 200, r.text
    return list(r.json()["data"])


@pytest.fixture
async def editor(
    pg_url: str, temporal_env: WorkflowEnvironment, catalog: ModelCatalog, task_queue: str
) -> AsyncIterator[httpx.AsyncClient]:
    """An Editor of the ``api`` fixture's organization."""
    key = await issue_key(pg_url, email=f"ed-{uuid.uuid4().hex[:6]}@x.example", role=Role.EDITOR)
    async with (
        running_app(pg_url, temporal_env.client, catalog, task_queue) as app,
        app.client(key.key) as client,
    ):
        yield client


def loc_of(r: httpx.Response) -> list[str]:
    [detail] = r.json()["detail"]
    return list(detail["loc"])


# --------------------------------------------------------------------------- PUT is refused


@pytest.mark.parametrize(
    "status",
    [
        PromptVersionStatus.DRAFT,
        PromptVersionStatus.PENDING,
        PromptVersionStatus.REJECTED,
        PromptVersionStatus.APPROVED,
    ],
)
async def test_production_cannot_be_put_to_any_version_by_anyone(
    api: httpx.AsyncClient,
    editor: httpx.AsyncClient,
    pg_url: str,
    status: PromptVersionStatus,
) -> None:
    fx = await make_prompt(api, pg_url, [APPROVED, status])
    await serve_approved(pg_url, fx.prompt, fx.versions[0])
    for client in (api, editor):  # an Admin, then an Editor
        r = await client.put(
            f"/prompts/{fx.prompt}/labels/production", json={"prompt_version_id": fx.versions[1]}
        )
        assert r.status_code == 409, r.text
        message = r.json()["detail"]
        assert "label 'production' is protected" in message
        assert "POST /deployments" in message
        assert f"POST /prompts/{fx.prompt}/labels/production/rollback" in message
    assert (await labels_of(api, fx.prompt))["production"] == fx.versions[0]
    assert await audit(api, "label.move", f"{fx.prompt}:production") == []


async def test_a_first_production_label_cannot_be_put_either(
    api: httpx.AsyncClient,
    pg_url: str,
) -> None:
    fx = await make_prompt(api, pg_url, [APPROVED])
    r = await api.put(
        f"/prompts/{fx.prompt}/labels/production", json={"prompt_version_id": fx.versions[0]}
    )
    assert r.status_code == 409 and "protected" in r.text
    assert await labels_of(api, fx.prompt) == {}


# --------------------------------------------------------------------------- marking labels


async def test_an_admin_marks_staging_protected_and_unmarks_it_audited(
    api: httpx.AsyncClient,
    editor: httpx.AsyncClient,
    pg_url: str,
) -> None:
    fx = await make_prompt(api, pg_url, [APPROVED, DRAFT])
    base = f"/projects/{fx.project}/protected_labels"
    listed = (await editor.get(base)).json()
    assert listed["data"] == [
        {"name": "production", "always": True, "created_by": None, "created_at": None}
    ]
    assert (await editor.put(f"{base}/staging")).status_code == 403
    await point(pg_url, fx.prompt, fx.versions[0], "staging")
    r = await api.put(f"{base}/staging")
    assert r.status_code == 200, r.text
    assert [(x["name"], x["always"]) for x in r.json()["data"]] == [
        ("production", True),
        ("staging", False),
    ]
    assert r.json()["data"][1]["created_by"] == "local@promptops.local"
    assert (await api.put(f"{base}/staging")).status_code == 200  # idempotent
    [entry] = await audit(api, "label.protect", fx.project)
    assert entry["before"] == {"protected_labels": []}
    assert entry["after"] == {"protected_labels": ["staging"], "label": "staging"}
    # Now staging refuses a PUT too, and the list of labels says so.
    r = await editor.put(
        f"/prompts/{fx.prompt}/labels/staging", json={"prompt_version_id": fx.versions[1]}
    )
    assert r.status_code == 409 and "environment 'staging'" in r.text
    labels = (await api.get(f"/prompts/{fx.prompt}/labels")).json()["data"]
    assert [(x["name"], x["protected"]) for x in labels] == [("staging", True)]
    assert (await editor.delete(f"{base}/staging")).status_code == 403
    r = await api.delete(f"{base}/staging")
    assert r.status_code == 200 and [x["name"] for x in r.json()["data"]] == ["production"]
    [entry] = await audit(api, "label.unprotect", fx.project)
    assert entry["after"] == {"protected_labels": [], "label": "staging"}
    r = await editor.put(
        f"/prompts/{fx.prompt}/labels/staging", json={"prompt_version_id": fx.versions[1]}
    )
    assert r.status_code == 200, r.text


async def test_marking_refuses_production_removal_other_labels_and_unapproved_targets(
    api: httpx.AsyncClient,
    pg_url: str,
) -> None:
    fx = await make_prompt(api, pg_url, [APPROVED, DRAFT])
    base = f"/projects/{fx.project}/protected_labels"
    r = await api.delete(f"{base}/production")
    assert r.status_code == 409 and "protected in every project" in r.text
    r = await api.put(f"{base}/beta")
    assert r.status_code == 422 and loc_of(r) == ["body", "name"]
    assert "dev, production, staging" in r.text
    await point(pg_url, fx.prompt, fx.versions[1], "staging")  # staging serves a Draft
    r = await api.put(f"{base}/staging")
    assert r.status_code == 409 and "p (version 2, Draft)" in r.text
    assert [x["name"] for x in (await api.get(base)).json()["data"]] == ["production"]
    assert await audit(api, "label.protect", fx.project) == []


# --------------------------------------------------------------------------- emergency rollback


async def test_an_admin_rolls_back_to_a_version_served_before_audited_with_the_reason(
    api: httpx.AsyncClient,
    editor: httpx.AsyncClient,
    pg_url: str,
) -> None:
    fx = await make_prompt(api, pg_url, [APPROVED, APPROVED])
    v1, v2 = fx.versions
    await serve_approved(pg_url, fx.prompt, v1)
    await serve_approved(pg_url, fx.prompt, v2)
    url = f"/prompts/{fx.prompt}/labels/production/rollback"
    body = {"prompt_version_id": v1, "reason": "v2 misroutes refunds (INC-42)"}
    r = await editor.post(url, json=body)
    assert r.status_code == 403, r.text
    assert (await labels_of(api, fx.prompt))["production"] == v2
    r = await api.post(url, json={**body, "reason": "  v2 misroutes refunds (INC-42) "})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["prompt_version_id"] == v1 and out["previous_version_id"] == v2
    assert out["version"] == 1 and out["protected"] is True
    assert out["reason"] == "v2 misroutes refunds (INC-42)"
    assert (await labels_of(api, fx.prompt))["production"] == v1
    [entry] = await audit(api, "label.rollback", f"{fx.prompt}:production")
    assert entry["actor"] == "local@promptops.local"
    assert entry["before"] == {"prompt_version_id": v2}
    assert entry["after"] == {
        "prompt_version_id": v1,
        "version": 1,
        "reason": "v2 misroutes refunds (INC-42)",
    }
    served = (
        await api.post("/generate", json={"prompt_id": fx.prompt, "variables": {"q": "x"}})
    ).json()
    assert served["prompt_version_id"] == v1
    history = (await api.get(f"/prompts/{fx.prompt}/labels/production/history")).json()
    assert [(h["version"], h["current"]) for h in history["data"]] == [
        (1, True),
        (2, False),
        (1, False),
    ]
    assert history["data"][0]["previous_version_id"] == v2


async def test_a_rollback_to_a_version_never_served_is_refused(
    api: httpx.AsyncClient,
    pg_url: str,
) -> None:
    fx = await make_prompt(api, pg_url, [APPROVED, APPROVED, APPROVED])
    await serve_approved(pg_url, fx.prompt, fx.versions[0])
    await serve_approved(pg_url, fx.prompt, fx.versions[1])
    r = await api.post(
        f"/prompts/{fx.prompt}/labels/production/rollback",
        json={"prompt_version_id": fx.versions[2], "reason": "try v3"},
    )
    assert r.status_code == 409, r.text
    assert loc_of(r) == ["body", "prompt_version_id"]
    assert "version 3 never served under label 'production'" in r.text
    assert (await labels_of(api, fx.prompt))["production"] == fx.versions[1]
    assert await audit(api, "label.rollback", f"{fx.prompt}:production") == []


async def test_rollback_refusals_name_the_field(api: httpx.AsyncClient, pg_url: str) -> None:
    fx = await make_prompt(api, pg_url, [DRAFT, APPROVED])
    other = await make_prompt(api, pg_url, [APPROVED])
    v1, v2 = fx.versions
    url = f"/prompts/{fx.prompt}/labels/production/rollback"
    r = await api.post(url, json={"prompt_version_id": v1, "reason": "x"})
    assert r.status_code == 404 and "has no label 'production'" in r.text
    # The hole this closes: production once pointed at a Draft (before protected labels).
    await point(pg_url, fx.prompt, v1)
    await serve_approved(pg_url, fx.prompt, v2)
    for reason in ("", "   "):
        r = await api.post(url, json={"prompt_version_id": v1, "reason": reason})
        assert r.status_code == 422 and loc_of(r) == ["body", "reason"], r.text
    r = await api.post(url, json={"prompt_version_id": v1})
    assert r.status_code == 422 and loc_of(r) == ["body", "reason"]
    r = await api.post(url, json={"prompt_version_id": v1, "reason": "back"})
    assert r.status_code == 409 and loc_of(r) == ["body", "prompt_version_id"]
    assert "version 1 is Draft, not Approved" in r.text
    r = await api.post(url, json={"prompt_version_id": v2, "reason": "same"})
    assert r.status_code == 409 and "already points at version 2" in r.text
    r = await api.post(url, json={"prompt_version_id": other.versions[0], "reason": "x"})
    assert r.status_code == 422 and loc_of(r) == ["body", "prompt_version_id"]
    await point(pg_url, fx.prompt, v2, "staging")
    r = await api.post(
        f"/prompts/{fx.prompt}/labels/staging/rollback",
        json={"prompt_version_id": v2, "reason": "x"},
    )
    assert r.status_code == 409 and "not protected: move it with PUT" in r.text
    assert (await labels_of(api, fx.prompt))["production"] == v2
    assert await audit(api, "label.rollback", f"{fx.prompt}:production") == []


async def test_a_rollback_is_refused_while_a_deployment_is_active(
    api: httpx.AsyncClient,
    pg_url: str,
) -> None:
    """Refused, not aborted on the caller's behalf: the abort goes through the rollout
    workflow, and if the canary is what is wrong the abort alone restores the baseline."""
    fx = await make_prompt(api, pg_url, [APPROVED, APPROVED, APPROVED])
    v1, v2, v3 = fx.versions
    await serve_approved(pg_url, fx.prompt, v1)
    await serve_approved(pg_url, fx.prompt, v2)
    dep_id = uuid.uuid4()
    async with get_session_factory(pg_url)() as session:
        session.add(
            Deployment(
                id=dep_id,
                project_id=uuid.UUID(fx.project),
                prompt_id=uuid.UUID(fx.prompt),
                environment="prod",
                candidate_version_id=uuid.UUID(v3),
                baseline_version_id=uuid.UUID(v2),
                plan={},
                status="Running",
                canary_weight=10.0,
                current_step=0,
                workflow_id=f"canary-{dep_id}",
                created_by="test",
            )
        )
        await session.commit()
    url = f"/prompts/{fx.prompt}/labels/production/rollback"
    r = await api.post(url, json={"prompt_version_id": v1, "reason": "incident"})
    assert r.status_code == 409, r.text
    assert f"deployment {dep_id} of this prompt to prod is Running" in r.text
    assert f"POST /deployments/{dep_id}/abort" in r.text
    assert (await labels_of(api, fx.prompt))["production"] == v2
    async with get_session_factory(pg_url)() as session:
        await session.execute(
            update(Deployment)
            .where(Deployment.id == dep_id)
            .values(status="Aborted", canary_weight=0.0)
        )
        await session.commit()
    r = await api.post(url, json={"prompt_version_id": v1, "reason": "incident"})
    assert r.status_code == 200, r.text


async def test_a_protected_staging_label_rolls_back_like_production(
    api: httpx.AsyncClient,
    pg_url: str,
) -> None:
    fx = await make_prompt(api, pg_url, [APPROVED, APPROVED])
    await serve_approved(pg_url, fx.prompt, fx.versions[0], label="staging")
    await serve_approved(pg_url, fx.prompt, fx.versions[1], label="staging")
    assert (await api.put(f"/projects/{fx.project}/protected_labels/staging")).status_code == 200
    r = await api.post(
        f"/prompts/{fx.prompt}/labels/staging/rollback",
        json={"prompt_version_id": fx.versions[0], "reason": "staging broke"},
    )
    assert r.status_code == 200, r.text
    assert (await labels_of(api, fx.prompt))["staging"] == fx.versions[0]


# --------------------------------------------------------------------------- deployments


@pytest.fixture
async def worker(
    temporal_env: WorkflowEnvironment, pg_url: str, task_queue: str
) -> AsyncIterator[Worker]:
    async with canary_worker(temporal_env.client, task_queue, pg_url) as w:
        yield w


async def test_a_promoted_canary_moves_production_and_a_rollback_can_return_to_the_baseline(
    api: httpx.AsyncClient,
    pg_url: str,
    worker: Worker,
) -> None:
    import asyncio

    fx = await make_versions(api, pg_url, approval_score=None)
    plan = {
        "steps": [20, 100],
        "bake_time_s": 1,
        "check_interval_s": 1,
        "min_samples": 0,
        "min_eval_score": None,
    }
    r = await api.post(
        "/deployments",
        json={
            "project_id": fx.project_id,
            "prompt_version_id": fx.candidate_id,
            "environment": "prod",
            "plan": plan,
        },
    )
    assert r.status_code == 202, r.text
    dep_id = r.json()["deployment"]["id"]
    deadline = asyncio.get_running_loop().time() + 30
    while (await api.get(f"/deployments/{dep_id}")).json()["status"] != "Promoted":
        assert asyncio.get_running_loop().time() < deadline, "never promoted"
        await asyncio.sleep(0.1)
    assert (await labels_of(api, fx.prompt_id))["production"] == fx.candidate_id
    history = (await api.get(f"/prompts/{fx.prompt_id}/labels/production/history")).json()
    assert [(h["prompt_version_id"], h["previous_version_id"]) for h in history["data"]] == [
        (fx.candidate_id, fx.baseline_id),
        (fx.baseline_id, None),
    ]
    r = await api.post(
        f"/prompts/{fx.prompt_id}/labels/production/rollback",
        json={"prompt_version_id": fx.baseline_id, "reason": "regression"},
    )
    assert r.status_code == 200, r.text
    assert (await labels_of(api, fx.prompt_id))["production"] == fx.baseline_id


@pytest.mark.parametrize("status", [PROMOTED, ROLLED_BACK, ABORTED])
async def test_the_finish_activity_moves_the_label_only_on_promotion(
    api: httpx.AsyncClient,
    pg_url: str,
    status: str,
) -> None:
    fx = await make_versions(api, pg_url, approval_score=None)
    dep_id = uuid.uuid4()
    async with get_session_factory(pg_url)() as session:
        session.add(
            Deployment(
                id=dep_id,
                project_id=uuid.UUID(fx.project_id),
                prompt_id=uuid.UUID(fx.prompt_id),
                environment="prod",
                candidate_version_id=uuid.UUID(fx.candidate_id),
                baseline_version_id=uuid.UUID(fx.baseline_id),
                plan={},
                status="Running",
                canary_weight=50.0,
                current_step=1,
                workflow_id=f"canary-{dep_id}",
                created_by="test",
            )
        )
        await session.commit()
    result = await ActivityEnvironment().run(
        DeploymentActivities(pg_url).finish_deployment,
        FinishDeploymentInput(
            deployment_id=str(dep_id), status=status, reason="test", actor="canary", step_index=1
        ),
    )
    assert result.changed and result.status == status
    expected = fx.candidate_id if status == PROMOTED else fx.baseline_id
    assert (await labels_of(api, fx.prompt_id))["production"] == expected
    history = (await api.get(f"/prompts/{fx.prompt_id}/labels/production/history")).json()
    assert [h["prompt_version_id"] for h in history["data"]] == (
        [fx.candidate_id, fx.baseline_id] if status == PROMOTED else [fx.baseline_id]
    )


# --------------------------------------------------------------------------- the history


async def test_the_history_records_every_writer_and_cannot_be_rewritten(
    api: httpx.AsyncClient,
    pg_url: str,
) -> None:
    fx = await make_prompt(api, pg_url, [DRAFT, DRAFT, DRAFT])
    v1, v2, v3 = fx.versions
    r = await api.put(f"/prompts/{fx.prompt}/labels/beta", json={"prompt_version_id": v1})
    assert r.status_code == 200, r.text
    await point(pg_url, fx.prompt, v2, "beta")  # plain SQL
    r = await api.put(f"/prompts/{fx.prompt}/labels/beta", json={"prompt_version_id": v2})
    assert r.status_code == 200  # no change: no new row
    r = await api.put(f"/prompts/{fx.prompt}/labels/beta", json={"prompt_version_id": v3})
    history = (await api.get(f"/prompts/{fx.prompt}/labels/beta/history")).json()
    assert history["count"] == 3
    assert [
        (h["prompt_version_id"], h["previous_version_id"], h["current"]) for h in history["data"]
    ] == [(v3, v2, True), (v2, v1, False), (v1, None, False)]
    assert (await api.get(f"/prompts/{fx.prompt}/labels/nope/history")).json()["count"] == 0
    async with get_session_factory(pg_url)() as session:
        with pytest.raises(DBAPIError, match="append-only"):
            await session.execute(
                update(LabelHistory)
                .where(LabelHistory.prompt_id == uuid.UUID(fx.prompt))
                .values(prompt_version_id=uuid.UUID(v1))
            )
        await session.rollback()


async def test_migration_0005_backfills_the_history(pg_url: str) -> None:
    """On a database at 0004: audited label moves, a deployment's baseline and the labels'
    current values become history rows; audit entries of unknown prompts are skipped."""
    from promptops.devstack.postgres import start_postgres

    url = start_postgres(Path(STATE) / "pgdata", database=f"mig_{uuid.uuid4().hex[:10]}")
    command.upgrade(alembic_config(url), "0004")
    org, project, prompt = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    v = [uuid.uuid4() for _ in range(4)]
    async with get_session_factory(url)() as session:
        session.add(Organization(id=org, name=f"o-{org.hex[:6]}"))
        await session.flush()
        session.add(Project(id=project, organization_id=org, name="p"))
        await session.flush()
        session.add(Prompt(id=prompt, project_id=project, name="p"))
        await session.flush()
        for i, vid in enumerate(v):
            session.add(
                PromptVersion(
                    id=vid,
                    prompt_id=prompt,
                    version=i + 1,
                    body="b",
                    content_hash="h",
                    created_by="a",
                )
            )
        await session.flush()
        session.add(
            Label(id=uuid.uuid4(), prompt_id=prompt, name="production", prompt_version_id=v[3])
        )
        for before, after in ((None, v[0]), (v[0], v[1])):
            session.add(
                AuditLog(
                    organization_id=org,
                    actor="a",
                    action="label.move",
                    entity_type="label",
                    entity_id=f"{prompt}:production",
                    before={"prompt_version_id": str(before)} if before else None,
                    after={"prompt_version_id": str(after)},
                )
            )
        session.add(
            AuditLog(
                organization_id=org,
                actor="a",
                action="label.move",
                entity_type="label",
                entity_id=f"{uuid.uuid4()}:production",
                after={"prompt_version_id": str(v[0])},
            )
        )
        session.add(
            Deployment(
                project_id=project,
                prompt_id=prompt,
                environment="prod",
                candidate_version_id=v[3],
                baseline_version_id=v[2],
                plan={},
                status="Promoted",
                canary_weight=100.0,
                current_step=1,
                reason="",
                workflow_id="canary-x",
                created_by="a",
            )
        )
        await session.commit()
    await get_engine(url).dispose()
    upgrade_head(url)
    async with get_session_factory(url)() as session:
        rows = (
            await session.execute(
                select(
                    LabelHistory.name,
                    LabelHistory.prompt_version_id,
                    LabelHistory.previous_version_id,
                ).order_by(LabelHistory.id)
            )
        ).all()
        assert rows == [
            ("production", v[0], None),
            ("production", v[1], v[0]),
            ("production", v[2], None),
            ("production", v[3], None),
        ]
    await get_engine(url).dispose()


# --------------------------------------------------------------------------- CLI, demo


@dataclass
class Served:
    base: str
    organization: str
    admin_key: str
    api: httpx.AsyncClient


@pytest.fixture
async def served(pg_url: str, catalog: ModelCatalog, task_queue: str) -> AsyncIterator[Served]:
    """The app over real HTTP (for the sync CLI client, run in a thread) and an API client
    with an Admin key of a new organization."""
    from tests.support.apps import serving_app

    org = f"srv-{uuid.uuid4().hex[:8]}"
    admin = await issue_key(pg_url, organization=org, email=f"a-{org}@x.example")
    async with (
        serving_app(pg_url, None, catalog, task_queue) as base,
        httpx.AsyncClient(
            base_url=f"{base}/api/v1", timeout=60, headers={"Authorization": f"Bearer {admin.key}"}
        ) as api,
    ):
        yield Served(base, org, admin.key, api)


async def test_cli_rollback_history_and_protect_against_the_real_api(
    served: Served,
    pg_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``promptops labels ...`` in-process against the app served over real HTTP: an Admin's
    rollback by version number, an Editor refused, errors without a traceback."""
    import asyncio

    from typer.testing import CliRunner

    from promptops.cli import app as cli
    from promptops.devstack.client import PromptOpsClient

    editor = await issue_key(
        pg_url,
        organization=served.organization,
        email=f"e-{served.organization}@x.example",
        role=Role.EDITOR,
    )
    fx = await make_prompt(served.api, pg_url, [APPROVED, APPROVED, APPROVED])
    await serve_approved(pg_url, fx.prompt, fx.versions[0])
    await serve_approved(pg_url, fx.prompt, fx.versions[1])

    async def run(key: str, *args: str) -> Any:
        monkeypatch.setattr(
            "promptops.cli.evals._client", lambda: PromptOpsClient(served.base, api_key=key)
        )
        result = await asyncio.to_thread(
            CliRunner().invoke, cli, list(args), env={"COLUMNS": "200"}
        )
        assert "Traceback" not in result.output
        return result

    admin = served.admin_key
    result = await run(admin, "labels", "history", fx.prompt)
    assert result.exit_code == 0, result.output
    assert "v2" in result.output and "current" in result.output and "v1" in result.output
    result = await run(
        editor.key, "labels", "rollback", fx.prompt, "--to", "v1", "--reason", "incident 7"
    )
    assert result.exit_code == 1 and "needs the Admin role" in result.output
    result = await run(admin, "labels", "rollback", fx.prompt, "--to", "v1", "--reason", " ")
    assert result.exit_code == 1 and "needs a reason" in result.output
    result = await run(
        admin, "labels", "rollback", fx.prompt, "--to", "v3", "--reason", "incident 7"
    )
    assert result.exit_code == 1 and "never served under label" in result.output
    result = await run(
        admin, "labels", "rollback", fx.prompt, "--to", "v9", "--reason", "incident 7"
    )
    assert result.exit_code == 1 and "has no version 9" in result.output
    assert (await labels_of(served.api, fx.prompt))["production"] == fx.versions[1]
    result = await run(
        admin, "labels", "rollback", fx.prompt, "--to", "v1", "--reason", "incident 7"
    )
    assert result.exit_code == 0, result.output
    assert "rolled back to v1" in result.output and "incident 7" in result.output
    assert (await labels_of(served.api, fx.prompt))["production"] == fx.versions[0]
    result = await run(admin, "labels", "list", fx.prompt)
    assert result.exit_code == 0 and fx.versions[0] in result.output
    result = await run(admin, "labels", "protect", fx.project, "staging")
    assert result.exit_code == 0, result.output
    assert "production (always), staging (by a-" in result.output
    result = await run(admin, "labels", "protect", fx.project, "beta")
    assert result.exit_code == 1 and "cannot be protected" in result.output


async def test_the_rollout_demo_step_shows_the_refused_put_then_rolls_back(
    served: Served,
    pg_url: str,
) -> None:
    """The rollout demo's last step on a prompt whose production served v1 then v2 (the full
    demo runs in tests/e2e/test_demo.py)."""
    import asyncio

    from promptops.devstack.client import PromptOpsClient
    from promptops.devstack.rollout_demo import _emergency_rollback

    fx = await make_prompt(served.api, pg_url, [APPROVED, APPROVED])
    await serve_approved(pg_url, fx.prompt, fx.versions[0])
    await serve_approved(pg_url, fx.prompt, fx.versions[1])
    said: list[str] = []

    def step() -> dict[str, Any] | None:
        with PromptOpsClient(served.base, api_key=served.admin_key) as client:
            return _emergency_rollback(client, fx.prompt, said.append)

    out = await asyncio.to_thread(step)
    assert out is not None
    assert (out["from"], out["to"]) == (fx.versions[1], fx.versions[0])
    assert (await labels_of(served.api, fx.prompt))["production"] == fx.versions[0]
    assert any("refused (409)" in line for line in said), said


async def test_label_routes_answer_4xx_for_names_and_reasons_postgres_cannot_hold(
    api: httpx.AsyncClient,
    pg_url: str,
) -> None:
    fx = await make_prompt(api, pg_url, [APPROVED])
    for name in ("x" * 101, "a%00b", "a%0Ab"):
        r = await api.put(
            f"/prompts/{fx.prompt}/labels/{name}", json={"prompt_version_id": fx.versions[0]}
        )
        assert r.status_code == 422, (name, r.text)
        assert (await api.get(f"/prompts/{fx.prompt}/labels/{name}/history")).status_code == 422
    # (A lone surrogate is refused too, but FastAPI's 422 echoes the input and cannot encode
    # it: api/errors.py's validation handler is where that gets fixed.)
    for reason in ("a\x00b", "a\x07b", "x" * 2001):
        r = await api.post(
            f"/prompts/{fx.prompt}/labels/production/rollback",
            content=json.dumps({"prompt_version_id": fx.versions[0], "reason": reason}),
            headers={"content-type": "application/json"},
        )
        assert r.status_code == 422 and loc_of(r) == ["body", "reason"], (reason, r.text)
