"""Retrieval (RAG): document parsing, token-aware chunking and near-duplicate filtering."""
