"""Ingestion activities: list a source, ingest a batch of its documents, finish a run."""
