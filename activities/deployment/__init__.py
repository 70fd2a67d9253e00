"""Deployment activities: the database side of ``CanaryRolloutWorkflow`` (traffic split,
guard figures, promotion and rollback)."""
