"""Response-cache settings of a project and cache purges (issue 4, item 4)."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.common import NAME_MAX, RequestModel
from promptops.llm.cache import ExactCacheSettings, SemanticCacheSettings


class CacheSettingsUpdate(RequestModel):
    """A project's cache settings; replaces both. ``ttl_s`` in seconds (1 .. 30 days),
    ``semantic.threshold`` a cosine similarity in (0, 1]."""

    model_config = ConfigDict(extra="forbid")

    exact: ExactCacheSettings = Field(default_factory=ExactCacheSettings)
    semantic: SemanticCacheSettings = Field(default_factory=SemanticCacheSettings)


class CacheSettingsPublic(BaseModel):
    project_id: uuid.UUID
    exact: ExactCacheSettings
    semantic: SemanticCacheSettings


class CachePurge(RequestModel):
    """Which entries to delete: those of ``project_id``, optionally only of one prompt version
    and/or model, from the ``exact`` cache, the ``semantic`` cache or ``all`` (both)."""

    model_config = ConfigDict(extra="forbid")

    project_id: uuid.UUID
    prompt_version_id: uuid.UUID | None = None
    model: str | None = Field(default=None, min_length=1, max_length=NAME_MAX)
    kind: Literal["all", "exact", "semantic"] = "all"


class CachePurged(BaseModel):
    """Entries deleted from each cache."""

    project_id: uuid.UUID
    kind: str
    exact: int
    semantic: int
