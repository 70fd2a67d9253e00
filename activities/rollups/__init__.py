"""Run rollup activities: the fold of the delta rows every write to ``runs`` leaves into the
dashboard's ``run_rollups`` (run by ``RunRollupFoldWorkflow`` on a Temporal Schedule)."""
