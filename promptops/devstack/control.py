"""Controlling the embedded stack from outside its supervisor (the CLI, demos, tests): start a
supervisor in the background and wait until it reports healthy, attach to a running one, stop it
and whatever a dead one left behind, and show its URLs.

Everything here goes through ``HOME/state.json`` (:mod:`promptops.devstack.state`) and signals;
the supervisor runs as ``python -m promptops.devstack.supervisor``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promptops.devstack.components import POLL_SECONDS, child_env, stop_timeout
from promptops.devstack.errors import StackError
from promptops.devstack.ports import check_ports
from promptops.devstack.processes import log_tail, process_alive, terminate_pid
from promptops.devstack.state import load_state, mask_url, read_state_file, supervisor_alive
from promptops.settings import Settings, get_settings

if TYPE_CHECKING:
    from rich.table import Table


def _stop_children(state: dict[str, Any]) -> list[str]:
    """Stop the children recorded in ``state`` that still run; returns their names."""
    stopped: list[str] = []
    for name, comp in (state.get("components") or {}).items():
        if (
            name != "postgres"
            and comp.get("pid")
            and terminate_pid(int(comp["pid"]), comp.get("create_time"), stop_timeout(name))
        ):
            stopped.append(name)
    return stopped


def cleanup_stale(settings: Settings) -> list[str]:
    """Stop children left behind by a supervisor that died (SIGKILL, crash). Returns their names."""
    state = read_state_file(settings)
    if state is None or supervisor_alive(state):
        return []
    return _stop_children(state)


def spawn_detached(settings: Settings | None = None) -> subprocess.Popen[bytes]:
    """Start ``python -m promptops.devstack.supervisor`` in a new session for ``settings``."""
    settings = settings or get_settings()
    home = settings.home_dir
    (home / "logs").mkdir(parents=True, exist_ok=True)
    env = child_env(settings)
    with open(home / "logs" / "supervisor.log", "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "promptops.devstack.supervisor"],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=Path.cwd(),
            start_new_session=True,
        )
    # reap it when it exits while this process lives on (no zombie that looks alive)
    threading.Thread(target=proc.wait, daemon=True, name="promptops-supervisor-reaper").start()
    return proc


def _error_from_state(state: dict[str, Any]) -> StackError:
    err = state.get("error") or {}
    return StackError(
        err.get("message") or f"stack {state.get('status')}",
        component=err.get("component"),
        log=err.get("log"),
        log_tail=err.get("log_tail"),
    )


def wait_until_healthy(
    settings: Settings | None = None,
    *,
    proc: subprocess.Popen[bytes] | None = None,
    timeout: float | None = None,
    on_progress: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Wait for the supervisor of ``settings.home`` to report ``healthy`` (or ``degraded``);
    returns its state. ``timeout`` in seconds (default ``PROMPTOPS_STARTUP_TIMEOUT``); raises
    :class:`StackError` when the stack failed, was stopped, or its supervisor exited."""
    settings = settings or get_settings()
    timeout = settings.startup_timeout if timeout is None else timeout
    deadline = time.monotonic() + timeout
    exited_at: float | None = None
    sup_log = settings.home_dir / "logs" / "supervisor.log"
    while time.monotonic() < deadline:
        raw = read_state_file(settings)
        live = raw is not None and supervisor_alive(raw)
        if live:
            assert raw is not None
            if raw.get("status") in ("healthy", "degraded"):
                return raw
            if on_progress is not None:
                on_progress(raw)
        else:
            ours = (
                raw is not None
                and proc is not None
                and (raw.get("supervisor") or {}).get("pid") == proc.pid
            )
            if raw is not None and raw.get("status") == "failed" and (proc is None or ours):
                raise _error_from_state(raw)
            if raw is not None and raw.get("status") == "stopped" and ours:
                raise StackError(
                    "the stack was stopped (`promptops down`) before it became healthy"
                )
            if proc is None:
                raise StackError(f"no PromptOps stack is running in {settings.home_dir}")
            if proc.poll() is not None:
                exited_at = exited_at or time.monotonic()
                if time.monotonic() - exited_at > 3.0:  # not a start race with another `up`
                    raise StackError(
                        f"the supervisor exited with code {proc.returncode}",
                        component="supervisor",
                        log=str(sup_log),
                        log_tail=log_tail(sup_log, lines=30),
                    )
        time.sleep(POLL_SECONDS)
    raise StackError(
        f"the stack was not healthy within {timeout:.0f}s (see {settings.home_dir / 'logs'})",
        log=str(sup_log),
        log_tail=log_tail(sup_log, lines=30),
    )


def load_state_settled(
    settings: Settings | None = None, timeout: float = 60.0
) -> dict[str, Any] | None:
    """Like :func:`~promptops.devstack.state.load_state`, but first waits out a supervisor that
    is stopping or has failed (up to ``timeout`` seconds, then :class:`StackError`)."""
    settings = settings or get_settings()
    deadline = time.monotonic() + timeout
    state = load_state(settings)
    while state is not None and state.get("status") in ("stopping", "stopped", "failed"):
        if time.monotonic() > deadline:
            raise StackError(f"the supervisor in {settings.home_dir} does not finish stopping")
        time.sleep(POLL_SECONDS)
        state = load_state(settings)
    return state


def ensure_stack_running(
    settings: Settings | None = None,
    *,
    timeout: float | None = None,
    on_progress: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Return the state of a healthy stack for ``settings``, starting it detached if needed.

    Raises :class:`StackError` (or :class:`PortInUseError`) with a message for people.
    """
    settings = settings or get_settings()
    state = load_state_settled(settings)
    if state is not None and state.get("status") in ("healthy", "degraded"):
        return state
    proc = None
    if state is None:
        cleanup_stale(settings)
        check_ports(settings)
        proc = spawn_detached(settings)
    return wait_until_healthy(settings, proc=proc, timeout=timeout, on_progress=on_progress)


def stop_stack(settings: Settings | None = None, *, timeout: float = 60.0) -> list[str]:
    """Stop the stack of ``settings.home`` and wait until every child is gone (idempotent).

    ``timeout``: seconds the supervisor gets to stop its children before it is killed. Returns
    what was stopped (empty when nothing ran).
    """
    settings = settings or get_settings()
    raw = read_state_file(settings)
    stopped: list[str] = []
    if raw is not None and supervisor_alive(raw):
        sup = raw["supervisor"]
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(sup["pid"]), signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and process_alive(sup["pid"], sup.get("create_time")):
            time.sleep(POLL_SECONDS)
        if process_alive(sup["pid"], sup.get("create_time")):
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(sup["pid"]), signal.SIGKILL)
        stopped.append("supervisor")
        raw = read_state_file(settings) or raw
    # children a dead supervisor left behind (killed -9, or timed out above)
    if raw is not None:
        stopped += _stop_children(raw)
    if (
        raw is None
        or (raw.get("components") or {}).get("postgres", {}).get("mode", "embedded") == "embedded"
    ):
        from promptops.devstack.postgres import stop_postgres

        if settings.pgdata.exists() and stop_postgres(settings.pgdata):
            stopped.append("postgres")
    return stopped


def urls_table(state: dict[str, Any]) -> Table:
    """A rich table of the stack's URLs (the database URL without its password)."""
    from rich.table import Table

    urls = state.get("urls") or {}
    table = Table(title="PromptOps stack", show_header=True, header_style="bold")
    table.add_column("What")
    table.add_column("Where", overflow="fold")
    llm = urls.get("llm_base_url")
    key_file = urls.get("admin_key_file")
    rows = [
        ("Web app", urls.get("web_app")),
        ("API", urls.get("api")),
        ("API docs", urls.get("docs")),
        ("Temporal UI", urls.get("temporal_ui")),
        ("Temporal address", urls.get("temporal_address")),
        ("Database", mask_url(urls.get("database_url"))),
        ("LLM (OpenAI API)", f"{llm}/v1" if llm else None),
        ("Models file", urls.get("models_file")),
        (
            "Admin API key",
            f"{key_file} (export PROMPTOPS_API_KEY=$(cat {key_file}))" if key_file else None,
        ),
        ("Logs", str(Path(state.get("home", ".")) / "logs")),
    ]
    for what, where in rows:
        if where:
            table.add_row(what, str(where))
    return table
