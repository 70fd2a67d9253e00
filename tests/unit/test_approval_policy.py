"""``ApprovalPolicy``: defaults, normalisation and errors that name the field."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from pydantic import ValidationError

from api.services.approvals import snapshot
from promptops.governance.approval_policy import DEFAULT_EVAL_METRIC, SCORE_METRICS, ApprovalPolicy
from workflows.approval.types import workflow_id_for


def test_defaults() -> None:
    policy = ApprovalPolicy.from_stored({})
    assert policy.required_approvals == 1 and policy.reviewers == []
    assert policy.min_eval_score == 0.70 and policy.golden_dataset_id is None
    assert policy.eval_metric == DEFAULT_EVAL_METRIC == "exact_match"
    assert policy.deadline_hours == 72 and policy.reminder_hours == 24
    assert policy.webhook_url is None and policy.eval_max_examples is None
    assert ApprovalPolicy.from_stored(None) == policy


def test_round_trip_through_the_stored_json() -> None:
    dataset = uuid.uuid4()
    policy = ApprovalPolicy(
        required_approvals=2,
        reviewers=[" Lead@Example.com", "b@example.com", "lead@example.com"],
        golden_dataset_id=dataset,
        eval_metric="token_f1",
        webhook_url=" https://hooks.example.com/x ",
    )
    assert policy.reviewers == ["lead@example.com", "b@example.com"]
    assert policy.webhook_url == "https://hooks.example.com/x"
    stored = policy.to_stored()
    assert stored["golden_dataset_id"] == str(dataset)
    assert ApprovalPolicy.from_stored(stored) == policy
    snap = snapshot(policy)
    assert snap.golden_dataset_id == str(dataset) and snap.reviewers == policy.reviewers


@pytest.mark.parametrize(
    "data, field, words",
    [
        ({"required_approvals": 0}, "required_approvals", "greater than or equal to 1"),
        ({"min_eval_score": -0.1}, "min_eval_score", "greater than or equal to 0"),
        ({"min_eval_score": 1.01}, "min_eval_score", "less than or equal to 1"),
        ({"eval_metric": "latency_ms"}, "eval_metric", "measurement, not a score"),
        ({"eval_metric": "bogus"}, "eval_metric", "'bogus' is not a metric"),
        ({"deadline_hours": 0}, "deadline_hours", "greater than 0"),
        ({"reminder_hours": -1}, "reminder_hours", "greater than 0"),
        ({"eval_max_examples": 0}, "eval_max_examples", "greater than or equal to 1"),
        ({"reviewers": ["not an email"]}, "reviewers", "not an email address"),
        (
            {"reviewers": ["a@example.com"], "required_approvals": 2},
            "reviewers",
            "could never be approved",
        ),
        ({"webhook_url": "mailto:x@example.com"}, "webhook_url", "http(s) URL"),
        ({"golden_dataset_id": "nope"}, "golden_dataset_id", "UUID"),
        ({"unknown": 1}, "unknown", "Extra inputs"),
    ],
)
def test_bad_values_name_the_field(data: dict[str, Any], field: str, words: str) -> None:
    with pytest.raises(ValidationError) as err:
        ApprovalPolicy.model_validate(data)
    first = err.value.errors()[0]
    assert first["loc"] == (field,)
    assert words in first["msg"]


def test_score_metrics_exclude_measurements() -> None:
    assert "exact_match" in SCORE_METRICS and "accuracy" in SCORE_METRICS
    assert "latency_ms" not in SCORE_METRICS and "cost_usd" not in SCORE_METRICS


def test_workflow_ids_are_business_keys() -> None:
    assert workflow_id_for("v1") == "approval-v1-1"
    assert workflow_id_for("v1", 3) == "approval-v1-3"
