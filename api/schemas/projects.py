from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel

from api.schemas.common import Name, ORMModel, RequestModel


class ProjectCreate(RequestModel):
    """A project: ``name`` unique in the organization (1..200 printable characters)."""

    name: Name
    description: str = ""


class ProjectPublic(ORMModel):
    id: uuid.UUID
    organization_id: uuid.UUID
    name: str
    description: str
    created_at: datetime


class ProjectsPublic(BaseModel):
    data: list[ProjectPublic]
    count: int
