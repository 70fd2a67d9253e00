"""The error types of Temporal failures (``activities.errors``), the one mapping of domain errors
to ``ApplicationError``, and the shared retry policies (``activities.retry_policies``)."""

from __future__ import annotations

import dataclasses

import pytest
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

# Domain errors defined beside their feature (imported so that they are always counted).
import promptops.retrieval.parsing
import promptops.retrieval.rerank
from activities import errors, retry_policies
from activities.approval.types import REMINDER_ATTEMPTS
from activities.errors import DOMAIN_ERROR_TYPES, application_error
from promptops.errors import (
    BudgetExceeded,
    InvalidInput,
    NotFound,
    PromptOpsError,
    ProviderFailed,
    RateLimited,
    ServiceUnavailable,
)


def _subclasses(cls: type[PromptOpsError]) -> list[type[PromptOpsError]]:
    return [c for sub in cls.__subclasses__() for c in (sub, *_subclasses(sub))]


DOMAIN_ERRORS = _subclasses(PromptOpsError)


def test_every_domain_error_has_its_type_constant() -> None:
    names = sorted(c.__name__ for c in DOMAIN_ERRORS)
    assert names, "no domain errors found"
    assert sorted(DOMAIN_ERROR_TYPES) == names
    # The constant of class ``FooBar`` is FOO_BAR.
    for name in names:
        constant = "".join(f"_{ch}" if ch.isupper() else ch.upper() for ch in name).lstrip("_")
        assert getattr(errors, constant) == name


def test_error_types_are_distinct() -> None:
    values = [
        getattr(errors, n) for n in errors.__all__ if n.isupper() and n != "DOMAIN_ERROR_TYPES"
    ]
    assert len(values) == len(set(values))


@pytest.mark.parametrize(
    ("exc", "non_retryable"),
    [
        (InvalidInput("bad variables", field="variables"), True),
        (NotFound("prompt version 7 not found"), True),
        (BudgetExceeded("monthly budget of project p exhausted"), True),
        (ProviderFailed("provider refused", status_code=400), True),
        (ProviderFailed("provider down", retryable=True), False),
        (RateLimited("slow down", limit=10, remaining=0, retry_after_s=3), False),
        (ServiceUnavailable("database restarting"), False),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, PromptOpsError) else str(v),
)
def test_application_error_keeps_type_and_retryability(
    exc: PromptOpsError, non_retryable: bool
) -> None:
    err = application_error(exc)
    assert isinstance(err, ApplicationError)
    assert err.type == type(exc).__name__ and err.type in DOMAIN_ERROR_TYPES
    assert err.non_retryable is non_retryable
    assert err.message == exc.message


@pytest.mark.parametrize("cls", DOMAIN_ERRORS, ids=lambda c: c.__name__)
def test_every_class_maps_to_its_name(cls: type[PromptOpsError]) -> None:
    if cls is RateLimited:
        exc: PromptOpsError = RateLimited("x", limit=1, remaining=0, retry_after_s=1)
    elif cls is promptops.retrieval.parsing.ParseError:
        exc = promptops.retrieval.parsing.ParseError("x", source="doc.html")
    else:
        exc = cls("x")
    err = application_error(exc, "example 17: ")
    assert (err.type, err.message) == (cls.__name__, "example 17: x")
    assert err.non_retryable is (not exc.retryable)


def test_application_error_is_raised_from_the_domain_error() -> None:
    domain = NotFound("dataset d not found")
    with pytest.raises(ApplicationError) as caught:
        try:
            raise domain
        except PromptOpsError as exc:
            raise application_error(exc) from exc
    assert caught.value.__cause__ is domain


POLICIES = {
    name: value for name, value in vars(retry_policies).items() if isinstance(value, RetryPolicy)
}


def test_the_module_holds_the_policies() -> None:
    assert set(POLICIES) == {
        "STANDARD",
        "DEPLOYMENT_START",
        "DEPLOYMENT_FINISH",
        "REMINDER",
        "HEALTH_CHECK",
        "ROLLUP_FOLD",
    }


@pytest.mark.parametrize("name", sorted(POLICIES))
def test_every_policy_is_bounded(name: str) -> None:
    policy = POLICIES[name]
    assert 0 < policy.maximum_attempts <= 100
    assert policy.maximum_interval is not None
    assert policy.initial_interval <= policy.maximum_interval
    known = set(errors.DOMAIN_ERROR_TYPES) | {errors.INVALID_STATE}
    assert set(policy.non_retryable_error_types or ()) <= known


def test_standard_never_retries_bad_input_missing_rows_or_forbidden_states() -> None:
    assert set(retry_policies.STANDARD.non_retryable_error_types or ()) == {
        errors.INVALID_INPUT,
        errors.NOT_FOUND,
        errors.INVALID_STATE,
    }


def test_deployment_start_retries_a_row_not_visible_yet() -> None:
    assert errors.NOT_VISIBLE not in (
        retry_policies.DEPLOYMENT_START.non_retryable_error_types or ()
    )


def test_reminder_attempts_match_the_activity() -> None:
    """``send_approval_reminder`` gives up quietly on its last attempt: the policy must stop
    there too."""
    assert retry_policies.REMINDER.maximum_attempts == REMINDER_ATTEMPTS


def test_a_variant_leaves_the_shared_policy_alone() -> None:
    variant = dataclasses.replace(retry_policies.STANDARD, maximum_attempts=3)
    assert variant.maximum_attempts == 3 and retry_policies.STANDARD.maximum_attempts == 20
