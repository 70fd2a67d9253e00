"""Retrieval for RAG: rank fusion, diversification and cross-encoder reranking."""
