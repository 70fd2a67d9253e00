"""Small helpers shared by the benchmark scripts (no timing assertions anywhere)."""

from __future__ import annotations

import os
import platform
import resource
import socket
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def median(values: list[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def machine() -> dict[str, Any]:
    """Where the figures were taken (they only compare within one run on one machine)."""
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "loadavg_1m_at_start": round(load[0], 2),
    }


def time_import_litellm(runs: int = 1) -> list[float]:
    """Seconds of ``python -c "import litellm"`` in a fresh interpreter (local cost map, as the
    platform sets it in :mod:`promptops.llm.gateway`)."""
    env = dict(os.environ, LITELLM_LOCAL_MODEL_COST_MAP="True")
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(
            [sys.executable, "-c", "import litellm"],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        out.append(time.perf_counter() - t0)
    return out


def cpu_s() -> float:
    """CPU seconds of this process (all threads: the event loop, Temporal's core, to_thread)."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def proc_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) process ``pid`` has used so far."""
    import psutil

    t = psutil.Process(pid).cpu_times()
    return float(t.user + t.system)


def child_env(**extra: str) -> dict[str, str]:
    """The environment for a server subprocess: this one, the repository on ``PYTHONPATH``,
    LiteLLM's local cost map, plus ``extra``."""
    return dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]),
        LITELLM_LOCAL_MODEL_COST_MAP="True",
        **extra,
    )
