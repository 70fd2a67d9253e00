"""Inputs, state and progress of ``IngestionWorkflow`` and ``RetrievalMaintenanceWorkflow``."""

from __future__ import annotations

from dataclasses import dataclass, field

from activities.ingestion.types import DocumentError

#: Id of the Temporal Schedule that starts ``RetrievalMaintenanceWorkflow``.
MAINTENANCE_SCHEDULE_ID = "retrieval-maintenance"


def ingestion_workflow_id(index_id: str, source_key: str) -> str:
    """The business-key id of the ingestion of one source of one index: at most one runs at a
    time per (index, source); a new request while one runs joins it."""
    return f"ingest-{index_id}-{source_key[:16]}"


@dataclass
class IngestionProgress:
    """What the ``progress`` query answers. ``status``: Listing, Ingesting, Finishing,
    Completed or Failed."""

    status: str = "Listing"
    documents_total: int = 0
    documents_done: int = 0
    skipped: int = 0
    added: int = 0
    replaced: int = 0
    removed: int = 0
    expired: int = 0
    chunks_written: int = 0
    duplicates: int = 0
    embed_seconds: float = 0.0
    documents_in_index: int = 0
    chunks_in_index: int = 0
    errors: list[DocumentError] = field(default_factory=list)


@dataclass
class IngestionInput:
    """Ingest source ``source_id`` into ``index_id``: ``batch_size`` documents per activity;
    ``force`` re-embeds unchanged documents; ``documents``/``progress``/``next_batch`` carry
    the state over a continue-as-new."""

    index_id: str
    source_id: str
    batch_size: int = 8
    force: bool = False
    heartbeat_timeout_s: float = 60.0
    documents: list[str] | None = None
    progress: IngestionProgress | None = None
    next_batch: int = 0


@dataclass
class RetrievalMaintenanceInput:
    """Nothing to choose: expire what the TTLs say and re-ingest what is due."""


@dataclass
class RetrievalMaintenanceResult:
    expired: int = 0
    reingested: list[str] = field(default_factory=list)
