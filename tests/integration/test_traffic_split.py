"""``generate`` splits traffic by the live canary weight; feedback and outcomes attach to runs."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import select, update

from promptops.db.models import Deployment, Run
from promptops.db.session import get_session_factory
from promptops.governance.traffic import choose_arm
from tests.support.labels import serve_approved
from tests.support.stub_llm import StubLLMServer


async def _setup(api: httpx.AsyncClient, pg_url: str) -> dict[str, str]:
    project = (await api.post("/projects", json={"name": f"split-{uuid.uuid4().hex[:8]}"})).json()
    prompt = (await api.post(f"/projects/{project['id']}/prompts", json={"name": "greet"})).json()
    versions = []
    for body in ("Hello {{ name }}", "Hi there {{ name }}"):
        r = await api.post(
            f"/prompts/{prompt['id']}/versions", json={"body": body, "variables": {"name": "str"}}
        )
        assert r.status_code == 201, r.text
        versions.append(r.json()["id"])
    await serve_approved(pg_url, prompt["id"], versions[0])
    return {"project": project["id"], "prompt": prompt["id"], "v1": versions[0], "v2": versions[1]}


async def _deployment(pg_url: str, ids: dict[str, str], weight: float) -> uuid.UUID:
    dep_id = uuid.uuid4()
    async with get_session_factory(pg_url)() as session:
        session.add(
            Deployment(
                id=dep_id,
                project_id=uuid.UUID(ids["project"]),
                prompt_id=uuid.UUID(ids["prompt"]),
                environment="prod",
                candidate_version_id=uuid.UUID(ids["v2"]),
                baseline_version_id=uuid.UUID(ids["v1"]),
                plan={},
                status="Running",
                canary_weight=weight,
                current_step=0,
                workflow_id=f"canary-{dep_id}",
                created_by="test",
            )
        )
        await session.commit()
    return dep_id


async def _set_weight(pg_url: str, dep_id: uuid.UUID, weight: float, status: str = "Running"):
    async with get_session_factory(pg_url)() as session:
        await session.execute(
            update(Deployment)
            .where(Deployment.id == dep_id)
            .values(canary_weight=weight, status=status)
        )
        await session.commit()


async def _generate(api: httpx.AsyncClient, ids: dict[str, str], subject: str) -> dict:
    r = await api.post(
        "/generate",
        json={
            "prompt_id": ids["prompt"],
            "environment": "prod",
            "subject_id": subject,
            "variables": {"name": subject},
        },
    )
    assert r.status_code == 200, r.text
    return r.json()


async def test_split_is_sticky_follows_weight_changes_and_is_recorded(
    api: httpx.AsyncClient,
    pg_url: str,
) -> None:
    ids = await _setup(api, pg_url)
    dep = await _deployment(pg_url, ids, 30.0)
    subjects = [f"user-{i}" for i in range(40)]
    first = {s: await _generate(api, ids, s) for s in subjects}
    for s, out in first.items():
        expected = choose_arm(30.0, dep, s)
        assert out["arm"] == expected and out["deployment_id"] == str(dep)
        assert out["prompt_version_id"] == (ids["v2"] if expected == "canary" else ids["v1"])
    assert {o["arm"] for o in first.values()} == {"baseline", "canary"}
    # Sticky: the same subjects get the same arm again.
    for s in subjects[:10]:
        assert (await _generate(api, ids, s))["arm"] == first[s]["arm"]
    # A weight change applies to the very next request; canary subjects stay in the canary.
    await _set_weight(pg_url, dep, 80.0)
    after = {s: (await _generate(api, ids, s))["arm"] for s in subjects}
    assert all(after[s] == "canary" for s in subjects if first[s]["arm"] == "canary")
    assert all(after[s] == choose_arm(80.0, dep, s) for s in subjects)
    # Rolled back: no split, everyone on the label's version, no deployment recorded.
    await _set_weight(pg_url, dep, 0.0, status="RolledBack")
    out = await _generate(api, ids, subjects[0])
    assert out["arm"] is None and out["prompt_version_id"] == ids["v1"]
    async with get_session_factory(pg_url)() as session:
        rows = (await session.execute(select(Run).where(Run.deployment_id == dep))).scalars().all()
    assert len(rows) == len(subjects) + 10 + len(subjects)
    assert all(r.subject_id and r.environment == "prod" and r.arm for r in rows)


async def test_provider_failure_is_recorded_as_a_failed_run(
    api: httpx.AsyncClient,
    pg_url: str,
    stub_llm: StubLLMServer,
) -> None:
    ids = await _setup(api, pg_url)
    dep = await _deployment(pg_url, ids, 100.0)
    stub_llm.cfg.fail_next, stub_llm.cfg.fail_status = 1, 500
    try:
        r = await api.post(
            "/generate",
            json={"prompt_id": ids["prompt"], "subject_id": "u1", "variables": {"name": "x"}},
        )
    finally:
        stub_llm.cfg.fail_next = 0
    assert r.status_code == 502, r.text
    async with get_session_factory(pg_url)() as session:
        rows = (await session.execute(select(Run).where(Run.deployment_id == dep))).scalars().all()
    assert len(rows) == 1 and rows[0].success is False and rows[0].arm == "canary"
    assert rows[0].error


async def test_label_and_environment_must_agree(api: httpx.AsyncClient, pg_url: str) -> None:
    ids = await _setup(api, pg_url)
    r = await api.post(
        "/generate",
        json={
            "prompt_id": ids["prompt"],
            "environment": "prod",
            "label": "staging",
            "variables": {"name": "x"},
        },
    )
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "label"
    r = await api.post(
        "/generate",
        json={"prompt_id": ids["prompt"], "environment": "qa", "variables": {"name": "x"}},
    )
    assert r.status_code == 422 and "environment" in r.text


async def test_feedback_and_outcomes(api: httpx.AsyncClient, pg_url: str) -> None:
    ids = await _setup(api, pg_url)
    run = await _generate(api, ids, "subject-9")
    r = await api.post(
        f"/runs/{run['run_id']}/feedback", json={"thumbs": False, "comment": "wrong tone"}
    )
    assert r.status_code == 201, r.text
    assert r.json()["value"] == 0.0 and r.json()["actor"]
    r = await api.post(f"/runs/{run['run_id']}/feedback", json={"score": 0.75})
    assert r.json()["value"] == 0.75
    r = await api.post(f"/runs/{run['run_id']}/feedback", json={"score": 1.5})
    assert r.status_code == 422 and "score" in r.text
    r = await api.post(f"/runs/{run['run_id']}/feedback", json={"comment": "only text"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "score"
    detail = (await api.get(f"/runs/{run['run_id']}")).json()
    assert [f["value"] for f in detail["feedback"]] == [0.0, 0.75]
    assert detail["subject_id"] == "subject-9" and detail["environment"] == "prod"
    # Outcome through the subject id: attributed to that subject's latest run.
    r = await api.post(
        "/outcomes",
        json={
            "name": "converted",
            "value": 1.0,
            "subject_id": "subject-9",
            "project_id": ids["project"],
        },
    )
    assert r.status_code == 201, r.text
    assert r.json()["run_id"] == run["run_id"]
    r = await api.post(
        "/outcomes", json={"name": "converted", "value": 1.0, "subject_id": "subject-9"}
    )
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "project_id"
    r = await api.post("/outcomes", json={"name": "csat", "value": 4, "run_id": run["run_id"]})
    assert r.status_code == 201 and r.json()["project_id"] == ids["project"]
    r = await api.post(f"/runs/{uuid.uuid4()}/feedback", json={"thumbs": True})
    assert r.status_code == 404
