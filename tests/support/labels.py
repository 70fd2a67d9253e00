"""Test data past the approval and canary workflows: what a deployment's promotion leaves.

``PUT .../labels/production`` is refused (a protected label moves only through a deployment or
an emergency rollback), so tests that only need a prompt *served* in production set that state
in the database directly. The label history trigger records the move like any other.
"""

from __future__ import annotations

import uuid

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert

from promptops.db.models import Label, PromptVersion, PromptVersionStatus
from promptops.db.session import get_session_factory


async def serve_approved(
    pg_url: str,
    prompt_id: str | uuid.UUID,
    version_id: str | uuid.UUID,
    *,
    label: str = "production",
) -> None:
    """Mark the version Approved and point ``label`` of its prompt at it (created if missing),
    as a promoted deployment would."""
    async with get_session_factory(pg_url)() as session:
        await session.execute(
            update(PromptVersion)
            .where(PromptVersion.id == uuid.UUID(str(version_id)))
            .values(status=PromptVersionStatus.APPROVED)
        )
        await session.execute(
            insert(Label)
            .values(
                id=uuid.uuid4(),
                prompt_id=uuid.UUID(str(prompt_id)),
                name=label,
                prompt_version_id=uuid.UUID(str(version_id)),
            )
            .on_conflict_do_update(
                index_elements=["prompt_id", "name"],
                set_={"prompt_version_id": uuid.UUID(str(version_id))},
            )
        )
        await session.commit()
