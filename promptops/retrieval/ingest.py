"""One document's way into an index, as pure steps: content hash, parse, chunk, drop
near-duplicate chunks, build the rows. The ingestion activity adds the I/O (reading, embedding,
writing, heartbeats)."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from numpy.typing import NDArray

from promptops.retrieval.chunking import (
    Chunk,
    ChunkingSettings,
    TokenCounter,
    chunk_document,
    embedding_text,
)
from promptops.retrieval.dedup import NearDuplicateFilter
from promptops.retrieval.ids import chunk_id, document_id
from promptops.retrieval.parsing import ParsedDocument, parse_document

__all__ = ["PreparedDocument", "automatic_metadata", "content_hash", "prepare_document"]

#: Metadata fields every document gets (declared on every index's schema as strings).
AUTOMATIC_FIELDS = {"section": "string", "media_type": "string"}


def content_hash(data: bytes, *, model_version: str, chunking: dict[str, Any]) -> str:
    """sha256 hex of the raw bytes, the embedding model version and the chunking settings: a
    document is re-embedded when any of them changes, skipped otherwise."""
    h = hashlib.sha256(data)
    h.update(b"\0" + model_version.encode())
    h.update(b"\0" + json.dumps(chunking, sort_keys=True).encode())
    return h.hexdigest()


def automatic_metadata(source: str, kind: str, media_type: str) -> dict[str, str]:
    """``section``: the first path component of a folder source's document
    (``library/functools.html`` -> ``library``; ``""`` at the top or for other kinds);
    ``media_type``: the parsed media type."""
    section = source.split("/", 1)[0] if kind == "folder" and "/" in source else ""
    return {"section": section, "media_type": media_type}


@dataclass
class PreparedDocument:
    """A document ready to embed and write: its row (without timestamps) and its chunks'
    rows (without ``embedding``); ``texts`` are the embedding inputs, in chunk order."""

    document: dict[str, Any]
    chunks: list[dict[str, Any]]
    texts: list[str]
    duplicates: int


def prepare_document(
    *,
    index_id: uuid.UUID,
    organization_id: uuid.UUID,
    source_id: uuid.UUID,
    kind: str,
    source: str,
    data: bytes,
    media_type: str | None,
    digest: str,
    embedding_model: str,
    counter: TokenCounter,
    chunking: ChunkingSettings,
    metadata: dict[str, Any],
    dedup: NearDuplicateFilter | None,
    ttl_seconds: int | None,
    now: datetime,
) -> PreparedDocument:
    """Parse and chunk ``data`` and build the rows. Near-duplicate chunks (of chunks kept in
    ``dedup``, keyed by chunk id: the caller discards a replaced document's old chunks first)
    are dropped and counted.

    Raises:
        promptops.retrieval.parsing.ParseError: the document cannot be parsed.
    """
    parsed: ParsedDocument = parse_document(source, data, media_type)
    doc_id = document_id(index_id, source)
    meta = {**automatic_metadata(source, kind, parsed.media_type), **metadata}
    pieces: list[Chunk] = chunk_document(parsed, counter, chunking)
    chunks: list[dict[str, Any]] = []
    texts: list[str] = []
    duplicates = 0
    for piece in pieces:
        cid = chunk_id(doc_id, piece.content_hash, piece.ordinal)
        signature: bytes | None = None
        if dedup is not None:
            sketch = dedup.minhash(piece.text)
            if dedup.find(sketch) is not None:
                duplicates += 1
                continue
            dedup.keep(str(cid), sketch)
            signature = NearDuplicateFilter.to_bytes(sketch)
        heading = " > ".join(piece.heading_path)
        chunks.append(
            {
                "id": cid,
                "organization_id": organization_id,
                "index_id": index_id,
                "document_id": doc_id,
                "ordinal": piece.ordinal,
                "text": piece.text,
                "token_count": piece.token_count,
                "heading_path": list(piece.heading_path),
                "heading": heading,
                "anchor": piece.anchor,
                "content_hash": piece.content_hash,
                "metadata_": meta,
                "embedding_model": embedding_model,
                "minhash": signature,
            }
        )
        texts.append(embedding_text(piece))
    document = {
        "id": doc_id,
        "index_id": index_id,
        "source_id": source_id,
        "source": source,
        "title": parsed.title,
        "media_type": parsed.media_type,
        "content_hash": digest,
        "metadata_": meta,
        "chunk_count": len(chunks),
        "duplicate_chunks": duplicates,
        "expires_at": now + timedelta(seconds=ttl_seconds) if ttl_seconds else None,
    }
    return PreparedDocument(document=document, chunks=chunks, texts=texts, duplicates=duplicates)


def attach_embeddings(prepared: PreparedDocument, vectors: NDArray[np.float32]) -> None:
    """Put each chunk's vector on its row (``vectors`` rows in chunk order)."""
    if len(vectors) != len(prepared.chunks):
        raise ValueError(f"{len(vectors)} vectors for {len(prepared.chunks)} chunks")
    for row, vector in zip(prepared.chunks, vectors, strict=True):
        row["embedding"] = np.asarray(vector, dtype=np.float32)
