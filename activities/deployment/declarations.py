"""Typed declarations of the deployment activities (implemented by
:class:`activities.deployment.activities.DeploymentActivities`; see :mod:`activities`)."""

from __future__ import annotations

from temporalio import activity

from activities.deployment.types import (
    ComputeFiguresInput,
    ComputeFiguresResult,
    FinishDeploymentInput,
    FinishDeploymentResult,
    SetStepInput,
    SetStepResult,
    StartDeploymentInput,
    StartDeploymentResult,
)

__all__ = [
    "compute_deployment_figures",
    "finish_deployment",
    "set_deployment_step",
    "start_deployment",
]


@activity.defn(name="start_deployment")
async def start_deployment(inp: StartDeploymentInput) -> StartDeploymentResult:
    """Mark the deployment Running (from Pending) and report what the workflow drives.
    ``NotVisible`` (the row is not committed yet): retryable; ``InvalidInput``: not."""
    raise NotImplementedError


@activity.defn(name="set_deployment_step")
async def set_deployment_step(inp: SetStepInput) -> SetStepResult:
    """Set the canary weight (percent), step and status (Running | Paused), audited; no write
    when the row is already so or finished. ``InvalidInput`` / ``NotFound``: non-retryable."""
    raise NotImplementedError


@activity.defn(name="compute_deployment_figures")
async def compute_deployment_figures(inp: ComputeFiguresInput) -> ComputeFiguresResult:
    """Per-arm figures of the runs served since ``window_start`` and the candidate's latest
    approval eval score, stored as check ``check_index`` when given (idempotent upsert).
    ``InvalidInput`` / ``NotFound``: non-retryable."""
    raise NotImplementedError


@activity.defn(name="finish_deployment")
async def finish_deployment(inp: FinishDeploymentInput) -> FinishDeploymentResult:
    """Promote (the environment's label moves to the candidate, weight 100), roll back or
    abort (weight 0), once. ``InvalidInput`` / ``NotFound``: non-retryable."""
    raise NotImplementedError
