"""Routing policies: ranking per strategy, exclusions, ties, fallbacks (pure logic)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from promptops.cli.routing import load_policies
from promptops.llm.routing.policy import (
    CandidateFigures,
    NoEligibleModel,
    RoutingPolicySpec,
    UnknownPolicyModel,
    choose,
)


def spec(
    strategy: str = "cost_first", candidates: tuple[str, ...] = ("a", "b", "c"), **extra: Any
) -> RoutingPolicySpec:
    return RoutingPolicySpec(name="p", strategy=strategy, candidates=list(candidates), **extra)


def fig(
    model: str,
    *,
    p95: float | None = 100.0,
    err: float = 0.0,
    q: float | None = 0.5,
    cost: float = 0.001,
    breaker: str = "closed",
) -> CandidateFigures:
    return CandidateFigures(model, p95, err, q, cost, breaker)


def test_cost_first_ranks_by_estimated_cost() -> None:
    d = choose(spec(), [fig("a", cost=0.003), fig("b", cost=0.001), fig("c", cost=0.002)])
    assert d.ordered == ["b", "c", "a"] and d.chosen == "b"
    assert d.reason == "cost_first: b is the cheapest of 3 eligible candidates ($0.001 est.)"
    assert d.as_dict()["policy"] == "p" and d.as_dict()["strategy"] == "cost_first"
    assert all(c["eligible"] and c["excluded_because"] == [] for c in d.candidates)


def test_latency_first_unknown_p95_ranks_after_known() -> None:
    d = choose(
        spec("latency_first"), [fig("a", p95=None), fig("b", p95=900.0), fig("c", p95=300.0)]
    )
    assert d.ordered == ["c", "b", "a"]
    assert "c is the fastest of 3 eligible candidates (p95 300 ms)" in d.reason


def test_quality_first_unknown_quality_ranks_after_known() -> None:
    d = choose(spec("quality_first"), [fig("a", q=None), fig("b", q=0.7), fig("c", q=0.9)])
    assert d.ordered == ["c", "b", "a"]
    assert "quality 0.90" in d.reason


def test_ties_broken_by_error_rate_then_policy_order() -> None:
    d = choose(spec(), [fig("a", err=0.2), fig("b", err=0.0), fig("c", err=0.0)])
    assert d.ordered == ["b", "c", "a"]
    d = choose(spec("latency_first"), [fig("a", p95=None), fig("b", p95=None), fig("c", p95=None)])
    assert d.ordered == ["a", "b", "c"] and "no p95 measured yet" in d.reason


def test_open_breaker_excluded_half_open_eligible() -> None:
    d = choose(
        spec(),
        [
            fig("a", cost=0.001, breaker="open"),
            fig("b", cost=0.002, breaker="half_open"),
            fig("c", cost=0.003),
        ],
    )
    assert d.ordered == ["b", "c"]
    assert d.candidates[0]["excluded_because"] == ["circuit breaker open"]
    assert d.reason.endswith("excluded: a (circuit breaker open)")


def test_p95_limit_excludes_slow_but_not_unknown() -> None:
    s = spec(constraints={"max_p95_latency_ms": 1500})
    d = choose(
        s,
        [
            fig("a", p95=2300.0, cost=0.0001),
            fig("b", p95=None, cost=0.002),
            fig("c", p95=1500.0, cost=0.003),
        ],
    )
    assert d.ordered == ["b", "c"]
    assert "excluded: a (p95 2300 ms > 1500 ms)" in d.reason


def test_min_quality_excludes_low_and_unknown_quality() -> None:
    s = spec("cost_first", constraints={"min_quality": 0.8})
    d = choose(s, [fig("a", q=0.6), fig("b", q=None), fig("c", q=0.85)])
    assert d.ordered == ["c"]
    assert d.candidates[0]["excluded_because"] == ["quality 0.60 < 0.80"]
    assert "no recent evaluation score" in d.candidates[1]["excluded_because"][0]
    assert d.reason.startswith("cost_first: c is the only eligible candidate ($0.001 est.)")


def test_max_cost_excludes_expensive() -> None:
    s = spec(candidates=("gpt-4o", "gpt-4o-mini"), constraints={"max_cost_usd": 0.001})
    d = choose(s, [fig("gpt-4o", cost=0.0021), fig("gpt-4o-mini", cost=0.00012)])
    assert d.ordered == ["gpt-4o-mini"]
    assert "gpt-4o (est. cost $0.0021 > $0.001)" in d.reason


def test_several_reasons_are_all_kept() -> None:
    s = spec(candidates=("a",), constraints={"max_cost_usd": 0.001, "max_p95_latency_ms": 10})
    with pytest.raises(NoEligibleModel) as e:
        choose(s, [fig("a", cost=0.01, p95=50.0, breaker="open")])
    msg = str(e.value)
    assert "routing policy 'p' has no eligible candidate and no fallback" in msg
    assert "a (circuit breaker open; p95 50 ms > 10 ms; est. cost $0.01 > $0.001)" in msg


def test_fallbacks_appended_without_repeats() -> None:
    s = spec(candidates=("a", "b"), fallbacks=["b", "z", "y"], constraints={"max_cost_usd": 0.002})
    d = choose(s, [fig("a", cost=0.001), fig("b", cost=0.005)])
    # b is excluded as a candidate but stays in the list as an explicit fallback.
    assert d.ordered == ["a", "b", "z", "y"]
    d = choose(
        spec(candidates=("a", "b"), fallbacks=["a", "z"]),
        [fig("a", cost=0.001), fig("b", cost=0.002)],
    )
    assert d.ordered == ["a", "b", "z"]


def test_only_fallbacks_left_still_route() -> None:
    s = spec(candidates=("a",), fallbacks=["z"])
    d = choose(s, [fig("a", breaker="open")])
    assert d.ordered == ["z"] and d.chosen == "z"
    assert "fallback z is tried first" in d.reason


def test_no_eligible_model_lists_each_exclusion() -> None:
    s = spec(candidates=("a", "b"), constraints={"min_quality": 0.9})
    with pytest.raises(NoEligibleModel) as e:
        choose(s, [fig("a", q=0.5), fig("b", q=None)])
    assert "a (quality 0.50 < 0.90)" in str(e.value)
    assert "b (no recent evaluation score" in str(e.value)


def test_missing_figures_is_an_error() -> None:
    with pytest.raises(ValueError, match="no figures for candidate 'c'"):
        choose(spec(), [fig("a"), fig("b")])


def test_spec_validation() -> None:
    with pytest.raises(ValidationError, match="listed twice"):
        spec(candidates=("a", "a"))
    with pytest.raises(ValidationError):
        spec(candidates=())
    with pytest.raises(ValidationError):
        spec(strategy="random")
    with pytest.raises(ValidationError):
        spec(constraints={"min_quality": 1.5})
    with pytest.raises(ValidationError, match="another policy"):
        spec(fallbacks=["policy:x"])
    with pytest.raises(ValidationError):
        RoutingPolicySpec(name="has space", strategy="cost_first", candidates=["a"])


def test_validate_models_names_field_and_model() -> None:
    s = spec(candidates=("a", "b"), fallbacks=["zz"])
    s.validate_models({"a", "b", "zz"})
    with pytest.raises(UnknownPolicyModel) as e:
        s.validate_models(["a", "b"])
    assert (e.value.field, e.value.index, e.value.model) == ("fallbacks", 0, "zz")
    assert str(e.value).startswith("fallbacks[0]: unknown model 'zz'")
    with pytest.raises(ValueError, match=r"candidates\[1\]: unknown model 'b'"):
        s.validate_models(["a"])


def test_load_policies_file(tmp_path: Path) -> None:
    good = tmp_path / "r.yaml"
    good.write_text(
        "routing_policies:\n  - name: cheap\n    strategy: cost_first\n"
        "    candidates: [a, b]\n    fallbacks: [c]\n"
        "    constraints: {max_cost_usd: 0.01}\n"
    )
    [p] = load_policies(good)
    assert p["name"] == "cheap" and p["constraints"]["max_cost_usd"] == 0.01
    bad = tmp_path / "bad.yaml"
    bad.write_text("routing_policies:\n  - name: x\n    strategy: fastest\n    candidates: [a]\n")
    with pytest.raises(ValueError, match=r"routing_policies\[0\] \(x\): strategy"):
        load_policies(bad)
    with pytest.raises(ValueError, match="expected a mapping with a 'routing_policies' list"):
        (tmp_path / "e.yaml").write_text("- 1\n")
        load_policies(tmp_path / "e.yaml")
    with pytest.raises(ValueError, match="cannot read"):
        load_policies(tmp_path / "missing.yaml")
