"""Inputs and results of the ingestion activities (one dataclass each)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ListSourceInput:
    index_id: str
    source_id: str


@dataclass
class ListSourceResult:
    documents: list[str]


@dataclass
class DocumentError:
    source: str
    message: str


@dataclass
class IngestBatchInput:
    """Ingest ``documents`` (sources of ``source_id``) into ``index_id``; ``force``: re-embed
    even unchanged documents."""

    index_id: str
    source_id: str
    documents: list[str]
    force: bool = False


@dataclass
class IngestBatchResult:
    """``skipped``: unchanged; ``added``/``replaced``: new or changed documents written;
    ``chunks_written``: chunk rows inserted; ``duplicates``: near-duplicate chunks dropped."""

    done: int = 0
    skipped: int = 0
    added: int = 0
    replaced: int = 0
    chunks_written: int = 0
    duplicates: int = 0
    embed_seconds: float = 0.0
    errors: list[DocumentError] = field(default_factory=list)


@dataclass
class FinishIngestionInput:
    """Remove the source's documents not in ``keep`` (None: remove nothing, e.g. after a
    failed listing), expire the index's documents past their TTL, record the run."""

    index_id: str
    source_id: str
    workflow_id: str
    keep: list[str] | None
    stats: dict[str, int] = field(default_factory=dict)


@dataclass
class FinishIngestionResult:
    removed: int
    expired: int
    documents: int
    chunks: int


@dataclass
class RetrievalMaintenanceInput:
    pass


@dataclass
class DueSource:
    index_id: str
    source_id: str
    source_key: str
    organization_id: str


@dataclass
class RetrievalMaintenanceResult:
    expired: int
    due: list[DueSource] = field(default_factory=list)


@dataclass
class RetrieveInput:
    """A retrieval query run by a workflow (same fields as ``POST /retrieval/query``)."""

    organization_id: str
    index_id: str
    query: str
    mode: str = "hybrid"
    top_k: int = 10
    filters: dict[str, object] | None = None
    mmr_lambda: float | None = None
    rerank: bool = False
    score_threshold: float | None = None


@dataclass
class RetrievedHit:
    chunk_id: str
    score: float
    source: str
    heading_path: list[str]
    anchor: str | None
    text: str


@dataclass
class RetrieveResult:
    hits: list[RetrievedHit]
    embedding_model: str
    timings_ms: dict[str, float]
