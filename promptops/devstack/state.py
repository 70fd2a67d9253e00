"""The state file of the embedded stack, ``PROMPTOPS_HOME/state.json``.

The supervisor rewrites it (atomically) whenever something changes; every other process reads it
to learn pids, URLs and health. ``state["status"]`` is ``starting``, ``healthy``, ``degraded``
(something restarting or given up), ``stopping``, ``stopped`` or ``failed``; ``state["urls"]``
has ``api``, ``docs``, ``temporal_ui``, ``temporal_address``, ``database_url``, ``llm_base_url``,
``models_file`` and ``admin_key_file``; ``state["components"]`` has one entry per component
(``mode``, ``status``, ``pid``, ``create_time``, ``url``, ``log``, ``restarts``, ``detail``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from promptops.devstack.components import ComponentState, api_url, llm_base_url
from promptops.devstack.errors import StackError
from promptops.devstack.processes import now_iso, process_alive
from promptops.settings import Settings, get_settings

STATE_FILE = "state.json"


def state_path(settings: Settings) -> Path:
    """Where the state file of ``settings.home`` is."""
    return settings.home_dir / STATE_FILE


def read_state_file(settings: Settings | None = None) -> dict[str, Any] | None:
    """The raw ``state.json`` (also of a supervisor that is gone), or ``None``."""
    settings = settings or get_settings()
    try:
        state: dict[str, Any] | None = json.loads(state_path(settings).read_text())
    except (OSError, ValueError):
        return None
    return state


def stack_urls(
    settings: Settings, comps: Mapping[str, ComponentState], database_url: str | None
) -> dict[str, str | None]:
    """The ``urls`` of the state: where each part of the stack is (``None``: not there)."""
    s = settings
    api_on = comps["api"].mode == "embedded"
    temporal_mode = comps["temporal"].mode
    llm_on = comps["llm"].mode == "embedded"
    api = api_url(s) if api_on else None
    models_file = None
    if comps["llm"].mode == "external":
        models_file = str(s.models_file)
    elif llm_on:
        models_file = str(s.embedded_models_file)
    return {
        "api": api,
        "web_app": f"{api}/" if api else None,
        "docs": f"{api}/docs" if api else None,
        "temporal_ui": s.temporal_ui_url if temporal_mode == "embedded" else None,
        "temporal_address": s.resolved_temporal_address if temporal_mode != "disabled" else None,
        "database_url": database_url,
        "llm_base_url": llm_base_url(s) if llm_on else None,
        "models_file": models_file,
        "admin_key_file": str(s.admin_key_file) if s.admin_key_file.exists() else None,
    }


def state_document(
    *,
    status: str,
    error: StackError | None,
    home: Path,
    supervisor_create_time: float | None,
    started_at: str,
    ready_at: str | None,
    startup_seconds: float | None,
    urls: dict[str, str | None],
    comps: Mapping[str, ComponentState],
) -> dict[str, Any]:
    """The state the supervisor of this process writes (see the module docstring)."""
    components: dict[str, Any] = {}
    for name, comp in comps.items():
        child = comp.child
        pid = (
            comp.pid
            if name == "postgres"
            else (child.pid if child is not None and child.alive() else None)
        )
        components[name] = {
            "mode": comp.mode,
            "status": comp.status,
            "pid": pid,
            "create_time": child.create_time if child is not None and pid else None,
            "url": comp.url,
            "log": str(comp.log) if comp.log else None,
            "restarts": comp.restarts,
            "detail": comp.detail,
        }
    error_info = None
    if error is not None:
        error_info = {
            "message": error.message,
            "component": error.component,
            "log": error.log,
            "log_tail": error.log_tail,
        }
    return {
        "version": 1,
        "status": status,
        "error": error_info,
        "home": str(home),
        "supervisor": {
            "pid": os.getpid(),
            "create_time": supervisor_create_time,
            "log": str(home / "logs" / "supervisor.log"),
        },
        "started_at": started_at,
        "ready_at": ready_at,
        "startup_seconds": startup_seconds,
        "updated_at": now_iso(),
        "urls": urls,
        "pids": {name: c["pid"] for name, c in components.items() if c["pid"]}
        | {"supervisor": os.getpid()},
        "components": components,
    }


def write_state_file(settings: Settings, state: dict[str, Any]) -> None:
    """Replace ``state.json`` at once (readers never see half a file)."""
    data = json.dumps(state, indent=2)
    path = state_path(settings)
    tmp = path.with_name(f".{STATE_FILE}.{os.getpid()}.tmp")
    tmp.write_text(data)
    tmp.replace(path)


def supervisor_alive(state: dict[str, Any]) -> bool:
    """Whether the supervisor that wrote ``state`` still runs (same pid and create time)."""
    sup = state.get("supervisor") or {}
    return process_alive(sup.get("pid"), sup.get("create_time"))


def load_state(settings: Settings | None = None) -> dict[str, Any] | None:
    """State of the live supervisor of ``settings.home`` (``None`` when none runs); its keys are
    described in the module docstring."""
    state = read_state_file(settings)
    if state is None or not supervisor_alive(state):
        return None
    return state


def mask_url(url: str | None) -> str | None:
    """Hide the password of a URL for display."""
    if not url or "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    creds, host = rest.rsplit("@", 1) if "@" in rest.split("/", 1)[0] else ("", rest)
    if ":" in creds and creds.split(":", 1)[1]:
        creds = creds.split(":", 1)[0] + ":***"
    return f"{scheme}://{creds}@{host}" if creds else url
