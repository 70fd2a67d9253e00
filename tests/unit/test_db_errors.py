"""Which driver errors mean "the database is unavailable" (:mod:`promptops.db.errors`), and the
HTTP answer to them (:func:`api.errors.install_handlers`): 503 in the API's error shape (OpenAI's
under ``/v1``) naming the database, never the driver's text; every other driver error is still
a 500."""

from __future__ import annotations

import httpx
import psycopg
import pytest
from fastapi import FastAPI
from psycopg_pool import PoolTimeout
from sqlalchemy import exc as sa_exc

from api.errors import install_handlers
from promptops.db.errors import database_errors, database_unavailable, unavailable
from promptops.errors import ServiceUnavailable

#: A driver message as libpq writes it: it names the socket, which clients must not see.
REFUSED = (
    'connection failed: connection to server on socket "/srv/pg/.s.PGSQL.5432" failed: '
    "Connection refused"
)


def _sa(
    cls: type[sa_exc.DBAPIError], orig: Exception, *, invalidated: bool = False
) -> sa_exc.DBAPIError:
    return cls("SELECT 1", {}, orig, connection_invalidated=invalidated)


@pytest.mark.parametrize(
    "exc",
    [
        pytest.param(psycopg.OperationalError(REFUSED), id="psycopg-refused"),
        pytest.param(
            psycopg.OperationalError(
                "consuming input failed: server closed the connection unexpectedly"
            ),
            id="psycopg-lost",
        ),
        pytest.param(PoolTimeout("couldn't get a connection after 5.00 sec"), id="pool-timeout"),
        pytest.param(psycopg.errors.AdminShutdown("terminating connection"), id="57P01"),
        pytest.param(psycopg.errors.CrashShutdown(), id="57P02"),
        pytest.param(
            psycopg.errors.CannotConnectNow("the database system is starting up"), id="57P03"
        ),
        pytest.param(psycopg.errors.TooManyConnections(), id="53300"),
        pytest.param(psycopg.errors.ConnectionFailure(), id="08006"),
        pytest.param(
            _sa(sa_exc.OperationalError, psycopg.OperationalError(REFUSED)),
            id="sqlalchemy-operational",
        ),
        pytest.param(
            _sa(sa_exc.OperationalError, psycopg.errors.AdminShutdown()),
            id="sqlalchemy-admin-shutdown",
        ),
        pytest.param(
            _sa(
                sa_exc.InterfaceError,
                psycopg.InterfaceError("the connection is closed"),
                invalidated=True,
            ),
            id="sqlalchemy-interface-invalidated",
        ),
        pytest.param(
            _sa(sa_exc.DBAPIError, psycopg.DatabaseError("lost"), invalidated=True),
            id="sqlalchemy-dbapi-invalidated",
        ),
        pytest.param(
            sa_exc.TimeoutError("QueuePool limit of size 10 overflow 20 reached"),
            id="sqlalchemy-pool-timeout",
        ),
    ],
)
def test_outages_are_database_unavailable(exc: Exception) -> None:
    assert database_unavailable(exc)


@pytest.mark.parametrize(
    "exc",
    [
        pytest.param(
            psycopg.errors.QueryCanceled("canceling statement due to statement timeout"),
            id="query-canceled",
        ),
        pytest.param(psycopg.errors.LockNotAvailable(), id="lock-not-available"),
        pytest.param(psycopg.errors.DiskFull(), id="disk-full"),
        pytest.param(psycopg.errors.UniqueViolation(), id="unique-violation"),
        pytest.param(psycopg.InterfaceError("the cursor is closed"), id="psycopg-interface"),
        pytest.param(
            _sa(sa_exc.IntegrityError, psycopg.errors.UniqueViolation()), id="sqlalchemy-integrity"
        ),
        pytest.param(
            _sa(sa_exc.InterfaceError, psycopg.InterfaceError("bad use")),
            id="sqlalchemy-interface-not-invalidated",
        ),
        pytest.param(
            _sa(sa_exc.OperationalError, psycopg.errors.QueryCanceled()),
            id="sqlalchemy-query-canceled",
        ),
        pytest.param(ConnectionRefusedError("provider refused"), id="not-a-driver-error"),
        pytest.param(ValueError("x"), id="value-error"),
    ],
)
def test_statement_errors_are_not_database_unavailable(exc: Exception) -> None:
    assert not database_unavailable(exc)


def test_unavailable_names_the_database_and_the_error_class_only() -> None:
    error = unavailable(_sa(sa_exc.OperationalError, psycopg.OperationalError(REFUSED)))
    assert isinstance(error, ServiceUnavailable)
    assert error.status_code == 503 and error.retryable
    assert error.message == (
        "the database is unavailable (OperationalError); retry in a few seconds"
    )
    assert "/srv/pg" not in error.message


def test_database_errors_reraises_outages_as_service_unavailable() -> None:
    refused = psycopg.OperationalError(REFUSED)
    with pytest.raises(ServiceUnavailable) as caught, database_errors():
        raise refused
    assert caught.value.__cause__ is refused


@pytest.mark.parametrize(
    "exc",
    [psycopg.errors.UniqueViolation(), psycopg.errors.DiskFull(), KeyError("k")],
    ids=["unique", "disk-full", "key-error"],
)
def test_database_errors_lets_other_errors_through(exc: Exception) -> None:
    with pytest.raises(type(exc)) as caught, database_errors():
        raise exc
    assert caught.value is exc


def _app_raising(exc: Exception) -> FastAPI:
    app = FastAPI()
    install_handlers(app)

    async def fail() -> None:
        raise exc

    app.add_api_route("/api/v1/thing", fail)
    app.add_api_route("/v1/chat/completions", fail, methods=["POST"])
    return app


@pytest.mark.parametrize(
    "exc",
    [
        pytest.param(_sa(sa_exc.OperationalError, psycopg.errors.AdminShutdown()), id="orm"),
        pytest.param(PoolTimeout("couldn't get a connection after 5.00 sec"), id="raw-pool"),
    ],
)
async def test_a_route_hit_by_an_outage_answers_503_naming_the_database(exc: Exception) -> None:
    transport = httpx.ASGITransport(app=_app_raising(exc))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        r = await client.get("/api/v1/thing")
        assert r.status_code == 503, r.text
        assert r.json()["detail"].startswith("the database is unavailable (")
        r = await client.post("/v1/chat/completions", json={})
        assert r.status_code == 503, r.text
        error = r.json()["error"]
        assert error["type"] == "ServiceUnavailable" and error["code"] == 503
        assert error["message"].startswith("the database is unavailable (")


async def test_other_driver_errors_are_still_server_errors() -> None:
    app = _app_raising(_sa(sa_exc.IntegrityError, psycopg.errors.UniqueViolation()))
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        assert (await client.get("/api/v1/thing")).status_code == 500
