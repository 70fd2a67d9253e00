"""The database component of the embedded stack.

Brought up by the supervisor: the embedded Postgres started (when ``DATABASE_URL`` is not set),
the schema migrated to Alembic head (also on an external database) and the local Admin key
bootstrapped; then watched (a postmaster that dies is started again, within the restart budget)
and stopped last. Events go to ``HOME/logs/postgres.log``; the server's own log stays in
``pgdata/log``. The server itself is :mod:`promptops.devstack.postgres`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Protocol

from promptops.devstack.admin_key import ensure_admin_key
from promptops.devstack.components import MAX_RESTARTS, ComponentState
from promptops.devstack.errors import StackError
from promptops.devstack.processes import now_iso
from promptops.settings import Settings


class Say(Protocol):
    """How the supervisor reports a line to the person running the stack."""

    def __call__(self, message: str, style: str | None = None) -> None: ...


class DatabaseComponent:
    """The ``postgres`` component: ``comp`` is the supervisor's record of it (pid, status)."""

    def __init__(self, settings: Settings, comp: ComponentState, say: Say) -> None:
        assert comp.log is not None
        self.settings = settings
        self.comp = comp
        self.log: Path = comp.log
        self.say = say

    def log_event(self, message: str) -> None:
        """Append a timestamped line to the component's log."""
        with open(self.log, "a") as fh:
            fh.write(f"{now_iso()} {message}\n")

    def start(self) -> str:
        """Start (or attach to) the embedded server; returns its SQLAlchemy URL and records the
        postmaster's pid. Raises :class:`StackError` with the server's log."""
        from promptops.devstack.postgres import (
            EmbeddedPostgresError,
            postgres_pid,
            start_postgres,
        )

        self.log_event(f"starting embedded Postgres in {self.settings.pgdata}")
        try:
            url = start_postgres(self.settings.pgdata)
        except EmbeddedPostgresError as exc:
            self.log_event(f"failed: {exc}")
            raise StackError(
                f"embedded Postgres failed: {exc}".splitlines()[0],
                component="postgres",
                log=str(self.settings.pgdata / "log"),
                log_tail=str(exc),
            ) from exc
        self.comp.pid = postgres_pid(self.settings.pgdata)
        self.log_event(f"running (pid {self.comp.pid}): {url}")
        return url

    def migrate(self, url: str) -> None:
        """Migrate the database at ``url`` to head, then bootstrap the local Admin key
        (:func:`~promptops.devstack.admin_key.ensure_admin_key`). Raises :class:`StackError`."""
        try:
            from promptops.db.migrate import upgrade_head
        except ModuleNotFoundError as exc:
            if exc.name in ("promptops.db.migrate", "promptops.db"):
                self.say(
                    "Postgres: promptops.db.migrate not found; skipping migrations", style="yellow"
                )
                self.log_event("promptops.db.migrate not found; migrations skipped")
                return
            raise StackError(
                f"database migrations cannot be imported: {exc}", component="postgres"
            ) from exc
        t0 = time.monotonic()
        try:
            upgrade_head(url)
        except Exception as exc:
            import traceback

            self.log_event("migrations failed:\n" + traceback.format_exc())
            raise StackError(
                f"database migrations failed: {type(exc).__name__}: {exc}".splitlines()[0],
                component="postgres",
                log=str(self.log),
                log_tail=traceback.format_exc(limit=3),
            ) from exc
        self.log_event(f"migrations at head ({time.monotonic() - t0:.1f}s)")
        try:
            path, created = ensure_admin_key(self.settings, url)
        except Exception as exc:
            raise StackError(
                f"cannot bootstrap the admin API key: {exc}", component="postgres"
            ) from exc
        self.say(
            f"admin API key {'created and ' if created else ''}stored in {path} "
            f"(the CLI reads it; for curl: export PROMPTOPS_API_KEY=$(cat {path}))"
        )

    def watch(self) -> bool:
        """One look at the embedded server: record a new postmaster, start a dead one again
        (up to ``MAX_RESTARTS`` times). Returns whether the component's state changed."""
        from promptops.devstack.postgres import postgres_pid, start_postgres

        pg = self.comp
        pid = postgres_pid(self.settings.pgdata)
        if pid is not None:
            if pg.status != "up" or pg.pid != pid:
                pg.pid, pg.status, pg.detail = pid, "up", "running"
                return True
            return False
        if pg.status == "failed":
            return False
        if pg.restarts >= MAX_RESTARTS:
            pg.status, pg.detail, pg.pid = (
                "failed",
                f"stopped; gave up after {pg.restarts} restarts",
                None,
            )
            self.say("Postgres: gave up restarting", style="red")
            return True
        pg.restarts += 1
        self.say(
            f"Postgres: not running; restarting ({pg.restarts}/{MAX_RESTARTS})", style="yellow"
        )
        self.log_event("postmaster gone; restarting")
        try:
            start_postgres(self.settings.pgdata)
            pg.pid, pg.status, pg.detail = postgres_pid(self.settings.pgdata), "up", "restarted"
        except Exception as exc:  # noqa: BLE001
            pg.pid, pg.status, pg.detail = (
                None,
                "restarting",
                f"restart failed: {exc}".splitlines()[0],
            )
        return True

    def stop(self) -> None:
        """Stop the embedded server (fast shutdown); a failure is reported, not raised."""
        from promptops.devstack.postgres import stop_postgres

        try:
            if stop_postgres(self.settings.pgdata):
                self.log_event("stopped")
        except Exception as exc:  # noqa: BLE001
            self.say(f"Postgres: stop failed: {exc}", style="red")
        self.comp.pid, self.comp.status, self.comp.detail = None, "down", ""
