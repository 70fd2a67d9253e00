from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, Field

from api.schemas.common import Name, ORMModel, RequestModel, printable_name


class DatasetCreate(RequestModel):
    """A dataset of a project: ``name`` unique in the project (1..200 printable characters),
    ``task_type`` e.g. ``generation`` or ``classification`` (1..60 printable characters)."""

    project_id: uuid.UUID
    name: Name
    task_type: Annotated[
        str, Field(min_length=1, max_length=60), AfterValidator(printable_name)
    ] = "generation"
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
