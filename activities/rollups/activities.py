"""``fold_run_rollups``: move the delta rows the ``runs`` triggers appended into
``run_rollups`` (``run_rollups_fold()``, migration 0006), in one transaction.

Idempotent by construction: the fold deletes the rows it folds in the same transaction, so a
retry after a failure folds what is left and a retry after a lost acknowledgement finds less
(or nothing) to do."""

from __future__ import annotations

from temporalio import activity

from activities.outages import database_outage_retryable
from activities.rollups.types import FoldRunRollupsInput, FoldRunRollupsResult
from promptops.db.repositories.rollups import RunRollupRepository
from promptops.db.session import get_session_factory


class RollupActivities:
    """Built with the database URL."""

    def __init__(self, database_url: str) -> None:
        self._sessions = get_session_factory(database_url)

    @activity.defn(name="fold_run_rollups")
    @database_outage_retryable
    async def fold_run_rollups(self, inp: FoldRunRollupsInput) -> FoldRunRollupsResult:
        """See the module docstring."""
        async with self._sessions() as session:
            moved = await RunRollupRepository(session).fold()
            await session.commit()
        return FoldRunRollupsResult(moved=moved)
