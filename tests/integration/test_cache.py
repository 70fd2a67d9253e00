"""The response caches on the real Postgres (pgvector): exact hits, misses, expiry and upsert;
semantic hits for a paraphrase but not for another question, never across prompt versions,
models, parameters or tenants; purges; the settings and purge API."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from promptops.db.connection import SessionSQL
from promptops.db.models import (
    AuditLog,
    CacheEntry,
    Organization,
    Project,
    Prompt,
    PromptVersion,
    Role,
    SemanticCacheEntry,
)
from promptops.db.repositories.cache import (
    _GET_EXACT,
    _GET_SEMANTIC_SQL,
    CacheRepository,
    _vector,
)
from promptops.db.session import get_session_factory
from promptops.llm import ModelCatalog
from promptops.llm.cache import (
    CachedResponse,
    embed_text,
    exact_cache_key,
    params_key,
    semantic_text,
)
from tests.support.apps import RunningApp, issue_key, running_app

#: A long template shared by every call of the version (what peers embed).
TEMPLATE = (
    "You are a meticulous geography assistant for a travel company. Answer in one "
    "short sentence, cite no sources, never speculate, and keep a friendly tone. "
) * 4
QUESTION = "What is the capital of France?"
PARAPHRASE = "what's the capital city of France?"
UNRELATED = "What is the capital of Germany?"
OFF_TOPIC = "How do I bake sourdough bread?"
#: Measured with all-MiniLM-L6-v2: paraphrase ~0.96, other country ~0.66 (variables only).
THRESHOLD = 0.9
ANSWER = CachedResponse(output="Paris.", tokens_in=12, tokens_out=2, finish_reason="stop")
MODEL = "stub-a"


@dataclass
class Tenant:
    org: uuid.UUID
    project: uuid.UUID
    version: uuid.UUID
    version2: uuid.UUID


async def _tenant(session: AsyncSession) -> Tenant:
    org = Organization(id=uuid.uuid4(), name=f"org-cache-{uuid.uuid4().hex[:8]}")
    project = Project(id=uuid.uuid4(), organization_id=org.id, name="cached")
    prompt = Prompt(id=uuid.uuid4(), project_id=project.id, name="geo")
    versions = [
        PromptVersion(
            id=uuid.uuid4(),
            prompt_id=prompt.id,
            version=n,
            body=TEMPLATE + "Question: {{ question }}",
            variables={"question": "str"},
            content_hash=f"{n:064d}",
        )
        for n in (1, 2)
    ]
    session.add(org)
    await session.flush()
    session.add(project)
    await session.flush()
    session.add(prompt)
    await session.flush()
    session.add_all(versions)
    await session.flush()
    return Tenant(org.id, project.id, versions[0].id, versions[1].id)


@pytest.fixture
async def session(pg_url: str) -> AsyncIterator[AsyncSession]:
    """A session whose work is rolled back after the test."""
    async with get_session_factory(pg_url)() as s:
        try:
            yield s
        finally:
            await s.rollback()


def _messages(question: str) -> list[dict[str, Any]]:
    return [
        {"role": "system", "content": TEMPLATE},
        {"role": "user", "content": f"Question: {question}"},
    ]


async def _embedding(question: str) -> list[float]:
    vector = await embed_text(semantic_text(_messages(question), {"question": question}))
    assert vector is not None
    return vector


# ------------------------------------------------------------------------------- exact


async def test_exact_hit_miss_expiry_and_upsert(session: AsyncSession) -> None:
    t = await _tenant(session)
    cache = CacheRepository(SessionSQL(session))
    key = exact_cache_key(MODEL, _messages(QUESTION), {"temperature": 0})
    assert await cache.get_exact(t.project, key) is None
    await cache.put_exact(t.org, t.project, key, MODEL, t.version, ANSWER.to_dict(), 60)
    for _ in range(2):  # two hits served and counted, as the request path does
        assert await cache.get_exact(t.project, key) == ANSWER.to_dict()
        await cache.count_exact_hit(t.project, key)
    other = exact_cache_key(MODEL, _messages(PARAPHRASE), {"temperature": 0})
    assert await cache.get_exact(t.project, other) is None
    # Upsert: a second put replaces the answer, keeps one row and its hits.
    newer = CachedResponse(output="Paris!", tokens_in=12, tokens_out=2, finish_reason="stop")
    await cache.put_exact(t.org, t.project, key, MODEL, t.version, newer.to_dict(), 60)
    await cache.put_exact(t.org, t.project, key, MODEL, t.version, newer.to_dict(), 60)
    rows = (
        (await session.execute(select(CacheEntry).where(CacheEntry.project_id == t.project)))
        .scalars()
        .all()
    )
    assert len(rows) == 1 and rows[0].hits == 2
    await session.refresh(rows[0])
    assert await cache.get_exact(t.project, key) == newer.to_dict()
    # Expired entries are not served, and delete_expired removes them.
    await session.execute(
        update(CacheEntry)
        .where(CacheEntry.project_id == t.project)
        .values(expires_at=func.now() - func.make_interval(0, 0, 0, 0, 0, 0, 1.0))
    )
    assert await cache.get_exact(t.project, key) is None
    assert (await cache.delete_expired())["exact"] >= 1
    assert (
        await session.execute(
            select(func.count()).select_from(CacheEntry).where(CacheEntry.project_id == t.project)
        )
    ).scalar_one() == 0


async def _plan(session: AsyncSession, statement: tuple[str, Any]) -> str:
    """EXPLAIN of a recorded statement, sequential scans off (tiny test tables)."""
    await session.execute(text("SET LOCAL enable_seqscan = off"))
    connection = await session.connection()
    rows = (await connection.exec_driver_sql("EXPLAIN " + statement[0], statement[1])).all()
    return "\n".join(r[0] for r in rows)


async def test_exact_lookup_is_one_indexed_statement(session: AsyncSession) -> None:
    t = await _tenant(session)
    key = exact_cache_key(MODEL, _messages(QUESTION))
    cache = CacheRepository(SessionSQL(session))
    await cache.put_exact(t.org, t.project, key, MODEL, None, ANSWER.to_dict(), 60)
    assert await cache.get_exact(t.project, key) == ANSWER.to_dict()
    # get_exact sends this one raw statement (psycopg, no SQLAlchemy on the way).
    assert _GET_EXACT.startswith("SELECT response FROM cache_entries") and ";" not in _GET_EXACT
    plan = await _plan(session, (_GET_EXACT, {"project": t.project, "key": key}))
    assert "uq_cache_entries_project_id_cache_key" in plan, plan


async def test_semantic_lookup_scans_the_scope_not_the_hnsw_index(
    session: AsyncSession,
) -> None:
    """A post-filtered approximate HNSW scan can miss an in-scope neighbour: the lookup must
    use the scope's b-tree and an exact sort."""
    t = await _tenant(session)
    embedding = await _embedding(QUESTION)
    cache = CacheRepository(SessionSQL(session))
    for version in (t.version, None):
        await cache.put_semantic(
            t.org, t.project, version, MODEL, params_key(), "q", embedding, ANSWER.to_dict(), 60
        )
        assert (
            await cache.get_semantic(t.project, version, MODEL, params_key(), embedding, THRESHOLD)
            is not None
        )
        # get_semantic sends this one statement.
        plan = await _plan(
            session,
            (
                _GET_SEMANTIC_SQL[version is None],
                {
                    "embedding": _vector(embedding),
                    "project": t.project,
                    "version": version,
                    "model": MODEL,
                    "params": params_key(),
                    "threshold": THRESHOLD,
                },
            ),
        )
        assert "ix_semantic_cache_entries_scope" in plan, plan
        assert "ix_semantic_cache_entries_embedding" not in plan, plan


async def test_two_organizations_never_share_entries(session: AsyncSession) -> None:
    a, b = await _tenant(session), await _tenant(session)
    cache = CacheRepository(SessionSQL(session))
    key = exact_cache_key(MODEL, _messages(QUESTION))
    await cache.put_exact(a.org, a.project, key, MODEL, a.version, ANSWER.to_dict(), 60)
    assert await cache.get_exact(b.project, key) is None
    embedding = await _embedding(QUESTION)
    pkey = params_key()
    await cache.put_semantic(
        a.org, a.project, a.version, MODEL, pkey, "q", embedding, ANSWER.to_dict(), 60
    )
    await cache.put_semantic(
        a.org, a.project, None, MODEL, pkey, "q", embedding, ANSWER.to_dict(), 60
    )
    for version in (b.version, a.version, None):  # B's project with any version id: nothing
        assert (
            await cache.get_semantic(b.project, version, MODEL, pkey, embedding, THRESHOLD) is None
        )
    # B purging (its organization, even naming A's project) deletes nothing of A's.
    assert await cache.purge(b.org) == {"exact": 0, "semantic": 0}
    assert await cache.purge(b.org, a.project) == {"exact": 0, "semantic": 0}
    assert await cache.get_exact(a.project, key) == ANSWER.to_dict()


# ------------------------------------------------------------------------------- semantic


def test_variables_only_separates_what_the_whole_prompt_does_not() -> None:
    """Why :func:`semantic_text` embeds variables only: with the whole rendered prompt, a
    long shared template makes a different question look like a paraphrase."""
    from promptops.embeddings import get_embedder

    embedder = get_embedder()

    def whole(question: str) -> str:
        return semantic_text(_messages(question))

    def scoped(question: str) -> str:
        return semantic_text(_messages(question), {"question": question})

    def margin(text: Callable[[str], str]) -> tuple[float, float, float]:
        """(paraphrase, other country, other topic) similarities to QUESTION."""
        return tuple(
            embedder.similarity(text(QUESTION), text(q))  # type: ignore[return-value]
            for q in (PARAPHRASE, UNRELATED, OFF_TOPIC)
        )

    # Measured: whole prompt (0.98, 0.90, 0.80); variables only (0.96, 0.66, 0.13).
    w_para, w_unrelated, w_off = margin(whole)
    s_para, s_unrelated, s_off = margin(scoped)
    assert s_para >= THRESHOLD > s_unrelated + 0.15 > s_off, (s_para, s_unrelated, s_off)
    # With the whole prompt the template dominates: even another topic scores high and the
    # paraphrase/other-question gap is a fraction of ours, so no threshold is safe.
    assert w_off > 0.7 and w_unrelated > s_unrelated + 0.15, (w_unrelated, w_off)
    assert w_para - w_unrelated < (s_para - s_unrelated) / 2


async def test_semantic_hit_for_a_paraphrase_only_within_its_scope(
    session: AsyncSession,
) -> None:
    t = await _tenant(session)
    cache = CacheRepository(SessionSQL(session))
    decoding = {"temperature": 0, "max_tokens": 20}
    pkey = params_key(decoding)
    stored = await _embedding(QUESTION)
    await cache.put_semantic(
        t.org,
        t.project,
        t.version,
        MODEL,
        pkey,
        semantic_text(_messages(QUESTION), {"question": QUESTION}),
        stored,
        ANSWER.to_dict(),
        60,
    )
    paraphrase = await _embedding(PARAPHRASE)
    found = await cache.get_semantic(t.project, t.version, MODEL, pkey, paraphrase, THRESHOLD)
    assert found is not None
    response, similarity = found
    assert response == ANSWER.to_dict()
    assert THRESHOLD <= similarity < 1.0
    assert similarity == pytest.approx(float(np.dot(stored, paraphrase)), abs=1e-4)
    # Another question misses; so does the paraphrase above its similarity.
    unrelated = await _embedding(UNRELATED)
    assert await cache.get_semantic(t.project, t.version, MODEL, pkey, unrelated, THRESHOLD) is None
    assert (
        await cache.get_semantic(
            t.project, t.version, MODEL, pkey, paraphrase, min(1.0, similarity + 0.01)
        )
        is None
    )
    # Scope: another prompt version, raw calls (None), another model, other parameters.
    for version, model, key in (
        (t.version2, MODEL, pkey),
        (None, MODEL, pkey),
        (t.version, "stub-b", pkey),
        (t.version, MODEL, params_key({"temperature": 0.7, "max_tokens": 20})),
        (t.version, MODEL, params_key(decoding, {"type": "json_object"})),
    ):
        assert (
            await cache.get_semantic(t.project, version, model, key, paraphrase, THRESHOLD) is None
        ), (version, model)
    # Hits are counted; expired entries are not served.
    row = (
        await session.execute(
            select(SemanticCacheEntry).where(SemanticCacheEntry.project_id == t.project)
        )
    ).scalar_one()
    assert row.hits == 1
    await session.execute(
        update(SemanticCacheEntry)
        .where(SemanticCacheEntry.project_id == t.project)
        .values(expires_at=func.now() - func.make_interval(0, 0, 0, 0, 0, 0, 1.0))
    )
    assert await cache.get_semantic(t.project, t.version, MODEL, pkey, stored, THRESHOLD) is None


async def test_raw_message_calls_match_with_a_null_version(session: AsyncSession) -> None:
    t = await _tenant(session)
    cache = CacheRepository(SessionSQL(session))
    raw = [{"role": "user", "content": QUESTION}]
    embedding = await embed_text(semantic_text(raw))
    assert embedding is not None
    await cache.put_semantic(
        t.org, t.project, None, MODEL, params_key(), "x", embedding, ANSWER.to_dict(), 60
    )
    near = await embed_text(semantic_text([{"role": "user", "content": PARAPHRASE}]))
    found = await cache.get_semantic(t.project, None, MODEL, params_key(), near, THRESHOLD)
    assert found is not None and found[0] == ANSWER.to_dict()
    assert (
        await cache.get_semantic(t.project, t.version, MODEL, params_key(), near, THRESHOLD) is None
    )


async def test_texts_past_the_embedding_window_are_not_semantically_cached(
    session: AsyncSession,
) -> None:
    """Such texts embed to None, and the cache stage then neither looks up nor stores (the
    exact cache still applies): nothing reaches the table."""
    assert await embed_text("word " * 300) is None


async def test_purge_counts_and_scoping(session: AsyncSession) -> None:
    t = await _tenant(session)
    cache = CacheRepository(SessionSQL(session))
    embedding = await _embedding(QUESTION)
    for i, (version, model) in enumerate(
        ((t.version, MODEL), (t.version2, MODEL), (t.version, "stub-b"), (None, MODEL))
    ):
        await cache.put_exact(t.org, t.project, f"{i:064d}", model, version, ANSWER.to_dict(), 60)
        await cache.put_semantic(
            t.org, t.project, version, model, params_key(), "q", embedding, ANSWER.to_dict(), 60
        )
    assert await cache.purge(
        t.org, t.project, prompt_version_id=t.version, model="stub-b", kind="exact"
    ) == {"exact": 1, "semantic": 0}
    assert await cache.purge(t.org, t.project, prompt_version_id=t.version, kind="semantic") == {
        "exact": 0,
        "semantic": 2,
    }
    assert await cache.purge(t.org, t.project, model=MODEL) == {"exact": 3, "semantic": 2}
    assert await cache.purge(t.org) == {"exact": 0, "semantic": 0}
    with pytest.raises(ValueError, match="kind"):
        await cache.purge(t.org, kind="both")  # type: ignore[arg-type]


# ------------------------------------------------------------------------------- API


@pytest.fixture
async def app(pg_url: str, catalog: ModelCatalog, task_queue: str) -> AsyncIterator[RunningApp]:
    async with running_app(pg_url, None, catalog, task_queue) as running:
        yield running


async def test_settings_and_purge_api(app: RunningApp, pg_url: str) -> None:
    org = f"org-cache-api-{uuid.uuid4().hex[:8]}"
    admin_key = await issue_key(pg_url, organization=org, email=f"a-{uuid.uuid4().hex[:6]}@c.ex")
    viewer_key = await issue_key(
        pg_url, organization=org, role=Role.VIEWER, email=f"v-{uuid.uuid4().hex[:6]}@c.ex"
    )
    other_key = await issue_key(
        pg_url,
        organization=f"org-cache-b-{uuid.uuid4().hex[:8]}",
        email=f"b-{uuid.uuid4().hex[:6]}@c.ex",
    )
    async with (
        app.client(admin_key.key) as admin,
        app.client(viewer_key.key) as viewer,
        app.client(other_key.key) as other,
    ):
        project = (await admin.post("/projects", json={"name": "cache-api"})).json()["id"]
        r = await admin.get(f"/projects/{project}/cache")
        assert r.status_code == 200, r.text
        assert r.json() == {
            "project_id": project,
            "exact": {"enabled": False, "ttl_s": 3600},
            "semantic": {"enabled": False, "threshold": 0.95, "ttl_s": 3600},
        }
        body = {
            "exact": {"enabled": True, "ttl_s": 600},
            "semantic": {"enabled": True, "threshold": 0.9},
        }
        r = await admin.put(f"/projects/{project}/cache", json=body)
        assert r.status_code == 200, r.text
        assert r.json()["semantic"] == {"enabled": True, "threshold": 0.9, "ttl_s": 3600}
        assert (await viewer.get(f"/projects/{project}/cache")).json()["exact"]["ttl_s"] == 600
        async with get_session_factory(pg_url)() as s:
            stored = await s.get(Project, uuid.UUID(project))
            assert stored is not None and stored.cache_settings["exact"]["enabled"] is True
        # 422 naming the field.
        r = await admin.put(f"/projects/{project}/cache", json={"semantic": {"threshold": 1.5}})
        assert r.status_code == 422
        assert r.json()["detail"][0]["loc"] == ["body", "semantic", "threshold"]
        r = await admin.put(f"/projects/{project}/cache", json={"exact": {"ttl_s": -1}})
        assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "ttl_s"
        # Roles and tenants.
        assert (await viewer.put(f"/projects/{project}/cache", json=body)).status_code == 403
        assert (await viewer.post("/cache/purge", json={"project_id": project})).status_code == 403
        assert (await other.get(f"/projects/{project}/cache")).status_code == 404
        assert (await other.put(f"/projects/{project}/cache", json=body)).status_code == 404
        assert (await other.post("/cache/purge", json={"project_id": project})).status_code == 404
        # Purge: counts, filters, audit.
        async with get_session_factory(pg_url)() as s:
            cache = CacheRepository(SessionSQL(s))
            for i, model in enumerate((MODEL, MODEL, "stub-b")):
                await cache.put_exact(
                    admin_key.organization_id,
                    uuid.UUID(project),
                    f"{i:064d}",
                    model,
                    None,
                    ANSWER.to_dict(),
                    60,
                )
            await s.commit()
        r = await admin.post(
            "/cache/purge", json={"project_id": project, "model": MODEL, "kind": "exact"}
        )
        assert r.status_code == 200, r.text
        assert r.json() == {"project_id": project, "kind": "exact", "exact": 2, "semantic": 0}
        r = await admin.post("/cache/purge", json={"project_id": project})
        assert r.json() == {"project_id": project, "kind": "all", "exact": 1, "semantic": 0}
        r = await admin.post("/cache/purge", json={"project_id": project, "kind": "both"})
        assert r.status_code == 422
        r = await admin.post(
            "/cache/purge", json={"project_id": project, "prompt_version_id": str(uuid.uuid4())}
        )
        assert r.status_code == 404
        async with get_session_factory(pg_url)() as s:
            actions = (
                (
                    await s.execute(
                        select(AuditLog.action).where(
                            AuditLog.organization_id == admin_key.organization_id,
                            AuditLog.entity_id == project,
                        )
                    )
                )
                .scalars()
                .all()
            )
        assert actions.count("cache_settings.update") == 1
        assert actions.count("cache.purge") == 2
