"""Retry policies of the workflows' activity calls, one place for all of them.

Temporal owns retries (activities call providers with ``num_retries=0``), so every activity
call names one of these bounded policies. They live in ``activities/`` beside the error types
they name (:mod:`activities.errors`) and the activity facts they follow
(:data:`activities.approval.types.REMINDER_ATTEMPTS`). Shared objects: never mutate one; derive
a variant with ``dataclasses.replace``.

Total time before giving up is the sum of the backoff intervals (plus each attempt's run time).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Final

from temporalio.common import RetryPolicy

from activities.approval.types import REMINDER_ATTEMPTS
from activities.errors import INVALID_INPUT, INVALID_STATE, NOT_FOUND

__all__ = [
    "DEPLOYMENT_FINISH",
    "DEPLOYMENT_START",
    "HEALTH_CHECK",
    "NON_RETRYABLE",
    "REMINDER",
    "ROLLUP_FOLD",
    "STANDARD",
]

#: Failures retrying cannot fix, whatever the activity marked: bad input, a missing row, a row
#: whose state forbids the change.
NON_RETRYABLE: Final = (INVALID_INPUT, NOT_FOUND, INVALID_STATE)

#: Reads and idempotent writes: 1 s doubling to 30 s, 20 attempts (about 7.5 minutes in all).
STANDARD: Final = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=20,
    non_retryable_error_types=NON_RETRYABLE,
)

#: ``start_deployment`` may run before the API's transaction that inserts the row commits (it
#: raises the retryable ``NotVisible``): 0.5 s doubling to 10 s, 12 attempts (about 75 s).
DEPLOYMENT_START: Final = RetryPolicy(
    initial_interval=timedelta(milliseconds=500),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=10),
    maximum_attempts=12,
    non_retryable_error_types=(INVALID_INPUT,),
)

#: Finishing a deployment (a rollback above all) is the safety action: 1 s doubling to 60 s,
#: 100 attempts (about 1.5 hours).
DEPLOYMENT_FINISH: Final = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=60),
    maximum_attempts=100,
    non_retryable_error_types=(INVALID_INPUT, NOT_FOUND),
)

#: An approval reminder is given up after :data:`REMINDER_ATTEMPTS` tries (the activity itself
#: returns ``delivered=False`` on the last one): reviews go on without it. 2 s doubling to 30 s.
REMINDER: Final = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=REMINDER_ATTEMPTS,
)

#: A failed probe is a result, so retries only cover database or worker failures, and the next
#: scheduled round comes soon anyway: 2 s doubling to 20 s, 3 attempts.
HEALTH_CHECK: Final = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=20),
    maximum_attempts=3,
)

#: A fold is idempotent and the next scheduled one comes within a minute: 2 s doubling to 20 s,
#: 3 attempts.
ROLLUP_FOLD: Final = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=20),
    maximum_attempts=3,
)
