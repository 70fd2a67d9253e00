"""Running the real ``promptops`` CLI against an embedded stack in a temporary home on free
ports (used by the stack test, the governance end-to-end test and the startup benchmark)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: Client-side settings that would make the stack use something outside the temp home.
CLIENT_ENV = (
    "DATABASE_URL",
    "TEMPORAL_ADDRESS",
    "PROMPTOPS_MODELS",
    "PROMPTOPS_WORKER_COMMAND",
    "PROMPTOPS_API_COMMAND",
    "PROMPTOPS_STACK_COMPONENTS",
    "PROMPTOPS_API_KEY",
)
ALL_COMPONENTS = ("temporal", "postgres", "llm", "worker", "api")


def free_ports(n: int) -> list[int]:
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


def cli() -> list[str]:
    script = Path(sys.executable).parent / "promptops"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from promptops.cli import main; main()"]


def stack_env(
    home: Path,
    components: list[str] | tuple[str, ...] = ALL_COMPONENTS,
    *,
    task_queue: str = "stack-test",
) -> dict[str, str]:
    """The environment of a stack in ``home`` on free, non-default ports."""
    temporal, ui, api, llm = free_ports(4)
    env = {k: v for k, v in os.environ.items() if k not in CLIENT_ENV}
    env.update(
        PROMPTOPS_HOME=str(home),
        PROMPTOPS_TEMPORAL_PORT=str(temporal),
        PROMPTOPS_TEMPORAL_UI_PORT=str(ui),
        PROMPTOPS_API_PORT=str(api),
        PROMPTOPS_LLM_PORT=str(llm),
        PROMPTOPS_STACK_COMPONENTS=",".join(components),
        PROMPTOPS_TASK_QUEUE=task_queue,
        LITELLM_LOCAL_MODEL_COST_MAP="True",
        PYTHONPATH=os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]),
        COLUMNS="200",
    )
    return env


def run_cli(
    args: list[str], env: dict[str, str], cwd: Path, timeout: float = 240
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*cli(), *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
