"""Typed declaration of the run rollup activity (implemented by
:class:`activities.rollups.activities.RollupActivities`; see :mod:`activities`)."""

from __future__ import annotations

from temporalio import activity

from activities.rollups.types import FoldRunRollupsInput, FoldRunRollupsResult

__all__ = ["fold_run_rollups"]


@activity.defn(name="fold_run_rollups")
async def fold_run_rollups(inp: FoldRunRollupsInput) -> FoldRunRollupsResult:
    """Move the delta rows of ``runs`` into ``run_rollups`` in one transaction (idempotent:
    a retry moves what is left). Only a database error fails it (retryable)."""
    raise NotImplementedError
