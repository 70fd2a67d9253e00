"""The retrieval benchmark's corpus: the Python 3.11 HTML docs chunked and embedded once through
the library, cached, replicated to any size and bulk-loaded into one retrieval index.

- :func:`build_corpus`: every page through :func:`promptops.retrieval.ingest.prepare_document`
  (parse, chunk, MinHash near-duplicate filter: the ingestion activity's own steps) and its
  texts through the index's embedder (``embed_passages``, i.e. ``Embedder.embed_long``).
  Cached in ``cache_dir`` under a key of the page list, the chunking settings and the model
  version, with the seconds it took.
- :func:`load_index`: ``n`` rows into an index with binary ``COPY``. Row ``j`` is replica
  ``r = j // M`` of chunk ``i = j % M`` (``M`` real chunks). Replica 0 is the real chunk.
  Replica ``r >= 1``: document ``replica-<r>/<page>`` (own document and chunk ids), text
  ``<text> [replica <r>]`` (so its content hash, id and ``tsv`` differ; ``ts_rank_cd`` of a
  query without the word "replica" is unchanged), vector ``normalize(v + sigma * g)`` with
  ``g ~ N(0, I_384)`` drawn from ``numpy.random.default_rng((seed, r))``, no MinHash. With
  ``sigma = 0.02`` the replica's cosine to its original is about ``1 / sqrt(1 + 384 sigma^2)``
  ~= 0.93: no exact ties between neighbours, so recall@10 against the exact scan means
  something. The partial HNSW index is dropped before the load and re-created after it from its
  own ``pg_get_indexdef`` (timed: the build), then ``VACUUM ANALYZE``.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

DOCS = Path("/usr/share/doc/python3.11/html")
REPLICA_SIGMA = 0.02


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


#: Sphinx's navigation pages (the 2.5 MB table of contents, the general and module indexes,
#: the search page): lists of links, not documentation.
NAVIGATION = ("contents.html", "py-modindex.html", "search.html")


def doc_pages(root: Path = DOCS) -> list[str]:
    """Every HTML page of the docs (relative paths, sorted), without Sphinx's static files and
    navigation pages (:data:`NAVIGATION`, ``genindex*.html``)."""
    return sorted(
        str(p.relative_to(root))
        for p in root.rglob("*.html")
        if not {"_static", "_sources", "_images"} & set(p.parts)
        and p.name not in NAVIGATION
        and not p.name.startswith("genindex")
    )


@dataclass
class Corpus:
    """Real chunks (``rows``: ``source, title, ordinal, text, token_count, heading_path,
    heading, anchor, content_hash, metadata, minhash`` hex) and their vectors (``(M, 384)``)."""

    rows: list[dict[str, Any]]
    documents: dict[str, str]  # source -> title
    vectors: NDArray[np.float32]
    stats: dict[str, Any]


def _cache_key(pages: list[str], root: Path, chunking: dict[str, Any], model: str) -> str:
    h = hashlib.sha256(json.dumps([chunking, model], sort_keys=True).encode())
    for page in pages:
        h.update(f"{page}:{(root / page).stat().st_size}\0".encode())
    return h.hexdigest()[:16]


def build_corpus(
    chunking: dict[str, Any], cache_dir: Path | None, max_chunks: int = 0, root: Path = DOCS
) -> Corpus:
    """Chunk and embed the pages (or read the cache made by an earlier run).

    ``max_chunks`` > 0: pages in a fixed pseudo-random order (by the SHA-256 of their path, so
    every section of the docs is represented) until at least that many chunks; 0: every page.
    """
    from promptops.retrieval.embedding_models import (
        DEFAULT_EMBEDDING_MODEL,
        get_embedding_model,
        get_passage_embedder,
    )

    pages = doc_pages(root)
    if max_chunks > 0:
        pages.sort(key=lambda p: hashlib.sha256(p.encode()).hexdigest())
    version = get_embedding_model(DEFAULT_EMBEDDING_MODEL).version
    key = _cache_key(pages, root, {**chunking, "max_chunks": max_chunks}, version)
    stem = (cache_dir / key) if cache_dir is not None else None
    if stem is not None and stem.with_suffix(".json").exists():
        meta = json.loads(stem.with_suffix(".json").read_text())
        vectors = np.load(stem.with_suffix(".npy"))
        log(f"corpus from cache {stem}.*: {len(meta['rows'])} chunks")
        return Corpus(meta["rows"], meta["documents"], vectors, {**meta["stats"], "cached": True})

    # Stage 1: chunks (cached on their own: embedding is the long part and may be resumed).
    if stem is not None and stem.with_suffix(".chunks.json").exists():
        staged = json.loads(stem.with_suffix(".chunks.json").read_text())
    else:
        staged = _chunk_pages(pages, root, chunking, version, max_chunks)
        if stem is not None:
            stem.parent.mkdir(parents=True, exist_ok=True)
            stem.with_suffix(".chunks.json").write_text(json.dumps(staged))
    rows, texts = staged["rows"], staged["texts"]

    # Stage 2: vectors, in parts of 2,048 chunks saved as they are made.
    embedder = get_passage_embedder(DEFAULT_EMBEDDING_MODEL)
    parts = []
    t0 = time.perf_counter()
    embedded = 0
    step = 2048
    for k, start in enumerate(range(0, len(texts), step)):
        part = stem.with_suffix(f".part{k}.npy") if stem is not None else None
        if part is not None and part.exists():
            parts.append(np.load(part))
            continue
        parts.append(embedder.embed_passages(texts[start : start + step]))
        embedded += len(parts[-1])
        if part is not None:
            np.save(part, parts[-1])
        rate = embedded / (time.perf_counter() - t0)
        log(f"  embedded {start + len(parts[-1])}/{len(texts)} ({rate:.1f} chunks/s)")
    embed_s = time.perf_counter() - t0
    vectors = np.concatenate(parts).astype(np.float32)
    stats = {
        **staged["stats"],
        # Resumed from saved parts: the figures cover only what this run embedded.
        "embedded_this_run": embedded,
        "embed_seconds": round(embed_s, 1),
        "embed_chunks_per_s": round(embedded / embed_s, 1) if embedded else None,
        "model_version": version,
    }
    if stem is not None:
        np.save(stem.with_suffix(".npy"), vectors)
        meta = {"rows": rows, "documents": staged["documents"], "stats": stats}
        stem.with_suffix(".json").write_text(json.dumps(meta))
        for part in stem.parent.glob(f"{key}.part*.npy"):
            part.unlink()
    return Corpus(rows, staged["documents"], vectors, {**stats, "cached": False})


def _chunk_pages(
    pages: list[str], root: Path, chunking: dict[str, Any], version: str, max_chunks: int
) -> dict[str, Any]:
    """Every page through ``prepare_document`` (until ``max_chunks``): the rows, the texts to
    embed, the documents' titles and the stats."""
    from promptops.retrieval.chunking import ChunkingSettings, HFTokenCounter
    from promptops.retrieval.dedup import NearDuplicateFilter
    from promptops.retrieval.embedding_models import DEFAULT_EMBEDDING_MODEL
    from promptops.retrieval.ingest import content_hash, prepare_document

    counter = HFTokenCounter()
    settings = ChunkingSettings(**chunking)
    dedup = NearDuplicateFilter()
    fake = uuid.UUID(int=0)
    rows: list[dict[str, Any]] = []
    texts: list[str] = []
    documents: dict[str, str] = {}
    duplicates = 0
    t0 = time.perf_counter()
    for n, page in enumerate(pages):
        data = (root / page).read_bytes()
        doc = prepare_document(
            index_id=fake,
            organization_id=fake,
            source_id=fake,
            kind="folder",
            source=page,
            data=data,
            media_type=None,
            digest=content_hash(data, model_version=version, chunking=chunking),
            embedding_model=DEFAULT_EMBEDDING_MODEL,
            counter=counter,
            chunking=settings,
            metadata={},
            dedup=dedup,
            ttl_seconds=None,
            now=datetime.now(UTC),
        )
        documents[page] = doc.document["title"]
        duplicates += doc.duplicates
        for c in doc.chunks:
            rows.append(
                {
                    "source": page,
                    "ordinal": c["ordinal"],
                    "text": c["text"],
                    "token_count": c["token_count"],
                    "heading_path": c["heading_path"],
                    "heading": c["heading"],
                    "anchor": c["anchor"],
                    "content_hash": c["content_hash"],
                    "metadata": c["metadata_"],
                    "minhash": c["minhash"].hex() if c["minhash"] else None,
                }
            )
        texts.extend(doc.texts)
        if n % 100 == 99:
            log(f"  chunked {n + 1}/{len(pages)} pages: {len(rows)} chunks")
        if 0 < max_chunks <= len(rows):
            pages = pages[: n + 1]
            break
    chunk_s = time.perf_counter() - t0
    log(f"chunked {len(pages)} pages into {len(rows)} chunks in {chunk_s:.0f} s; embedding")
    return {
        "rows": rows,
        "texts": texts,
        "documents": documents,
        "stats": {
            "pages": len(pages),
            "chunks": len(rows),
            "near_duplicates_dropped": duplicates,
            "chunk_seconds": round(chunk_s, 1),
            "tokens_mean": round(float(np.mean([r["token_count"] for r in rows])), 1),
            "chunking": chunking,
        },
    }


def replica_vectors(base: NDArray[np.float32], replica: int, seed: int = 0) -> NDArray[np.float32]:
    """Replica ``replica``'s vectors: ``base`` itself for 0, else each row plus Gaussian noise
    (``REPLICA_SIGMA`` per dimension, seeded by ``(seed, replica)``), L2-normalised."""
    if replica == 0:
        return base
    rng = np.random.default_rng((seed, replica))
    noisy = base + REPLICA_SIGMA * rng.standard_normal(base.shape, dtype=np.float32)
    return (noisy / np.linalg.norm(noisy, axis=1, keepdims=True)).astype(np.float32)


_COPY_COLUMNS = (
    "id",
    "organization_id",
    "index_id",
    "document_id",
    "ordinal",
    "text",
    "token_count",
    "heading_path",
    "heading",
    "anchor",
    "content_hash",
    "metadata",
    "embedding_model",
    "embedding",
    "minhash",
)
_COPY_TYPES = (
    "uuid",
    "uuid",
    "uuid",
    "uuid",
    "int4",
    "text",
    "int4",
    "text[]",
    "text",
    "text",
    "varchar",
    "jsonb",
    "varchar",
    "vector",
    "bytea",
)


def load_index(
    url: str,
    index_id: uuid.UUID,
    organization_id: uuid.UUID,
    source_id: uuid.UUID,
    embedding_model: str,
    corpus: Corpus,
    n: int,
    *,
    build_workers: int = 1,
    maintenance_work_mem: str = "1GB",
    build_hnsw: bool = True,
) -> dict[str, Any]:
    """Write ``n`` rows (real chunks, then replicas) into the index and rebuild its HNSW index.

    Returns seconds of the copy, of the HNSW build and of ``VACUUM ANALYZE``, the settings of
    the build and the sizes of table and index.
    """
    import psycopg
    from pgvector.psycopg import register_vector
    from psycopg.types.json import Jsonb

    from promptops.db.repositories.retrieval import vector_index_name
    from promptops.devstack.postgres import conninfo_kwargs
    from promptops.retrieval.chunking import content_hash
    from promptops.retrieval.ids import chunk_id, document_id
    from promptops.retrieval.ingest import automatic_metadata

    m = len(corpus.rows)
    replicas = -(-n // m)
    out: dict[str, Any] = {"rows": n, "real_chunks": m, "replicas": replicas}
    hnsw = vector_index_name(index_id)
    with psycopg.connect(**conninfo_kwargs(url), autocommit=True) as conn:
        register_vector(conn)
        definition = conn.execute("SELECT pg_get_indexdef(%s::regclass)", (hnsw,)).fetchone()
        assert definition is not None
        conn.execute(f"DROP INDEX {hnsw}")

        t0 = time.perf_counter()
        # Documents first (chunks reference them): one per (replica, page) with chunks.
        docs: dict[str, tuple[uuid.UUID, int]] = {}
        for j in range(n):
            r, i = divmod(j, m)
            page = corpus.rows[i]["source"]
            name = page if r == 0 else f"replica-{r}/{page}"
            did, count = docs.get(name) or (document_id(index_id, name), 0)
            docs[name] = (did, count + 1)
        with conn.transaction():
            cur = conn.cursor()
            copy_sql = (
                f"COPY retrieval_chunks ({', '.join(_COPY_COLUMNS)}) FROM STDIN (FORMAT BINARY)"
            )
            with cur.copy(
                "COPY retrieval_documents (id, index_id, source_id, source, title, media_type,"
                " content_hash, metadata, chunk_count, duplicate_chunks) FROM STDIN"
                " (FORMAT BINARY)"
            ) as copy:
                copy.set_types(
                    ["uuid", "uuid", "uuid", "text", "text", "varchar", "varchar", "jsonb"]
                    + ["int4", "int4"]
                )
                for name, (did, count) in docs.items():
                    page = name.split("/", 1)[1] if name.startswith("replica-") else name
                    copy.write_row(
                        [
                            did,
                            index_id,
                            source_id,
                            name,
                            corpus.documents[page],
                            "text/html",
                            hashlib.sha256(name.encode()).hexdigest(),
                            Jsonb(automatic_metadata(page, "folder", "text/html")),
                            count,
                            0,
                        ]
                    )
            with cur.copy(copy_sql) as copy:
                copy.set_types(list(_COPY_TYPES))
                for r in range(replicas):
                    vectors = replica_vectors(corpus.vectors, r)
                    for j in range(r * m, min(n, (r + 1) * m)):
                        i = j - r * m
                        row = corpus.rows[i]
                        name = row["source"] if r == 0 else f"replica-{r}/{row['source']}"
                        text = row["text"] if r == 0 else f"{row['text']} [replica {r}]"
                        digest = row["content_hash"] if r == 0 else content_hash(text)
                        did = docs[name][0]
                        minhash = row["minhash"] if r == 0 else None
                        copy.write_row(
                            [
                                chunk_id(did, digest, row["ordinal"]),
                                organization_id,
                                index_id,
                                did,
                                row["ordinal"],
                                text,
                                row["token_count"],
                                row["heading_path"],
                                row["heading"],
                                row["anchor"],
                                digest,
                                Jsonb(row["metadata"]),
                                embedding_model,
                                vectors[i],
                                bytes.fromhex(minhash) if minhash else None,
                            ]
                        )
                    log(f"  copied {min(n, (r + 1) * m)}/{n} rows")
        out["copy_seconds"] = round(time.perf_counter() - t0, 1)
        if not build_hnsw:  # keyword-only experiments
            conn.execute("VACUUM ANALYZE retrieval_chunks")
            return out

        conn.execute(f"SET maintenance_work_mem = '{maintenance_work_mem}'")
        conn.execute(f"SET max_parallel_maintenance_workers = {int(build_workers)}")
        out["build_settings"] = {
            "maintenance_work_mem": maintenance_work_mem,
            "max_parallel_maintenance_workers": build_workers,
            "definition": definition[0],
        }
        log(f"building the HNSW index ({definition[0]})")
        t0 = time.perf_counter()
        conn.execute(definition[0])
        out["hnsw_build_seconds"] = round(time.perf_counter() - t0, 1)
        t0 = time.perf_counter()
        conn.execute("VACUUM ANALYZE retrieval_chunks")
        conn.execute("VACUUM ANALYZE retrieval_documents")
        out["vacuum_analyze_seconds"] = round(time.perf_counter() - t0, 1)
        sizes = conn.execute(
            "SELECT pg_total_relation_size('retrieval_chunks'), pg_relation_size(%s::regclass),"
            " pg_relation_size('ix_retrieval_chunks_tsv')",
            (hnsw,),
        ).fetchone()
        assert sizes is not None
        out["table_total_mb"] = round(sizes[0] / 2**20, 1)
        out["hnsw_mb"] = round(sizes[1] / 2**20, 1)
        out["gin_tsv_mb"] = round(sizes[2] / 2**20, 1)
    return out
