"""The sticky traffic split: deterministic, proportional to the weight, monotone in it."""

from __future__ import annotations

import uuid

from promptops.governance.traffic import bucket, choose_arm


def test_same_subject_same_arm_and_buckets_in_range() -> None:
    dep = uuid.uuid4()
    for i in range(200):
        b = bucket(dep, f"user-{i}")
        assert 0.0 <= b < 100.0
        assert choose_arm(37.5, dep, f"user-{i}") == choose_arm(37.5, dep, f"user-{i}")


def test_share_of_canary_follows_the_weight() -> None:
    dep = uuid.uuid4()
    subjects = [f"s{i}" for i in range(20_000)]
    for weight in (10.0, 50.0, 90.0):
        share = sum(choose_arm(weight, dep, s) == "canary" for s in subjects) / len(subjects)
        # Binomial sd at n=20000 is at most 0.35 points: 1.5 points is > 4 sd.
        assert abs(share * 100 - weight) < 1.5, (weight, share)


def test_raising_the_weight_keeps_canary_subjects_in_the_canary() -> None:
    dep = uuid.uuid4()
    subjects = [f"s{i}" for i in range(5_000)]
    at_10 = {s for s in subjects if choose_arm(10, dep, s) == "canary"}
    at_50 = {s for s in subjects if choose_arm(50, dep, s) == "canary"}
    assert at_10 and at_10 <= at_50 and len(at_50) > len(at_10)


def test_edges_and_independence_between_deployments() -> None:
    d1, d2 = uuid.uuid4(), uuid.uuid4()
    assert choose_arm(0, d1, "x") == "baseline"
    assert choose_arm(100, d1, "x") == "canary"
    subjects = [f"s{i}" for i in range(2_000)]
    a = {s for s in subjects if choose_arm(50, d1, s) == "canary"}
    b = {s for s in subjects if choose_arm(50, d2, s) == "canary"}
    # Independent halves overlap on about a quarter of the subjects, not all of them.
    assert 0.2 < len(a & b) / len(subjects) < 0.3
