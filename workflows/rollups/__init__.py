"""Run rollups: ``RunRollupFoldWorkflow`` folds the delta rows of ``runs`` into the dashboard's
``run_rollups`` once; the Temporal Schedule ``run-rollup-fold``
(:func:`workflows.rollups.schedule.ensure_rollup_fold_schedule`) runs it periodically."""

from workflows.rollups.workflow import RunRollupFoldWorkflow

__all__ = ["RunRollupFoldWorkflow"]
