"""Authentication, roles, project scope, members and API keys through the real app on the
embedded Postgres (issue 3, items 1 and 2)."""

from __future__ import annotations

import asyncio
import base64
import os
import re
import socket
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy import select, text
from temporalio.testing import WorkflowEnvironment

from promptops.db.models import ApiKey, Role
from promptops.db.session import get_session_factory
from promptops.governance.identity import IssuedKey, issue_api_key
from promptops.governance.security import generate_api_key, hash_api_key
from promptops.llm import ModelCatalog
from tests.support.apps import ENCRYPTION_KEY, SECRET_KEY, RunningApp, issue_key, running_app
from tests.support.stub_llm import StubLLMServer

SERVER_SECRET = base64.urlsafe_b64decode(SECRET_KEY)


@pytest.fixture
async def app(
    pg_url: str, temporal_env: WorkflowEnvironment, catalog: ModelCatalog, task_queue: str
) -> AsyncIterator[RunningApp]:
    async with running_app(pg_url, temporal_env.client, catalog, task_queue) as running:
        yield running


def _org() -> str:
    return f"org-{uuid.uuid4().hex[:10]}"


async def _key(
    pg_url: str, org: str, who: str, role: Role = Role.ADMIN, project_id: uuid.UUID | None = None
) -> IssuedKey:
    return await issue_key(
        pg_url, organization=org, email=f"{who}@{org}.example", role=role, project_id=project_id
    )


async def _project_with_prompt(client: httpx.AsyncClient) -> tuple[str, str]:
    r = await client.post("/projects", json={"name": f"p-{uuid.uuid4().hex[:8]}"})
    assert r.status_code == 201, r.text
    project_id = r.json()["id"]
    r = await client.post(f"/projects/{project_id}/prompts", json={"name": "qa"})
    assert r.status_code == 201, r.text
    return project_id, r.json()["id"]


def _detail(r: httpx.Response) -> str:
    return str(r.json()["detail"])


# Authentication -------------------------------------------------------------------------------
async def test_every_api_route_needs_a_key(app: RunningApp) -> None:
    """Walks the OpenAPI schema, so a route added later without authentication fails here."""
    paths = app.app.openapi()["paths"]
    checked = 0
    async with app.client(None) as anonymous, app.client("po_malformed") as malformed:
        for path, operations in paths.items():
            if not path.startswith("/api/v1/"):
                continue
            url = re.sub(r"\{[^}]+\}", lambda _: str(uuid.uuid4()), path)
            url = url.removeprefix("/api/v1")
            for method in operations:
                for client, message in (
                    (anonymous, "API key is required"),
                    (malformed, "malformed API key"),
                ):
                    r = await client.request(method.upper(), url, json={})
                    assert r.status_code == 401, f"{method.upper()} {path}: {r.status_code}"
                    assert message in _detail(r), (path, r.text)
                    assert r.headers["www-authenticate"] == "Bearer"
                checked += 1
    assert checked >= 25


async def test_bad_keys_are_refused_with_clear_messages(app: RunningApp, pg_url: str) -> None:
    org = _org()
    admin = await _key(pg_url, org, "admin")
    member = await _key(pg_url, org, "member", Role.EDITOR)
    wrong_secret = admin.key[:-4] + ("AAAA" if not admin.key.endswith("AAAA") else "BBBB")
    cases: list[tuple[str, str]] = [
        ("sk-not-ours", "malformed API key"),
        (generate_api_key().key, "unknown API key"),
        (wrong_secret, "unknown API key"),
    ]
    async with get_session_factory(pg_url)() as session:
        expired = await issue_api_key(
            session,
            SERVER_SECRET,
            organization_id=admin.organization_id,
            user_id=admin.user_id,
            role=Role.ADMIN,
            name="old",
            created_by="test",
            expires_at=datetime.now(UTC) - timedelta(seconds=1),
        )
        await session.commit()
    cases.append((expired.key, "expired"))
    async with app.client(admin.key) as api:
        created = (await api.post("/api_keys", json={"name": "tmp", "role": "Viewer"})).json()
        assert (await api.delete(f"/api_keys/{created['id']}")).status_code == 200
        cases.append((created["key"], "revoked"))
        assert (await api.delete(f"/members/{member.user_id}")).status_code == 200
        cases.append((member.key, "revoked"))  # removing a member revokes their keys
    for key, message in cases:
        async with app.client(key) as client:
            r = await client.get("/projects")
            assert r.status_code == 401, (key, r.text)
            assert message in _detail(r), (message, r.text)
    # A key that is still valid but whose user lost the membership (e.g. removed in SQL).
    other = await _key(pg_url, org, "other", Role.VIEWER)
    async with get_session_factory(pg_url)() as session:
        await session.execute(
            text("DELETE FROM memberships WHERE user_id = :u"), {"u": other.user_id}
        )
        await session.commit()
    async with app.client(other.key) as client:
        r = await client.get("/projects")
        assert r.status_code == 401 and "no longer a member" in _detail(r)
    async with app.client(None) as client:  # X-API-Key works as well as Bearer
        r = await client.get("/projects", headers={"X-API-Key": admin.key})
        assert r.status_code == 200


# Roles ----------------------------------------------------------------------------------------
async def test_role_matrix(app: RunningApp, pg_url: str) -> None:
    org = _org()
    admin = await _key(pg_url, org, "admin")
    editor = await _key(pg_url, org, "editor", Role.EDITOR)
    viewer = await _key(pg_url, org, "viewer", Role.VIEWER)
    viewer_email = f"viewer@{org}.example"
    version = {"body": "Q: {{ q }}", "variables": {"q": "str"}}
    provider_key = {"provider": "openai", "name": "main", "api_key": "sk-test-1234567890"}
    async with app.client(admin.key) as a, app.client(editor.key) as e, app.client(viewer.key) as v:
        project_id, prompt_id = await _project_with_prompt(a)

        # Viewer reads, changes nothing.
        assert (await v.get("/projects")).status_code == 200
        assert (await v.get(f"/projects/{project_id}/prompts")).status_code == 200
        assert (await v.get("/members")).status_code == 200
        for method, url, body in [
            ("POST", f"/projects/{project_id}/prompts", {"name": "x"}),
            ("POST", f"/prompts/{prompt_id}/versions", version),
            ("POST", "/members", {"email": "x@y.z", "role": "Viewer"}),
            ("POST", "/provider_keys", provider_key),
            ("GET", "/provider_keys", None),
            ("GET", "/audit", None),
        ]:
            r = await v.request(method, url, json=body)
            assert r.status_code == 403, (method, url, r.text)
            assert "needs the" in _detail(r)
        r = await v.post("/api_keys", json={"name": "up", "role": "Editor"})
        assert r.status_code == 403 and "above your own role" in r.text
        assert (
            await v.post("/api_keys", json={"name": "mine", "role": "Viewer"})
        ).status_code == 201

        # Editor creates versions and its own keys, but administers nothing.
        r = await e.post(f"/prompts/{prompt_id}/versions", json=version)
        assert r.status_code == 201, r.text
        assert (await e.post("/api_keys", json={"name": "ci", "role": "Editor"})).status_code == 201
        r = await e.post(
            "/api_keys", json={"name": "x", "role": "Viewer", "user_email": viewer_email}
        )
        assert r.status_code == 403 and "only an Admin" in r.text
        assert r.json()["detail"][0]["loc"] == ["body", "user_email"]
        r = await e.post("/api_keys", json={"name": "x", "role": "Admin"})
        assert r.status_code == 403
        for method, url, body in [
            ("POST", "/members", {"email": "x@y.z", "role": "Viewer"}),
            ("PATCH", f"/members/{viewer.user_id}", {"role": "Editor"}),
            ("DELETE", f"/members/{viewer.user_id}", None),
            ("POST", "/provider_keys", provider_key),
            ("GET", "/provider_keys", None),
            ("DELETE", f"/provider_keys/{uuid.uuid4()}", None),
        ]:
            r = await e.request(method, url, json=body)
            assert r.status_code == 403, (method, url, r.text)

        # Admin does all of it, but never gives a member a key above their role.
        r = await a.post(
            "/api_keys", json={"name": "for-viewer", "role": "Viewer", "user_email": viewer_email}
        )
        assert r.status_code == 201, r.text
        assert r.json()["user_email"] == viewer_email and r.json()["user_id"] == str(viewer.user_id)
        r = await a.post(
            "/api_keys", json={"name": "too-high", "role": "Editor", "user_email": viewer_email}
        )
        assert r.status_code == 422 and "is a Viewer" in r.text
        r = await a.post(
            "/api_keys",
            json={"name": "x", "role": "Viewer", "user_email": "nobody@nowhere.example"},
        )
        assert r.status_code == 404
        r = await a.patch(f"/members/{viewer.user_id}", json={"role": "Editor"})
        assert r.status_code == 200 and r.json()["role"] == "Editor"
        r = await a.post("/provider_keys", json=provider_key)
        assert r.status_code == 201, r.text
        assert (await a.get("/audit")).status_code == 200

        # Listing: Admin sees every key of the organization, others only their own.
        all_keys = (await a.get("/api_keys")).json()["data"]
        assert {k["user_email"] for k in all_keys} >= {viewer_email, f"editor@{org}.example"}
        own = (await e.get("/api_keys")).json()["data"]
        assert own and {k["user_email"] for k in own} == {f"editor@{org}.example"}
        # An Editor cannot see, rotate or revoke someone else's key.
        admin_key_id = str(admin.id)
        assert (await e.delete(f"/api_keys/{admin_key_id}")).status_code == 404
        assert (await e.post(f"/api_keys/{admin_key_id}/rotate")).status_code == 404


async def test_key_role_is_capped_by_membership_role(app: RunningApp, pg_url: str) -> None:
    """An Admin key of a user later demoted to Viewer acts as a Viewer."""
    org = _org()
    admin = await _key(pg_url, org, "admin")
    second = await _key(pg_url, org, "second")
    async with app.client(admin.key) as a, app.client(second.key) as s:
        assert (
            await a.patch(f"/members/{second.user_id}", json={"role": "Viewer"})
        ).status_code == 200
        assert (await s.get("/projects")).status_code == 200
        assert (await s.post("/projects", json={"name": "nope"})).status_code == 403
        # The demoted user's own (Admin) key cannot be rotated into a fresh Admin key.
        r = await s.post(f"/api_keys/{second.id}/rotate")
        assert r.status_code == 403 and "needs the Admin role" in r.text


# Project scope --------------------------------------------------------------------------------
async def test_project_scoped_key_sees_only_its_project(app: RunningApp, pg_url: str) -> None:
    org = _org()
    admin = await _key(pg_url, org, "admin")
    async with app.client(admin.key) as a:
        p1, prompt1 = await _project_with_prompt(a)
        p2, prompt2 = await _project_with_prompt(a)
        r = await a.post("/api_keys", json={"name": "p1-only", "role": "Editor", "project_id": p1})
        assert r.status_code == 201 and r.json()["project_id"] == p1
        scoped_key = r.json()["key"]
    async with app.client(scoped_key) as s:
        listed = (await s.get("/projects")).json()
        assert listed["count"] == 1 and listed["data"][0]["id"] == p1
        assert (await s.get(f"/prompts/{prompt1}")).status_code == 200
        assert (await s.get(f"/prompts/{prompt2}")).status_code == 404
        assert (await s.get(f"/projects/{p2}")).status_code == 404
        assert (await s.post(f"/projects/{p2}/prompts", json={"name": "x"})).status_code == 404
        assert (await s.post("/projects", json={"name": "x"})).status_code == 403
        # Keys it creates stay inside its project.
        r = await s.post("/api_keys", json={"name": "x", "role": "Viewer", "project_id": p2})
        assert r.status_code == 403 and "scoped to project" in r.text
        r = await s.post("/api_keys", json={"name": "child", "role": "Viewer"})
        assert r.status_code == 201 and r.json()["project_id"] == p1
    # A membership narrowed to a project narrows the member's keys the same way.
    narrowed = await _key(pg_url, org, "narrow", Role.EDITOR, project_id=uuid.UUID(p1))
    async with app.client(narrowed.key) as n:
        assert [p["id"] for p in (await n.get("/projects")).json()["data"]] == [p1]
        assert (await n.get(f"/prompts/{prompt2}")).status_code == 404
    async with app.client(admin.key) as a:
        r = await a.post(
            "/api_keys",
            json={
                "name": "x",
                "role": "Editor",
                "project_id": p2,
                "user_email": f"narrow@{org}.example",
            },
        )
        assert r.status_code == 422 and "membership is scoped" in r.text


# API keys -------------------------------------------------------------------------------------
async def test_key_shown_once_and_stored_hashed(app: RunningApp, pg_url: str) -> None:
    org = _org()
    admin = await _key(pg_url, org, "admin")
    async with app.client(admin.key) as a:
        r = await a.post(
            "/api_keys",
            json={"name": "deploy-bot", "role": "Editor", "expires_at": "2999-01-01T00:00:00"},
        )
        assert r.status_code == 201, r.text
        created = r.json()
        key = created["key"]
        assert key.startswith(f"po_{created['prefix']}_") and "warning" in created
        assert created["expires_at"].startswith("2999-01-01T00:00:00")
        assert created["last_used_at"] is None and created["revoked_at"] is None
        listing = await a.get("/api_keys")
        assert key not in listing.text and "secret_hash" not in listing.text
        assert "secret_hash" not in r.text
        entry = next(k for k in listing.json()["data"] if k["id"] == created["id"])
        assert "key" not in entry and entry["last_used_at"] is None
    async with get_session_factory(pg_url)() as session:
        row = (
            await session.execute(select(ApiKey).where(ApiKey.id == uuid.UUID(created["id"])))
        ).scalar_one()
        stored = " ".join(str(getattr(row, c.key)) for c in ApiKey.__table__.columns)
    assert key not in stored and key.split("_", 2)[2] not in stored
    assert row.secret_hash != key and row.secret_hash == hash_api_key(key, SERVER_SECRET)
    async with app.client(key) as k:
        assert (await k.get("/projects")).status_code == 200
    async with app.client(admin.key) as a:
        entry = next(
            k for k in (await a.get("/api_keys")).json()["data"] if k["id"] == created["id"]
        )
        used = datetime.fromisoformat(entry["last_used_at"])
        assert datetime.now(UTC) - used < timedelta(minutes=1)
        r = await a.post(
            "/api_keys", json={"name": "x", "role": "Viewer", "expires_at": "2001-01-01T00:00:00Z"}
        )
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "expires_at"]


async def test_rotate_revokes_the_old_key_at_once(app: RunningApp, pg_url: str) -> None:
    org = _org()
    admin = await _key(pg_url, org, "admin")
    editor = await _key(pg_url, org, "editor", Role.EDITOR)
    async with app.client(admin.key) as a:
        project_id, _ = await _project_with_prompt(a)
    async with app.client(editor.key) as e:
        r = await e.post(
            "/api_keys", json={"name": "ci", "role": "Viewer", "project_id": project_id}
        )
        old = r.json()
        r = await e.post(f"/api_keys/{old['id']}/rotate")
        assert r.status_code == 201, r.text
        new = r.json()
        assert new["key"] != old["key"] and new["prefix"] != old["prefix"]
        assert new["rotated_from"] == old["id"]
        for field in ("name", "role", "project_id", "user_id", "expires_at"):
            assert new[field] == old[field], field
        r = await e.post(f"/api_keys/{old['id']}/rotate")
        assert r.status_code == 409 and "revoked" in r.text
        listed = {k["id"]: k for k in (await e.get("/api_keys")).json()["data"]}
        assert listed[old["id"]]["revoked_at"] is not None
        assert listed[new["id"]]["revoked_at"] is None
    async with app.client(old["key"]) as o:
        r = await o.get("/projects")
        assert r.status_code == 401 and "revoked" in _detail(r)
    async with app.client(new["key"]) as n:
        assert (await n.get(f"/projects/{project_id}")).status_code == 200
    async with app.client(admin.key) as a:  # an Admin revokes any key of the organization
        r = await a.delete(f"/api_keys/{new['id']}")
        assert r.status_code == 200 and r.json()["revoked_at"] is not None
        again = await a.delete(f"/api_keys/{new['id']}")  # idempotent
        assert again.status_code == 200 and again.json()["revoked_at"] == r.json()["revoked_at"]
    async with app.client(new["key"]) as n:
        assert (await n.get("/projects")).status_code == 401


async def test_keys_of_another_organization_are_invisible(app: RunningApp, pg_url: str) -> None:
    a_admin = await _key(pg_url, _org(), "admin")
    b_org = _org()
    b_admin = await _key(pg_url, b_org, "admin")
    async with app.client(a_admin.key) as a:
        assert all(k["id"] != str(b_admin.id) for k in (await a.get("/api_keys")).json()["data"])
        assert (await a.delete(f"/api_keys/{b_admin.id}")).status_code == 404
        assert (await a.post(f"/api_keys/{b_admin.id}/rotate")).status_code == 404
        assert (
            await a.patch(f"/members/{b_admin.user_id}", json={"role": "Viewer"})
        ).status_code == 404
        assert (await a.delete(f"/members/{b_admin.user_id}")).status_code == 404
        r = await a.post(
            "/api_keys",
            json={"name": "x", "role": "Viewer", "user_email": f"admin@{b_org}.example"},
        )
        assert r.status_code == 404
        emails = {m["email"] for m in (await a.get("/members")).json()["data"]}
        assert f"admin@{b_org}.example" not in emails
    async with app.client(b_admin.key) as b:
        assert (await b.get("/projects")).status_code == 200


# Members --------------------------------------------------------------------------------------
async def test_members_lifecycle_and_last_admin_guard(app: RunningApp, pg_url: str) -> None:
    org = _org()
    admin = await _key(pg_url, org, "admin")
    other_org_admin = await _key(pg_url, _org(), "admin")
    async with app.client(other_org_admin.key) as b:
        foreign_project, _ = await _project_with_prompt(b)
    async with app.client(admin.key) as a:
        project_id, _ = await _project_with_prompt(a)
        new_email = f"new-{uuid.uuid4().hex[:6]}@example.com"
        r = await a.post("/members", json={"email": new_email, "role": "Editor"})
        assert r.status_code == 201, r.text
        member: dict[str, Any] = r.json()
        assert member["role"] == "Editor" and member["project_id"] is None
        r = await a.post("/members", json={"email": new_email, "role": "Viewer"})
        assert r.status_code == 409 and "already a member" in r.text
        r = await a.post("/members", json={"email": "not-an-email", "role": "Viewer"})
        assert r.status_code == 422
        r = await a.post(
            "/members",
            json={"email": "x@example.com", "role": "Viewer", "project_id": foreign_project},
        )
        assert r.status_code == 404
        r = await a.patch(f"/members/{member['user_id']}", json={"project_id": project_id})
        assert r.status_code == 200 and r.json()["project_id"] == project_id
        assert r.json()["role"] == "Editor"
        r = await a.patch(f"/members/{member['user_id']}", json={"project_id": None})
        assert r.status_code == 200 and r.json()["project_id"] is None
        assert (
            await a.patch(f"/members/{uuid.uuid4()}", json={"role": "Viewer"})
        ).status_code == 404
        listed = {m["email"]: m for m in (await a.get("/members")).json()["data"]}
        assert listed[new_email]["role"] == "Editor"

        # The only organization-wide Admin cannot demote, narrow or remove themselves.
        for method, body in (
            ("PATCH", {"role": "Editor"}),
            ("PATCH", {"project_id": project_id}),
            ("DELETE", None),
        ):
            r = await a.request(method, f"/members/{admin.user_id}", json=body)
            assert r.status_code == 409 and "at least one" in r.text, (method, body, r.text)
        r = await a.patch(f"/members/{member['user_id']}", json={"role": "Admin"})
        assert r.status_code == 200
        r = await a.patch(f"/members/{admin.user_id}", json={"role": "Editor"})
        assert r.status_code == 200  # another Admin remains
    # Removing a member revokes the member's keys.
    async with app.client(admin.key) as a:  # now an Editor: cannot administer
        assert (await a.delete(f"/members/{member['user_id']}")).status_code == 403
    new_admin = await issue_key(pg_url, organization=org, email=new_email, role=Role.ADMIN)
    async with app.client(new_admin.key) as n:
        r = await n.delete(f"/members/{admin.user_id}")
        assert r.status_code == 200 and r.json()["revoked_keys"] >= 1
        emails = {m["email"] for m in (await n.get("/members")).json()["data"]}
        assert f"admin@{org}.example" not in emails
    async with app.client(admin.key) as a:
        r = await a.get("/projects")
        assert r.status_code == 401


async def test_concurrent_demotions_keep_one_admin(app: RunningApp, pg_url: str) -> None:
    """Two Admins demote each other at once: the row locks let exactly one through."""
    org = _org()
    first = await _key(pg_url, org, "first")
    second = await _key(pg_url, org, "second")
    async with app.client(first.key) as a, app.client(second.key) as b:
        results = await asyncio.gather(
            a.patch(f"/members/{second.user_id}", json={"role": "Viewer"}),
            b.patch(f"/members/{first.user_id}", json={"role": "Viewer"}),
        )
        codes = sorted(r.status_code for r in results)
        # The loser gets 409 (lost the race at the lock) or 403 (already demoted when it
        # authenticated); never two 200s.
        assert codes[0] == 200 and codes[1] in (403, 409), [r.text for r in results]
        admins = [m for m in (await a.get("/members")).json()["data"] if m["role"] == "Admin"]
        assert len(admins) == 1


# CLI ------------------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def test_cli_keys_and_members(pg_url: str, stub_llm: StubLLMServer, tmp_path: Path) -> None:
    """``promptops keys ...`` and ``promptops members ...`` against the API run by uvicorn."""
    org = _org()
    admin = await _key(pg_url, org, "admin")
    viewer = await _key(pg_url, org, "viewer", Role.VIEWER)
    models = tmp_path / "models.yaml"
    models.write_text(yaml.safe_dump(stub_llm.model_list()))
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": pg_url,
        "PROMPTOPS_SECRET_KEY": SECRET_KEY,
        "PROMPTOPS_ENCRYPTION_KEY": ENCRYPTION_KEY,
        "PROMPTOPS_MODELS": str(models),
        "PROMPTOPS_HOME": str(tmp_path / "home"),
        "TEMPORAL_ADDRESS": "127.0.0.1:1",
        "PROMPTOPS_API_URL": f"http://127.0.0.1:{port}",
        "COLUMNS": "250",
        "NO_COLOR": "1",
    }
    server = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "uvicorn",
        "api.main:app",
        "--port",
        str(port),
        "--log-level",
        "warning",
        env=env,
    )
    try:
        async with httpx.AsyncClient() as http:
            for _ in range(300):
                try:
                    if (await http.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)

        async def cli(*args: str, key: str = admin.key) -> subprocess.CompletedProcess[str]:
            return await asyncio.to_thread(
                subprocess.run,
                [sys.executable, "-c", "from promptops.cli import main; main()", *args],
                env={**env, "PROMPTOPS_API_KEY": key},
                capture_output=True,
                text=True,
                timeout=120,
            )

        created = await cli("keys", "create", "ci-bot", "--role", "Editor")
        assert created.returncode == 0, created.stderr
        key = re.search(r"po_[a-z2-7]{12}_\S+", created.stdout)
        assert key is not None and "shown once" in created.stderr
        listed = await cli("keys", "list")
        assert listed.returncode == 0 and "ci-bot" in listed.stdout
        assert key.group(0) not in listed.stdout
        prefix = key.group(0).split("_")[1]
        rotated = await cli("keys", "rotate", prefix)
        assert rotated.returncode == 0, rotated.stderr
        new_key = re.search(r"po_[a-z2-7]{12}_\S+", rotated.stdout)
        assert new_key is not None and new_key.group(0) != key.group(0)
        old = await cli("keys", "list", key=key.group(0))
        assert old.returncode == 1 and "revoked" in old.stderr and "Traceback" not in old.stderr
        mine = await cli("keys", "list", key=new_key.group(0))
        assert mine.returncode == 0 and "ci-bot" in mine.stdout
        revoked = await cli("keys", "revoke", new_key.group(0).split("_")[1])
        assert revoked.returncode == 0 and "Revoked" in revoked.stdout
        missing = await cli("keys", "revoke", str(uuid.uuid4()))
        assert missing.returncode == 1 and "not found" in missing.stderr

        email = f"bob@{org}.example"
        added = await cli("members", "add", email, "--role", "viewer")
        assert added.returncode == 0 and "Added" in added.stdout, added.stderr
        members = await cli("members", "list")
        assert email in members.stdout and f"admin@{org}.example" in members.stdout
        updated = await cli("members", "update", email, "--role", "Editor")
        assert updated.returncode == 0 and "Editor" in updated.stdout, updated.stderr
        for_bob = await cli("keys", "create", "bob-key", "--role", "Editor", "--user", email)
        assert for_bob.returncode == 0 and email in for_bob.stdout, for_bob.stderr
        removed = await cli("members", "remove", email)
        assert removed.returncode == 0 and "revoked 1 API key" in removed.stdout
        denied = await cli("members", "add", "eve@example.com", key=viewer.key)
        assert denied.returncode == 1 and "needs the Admin role" in denied.stderr
        bad_role = await cli("keys", "create", "x", "--role", "Owner")
        assert bad_role.returncode == 2 and "Owner" in bad_role.stderr
    finally:
        server.terminate()
        await asyncio.wait_for(server.wait(), timeout=30)
