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
from pathlib import Path
from typing import Any

from promptops.devstack.processes import process_alive
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
