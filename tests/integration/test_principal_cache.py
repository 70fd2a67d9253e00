"""The in-process cache of authenticated API keys: a hit costs no key query, writes through
the API take effect at once, a change made elsewhere (another replica, SQL) within the TTL."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import update

from api.main import create_app
from promptops.db.models import ApiKey
from promptops.db.repositories.identity import ApiKeyAuthRepository, KeyFacts
from promptops.db.session import get_session_factory
from promptops.llm import ModelCatalog
from tests.support import apps
from tests.support.apps import issue_key


async def _app_client(pg_url: str, catalog: ModelCatalog, ttl: str, key: str):  # type: ignore[no-untyped-def]
    app = create_app(
        apps.test_settings(f"tq-{uuid.uuid4().hex[:8]}", PROMPTOPS_AUTH_CACHE_TTL_S=ttl),
        database_url=pg_url,
        catalog=catalog,
    )
    return app, httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://test/api/v1",
        headers={"Authorization": f"Bearer {key}"},
    )


def _count_key_queries(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every key lookup authentication makes (the one query a cache hit skips)."""
    seen: list[str] = []
    lookup = ApiKeyAuthRepository.lookup

    async def counted(self: ApiKeyAuthRepository, prefix: str) -> KeyFacts | None:
        seen.append(prefix)
        return await lookup(self, prefix)

    monkeypatch.setattr(ApiKeyAuthRepository, "lookup", counted)
    return seen


async def test_hits_skip_the_key_query_and_api_revocation_is_immediate(
    pg_url: str, catalog: ModelCatalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = await issue_key(
        pg_url, organization=f"pc-{uuid.uuid4().hex[:8]}", email=f"a-{uuid.uuid4().hex[:6]}@p.ex"
    )
    app, client = await _app_client(pg_url, catalog, "60", key.key)
    async with app.router.lifespan_context(app), client:
        queries = _count_key_queries(monkeypatch)
        for _ in range(5):
            assert (await client.get("/projects")).status_code == 200
        assert len(queries) == 1  # only the first request looked the key up
        # A wrong secret with a valid prefix is never served from the cache.
        forged = key.key[:-4] + ("aaaa" if not key.key.endswith("aaaa") else "bbbb")
        r = await client.get("/projects", headers={"Authorization": f"Bearer {forged}"})
        assert r.status_code == 401
        r = await client.delete(f"/api_keys/{key.id}")
        assert r.status_code in (200, 204), r.text
        assert (await client.get("/projects")).status_code == 401


async def test_changes_made_elsewhere_apply_within_the_ttl(
    pg_url: str, catalog: ModelCatalog
) -> None:
    key = await issue_key(
        pg_url, organization=f"pc-{uuid.uuid4().hex[:8]}", email=f"a-{uuid.uuid4().hex[:6]}@p.ex"
    )
    app, client = await _app_client(pg_url, catalog, "0.5", key.key)
    async with app.router.lifespan_context(app), client:
        assert (await client.get("/projects")).status_code == 200
        async with get_session_factory(pg_url)() as session:  # another replica revokes it
            await session.execute(
                update(ApiKey).where(ApiKey.id == key.id).values(revoked_at=datetime.now(UTC))
            )
            await session.commit()
        assert (await client.get("/projects")).status_code == 200  # still cached
        await asyncio.sleep(0.6)
        assert (await client.get("/projects")).status_code == 401
    # TTL 0: no cache at all.
    key2 = await issue_key(
        pg_url, organization=f"pc-{uuid.uuid4().hex[:8]}", email=f"b-{uuid.uuid4().hex[:6]}@p.ex"
    )
    app, client = await _app_client(pg_url, catalog, "0", key2.key)
    async with app.router.lifespan_context(app), client:
        assert (await client.get("/projects")).status_code == 200
        async with get_session_factory(pg_url)() as session:
            await session.execute(
                update(ApiKey).where(ApiKey.id == key2.id).values(revoked_at=datetime.now(UTC))
            )
            await session.commit()
        assert (await client.get("/projects")).status_code == 401
