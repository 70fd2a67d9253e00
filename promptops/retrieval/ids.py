"""Deterministic ids of retrieval rows, so retried writes insert nothing twice."""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

#: uuid5 namespace of retrieval rows.
NAMESPACE = uuid.UUID("6f1d3b52-2c1e-4d7a-9a57-5b1c1d0e7a11")


def source_key(kind: str, definition: dict[str, Any]) -> str:
    """sha256 hex (first 32) of a source's kind and canonical JSON definition."""
    canonical = json.dumps({"kind": kind, **definition}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def document_id(index_id: uuid.UUID | str, source: str) -> uuid.UUID:
    """The id of document ``source`` in index ``index_id``."""
    return uuid.uuid5(NAMESPACE, f"doc:{index_id}:{source}")


def chunk_id(document: uuid.UUID | str, content_hash: str, ordinal: int) -> uuid.UUID:
    """The id of a document's ``ordinal``-th chunk with that content (a changed document's
    chunks get new ids)."""
    return uuid.uuid5(NAMESPACE, f"chunk:{document}:{content_hash}:{ordinal}")


def citation_ref(chunk: uuid.UUID | str) -> str:
    """The short id of a chunk in citation markers ``[doc:<ref>#<anchor>]``: the first 12 hex
    digits of its id (48 bits; unique among the few chunks of one answer)."""
    return uuid.UUID(str(chunk)).hex[:12]


def citation_marker(chunk: uuid.UUID | str, anchor: str | None) -> str:
    """The marker a RAG answer cites a chunk with: ``[doc:<ref>#<anchor>]`` (``<ref>``:
    :func:`citation_ref`; the anchor empty when the chunk has none)."""
    return f"[doc:{citation_ref(chunk)}#{anchor or ''}]"
