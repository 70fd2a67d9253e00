from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, status

from api.deps import CurrentPrincipal, EditorPrincipal, SessionDep
from api.errors import Unprocessable
from api.schemas.common import ERROR_RESPONSES, INT64_MAX
from api.schemas.datasets import (
    DatasetCreate,
    DatasetPublic,
    DatasetsPublic,
    ExamplesPublic,
    ImportResult,
)
from api.services.datasets import DatasetService
from promptops.db.models import Dataset
from promptops.db.repositories import DatasetRepository

router = APIRouter(prefix="/datasets", tags=["datasets"], responses=ERROR_RESPONSES)


@router.post("", response_model=DatasetPublic, status_code=status.HTTP_201_CREATED)
async def create_dataset(
    body: DatasetCreate, session: SessionDep, principal: EditorPrincipal
) -> Dataset:
    return await DatasetService(session, principal).create(
        body.project_id, body.name, body.task_type, body.description
    )


@router.get("", response_model=DatasetsPublic)
async def list_datasets(
    session: SessionDep, principal: CurrentPrincipal, project_id: Annotated[uuid.UUID, Query()]
) -> dict[str, Any]:
    """Datasets of a project."""
    service = DatasetService(session, principal)
    await service.prompts.get_project(project_id)
    repo = DatasetRepository(session)
    data = []
    for d in await repo.list(project_id):
        out = DatasetPublic.model_validate(d)
        out.example_count = await repo.count_examples(d.id)
        data.append(out)
    return {"data": data, "count": len(data)}


@router.get("/{dataset_id}", response_model=DatasetPublic)
async def get_dataset(
    dataset_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal
) -> DatasetPublic:
    dataset = await DatasetService(session, principal).get(dataset_id)
    out = DatasetPublic.model_validate(dataset)
    out.example_count = await DatasetRepository(session).count_examples(dataset_id)
    return out


@router.post(
    "/{dataset_id}/examples",
    response_model=ImportResult,
    status_code=status.HTTP_201_CREATED,
    openapi_extra={
        "requestBody": {
            "content": {
                "application/x-ndjson": {"schema": {"type": "string"}},
                "text/csv": {"schema": {"type": "string"}},
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {"file": {"type": "string", "format": "binary"}},
                    }
                },
            }
        }
    },
)
async def import_examples(
    dataset_id: uuid.UUID, request: Request, session: SessionDep, principal: EditorPrincipal
) -> dict[str, Any]:
    """Import examples from JSONL (``application/x-ndjson``), CSV (``text/csv``) or a file
    upload (``multipart/form-data``, field ``file``), UTF-8 text. All rows or none: 422 names
    the first bad row and why (or ``file`` for an upload that is not UTF-8 text); 409 if an id
    already exists in the dataset; 413 beyond ``PROMPTOPS_MAX_UPLOAD_BYTES`` (200 MiB by
    default, see :mod:`api.limits`)."""
    content_type = request.headers.get("content-type", "")
    filename = None
    if content_type.startswith("multipart/form-data"):
        form = await request.form()
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise Unprocessable("multipart upload needs a file in field 'file'", field="file")
        data = await upload.read()
        filename = upload.filename
        content_type = upload.content_type or ""
    else:
        data = await request.body()
    imported, total = await DatasetService(session, principal).import_examples(
        dataset_id, data, content_type=content_type, filename=filename
    )
    return {"dataset_id": dataset_id, "imported": imported, "total": total}


@router.get("/{dataset_id}/examples", response_model=ExamplesPublic)
async def list_examples(
    dataset_id: uuid.UUID,
    session: SessionDep,
    principal: CurrentPrincipal,
    offset: int = Query(0, ge=0, le=INT64_MAX),
    limit: int = Query(100, ge=1, le=1000),
) -> dict[str, Any]:
    await DatasetService(session, principal).get(dataset_id)
    repo = DatasetRepository(session)
    data = await repo.list_examples(dataset_id, offset=offset, limit=limit)
    return {"data": data, "count": await repo.count_examples(dataset_id)}
