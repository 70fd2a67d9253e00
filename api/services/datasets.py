"""Datasets and the all-or-nothing import of examples."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import Principal
from api.errors import Conflict, NotFound, Unprocessable
from api.schemas.common import unstorable
from api.services.prompts import PromptService
from promptops.db.models import Dataset
from promptops.db.repositories import DatasetRepository
from promptops.evaluation.dataset_io import DatasetFormatError, ExampleRow, parse_dataset

#: Longest example id (``examples.external_id`` is ``VARCHAR(200)``).
EXAMPLE_ID_MAX = 200


class DatasetService:
    def __init__(self, session: AsyncSession, principal: Principal) -> None:
        self.session = session
        self.principal = principal
        self.datasets = DatasetRepository(session)
        self.prompts = PromptService(session, principal)

    async def create(
        self, project_id: uuid.UUID, name: str, task_type: str, description: str
    ) -> Dataset:
        await self.prompts.get_project(project_id)
        if any(d.name == name for d in await self.datasets.list(project_id)):
            raise Conflict(f"a dataset named {name!r} already exists in this project", field="name")
        dataset = await self.datasets.add(
            Dataset(
                id=uuid.uuid4(),
                project_id=project_id,
                name=name,
                task_type=task_type,
                description=description,
            )
        )
        await self.prompts._audit("dataset.create", "dataset", dataset.id, after={"name": name})
        return dataset

    async def get(self, dataset_id: uuid.UUID) -> Dataset:
        dataset = await self.datasets.get(
            dataset_id, self.principal.organization_id, self.principal.project_id
        )
        if dataset is None:
            raise NotFound(f"dataset {dataset_id} not found")
        return dataset

    async def import_examples(
        self, dataset_id: uuid.UUID, data: bytes, *, content_type: str | None, filename: str | None
    ) -> tuple[int, int]:
        """Parse and insert every row, or none. Returns (imported, total in dataset).

        Raises Unprocessable (422) naming the row and reason (an id over 200 characters, a
        value that cannot be stored: NUL, a lone surrogate, NaN), or ``file`` for data that
        is not UTF-8 text (a binary upload); Conflict (409) for ids already present.
        """
        await self.get(dataset_id)
        try:
            rows = parse_dataset(data, content_type=content_type, filename=filename)
        except DatasetFormatError as exc:
            raise Unprocessable(str(exc), field=f"examples.row {exc.row}") from exc
        except UnicodeDecodeError as exc:
            raise Unprocessable(
                f"the upload is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset "
                f"{exc.start} cannot be decoded): send JSONL or CSV encoded in UTF-8",
                field="file",
            ) from None
        for number, row in enumerate(rows, 1):
            _check_row(number, row)
        await self.datasets.lock(dataset_id)
        existing = await self.datasets.existing_external_ids(dataset_id, [r.id for r in rows])
        if existing:
            first = min(existing)
            row_no = next(i for i, r in enumerate(rows, 1) if r.id == first)
            raise Conflict(
                f"row {row_no}: example id {first!r} already exists in this dataset "
                f"({len(existing)} duplicate id(s) in all)",
                field="examples.id",
            )
        start = await self.datasets.count_examples(dataset_id)
        await self.datasets.add_examples(
            [
                {
                    "id": uuid.uuid4(),
                    "dataset_id": dataset_id,
                    "external_id": r.id,
                    "position": start + i,
                    "input": r.input,
                    "expected": r.expected,
                    "metadata_": r.metadata,
                }
                for i, r in enumerate(rows)
            ]
        )
        await self.prompts._audit(
            "dataset.import", "dataset", dataset_id, after={"imported": len(rows)}
        )
        return len(rows), start + len(rows)


def _check_row(number: int, row: ExampleRow) -> None:
    """Unprocessable (422, field ``examples.row N``) when row ``number`` cannot be stored."""
    reason = None
    if len(row.id) > EXAMPLE_ID_MAX:
        reason = f"id is longer than {EXAMPLE_ID_MAX} characters"
    else:
        for name in ("id", "input", "expected", "metadata"):
            reason = unstorable(getattr(row, name), name)
            if reason:
                break
    if reason:
        raise Unprocessable(f"row {number}: {reason}", field=f"examples.row {number}")
