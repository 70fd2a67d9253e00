"""Canary test fixtures: a prompt with a baseline and a candidate version, and an in-process
worker running CanaryRolloutWorkflow with the real deployment activities."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import insert, update
from temporalio.client import Client
from temporalio.worker import Worker

from activities.deployment.activities import DeploymentActivities
from promptops.db.models import Approval, Label, PromptVersion, PromptVersionStatus
from promptops.db.session import get_session_factory
from workflows.canary.workflow import CanaryRolloutWorkflow


@dataclass
class Fixture:
    project_id: str
    prompt_id: str
    baseline_id: str
    candidate_id: str


async def make_versions(
    api: httpx.AsyncClient,
    pg_url: str,
    *,
    baseline: bool = True,
    candidate_status: PromptVersionStatus = PromptVersionStatus.APPROVED,
    approval_score: float | None = 0.9,
) -> Fixture:
    """A project and prompt with v1 (Approved, serving label ``production`` unless
    ``baseline`` is false) and v2 (the candidate, ``candidate_status``, with an approval row
    carrying ``approval_score`` unless it is None)."""
    project = (await api.post("/projects", json={"name": f"c-{uuid.uuid4().hex[:8]}"})).json()
    prompt = (await api.post(f"/projects/{project['id']}/prompts", json={"name": "p"})).json()
    ids = []
    for body in ("Answer: {{ q }}", "Answer briefly: {{ q }}"):
        r = await api.post(
            f"/prompts/{prompt['id']}/versions", json={"body": body, "variables": {"q": "str"}}
        )
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    async with get_session_factory(pg_url)() as session:
        await session.execute(
            update(PromptVersion)
            .where(PromptVersion.id == ids[0])
            .values(status=PromptVersionStatus.APPROVED)
        )
        await session.execute(
            update(PromptVersion).where(PromptVersion.id == ids[1]).values(status=candidate_status)
        )
        if baseline:
            await session.execute(
                insert(Label).values(
                    id=uuid.uuid4(),
                    prompt_id=prompt["id"],
                    name="production",
                    prompt_version_id=ids[0],
                )
            )
        if approval_score is not None:
            await session.execute(
                insert(Approval).values(
                    id=f"approval-{ids[1]}-1",
                    project_id=project["id"],
                    prompt_version_id=ids[1],
                    status="Approved",
                    required_approvals=1,
                    policy={},
                    eval_score=approval_score,
                    requested_by="author@example.com",
                    reason="",
                )
            )
        await session.commit()
    return Fixture(project["id"], prompt["id"], ids[0], ids[1])


def canary_worker(client: Client, task_queue: str, pg_url: str, **options: Any) -> Worker:
    """An in-process worker with the real deployment activities against the test Postgres."""
    acts = DeploymentActivities(pg_url)
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[CanaryRolloutWorkflow],
        activities=[
            acts.start_deployment,
            acts.set_deployment_step,
            acts.compute_deployment_figures,
            acts.finish_deployment,
        ],
        **options,
    )
