"""The configured cross-encoder (``PROMPTOPS_RERANKER_PATH``), loaded once per process."""

from __future__ import annotations

import functools
import logging
from pathlib import Path

from promptops.retrieval.rerank import CrossEncoderReranker
from promptops.settings import Settings

log = logging.getLogger(__name__)


@functools.lru_cache(maxsize=4)
def _load(path: Path) -> CrossEncoderReranker:
    return CrossEncoderReranker(path)


def load_reranker(settings: Settings) -> CrossEncoderReranker | None:
    """The reranker at ``settings.reranker_path`` (None when unset).

    Raises:
        promptops.retrieval.rerank.RerankerLoadError: the path is set but holds no usable
            model (a misconfiguration is reported at start, not at the first query).
    """
    if settings.reranker_path is None:
        return None
    return _load(settings.reranker_path.expanduser().resolve())
