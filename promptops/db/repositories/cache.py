"""SQL of the response caches (``cache_entries``, ``semantic_cache_entries``); what is cached and
why is in :mod:`promptops.llm.cache`. Every read is restricted to one project, every purge to one
organization. Raw SQL on any :class:`promptops.db.connection.SQL` handle: a model call's
connection (writes batched with its run record by ``atomic``) or an ORM session's
(:class:`promptops.db.connection.SessionSQL`)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from psycopg.types.json import Jsonb

from promptops.db.connection import SQL
from promptops.db.models.gateway import CACHE_EMBEDDING_DIM

_GET_EXACT = (
    "SELECT response FROM cache_entries WHERE project_id = %(project)s "
    "AND cache_key = %(key)s AND expires_at > now()"
)
_COUNT_EXACT_HIT = (
    "UPDATE cache_entries SET hits = hits + 1 WHERE project_id = %(project)s "
    "AND cache_key = %(key)s"
)
_PUT_EXACT = (
    "INSERT INTO cache_entries (id, organization_id, project_id, cache_key, model, "
    "prompt_version_id, response, hits, expires_at) VALUES (%(id)s, %(org)s, %(project)s, "
    "%(key)s, %(model)s, %(version)s, %(response)s, 0, now() + make_interval(secs => %(ttl)s)) "
    "ON CONFLICT (project_id, cache_key) DO UPDATE SET model = EXCLUDED.model, "
    "prompt_version_id = EXCLUDED.prompt_version_id, response = EXCLUDED.response, "
    "expires_at = EXCLUDED.expires_at"
)

# 1 - distance (not ORDER BY distance) keeps the planner off the HNSW index: the scope's b-tree
# plus an exact sort cannot miss an in-scope neighbour. ``{version}`` is ``IS NULL`` or
# ``= %(version)s`` (not IS NOT DISTINCT FROM, same meaning) so the b-tree stays usable.
_GET_SEMANTIC = """
WITH best AS (
    SELECT id, 1.0 - (embedding <=> %(embedding)s::vector) AS similarity
    FROM semantic_cache_entries
    WHERE project_id = %(project)s AND prompt_version_id {version} AND model = %(model)s
      AND params_key = %(params)s AND expires_at > now()
    ORDER BY similarity DESC LIMIT 1)
UPDATE semantic_cache_entries s SET hits = s.hits + 1 FROM best
WHERE s.id = best.id AND best.similarity >= %(threshold)s
RETURNING s.response, best.similarity
"""
_GET_SEMANTIC_SQL = {
    True: _GET_SEMANTIC.format(version="IS NULL"),
    False: _GET_SEMANTIC.format(version="= %(version)s"),
}
_PUT_SEMANTIC = (
    "INSERT INTO semantic_cache_entries (id, organization_id, project_id, prompt_version_id, "
    "model, params_key, prompt_text, embedding, response, hits, expires_at) VALUES (%(id)s, "
    "%(org)s, %(project)s, %(version)s, %(model)s, %(params)s, %(text)s, %(embedding)s::vector, "
    "%(response)s, 0, now() + make_interval(secs => %(ttl)s))"
)

_TABLES = {"exact": "cache_entries", "semantic": "semantic_cache_entries"}


def _vector(values: Sequence[float]) -> str:
    """pgvector's text form, ``[x1,x2,...]``."""
    return "[" + ",".join(repr(float(v)) for v in values) + "]"


class CacheRepository:
    """Reads and writes of both caches. Entries are the stored answer as a JSON object
    (``promptops.llm.cache.CachedResponse.to_dict``)."""

    def __init__(self, db: SQL) -> None:
        self.db = db

    async def get_exact(self, project_id: uuid.UUID, key: str) -> dict[str, Any] | None:
        """The unexpired entry of ``key`` in the project, else None. One ``SELECT`` on the
        unique ``(project_id, cache_key)`` index: no row lock, so concurrent hits on one key
        never queue; the caller counts a served hit with :meth:`count_exact_hit`."""
        row = await self.db.fetchone(_GET_EXACT, {"project": project_id, "key": key})
        return None if row is None else dict(row[0])

    async def count_exact_hit(self, project_id: uuid.UUID, key: str) -> None:
        """``hits + 1`` on the entry of ``key`` (fetches nothing: batchable with the hit's run
        record)."""
        await self.db.execute(_COUNT_EXACT_HIT, {"project": project_id, "key": key})

    async def put_exact(
        self,
        organization_id: uuid.UUID,
        project_id: uuid.UUID,
        key: str,
        model: str,
        prompt_version_id: uuid.UUID | None,
        response: dict[str, Any],
        ttl_s: int,
    ) -> None:
        """Store (or replace: ``ON CONFLICT (project_id, cache_key) DO UPDATE``) the answer
        for ``key``, served for ``ttl_s`` seconds from now (database clock). Idempotent;
        ``hits`` is kept. Fetches nothing (batchable)."""
        await self.db.execute(
            _PUT_EXACT,
            {
                "id": uuid.uuid4(),
                "org": organization_id,
                "project": project_id,
                "key": key,
                "model": model,
                "version": prompt_version_id,
                "response": Jsonb(response),
                "ttl": float(ttl_s),
            },
        )

    async def get_semantic(
        self,
        project_id: uuid.UUID,
        prompt_version_id: uuid.UUID | None,
        model: str,
        params_key: str,
        embedding: Sequence[float],
        threshold: float,
    ) -> tuple[dict[str, Any], float] | None:
        """The most similar unexpired entry in the scope (project, prompt version — None
        matches None —, model, ``params_key``) as ``(response, cosine similarity)`` when the
        similarity ``1 - (a <=> b)`` >= ``threshold``; its ``hits`` + 1. One statement."""
        row = await self.db.fetchone(
            _GET_SEMANTIC_SQL[prompt_version_id is None],
            {
                "embedding": _vector(embedding),
                "project": project_id,
                "version": prompt_version_id,
                "model": model,
                "params": params_key,
                "threshold": threshold,
            },
        )
        if row is None:
            return None
        return dict(row[0]), float(row[1])

    async def put_semantic(
        self,
        organization_id: uuid.UUID,
        project_id: uuid.UUID,
        prompt_version_id: uuid.UUID | None,
        model: str,
        params_key: str,
        prompt_text: str,
        embedding: Sequence[float],
        response: dict[str, Any],
        ttl_s: int,
    ) -> None:
        """Store an answer under its embedding, served for ``ttl_s`` seconds. Raises
        ValueError for an embedding that is not 384-dimensional. Fetches nothing
        (batchable)."""
        if len(embedding) != CACHE_EMBEDDING_DIM:
            raise ValueError(
                f"embedding has {len(embedding)} dimensions, expected {CACHE_EMBEDDING_DIM}"
            )
        await self.db.execute(
            _PUT_SEMANTIC,
            {
                "id": uuid.uuid4(),
                "org": organization_id,
                "project": project_id,
                "version": prompt_version_id,
                "model": model,
                "params": params_key,
                "text": prompt_text,
                "embedding": _vector(embedding),
                "response": Jsonb(response),
                "ttl": float(ttl_s),
            },
        )

    async def purge(
        self,
        organization_id: uuid.UUID,
        project_id: uuid.UUID | None = None,
        prompt_version_id: uuid.UUID | None = None,
        model: str | None = None,
        kind: str = "all",
    ) -> dict[str, int]:
        """Delete entries of the organization, optionally only of one project, prompt version
        and/or model, from the exact cache, the semantic cache or both (``kind``: ``all``,
        ``exact``, ``semantic``). Returns the rows deleted: ``{"exact": n, "semantic": m}``.
        Raises ValueError for an unknown kind."""
        if kind not in ("all", *_TABLES):
            raise ValueError(f"kind must be 'all', 'exact' or 'semantic', got {kind!r}")
        counts = {"exact": 0, "semantic": 0}
        for name, table in _TABLES.items():
            if kind not in ("all", name):
                continue
            row = await self.db.fetchone(
                f"WITH d AS (DELETE FROM {table} WHERE organization_id = %(org)s "
                "AND (%(project)s::uuid IS NULL OR project_id = %(project)s::uuid) "
                "AND (%(version)s::uuid IS NULL OR prompt_version_id = %(version)s::uuid) "
                "AND (%(model)s::text IS NULL OR model = %(model)s::text) RETURNING 1) "
                "SELECT count(*) FROM d",
                {
                    "org": organization_id,
                    "project": project_id,
                    "version": prompt_version_id,
                    "model": model,
                },
            )
            counts[name] = int(row[0]) if row else 0
        return counts

    async def delete_expired(self) -> dict[str, int]:
        """Delete every expired entry (all tenants; for a periodic job). Returns
        ``{"exact": n, "semantic": m}``."""
        counts = {}
        for name, table in _TABLES.items():
            row = await self.db.fetchone(
                f"WITH d AS (DELETE FROM {table} WHERE expires_at <= now() RETURNING 1) "
                "SELECT count(*) FROM d",
                {},
            )
            counts[name] = int(row[0]) if row else 0
        return counts
