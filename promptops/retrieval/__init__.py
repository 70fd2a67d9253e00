"""Retrieval: documents parsed and chunked, embedded, stored in pgvector and full text, searched."""
