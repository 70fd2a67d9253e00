"""Database outages in activities: one decorator that turns "the database cannot be reached"
(:mod:`promptops.db.errors`) into a retryable ``ApplicationError`` of type
``ServiceUnavailable``, so Temporal retries the activity once the database is back. Apart from
:mod:`activities.errors` because it imports the database driver's errors, which workflow
modules must never import (the import contract would break)."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

from activities.errors import application_error
from promptops.db.errors import database_errors
from promptops.errors import ServiceUnavailable

log = logging.getLogger(__name__)
_P = ParamSpec("_P")
_R = TypeVar("_R")


def database_outage_retryable(fn: Callable[_P, Awaitable[_R]]) -> Callable[_P, Awaitable[_R]]:
    """Fail the activity ``fn`` with a retryable ``ApplicationError`` of type
    ``ServiceUnavailable`` when the database is unavailable (:mod:`promptops.db.errors`,
    :func:`activities.errors.application_error`); every other error passes unchanged. The
    interrupted transaction was rolled back, so the retry starts again from the stored row.

    The failure goes to Temporal without the driver's exceptions as causes: their stack traces
    (12 KB for a refused connection through SQLAlchemy) exceed the size Temporal keeps for a
    pending activity's last failure, which then shows only "Failure exceeds size limit". The
    driver's message is logged instead."""

    @functools.wraps(fn)
    async def activity_body(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            with database_errors():
                return await fn(*args, **kwargs)
        except ServiceUnavailable as exc:
            log.warning(
                "%s: %s: %s", fn.__name__, exc.message, " ".join(str(exc.__cause__).split())
            )
            raise application_error(exc) from None

    return activity_body
