"""Canary rollouts: ``CanaryRolloutWorkflow`` ramps a prompt version's traffic share through a
plan's steps, judges live traffic with pure guards and promotes or rolls back by itself."""

from workflows.canary.workflow import CanaryRolloutWorkflow, workflow_id_for

__all__ = ["CanaryRolloutWorkflow", "workflow_id_for"]
