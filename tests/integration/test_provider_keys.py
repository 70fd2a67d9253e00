"""Provider API keys: encrypted at rest, never returned, never logged (issue 3, item 5)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select, update
from temporalio.testing import WorkflowEnvironment

from promptops.db.connection import SessionSQL
from promptops.db.models import ProviderCredential, Role
from promptops.db.session import get_session_factory
from promptops.governance.identity import IssuedKey
from promptops.governance.security import DecryptionError, SecretBox
from promptops.llm import ModelCatalog
from promptops.llm.credentials import provider_credential
from tests.support.apps import RunningApp, issue_key, running_app
from tests.support.stub_llm import StubLLMServer


@pytest.fixture
async def app(
    pg_url: str, temporal_env: WorkflowEnvironment, catalog: ModelCatalog, task_queue: str
) -> AsyncIterator[RunningApp]:
    async with running_app(pg_url, temporal_env.client, catalog, task_queue) as running:
        yield running


async def provider_api_key(
    db: SessionSQL, box: SecretBox, organization_id: uuid.UUID, provider: str
) -> str | None:
    """The decrypted newest key of ``provider`` (what a model call of the organization uses)."""
    secret = await provider_credential(db, box, organization_id, provider)
    return None if secret is None else secret.api_key


async def _admin(pg_url: str) -> IssuedKey:
    org = f"org-{uuid.uuid4().hex[:10]}"
    return await issue_key(pg_url, organization=org, email=f"admin@{org}.example")


def _plaintext() -> str:
    return f"sk-proj-{uuid.uuid4().hex}{uuid.uuid4().hex}"


async def _row(pg_url: str, credential_id: str) -> ProviderCredential:
    async with get_session_factory(pg_url)() as session:
        return (
            await session.execute(
                select(ProviderCredential).where(ProviderCredential.id == uuid.UUID(credential_id))
            )
        ).scalar_one()


async def test_stored_encrypted_never_returned_and_decrypts(
    app: RunningApp, pg_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    admin = await _admin(pg_url)
    secret = _plaintext()
    box: SecretBox = app.app.state.secret_box
    caplog.set_level(logging.DEBUG)
    async with app.client(admin.key) as a:
        r = await a.post(
            "/provider_keys",
            json={
                "provider": "OpenAI",
                "name": "main",
                "api_key": secret,
                "api_base": "https://api.openai.com/v1",
            },
        )
        assert r.status_code == 201, r.text
        created = r.json()
        assert secret not in r.text and "api_key" not in created
        assert created["provider"] == "openai" and created["hint"] == secret[-4:]
        assert created["api_base"] == "https://api.openai.com/v1"
        assert set(created) == {
            "id",
            "provider",
            "name",
            "hint",
            "api_base",
            "key_id",
            "created_by",
            "created_at",
        }
        listing = await a.get("/provider_keys")
        assert listing.status_code == 200 and secret not in listing.text
        assert [c["id"] for c in listing.json()["data"]] == [created["id"]]
        audit = await a.get("/audit", params={"entity_type": "provider_key"})
        assert audit.status_code == 200 and secret not in audit.text
        assert audit.json()["data"][0]["action"] == "provider_key.create"

    row = await _row(pg_url, created["id"])
    assert secret.encode() not in row.ciphertext and secret[8:].encode() not in row.ciphertext
    assert len(row.nonce) == 12 and row.key_id == box.key_id
    assert len(row.ciphertext) == len(secret) + 16

    async with get_session_factory(pg_url)() as session:
        assert (
            await provider_api_key(SessionSQL(session), box, admin.organization_id, "openai")
            == secret
        )
        full = await provider_credential(SessionSQL(session), box, admin.organization_id, "OpenAI")
        assert full is not None and full.api_base == "https://api.openai.com/v1"
        assert secret not in repr(full)
        assert (
            await provider_api_key(SessionSQL(session), box, admin.organization_id, "anthropic")
            is None
        )
    assert secret not in caplog.text  # nothing logged it, at any level, while created or used


async def test_newest_credential_of_a_provider_wins(app: RunningApp, pg_url: str) -> None:
    admin = await _admin(pg_url)
    first, second = _plaintext(), _plaintext()
    async with app.client(admin.key) as a:
        for name, secret in (("old", first), ("new", second)):
            r = await a.post(
                "/provider_keys", json={"provider": "anthropic", "name": name, "api_key": secret}
            )
            assert r.status_code == 201, r.text
        r = await a.post(
            "/provider_keys", json={"provider": "anthropic", "name": "new", "api_key": first}
        )
        assert r.status_code == 409 and first not in r.text
    async with get_session_factory(pg_url)() as session:
        got = await provider_api_key(
            SessionSQL(session), app.app.state.secret_box, admin.organization_id, "anthropic"
        )
    assert got == second


async def test_replace_reseals_the_secret_and_keeps_the_key(
    app: RunningApp, pg_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    admin, other = await _admin(pg_url), await _admin(pg_url)
    first, second = _plaintext(), _plaintext()
    box: SecretBox = app.app.state.secret_box
    caplog.set_level(logging.DEBUG)
    async with app.client(admin.key) as a:
        created = (
            await a.post(
                "/provider_keys",
                json={
                    "provider": "openai",
                    "name": "main",
                    "api_key": first,
                    "api_base": "https://old.example.com/v1",
                },
            )
        ).json()
        path = f"/provider_keys/{created['id']}"
        for body, field in [
            ({"api_key": "has space"}, "api_key"),
            ({"api_key": second, "api_base": "ftp://x"}, "api_base"),
            ({}, "api_key"),
        ]:
            r = await a.put(path, json=body)
            assert r.status_code == 422, r.text
            assert r.json()["detail"][0]["loc"] == ["body", field]
            assert second not in r.text
        async with app.client(other.key) as b:
            assert (await b.put(path, json={"api_key": second})).status_code == 404

        r = await a.put(path, json={"api_key": second})
        assert r.status_code == 200, r.text
        replaced = r.json()
        assert second not in r.text and first not in r.text
        assert replaced["id"] == created["id"] and replaced["name"] == "main"
        assert replaced["hint"] == second[-4:] and replaced["api_base"] is None
        audit = (await a.get("/audit", params={"action": "provider_key.replace"})).json()
        entry = audit["data"][0]
        assert entry["entity_id"] == created["id"]
        assert entry["before"]["hint"] == first[-4:] and entry["after"]["hint"] == second[-4:]
        assert first not in str(audit) and second not in str(audit)
        assert (
            await a.put(f"/provider_keys/{uuid.uuid4()}", json={"api_key": second})
        ).status_code == 404
    async with get_session_factory(pg_url)() as session:
        full = await provider_credential(SessionSQL(session), box, admin.organization_id, "openai")
    assert full is not None and full.api_key == second and full.api_base is None
    assert first not in caplog.text and second not in caplog.text


async def test_tampered_or_copied_ciphertext_does_not_decrypt(app: RunningApp, pg_url: str) -> None:
    admin = await _admin(pg_url)
    other = await _admin(pg_url)
    secret = _plaintext()
    box: SecretBox = app.app.state.secret_box
    async with app.client(admin.key) as a:
        created = (
            await a.post(
                "/provider_keys", json={"provider": "openai", "name": "main", "api_key": secret}
            )
        ).json()
    row = await _row(pg_url, created["id"])
    factory = get_session_factory(pg_url)

    # The same ciphertext copied into another organization: its associated data differs.
    async with factory() as session:
        session.add(
            ProviderCredential(
                id=uuid.uuid4(),
                organization_id=other.organization_id,
                provider="openai",
                name="stolen",
                ciphertext=row.ciphertext,
                nonce=row.nonce,
                key_id=row.key_id,
                hint=row.hint,
                created_by="attacker",
            )
        )
        await session.commit()
    async with factory() as session:
        with pytest.raises(DecryptionError):
            await provider_api_key(SessionSQL(session), box, other.organization_id, "openai")

    # One flipped bit in the stored ciphertext.
    async with factory() as session:
        tampered = bytes([row.ciphertext[0] ^ 0x01]) + row.ciphertext[1:]
        await session.execute(
            update(ProviderCredential)
            .where(ProviderCredential.id == row.id)
            .values(ciphertext=tampered)
        )
        await session.commit()
    async with factory() as session:
        with pytest.raises(DecryptionError):
            await provider_api_key(SessionSQL(session), box, admin.organization_id, "openai")
        # Under another encryption key the error names both keys.
        with pytest.raises(DecryptionError, match="sealed with encryption key"):
            await provider_api_key(
                SessionSQL(session), SecretBox(b"k" * 32), admin.organization_id, "openai"
            )


async def test_validation_delete_and_access(app: RunningApp, pg_url: str) -> None:
    org_name = f"org-{uuid.uuid4().hex[:10]}"
    admin = await issue_key(pg_url, organization=org_name, email=f"admin@{org_name}.example")
    editor = await issue_key(
        pg_url, organization=org_name, email=f"ed@{org_name}.example", role=Role.EDITOR
    )
    org = await _admin(pg_url)
    secret = _plaintext()
    async with app.client(admin.key) as a:
        for body, field in [
            ({"provider": "Open AI!", "name": "x", "api_key": secret}, "provider"),
            ({"provider": "openai", "api_key": secret}, "name"),  # model-level error
            ({"provider": "openai", "name": "x", "api_key": ""}, "api_key"),
            (
                {"provider": "openai", "name": "x", "api_key": secret, "api_base": "ftp://x"},
                "api_base",
            ),
        ]:
            r = await a.post("/provider_keys", json=body)
            assert r.status_code == 422, r.text
            assert r.json()["detail"][0]["loc"] == ["body", field]
            assert secret not in r.text  # 422s do not echo the body
        r = await a.post(
            "/provider_keys", content=b"{not json", headers={"content-type": "application/json"}
        )
        assert r.status_code == 422
        created = (
            await a.post(
                "/provider_keys", json={"provider": "openai", "name": "short", "api_key": "sk-abc"}
            )
        ).json()
        assert created["hint"] == ""  # four characters of a short key would say too much

        # Another organization's Admin can neither list nor delete it.
        async with app.client(org.key) as b:
            assert (await b.get("/provider_keys")).json()["count"] == 0
            assert (await b.delete(f"/provider_keys/{created['id']}")).status_code == 404
        async with app.client(editor.key) as e:
            assert (await e.get("/provider_keys")).status_code == 403

        # A project-scoped Admin key cannot manage organization-wide provider keys.
        project = (await a.post("/projects", json={"name": "p"})).json()
        scoped = (
            await a.post(
                "/api_keys", json={"name": "s", "role": "Admin", "project_id": project["id"]}
            )
        ).json()
        async with app.client(scoped["key"]) as s:
            r = await s.get("/provider_keys")
            assert r.status_code == 403 and "whole organization" in r.text

        r = await a.delete(f"/provider_keys/{created['id']}")
        assert r.status_code == 204
        assert (await a.delete(f"/provider_keys/{created['id']}")).status_code == 404
        assert (await a.get("/provider_keys")).json()["count"] == 0
        audit = (await a.get("/audit", params={"action": "provider_key.delete"})).json()
        assert audit["data"][0]["entity_id"] == created["id"]
        assert audit["data"][0]["before"]["name"] == "short"
    async with get_session_factory(pg_url)() as session:
        assert (
            await provider_api_key(
                SessionSQL(session), app.app.state.secret_box, admin.organization_id, "openai"
            )
            is None
        )


async def test_create_schema_hides_the_key_in_reprs() -> None:
    from api.schemas.identity import ProviderKeyCreate

    body = ProviderKeyCreate(provider="openai", name="x", api_key="sk-very-secret-value")
    assert "sk-very-secret-value" not in repr(body) and "sk-very-secret-value" not in str(body)
    assert "sk-very-secret-value" not in body.model_dump_json()
    assert body.api_key.get_secret_value() == "sk-very-secret-value"


async def test_openapi_documents_the_body(app: RunningApp) -> None:
    schema = app.app.openapi()["paths"]["/api/v1/provider_keys"]["post"]["requestBody"]
    props = schema["content"]["application/json"]["schema"]["properties"]
    assert props["api_key"]["writeOnly"] is True and props["api_key"]["format"] == "password"


async def test_generate_uses_the_organizations_own_provider_key(
    app: RunningApp,
    pg_url: str,
    stub_llm: StubLLMServer,
) -> None:
    """A stored key of the model's provider (``openai`` for ``openai/...``) replaces the
    deployment's key on that organization's calls, and only on theirs."""
    mine, other = await _admin(pg_url), await _admin(pg_url)
    secret = _plaintext()
    async with app.client(mine.key) as c:
        r = await c.post(
            "/provider_keys", json={"provider": "openai", "name": "own", "api_key": secret}
        )
        assert r.status_code == 201, r.text
    for key in (mine, other):
        async with app.client(key.key) as c:
            project = (await c.post("/projects", json={"name": "p"})).json()["id"]
            prompt = (await c.post(f"/projects/{project}/prompts", json={"name": "q"})).json()
            version = (
                await c.post(
                    f"/prompts/{prompt['id']}/versions",
                    json={"body": "Say {{ x }}", "variables": {"x": "str"}},
                )
            ).json()
            before = len(stub_llm.cfg.authorizations)
            r = await c.post(
                "/runs/execute", json={"prompt_version_id": version["id"], "variables": {"x": "hi"}}
            )
            assert r.status_code == 200, r.text
            sent = stub_llm.cfg.authorizations[before:]
            assert sent == ([f"Bearer {secret}"] if key is mine else ["Bearer none"])
