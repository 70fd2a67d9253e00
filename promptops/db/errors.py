"""Which failures mean "the database is unavailable", decided in one place.

Postgres being down, restarting or out of connections reaches the code as driver errors of
several libraries: psycopg's ``OperationalError`` (connection refused, connection lost, the
server shutting down or still recovering), psycopg_pool's ``PoolTimeout`` (no connection
within the pool's timeout), and SQLAlchemy's wrappers of them (``OperationalError``,
``InterfaceError``/``DBAPIError`` with ``connection_invalidated``, its own pool ``TimeoutError``).
:func:`database_unavailable` tells them apart from errors of the statement itself (a constraint,
a syntax error, a cancelled query), and :func:`unavailable` turns one into the domain error
:class:`promptops.errors.ServiceUnavailable` (503, retryable) that each transport maps once:
``api.errors`` for HTTP, ``activities.errors.application_error`` for Temporal (a retryable
``ApplicationError`` of type ``ServiceUnavailable``).

:func:`database_errors` does both for a block of code::

    with database_errors():
        await repository.do_something()   # a dead database raises ServiceUnavailable
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from sqlalchemy import exc as sa_exc

from promptops.errors import ServiceUnavailable

__all__ = ["DRIVER_ERRORS", "database_errors", "database_unavailable", "unavailable"]

#: The exception classes a database outage arrives as (what an ``except`` or an exception
#: handler registers for); :func:`database_unavailable` decides within them.
DRIVER_ERRORS: tuple[type[Exception], ...] = (
    psycopg.OperationalError,
    sa_exc.DBAPIError,
    sa_exc.TimeoutError,
)

#: SQLSTATEs of a server that is going away, not there yet or full (PostgreSQL "Appendix A.
#: PostgreSQL Error Codes"): admin_shutdown, crash_shutdown, cannot_connect_now,
#: idle_session_timeout, too_many_connections. Class 08 (connection_exception) counts as a
#: whole. Other operational errors (query_canceled, lock_not_available, disk_full) are about
#: the statement or need an operator: they stay what they are.
UNAVAILABLE_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "57P05", "53300"})


def _driver_unavailable(exc: BaseException | None) -> bool:
    if not isinstance(exc, psycopg.OperationalError):
        return False
    # No SQLSTATE: the client's own verdict (connection refused or timed out, connection
    # lost mid-statement, the connection already closed, psycopg_pool's PoolTimeout).
    state = exc.sqlstate
    return state is None or state.startswith("08") or state in UNAVAILABLE_SQLSTATES


def database_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` means the database cannot be reached or used right now (so the same
    request may succeed later unchanged), as opposed to an error of the statement.

    True for: psycopg ``OperationalError`` without SQLSTATE (connection refused, timed out or
    lost; psycopg_pool's ``PoolTimeout``) or with a SQLSTATE of class 08 or in
    :data:`UNAVAILABLE_SQLSTATES`; SQLAlchemy ``DBAPIError`` (``OperationalError``,
    ``InterfaceError``...) with ``connection_invalidated`` or wrapping one of those; SQLAlchemy's
    pool ``TimeoutError``. False for everything else."""
    if isinstance(exc, sa_exc.DBAPIError):
        return exc.connection_invalidated or _driver_unavailable(exc.orig)
    if isinstance(exc, sa_exc.TimeoutError):
        return True
    return _driver_unavailable(exc)


def unavailable(exc: BaseException) -> ServiceUnavailable:
    """The domain error for a database outage ``exc`` (see :func:`database_unavailable`).

    The message names the database and the driver's error class, never the driver's text
    (which carries host names and socket paths): log ``exc`` for that."""
    driver = exc.orig if isinstance(exc, sa_exc.DBAPIError) and exc.orig is not None else exc
    return ServiceUnavailable(
        f"the database is unavailable ({type(driver).__name__}); retry in a few seconds"
    )


@contextmanager
def database_errors() -> Iterator[None]:
    """Re-raise a database outage inside the block as :class:`ServiceUnavailable` (chained to
    the driver's error); every other exception passes through unchanged."""
    try:
        yield
    except DRIVER_ERRORS as exc:
        if not database_unavailable(exc):
            raise
        raise unavailable(exc) from exc
