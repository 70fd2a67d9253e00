"""Child processes of the embedded stack: starting one in its own session with its output in a
log file, knowing whether a pid is still the process it was (create time, against pid reuse),
and stopping a whole process group (SIGTERM, wait, SIGKILL, grandchildren included)."""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

DEFAULT_STOP_TIMEOUT = 10.0


def now_iso() -> str:
    """The current UTC time, ISO 8601 to the second, as stamped in logs and ``state.json``."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def log_tail(path: Path, offset: int = 0, lines: int = 30) -> str:
    """The last ``lines`` lines of ``path`` written after byte ``offset`` ("" when unreadable)."""
    try:
        with open(path, "rb") as fh:
            fh.seek(offset)
            data = fh.read()[-64_000:]
    except OSError:
        return ""
    return "\n".join(data.decode(errors="replace").splitlines()[-lines:])


def process_alive(pid: int | None, create_time: float | None = None) -> bool:
    """Whether ``pid`` runs (not a zombie) and, given ``create_time``, is still that process."""
    if not pid:
        return False
    import psutil

    try:
        proc = psutil.Process(int(pid))
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        # a different create time means the pid was reused
        return create_time is None or abs(proc.create_time() - float(create_time)) <= 1.0
    except (psutil.Error, ValueError):
        return False


def kill_group(pid: int, sig: int) -> None:
    """Send ``sig`` to the process group ``pid`` leads (to ``pid`` alone when it leads none)."""
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def terminate_pid(
    pid: int, create_time: float | None, timeout: float = DEFAULT_STOP_TIMEOUT
) -> bool:
    """SIGTERM a (non-child) process group, wait, then SIGKILL. False when it was not running."""
    if not process_alive(pid, create_time):
        return False
    kill_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process_alive(pid, create_time):
        time.sleep(0.05)
    if process_alive(pid, create_time):
        kill_group(pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and process_alive(pid, create_time):
            time.sleep(0.05)
    return True


class Child:
    """A supervised child process in its own session, logging to ``log_path``."""

    def __init__(
        self, name: str, argv: list[str], env: dict[str, str], log_path: Path, cwd: Path
    ) -> None:
        self.name = name
        self.argv = argv
        self.env = env
        self.log_path = log_path
        self.cwd = cwd
        self.proc: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0
        self.create_time: float | None = None
        self.log_offset = 0

    def start(self) -> None:
        """Start the process (raises ``OSError`` when it cannot be executed)."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as fh:
            self.log_offset = fh.tell()
            fh.write(f"\n=== {now_iso()} starting: {shlex.join(self.argv)}\n".encode())
            fh.flush()
            self.proc = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=fh,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=self.cwd,
                start_new_session=True,
            )
        self.started_at = time.monotonic()
        try:
            import psutil

            self.create_time = psutil.Process(self.proc.pid).create_time()
        except Exception:  # noqa: BLE001
            self.create_time = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def returncode(self) -> int | None:
        return self.proc.poll() if self.proc is not None else None

    def uptime(self) -> float:
        """Seconds since the start (0 when not running)."""
        return time.monotonic() - self.started_at if self.alive() else 0.0

    def tail(self, lines: int = 30) -> str:
        """The last lines this run wrote to its log."""
        return log_tail(self.log_path, self.log_offset, lines)

    def stop(self, timeout: float = DEFAULT_STOP_TIMEOUT) -> None:
        """SIGTERM the child's process group, SIGKILL it after ``timeout`` seconds."""
        proc = self.proc
        if proc is None:
            return
        pid = proc.pid
        if proc.poll() is None:
            kill_group(pid, signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                kill_group(pid, signal.SIGKILL)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(5)
        if _group_alive(pid):  # grandchildren left in the child's session
            kill_group(pid, signal.SIGKILL)
