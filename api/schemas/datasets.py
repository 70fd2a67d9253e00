from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from api.schemas.common import ORMModel


class DatasetCreate(BaseModel):
    project_id: uuid.UUID
    name: str = Field(min_length=1, max_length=200)
    task_type: str = "generation"
    description: str = ""


class DatasetPublic(ORMModel):
    id: uuid.UUID
    project_id: uuid.UUID
    name: str
    task_type: str
    description: str
    created_at: datetime
    example_count: int = 0


class DatasetsPublic(BaseModel):
    data: list[DatasetPublic]
    count: int


class ExamplePublic(ORMModel):
    id: uuid.UUID
    external_id: str
    position: int
    input: Any
    expected: Any
    metadata: dict[str, Any] = Field(validation_alias="metadata_")


class ExamplesPublic(BaseModel):
    data: list[ExamplePublic]
    count: int


class ImportResult(BaseModel):
    dataset_id: uuid.UUID
    imported: int
    total: int
