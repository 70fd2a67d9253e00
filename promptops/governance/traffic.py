"""Sticky traffic split between a deployment's baseline and canary.

A subject (user, session, tenant: whatever id the caller sends) is hashed with the deployment
id into a bucket in [0, 100): SHA-256 of ``"{deployment_id}:{subject_id}"``, first 8 bytes as a
big-endian integer, scaled by 100 / 2^64. The subject is in the canary while its bucket is
below the canary weight (percent). So the assignment is deterministic across processes and
requests, independent between deployments, and monotone: raising the weight from 10 to 50 keeps
every subject that was already in the canary there (the usual "percentage rollout" scheme of
feature-flag systems such as LaunchDarkly and Unleash).
"""

from __future__ import annotations

import hashlib
from typing import Literal

Arm = Literal["baseline", "canary"]


def bucket(deployment_id: object, subject_id: str) -> float:
    """The subject's position in [0, 100) for this deployment."""
    digest = hashlib.sha256(f"{deployment_id}:{subject_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") * 100.0 / 2**64


def choose_arm(canary_weight: float, deployment_id: object, subject_id: str) -> Arm:
    """``canary`` if the subject's bucket is below ``canary_weight`` (0..100), else baseline."""
    if canary_weight <= 0:
        return "baseline"
    if canary_weight >= 100:
        return "canary"
    return "canary" if bucket(deployment_id, subject_id) < canary_weight else "baseline"
