"""SQL of retrieval: indexes, sources, documents, chunk writes and the two searches.

Searches inline the index id (a ``uuid.UUID``, formatted by Python) and the dimension (an
``int``) into the SQL text: the per-index partial HNSW index
``... ((embedding::vector(<dim>))) WHERE index_id = '<id>'`` is only usable when the planner can
prove the query's predicate implies it, which it cannot for a bound parameter under a generic
plan (PostgreSQL docs, "Partial Indexes"). Everything a caller supplies is bound.
"""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import delete, func, inspect, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from promptops.db.models import (
    TEXT_SEARCH_CONFIG,
    RetrievalChunk,
    RetrievalDocument,
    RetrievalIndex,
    RetrievalSource,
)

#: A metadata filter: field -> value (equality) or list of values (any of them).
MetadataFilter = Mapping[str, Any]


@dataclass(frozen=True)
class ChunkHit:
    """One search result before fusion: ``score`` is cosine similarity (dense) or
    ``ts_rank_cd`` (keyword)."""

    chunk_id: uuid.UUID
    score: float


@dataclass(frozen=True)
class ChunkView:
    """A chunk as search results and citations show it."""

    chunk_id: uuid.UUID
    document_id: uuid.UUID
    source: str
    title: str
    ordinal: int
    text: str
    token_count: int
    heading_path: tuple[str, ...]
    anchor: str | None
    metadata: dict[str, Any]
    embedding_model: str
    embedding: NDArray[np.float32] | None


def _vector_literal(vector: NDArray[np.float32]) -> str:
    """pgvector's text form ``[x1,x2,...]`` (bound as a string and cast in SQL)."""
    return "[" + ",".join(repr(float(x)) for x in np.asarray(vector, dtype=np.float32)) + "]"


def vector_index_name(index_id: uuid.UUID) -> str:
    """The name of index ``index_id``'s partial HNSW index."""
    return f"ix_retrieval_chunks_hnsw_{index_id.hex}"


def _filter_sql(filters: MetadataFilter | None, params: dict[str, Any]) -> str:
    """``AND (metadata @> :f0 OR metadata @> :f1 ...)`` per field: a jsonb containment per
    allowed value, so the GIN index (jsonb_path_ops) serves it."""
    import orjson

    clauses: list[str] = []
    for i, (field, value) in enumerate(sorted((filters or {}).items())):
        values = value if isinstance(value, list) else [value]
        alternatives = []
        for j, v in enumerate(values):
            name = f"mf_{i}_{j}"
            params[name] = orjson.dumps({field: v}).decode()
            alternatives.append(f"metadata @> CAST(:{name} AS jsonb)")
        clauses.append("(" + " OR ".join(alternatives) + ")" if alternatives else "false")
    return "".join(f" AND {c}" for c in clauses)


class RetrievalRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # ------------------------------------------------------------------ indexes

    async def add_index(self, index: RetrievalIndex) -> RetrievalIndex:
        """Insert ``index`` and create its partial HNSW index (cosine distance, m=16,
        ef_construction=64: pgvector's defaults) in the same transaction."""
        self.session.add(index)
        await self.session.flush()
        await self.session.execute(
            text(
                f"CREATE INDEX {vector_index_name(index.id)} ON retrieval_chunks USING hnsw "
                f"((embedding::vector({int(index.dimension)})) vector_cosine_ops) "
                f"WHERE index_id = '{uuid.UUID(str(index.id))}'"
            )
        )
        return index

    async def get_index(
        self, index_id: uuid.UUID, organization_id: uuid.UUID
    ) -> RetrievalIndex | None:
        return (
            await self.session.execute(
                select(RetrievalIndex).where(
                    RetrievalIndex.id == index_id,
                    RetrievalIndex.organization_id == organization_id,
                )
            )
        ).scalar_one_or_none()

    async def get_index_by_name(
        self, organization_id: uuid.UUID, name: str, project_id: uuid.UUID | None = None
    ) -> Sequence[RetrievalIndex]:
        q = select(RetrievalIndex).where(
            RetrievalIndex.organization_id == organization_id, RetrievalIndex.name == name
        )
        if project_id is not None:
            q = q.where(RetrievalIndex.project_id == project_id)
        return (await self.session.execute(q)).scalars().all()

    async def list_indexes(
        self, organization_id: uuid.UUID, project_id: uuid.UUID | None = None
    ) -> Sequence[RetrievalIndex]:
        q = select(RetrievalIndex).where(RetrievalIndex.organization_id == organization_id)
        if project_id is not None:
            q = q.where(RetrievalIndex.project_id == project_id)
        return (await self.session.execute(q.order_by(RetrievalIndex.created_at))).scalars().all()

    async def list_all_indexes(self) -> Sequence[RetrievalIndex]:
        """Every index of every tenant (for the scheduled re-index and TTL sweep)."""
        return (await self.session.execute(select(RetrievalIndex))).scalars().all()

    async def delete_index(self, index: RetrievalIndex) -> None:
        await self.session.execute(text(f"DROP INDEX IF EXISTS {vector_index_name(index.id)}"))
        await self.session.execute(delete(RetrievalIndex).where(RetrievalIndex.id == index.id))

    async def index_counts(self, index_id: uuid.UUID) -> tuple[int, int]:
        """(documents, chunks) of an index."""
        docs, chunks = (
            await self.session.execute(
                select(
                    func.count(RetrievalDocument.id),
                    func.coalesce(func.sum(RetrievalDocument.chunk_count), 0),
                ).where(RetrievalDocument.index_id == index_id)
            )
        ).one()
        return int(docs), int(chunks)

    # ------------------------------------------------------------------ sources, documents

    async def upsert_source(
        self, index_id: uuid.UUID, source_key: str, kind: str, definition: dict[str, Any]
    ) -> RetrievalSource:
        await self.session.execute(
            insert(RetrievalSource)
            .values(
                id=uuid.uuid4(),
                index_id=index_id,
                source_key=source_key,
                kind=kind,
                definition=definition,
                last_stats={},
            )
            .on_conflict_do_nothing(index_elements=["index_id", "source_key"])
        )
        return (
            await self.session.execute(
                select(RetrievalSource).where(
                    RetrievalSource.index_id == index_id, RetrievalSource.source_key == source_key
                )
            )
        ).scalar_one()

    async def get_source(self, source_id: uuid.UUID) -> RetrievalSource | None:
        return await self.session.get(RetrievalSource, source_id)

    async def list_sources(self, index_id: uuid.UUID) -> Sequence[RetrievalSource]:
        return (
            (
                await self.session.execute(
                    select(RetrievalSource)
                    .where(RetrievalSource.index_id == index_id)
                    .order_by(RetrievalSource.created_at)
                )
            )
            .scalars()
            .all()
        )

    async def record_source_run(
        self,
        source_id: uuid.UUID,
        workflow_id: str,
        stats: dict[str, Any] | None = None,
        at: datetime | None = None,
    ) -> None:
        """Record the source's latest ingestion workflow; with ``stats``, its finished run."""
        values: dict[str, Any] = {"last_workflow_id": workflow_id}
        if stats is not None:
            values.update(last_stats=stats, last_ingested_at=at)
        await self.session.execute(
            update(RetrievalSource).where(RetrievalSource.id == source_id).values(**values)
        )

    async def document_hashes(
        self, index_id: uuid.UUID, sources: builtins.list[str]
    ) -> dict[str, str]:
        """``source -> content_hash`` of the given documents that the index holds."""
        if not sources:
            return {}
        rows = await self.session.execute(
            select(RetrievalDocument.source, RetrievalDocument.content_hash).where(
                RetrievalDocument.index_id == index_id, RetrievalDocument.source.in_(sources)
            )
        )
        return {s: h for s, h in rows.tuples()}

    async def replace_document(
        self, document: dict[str, Any], chunks: builtins.list[dict[str, Any]]
    ) -> None:
        """Make ``document`` (a row of ``retrieval_documents``; ``id`` deterministic) hold
        exactly ``chunks``: old chunks of another content go, the row is upserted, the chunks
        inserted (a retried call inserts nothing twice: chunk ids are deterministic)."""
        doc_id = document["id"]
        keep = [c["id"] for c in chunks]
        await self.session.execute(
            delete(RetrievalChunk).where(
                RetrievalChunk.document_id == doc_id, RetrievalChunk.id.not_in(keep)
            )
        )
        names = {a.key: a.columns[0].name for a in inspect(RetrievalDocument).column_attrs}
        columns = {names[k]: v for k, v in document.items() if k != "id"}
        await self.session.execute(
            insert(RetrievalDocument)
            .values(**document)
            .on_conflict_do_update(
                index_elements=["index_id", "source"],
                set_={**columns, "ingested_at": func.now()},
            )
        )
        if chunks:
            await self.session.execute(
                insert(RetrievalChunk).on_conflict_do_nothing(index_elements=["id"]), chunks
            )

    async def remove_documents(self, source_id: uuid.UUID, keep_sources: builtins.list[str]) -> int:
        """Delete the documents of ``source_id`` not in ``keep_sources`` (with their chunks).
        Returns how many went."""
        result = await self.session.execute(
            delete(RetrievalDocument)
            .where(
                RetrievalDocument.source_id == source_id,
                RetrievalDocument.source.not_in(keep_sources),
            )
            .returning(RetrievalDocument.id)
        )
        return len(result.all())

    async def expire_documents(self, index_id: uuid.UUID, now: datetime) -> int:
        """Delete the index's documents whose TTL has passed. Returns how many went."""
        result = await self.session.execute(
            delete(RetrievalDocument)
            .where(RetrievalDocument.index_id == index_id, RetrievalDocument.expires_at <= now)
            .returning(RetrievalDocument.id)
        )
        return len(result.all())

    async def list_documents(
        self, index_id: uuid.UUID, *, offset: int, limit: int
    ) -> Sequence[RetrievalDocument]:
        return (
            (
                await self.session.execute(
                    select(RetrievalDocument)
                    .where(RetrievalDocument.index_id == index_id)
                    .order_by(RetrievalDocument.source)
                    .offset(offset)
                    .limit(limit)
                )
            )
            .scalars()
            .all()
        )

    async def signatures(
        self, index_id: uuid.UUID
    ) -> builtins.list[tuple[uuid.UUID, uuid.UUID, bytes]]:
        """(chunk id, document id, MinHash signature) of the index's chunks that have one."""
        q = select(RetrievalChunk.id, RetrievalChunk.document_id, RetrievalChunk.minhash).where(
            RetrievalChunk.index_id == index_id, RetrievalChunk.minhash.is_not(None)
        )
        rows = (await self.session.execute(q)).tuples()
        return [(cid, did, bytes(sig)) for cid, did, sig in rows if sig is not None]

    # ------------------------------------------------------------------ searches

    async def dense_search(
        self,
        index: RetrievalIndex,
        vector: NDArray[np.float32],
        k: int,
        *,
        filters: MetadataFilter | None = None,
        ef_search: int = 100,
        max_scan_tuples: int = 20000,
    ) -> builtins.list[ChunkHit]:
        """The ``k`` chunks nearest to ``vector`` (cosine; score = 1 - distance) through the
        index's HNSW index, with pgvector's iterative index scan (``relaxed_order``) so a
        filter that rejects most candidates still yields ``k`` rows when that many match
        (pgvector >= 0.8; the materialised CTE re-sorts the relaxed order)."""
        params: dict[str, Any] = {
            "v": _vector_literal(vector),
            "k": k,
            "org": index.organization_id,
            "model": index.embedding_model,
        }
        dim = int(index.dimension)
        where = _filter_sql(filters, params)
        await self.session.execute(text(f"SET LOCAL hnsw.ef_search = {int(ef_search)}"))
        await self.session.execute(text("SET LOCAL hnsw.iterative_scan = relaxed_order"))
        await self.session.execute(text(f"SET LOCAL hnsw.max_scan_tuples = {int(max_scan_tuples)}"))
        sql = (
            "WITH nearest AS MATERIALIZED ("
            f" SELECT id, embedding::vector({dim}) <=> CAST(:v AS vector({dim})) AS distance"
            " FROM retrieval_chunks"
            f" WHERE index_id = '{uuid.UUID(str(index.id))}' AND organization_id = :org"
            f" AND embedding_model = :model{where}"
            f" ORDER BY embedding::vector({dim}) <=> CAST(:v AS vector({dim})) LIMIT :k)"
            " SELECT id, distance FROM nearest ORDER BY distance, id"
        )
        rows = await self.session.execute(text(sql), params)
        return [ChunkHit(cid, 1.0 - float(d)) for cid, d in rows.tuples()]

    async def exact_dense_search(
        self,
        index: RetrievalIndex,
        vector: NDArray[np.float32],
        k: int,
        *,
        filters: MetadataFilter | None = None,
    ) -> builtins.list[ChunkHit]:
        """The exact ``k`` nearest (a sequential scan, no HNSW): the reference of the recall
        benchmark."""
        params: dict[str, Any] = {
            "v": _vector_literal(vector),
            "k": k,
            "org": index.organization_id,
            "model": index.embedding_model,
        }
        where = _filter_sql(filters, params)
        await self.session.execute(text("SET LOCAL enable_indexscan = off"))
        sql = (
            "SELECT id, embedding <=> CAST(:v AS vector) AS distance FROM retrieval_chunks"
            " WHERE index_id = :idx AND organization_id = :org AND embedding_model = :model"
            f"{where} ORDER BY distance, id LIMIT :k"
        )
        params["idx"] = index.id
        rows = await self.session.execute(text(sql), params)
        return [ChunkHit(cid, 1.0 - float(d)) for cid, d in rows.tuples()]

    async def keyword_search(
        self,
        index: RetrievalIndex,
        query: str,
        k: int,
        *,
        filters: MetadataFilter | None = None,
    ) -> builtins.list[ChunkHit]:
        """The ``k`` chunks that best match ``query`` in full text: the query's lexemes
        (``plainto_tsquery``, English stemming and stop words) OR-ed, ranked by
        ``ts_rank_cd`` (cover density, Clarke et al. 2000) over the weighted heading (A) and
        text (B), through the GIN index."""
        params: dict[str, Any] = {"q": query, "k": k, "org": index.organization_id}
        where = _filter_sql(filters, params)
        sql = (
            "WITH q AS (SELECT CAST(replace(CAST(plainto_tsquery("
            f"'{TEXT_SEARCH_CONFIG}', :q) AS text), ' & ', ' | ') AS tsquery) AS query)"
            " SELECT c.id, ts_rank_cd(c.tsv, q.query) AS score FROM retrieval_chunks c, q"
            f" WHERE c.index_id = '{uuid.UUID(str(index.id))}' AND c.organization_id = :org"
            f" AND c.tsv @@ q.query{where}"
            " ORDER BY score DESC, c.id LIMIT :k"
        )
        rows = await self.session.execute(text(sql), params)
        return [ChunkHit(cid, float(s)) for cid, s in rows.tuples()]

    async def chunks(
        self,
        index: RetrievalIndex,
        chunk_ids: Sequence[uuid.UUID],
        *,
        with_embeddings: bool = False,
    ) -> dict[uuid.UUID, ChunkView]:
        """The given chunks of ``index`` (tenant-checked), by id."""
        if not chunk_ids:
            return {}
        columns = [
            RetrievalChunk.id,
            RetrievalChunk.document_id,
            RetrievalDocument.source,
            RetrievalDocument.title,
            RetrievalChunk.ordinal,
            RetrievalChunk.text,
            RetrievalChunk.token_count,
            RetrievalChunk.heading_path,
            RetrievalChunk.anchor,
            RetrievalChunk.metadata_,
            RetrievalChunk.embedding_model,
        ]
        if with_embeddings:
            columns.append(RetrievalChunk.embedding)
        rows = await self.session.execute(
            select(*columns)
            .join(RetrievalDocument, RetrievalDocument.id == RetrievalChunk.document_id)
            .where(
                RetrievalChunk.index_id == index.id,
                RetrievalChunk.organization_id == index.organization_id,
                RetrievalChunk.id.in_(list(chunk_ids)),
            )
        )
        out: dict[uuid.UUID, ChunkView] = {}
        for row in rows:
            values: Sequence[Any] = tuple(row)
            embedding = np.asarray(values[11], dtype=np.float32) if with_embeddings else None
            chunk = ChunkView(
                chunk_id=values[0],
                document_id=values[1],
                source=values[2],
                title=values[3],
                ordinal=values[4],
                text=values[5],
                token_count=values[6],
                heading_path=tuple(values[7]),
                anchor=values[8],
                metadata=dict(values[9]),
                embedding_model=values[10],
                embedding=embedding,
            )
            out[chunk.chunk_id] = chunk
        return out
