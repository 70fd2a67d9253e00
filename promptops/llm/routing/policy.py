"""Routing policies: pick the model of a request from live figures (pure logic, no I/O).

A project's routing policy (stored as ``promptops.db.models.RoutingPolicy``, addressed by a
request as model ``policy:<name>``) names a strategy, candidate models, ordered fallbacks and
constraints. :func:`choose` turns the policy and one :class:`CandidateFigures` per candidate
into a :class:`RoutingDecision`:

1. **Eligibility.** A candidate is excluded when any of these holds (every reason is kept):

   - its circuit breaker is ``open`` (a ``half_open`` breaker is eligible: the gateway lets its
     single probe through);
   - ``max_p95_latency_ms`` is set and its rolling p95 latency > the limit (an unknown p95, i.e.
     no successful call in the rolling window, is NOT excluded: a new model must get traffic
     to be measured);
   - ``min_quality`` is set and its quality < the limit, or its quality is unknown (no
     evaluation score to vouch for it);
   - ``max_cost_usd`` is set and its estimated cost per request > the limit.

2. **Ranking** of the eligible candidates (Python's stable sort on these keys):

   - ``cost_first``: estimated cost (USD) ascending;
   - ``latency_first``: p95 latency (ms) ascending, unknown p95 after every known one;
   - ``quality_first``: quality descending, unknown quality after every known one;
   - ties: lower rolling error rate first, then the candidates' order in the policy.

3. **Order to try** (:attr:`RoutingDecision.ordered`): the ranked eligible candidates, then the
   policy's fallbacks not already listed. Fallbacks are the policy's safety net and are not
   subject to the constraints (the gateway still skips one whose breaker is open).
   With no eligible candidate and no fallback, :class:`NoEligibleModel` is raised.

How the figures are measured (rolling p95 and error rate from the gateway's circuit-breaker
stats, cost estimate from the prompt and ``max_tokens``, quality from recent evaluations) is
the business of :mod:`promptops.llm.routing.figures`.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Strategy = Literal["cost_first", "quality_first", "latency_first"]
STRATEGIES: tuple[str, ...] = ("cost_first", "quality_first", "latency_first")
#: A request addresses a policy as ``model = "policy:<name>"``.
POLICY_PREFIX = "policy:"
#: Policy names: what fits a URL path segment and ``policy:<name>`` without escaping.
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"
_NAME_RE = re.compile(NAME_PATTERN)


class UnknownPolicyModel(ValueError):
    """A policy names a model the gateway's catalog does not know. ``field`` is
    ``"candidates"`` or ``"fallbacks"``, ``index`` the position in that list."""

    def __init__(self, field_name: str, index: int, model: str, known: Sequence[str]) -> None:
        super().__init__(
            f"{field_name}[{index}]: unknown model {model!r}; configured models: "
            f"{', '.join(known) or '(none)'}"
        )
        self.field = field_name
        self.index = index
        self.model = model


class NoEligibleModel(ValueError):
    """Every candidate of a policy is excluded and the policy has no fallback. The message
    names the policy and each candidate's exclusion reasons."""


class RoutingConstraints(BaseModel):
    """Per-request limits of a policy, each optional (null = no limit).

    ``max_p95_latency_ms``: milliseconds, compared with the rolling p95 latency;
    ``min_quality``: in [0, 1], compared with the mean evaluation score;
    ``max_cost_usd``: USD per request, compared with the estimated maximum cost.
    """

    model_config = ConfigDict(extra="forbid")

    max_p95_latency_ms: float | None = Field(default=None, gt=0)
    min_quality: float | None = Field(default=None, ge=0, le=1)
    max_cost_usd: float | None = Field(default=None, ge=0)


def check_model_list(value: list[str]) -> list[str]:
    """Validator of a policy's ``candidates`` / ``fallbacks``: non-empty names, no name twice,
    no ``policy:`` name (a policy cannot route to another policy). Raises ``ValueError``."""
    seen: set[str] = set()
    for model in value:
        if not model.strip():
            raise ValueError("model names must not be empty")
        if model.startswith(POLICY_PREFIX):
            raise ValueError(f"{model!r}: a policy cannot route to another policy")
        if model in seen:
            raise ValueError(f"model {model!r} is listed twice")
        seen.add(model)
    return value


class RoutingPolicySpec(BaseModel):
    """A routing policy as written in YAML or sent to the API. ``candidates``: at least one
    model name (LiteLLM ``model_name`` of the catalog), no duplicates; ``fallbacks``: ordered
    model names tried after the ranked candidates, no duplicates."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NAME_PATTERN, max_length=100)
    strategy: Strategy
    candidates: list[str] = Field(min_length=1)
    fallbacks: list[str] = Field(default_factory=list)
    constraints: RoutingConstraints = Field(default_factory=RoutingConstraints)
    description: str = Field(default="", max_length=2000)

    @field_validator("candidates", "fallbacks")
    @classmethod
    def _model_list(cls, value: list[str]) -> list[str]:
        return check_model_list(value)

    def validate_models(self, catalog: Collection[str] | Any) -> None:
        """Check every candidate and fallback against ``catalog`` (a ``ModelCatalog`` or a
        collection of model names). Raises :class:`UnknownPolicyModel` (a ``ValueError``)
        naming the field, the position and the unknown model."""
        names = catalog.entries if hasattr(catalog, "entries") else catalog
        known = list(names)
        for field_name in ("candidates", "fallbacks"):
            for i, model in enumerate(getattr(self, field_name)):
                if model not in names:
                    raise UnknownPolicyModel(field_name, i, model, known)


def is_valid_policy_name(name: str) -> bool:
    return bool(_NAME_RE.match(name))


@dataclass(frozen=True)
class CandidateFigures:
    """Live figures of one candidate model for one request.

    ``p95_latency_ms``: rolling p95 of successful calls in ms (None: none in the window);
    ``error_rate``: rolling retryable failures / calls in [0, 1]; ``quality``: mean evaluation
    score in [0, 1] (None: no recent score); ``est_cost_usd``: estimated maximum cost of this
    request in USD; ``breaker_state``: ``closed`` | ``half_open`` | ``open``; ``calls`` and
    ``quality_samples``: how many calls / scores the figures rest on.
    """

    model: str
    p95_latency_ms: float | None
    error_rate: float
    quality: float | None
    est_cost_usd: float
    breaker_state: str = "closed"
    calls: int = 0
    quality_samples: int = 0


@dataclass(frozen=True)
class RoutingDecision:
    """What a policy decided for one request: ``ordered`` models to try, ``chosen`` (the
    first), a one-sentence ``reason`` and, per candidate, its figures plus ``eligible`` and
    ``excluded_because`` (list of reasons)."""

    policy: str
    strategy: str
    ordered: list[str]
    reason: str
    candidates: list[dict[str, Any]] = field(default_factory=list)

    @property
    def chosen(self) -> str:
        return self.ordered[0]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form stored on ``Run.routing``: ``{"policy", "strategy", "chosen",
        "ordered", "reason", "candidates"}``."""
        return {
            "policy": self.policy,
            "strategy": self.strategy,
            "chosen": self.chosen,
            "ordered": list(self.ordered),
            "reason": self.reason,
            "candidates": [dict(c) for c in self.candidates],
        }


def _usd(value: float) -> str:
    """USD with up to 8 decimals and 2 significant figures past leading zeros: $0.00012."""
    if value == 0:
        return "$0"
    text = f"{value:.2g}" if value < 1 else f"{value:.2f}"
    if "e" in text:
        text = f"{float(text):.8f}".rstrip("0").rstrip(".")
    return f"${text}"


def _ms(value: float) -> str:
    return f"{value:.0f} ms"


def exclusions(figures: CandidateFigures, constraints: RoutingConstraints) -> list[str]:
    """Why ``figures``' model is not eligible under ``constraints`` ([] when it is)."""
    reasons: list[str] = []
    if figures.breaker_state == "open":
        reasons.append("circuit breaker open")
    limit = constraints.max_p95_latency_ms
    if limit is not None and figures.p95_latency_ms is not None and figures.p95_latency_ms > limit:
        reasons.append(f"p95 {_ms(figures.p95_latency_ms)} > {_ms(limit)}")
    if constraints.min_quality is not None:
        if figures.quality is None:
            reasons.append(
                f"no recent evaluation score to meet min quality {constraints.min_quality:.2f}"
            )
        elif figures.quality < constraints.min_quality:
            reasons.append(f"quality {figures.quality:.2f} < {constraints.min_quality:.2f}")
    if constraints.max_cost_usd is not None and figures.est_cost_usd > constraints.max_cost_usd:
        reasons.append(f"est. cost {_usd(figures.est_cost_usd)} > {_usd(constraints.max_cost_usd)}")
    return reasons


def _rank_key(strategy: str, figures: CandidateFigures, position: int) -> tuple[Any, ...]:
    if strategy == "cost_first":
        primary: tuple[Any, ...] = (figures.est_cost_usd,)
    elif strategy == "latency_first":
        p95 = figures.p95_latency_ms
        primary = (p95 is None, p95 if p95 is not None else 0.0)
    else:
        q = figures.quality
        primary = (q is None, -q if q is not None else 0.0)
    return (*primary, figures.error_rate, position)


def _why_first(strategy: str, best: CandidateFigures, eligible: int) -> str:
    """``"<model> is the cheapest of 2 eligible candidates ($0.00012 est.)"`` and the like."""
    if strategy == "cost_first":
        best_at, figure = "the cheapest", f"{_usd(best.est_cost_usd)} est."
    elif strategy == "latency_first":
        best_at, figure = (
            "the fastest",
            (
                f"p95 {_ms(best.p95_latency_ms)}"
                if best.p95_latency_ms is not None
                else "no p95 measured yet"
            ),
        )
    else:
        best_at, figure = (
            "the best-rated",
            (f"quality {best.quality:.2f}" if best.quality is not None else "no quality score yet"),
        )
    unmeasured = figure.startswith("no ")
    if eligible == 1:
        return f"{best.model} is the only eligible candidate ({figure})"
    if unmeasured:  # ranked last-resort on error rate and policy order
        best_at = "first"
    return f"{best.model} is {best_at} of {eligible} eligible candidates ({figure})"


def choose(
    spec: RoutingPolicySpec, figures: Sequence[CandidateFigures] | Mapping[str, CandidateFigures]
) -> RoutingDecision:
    """Rank ``spec``'s candidates on ``figures`` (one per candidate; extra ones are ignored) and
    return the decision (see the module docstring for the rules).

    Raises ``ValueError`` when a candidate has no figures, :class:`NoEligibleModel` when no
    candidate is eligible and the policy has no fallback.
    """
    by_model = dict(figures) if isinstance(figures, Mapping) else {f.model: f for f in figures}
    rows: list[dict[str, Any]] = []
    eligible: list[tuple[tuple[Any, ...], CandidateFigures]] = []
    excluded: list[tuple[str, list[str]]] = []
    for position, model in enumerate(spec.candidates):
        fig = by_model.get(model)
        if fig is None:
            raise ValueError(f"no figures for candidate {model!r}")
        reasons = exclusions(fig, spec.constraints)
        rows.append({**asdict(fig), "eligible": not reasons, "excluded_because": reasons})
        if reasons:
            excluded.append((model, reasons))
        else:
            eligible.append((_rank_key(spec.strategy, fig, position), fig))
    eligible.sort(key=lambda pair: pair[0])
    ranked = [fig.model for _, fig in eligible]
    ordered = ranked + [m for m in spec.fallbacks if m not in ranked]
    excluded_text = ", ".join(f"{m} ({'; '.join(r)})" for m, r in excluded)
    if not ordered:
        raise NoEligibleModel(
            f"routing policy {spec.name!r} has no eligible candidate and no fallback: "
            f"{excluded_text}"
        )
    if ranked:
        reason = f"{spec.strategy}: {_why_first(spec.strategy, eligible[0][1], len(ranked))}"
    else:
        reason = (
            f"{spec.strategy}: no candidate is eligible, so the fallback "
            f"{ordered[0]} is tried first"
        )
    if excluded:
        reason += f"; excluded: {excluded_text}"
    return RoutingDecision(
        policy=spec.name, strategy=spec.strategy, ordered=ordered, reason=reason, candidates=rows
    )
