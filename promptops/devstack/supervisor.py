"""The supervisor of the embedded stack (``promptops up``; ``python -m
promptops.devstack.supervisor`` runs it in the background for ``up --detach``).

One supervisor per ``PROMPTOPS_HOME`` (guarded by ``HOME/supervisor.lock``) starts, in parallel,
the components that settings do not point elsewhere (:mod:`promptops.devstack.components`). The
worker and the API start as soon as Temporal and Postgres are ready (they do not wait for the
model). Children log to ``HOME/logs/<name>.log``, run in their own sessions (Ctrl-C reaches only
the supervisor, which stops them in order) and are restarted with backoff when they die. The
supervisor records pids, URLs and health in ``HOME/state.json`` (:mod:`promptops.devstack.state`);
the functions at the end of this module control it from other processes (start detached, wait,
ensure, stop, status).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promptops.devstack.components import (
    BACKOFF_SECONDS,
    COMPONENTS,
    LABELS,
    MAX_RESTARTS,
    POLL_SECONDS,
    READY_TIMEOUTS,
    STABLE_AFTER_SECONDS,
    STARTUP_RETRIES,
    ComponentState,
    api_url,
    child_env,
    component_command,
    component_mode,
    connect_host,
    enabled_components,
    llm_base_url,
    stop_timeout,
)
from promptops.devstack.errors import PortInUseError, StackError
from promptops.devstack.processes import Child, log_tail, now_iso, process_alive, terminate_pid
from promptops.devstack.state import (
    load_state,
    mask_url,
    read_state_file,
    supervisor_alive,
    write_state_file,
)
from promptops.settings import Settings, get_settings

if TYPE_CHECKING:
    from rich.table import Table

LOCK_FILE = "supervisor.lock"


ADMIN_EMAIL = "local@promptops.local"


def ensure_admin_key(settings: Settings, database_url: str) -> tuple[Path, bool]:
    """Make sure ``PROMPTOPS_HOME/admin.key`` holds a live Admin key of organization
    ``default`` for the local user; issue one (file mode 0600) if it is missing, revoked or
    unknown to this database. Returns (path, whether a new key was issued)."""
    import asyncio

    from promptops.db.repositories import IdentityRepository
    from promptops.db.session import get_engine, get_session_factory
    from promptops.governance.identity import bootstrap_admin
    from promptops.governance.security import api_key_prefix, verify_api_key

    path = settings.admin_key_file
    secret = settings.server_secret()
    existing = path.read_text().strip() if path.exists() else ""

    async def _run() -> bool:
        try:
            async with get_session_factory(database_url)() as session:
                prefix = api_key_prefix(existing)
                if prefix:
                    row = await IdentityRepository(session).key_by_prefix(prefix)
                    if (
                        row is not None
                        and row.revoked_at is None
                        and verify_api_key(existing, row.secret_hash, secret)
                    ):
                        return False
                issued = await bootstrap_admin(
                    session,
                    secret,
                    organization="default",
                    email=ADMIN_EMAIL,
                    key_name="local admin (up)",
                )
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(".tmp")
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "w") as fh:
                    fh.write(issued.key + "\n")
                await session.commit()
                os.replace(tmp, path)
                return True
        finally:
            await get_engine(database_url).dispose()

    return path, asyncio.run(_run())


# The worker counts as up once one of its pollers (identity "PID@host") is seen on the task queue,
# or, with a custom identity, once it has stayed alive this long.
WORKER_POLL_GRACE_SECONDS = 15.0


def import_temporal_client() -> None:
    """Import the Temporal client modules once, before threads race on a half-imported package."""
    import temporalio.api.enums.v1
    import temporalio.api.taskqueue.v1
    import temporalio.api.workflowservice.v1
    import temporalio.client  # noqa: F401


def _tcp_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def check_temporal(
    address: str, namespace: str = "default", timeout: float = 3.0
) -> tuple[bool, str]:
    """Connect a Temporal client to ``address`` (``host:port``)."""
    import asyncio

    host, _, port = address.rpartition(":")
    try:
        port_num = int(port)
    except ValueError:
        return False, f"bad address {address!r}"
    if not _tcp_open(connect_host(host.strip("[]")), port_num, timeout=min(timeout, 1.0)):
        return False, "not listening"

    async def _connect() -> str:
        from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
        from temporalio.client import Client

        client = await Client.connect(address, namespace=namespace)
        info = await client.workflow_service.get_system_info(GetSystemInfoRequest())
        return info.server_version or "connected"

    try:
        version = asyncio.run(asyncio.wait_for(_connect(), timeout))
    except Exception as exc:  # noqa: BLE001 - any failure means not healthy
        return False, f"{type(exc).__name__}: {exc}"[:200]
    return True, f"gRPC ok (server {version})" if version != "connected" else "gRPC ok"


def check_http(url: str, timeout: float = 2.0) -> tuple[bool, str]:
    """GET ``url``: healthy on a 2xx answer."""
    import httpx

    try:
        resp = httpx.get(url, timeout=timeout, trust_env=False)
    except httpx.HTTPError as exc:
        return False, f"{type(exc).__name__}"
    return resp.is_success, f"HTTP {resp.status_code}"


def check_postgres(url: str, timeout: float = 3.0) -> tuple[bool, str]:
    """Connect to the database at ``url`` and read its version."""
    from promptops.devstack.postgres import check_connection

    try:
        version = check_connection(url, timeout=timeout)
    except Exception as exc:  # noqa: BLE001
        return False, f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
    return True, f"PostgreSQL {version}"


def check_models_file(path: Path) -> tuple[bool, str]:
    """Read a LiteLLM model-list file: healthy when it names at least one model."""
    import yaml

    try:
        doc = yaml.safe_load(Path(path).read_text()) or {}
        names = [m.get("model_name") for m in doc.get("model_list") or []]
    except Exception as exc:  # noqa: BLE001
        return False, f"unreadable: {exc}"[:200]
    if not names:
        return False, "no model_list entries"
    return True, f"{len(names)} model(s): {', '.join(map(str, names[:4]))}"


def task_queue_pollers(
    address: str, namespace: str, task_queue: str, timeout: float = 3.0
) -> list[str] | None:
    """Identities (``pid@host`` by default) of recent workflow pollers on ``task_queue``.

    ``None`` when Temporal cannot be asked.
    """
    import asyncio

    async def _ask() -> list[str]:
        from temporalio.api.enums.v1 import TaskQueueType
        from temporalio.api.taskqueue.v1 import TaskQueue
        from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
        from temporalio.client import Client

        client = await Client.connect(address, namespace=namespace)
        resp = await client.workflow_service.describe_task_queue(
            DescribeTaskQueueRequest(
                namespace=namespace,
                task_queue=TaskQueue(name=task_queue),
                task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
            )
        )
        return [p.identity for p in resp.pollers]

    try:
        return asyncio.run(asyncio.wait_for(_ask(), timeout))
    except Exception:  # noqa: BLE001
        return None


def component_ready(
    settings: Settings, comp: ComponentState, timeout: float = 2.0
) -> tuple[bool, str]:
    """Whether the child of a starting component answers: ``(ready, detail)``."""
    s = settings
    if comp.name == "temporal":
        return check_temporal(s.resolved_temporal_address, s.temporal_namespace, timeout=timeout)
    if comp.name == "llm":
        return check_http(f"{llm_base_url(s)}/health", timeout=timeout)
    if comp.name == "api":
        return check_http(f"{api_url(s)}/healthz", timeout=timeout)
    if comp.name == "worker":
        child = comp.child
        if child is None or not child.alive():
            return False, "not running"
        pollers = task_queue_pollers(
            s.resolved_temporal_address, s.temporal_namespace, s.task_queue, timeout=timeout
        )
        if pollers and any(p.startswith(f"{child.pid}@") for p in pollers):
            return True, f"polling task queue {s.task_queue}"
        if child.uptime() >= WORKER_POLL_GRACE_SECONDS:
            return True, "running (not seen polling yet)"
        return False, "starting"
    return False, "?"


def component_health(settings: Settings | None = None) -> tuple[list[dict[str, Any]], bool]:
    """Live health of each component: rows of ``name, mode, running, pid, url, healthy, detail``,
    and whether every component that is not disabled is healthy."""
    settings = settings or get_settings()
    raw = read_state_file(settings)
    state = raw if raw is not None and supervisor_alive(raw) else None
    comps = (raw or {}).get("components") or {}
    urls = (state or {}).get("urls") or {}
    orphan = "running without its supervisor: run `promptops down`"

    def _child_gone(r: dict[str, Any], info: dict[str, Any]) -> bool:
        """Mark row ``r`` down when the child recorded in ``info`` no longer runs."""
        if process_alive(r["pid"], info.get("create_time")):
            return False
        r["pid"] = None
        r["healthy"], r["detail"] = (
            False,
            (info.get("detail") if state else None) or "not running",
        )
        return True

    def row(name: str) -> dict[str, Any]:
        mode = component_mode(settings, name)
        info = comps.get(name) or {}
        r: dict[str, Any] = {
            "name": name,
            "mode": mode,
            "pid": None,
            "url": None,
            "healthy": None,
            "detail": "",
        }
        if mode == "disabled":
            r["detail"] = "not in PROMPTOPS_STACK_COMPONENTS"
            return r
        if name == "temporal":
            r["url"] = settings.resolved_temporal_address
            r["pid"] = info.get("pid") if mode == "embedded" else None
            if mode == "embedded" and not process_alive(r["pid"], info.get("create_time")):
                r["pid"] = None
                r["healthy"], r["detail"] = False, "not running"
                return r
            r["healthy"], r["detail"] = check_temporal(r["url"], settings.temporal_namespace)
            if mode == "embedded" and state is None:
                r["healthy"], r["detail"] = False, orphan
        elif name == "postgres":
            url: str | None
            if mode == "embedded":
                from promptops.devstack.postgres import postgres_pid, postgres_url

                r["pid"] = postgres_pid(settings.pgdata)
                url = postgres_url(settings.pgdata)
                r["url"] = url
                if r["pid"] is None or url is None:
                    r["healthy"], r["detail"] = False, "not running"
                    return r
            else:
                url = settings.database_url
                r["url"] = mask_url(url)
            assert url is not None
            r["healthy"], r["detail"] = check_postgres(url)
        elif name == "llm":
            if mode == "external":
                r["url"] = str(settings.models_file)
                r["healthy"], r["detail"] = check_models_file(Path(str(settings.models_file)))
            else:
                r["url"] = f"{llm_base_url(settings)}/v1"
                r["pid"] = info.get("pid")
                if not process_alive(r["pid"], info.get("create_time")):
                    r["pid"] = None
                    r["healthy"], r["detail"] = False, "not running"
                    return r
                r["healthy"], r["detail"] = check_http(f"{llm_base_url(settings)}/health")
                if state is None:
                    r["healthy"], r["detail"] = False, orphan
        elif name == "worker":
            r["pid"] = info.get("pid")
            r["url"] = f"task queue {settings.task_queue}"
            if _child_gone(r, info):
                return r
            if state is None:
                r["healthy"], r["detail"] = False, orphan
                return r
            pollers = task_queue_pollers(
                settings.resolved_temporal_address, settings.temporal_namespace, settings.task_queue
            )
            r["healthy"] = True
            if pollers is None:
                r["detail"] = "running (Temporal unreachable)"
            elif any(p.startswith(f"{r['pid']}@") for p in pollers):
                r["detail"] = f"running, polling ({len(pollers)} poller(s) on the queue)"
            else:
                r["detail"] = f"running, not polling ({len(pollers)} other poller(s))"
        elif name == "api":
            api = urls.get("api") or api_url(settings)
            r["url"] = api
            r["pid"] = info.get("pid")
            if _child_gone(r, info):
                return r
            ok, detail = check_http(f"{api}/healthz")
            r["healthy"], r["detail"] = ok, f"/healthz {detail}"
            if state is None:
                r["healthy"], r["detail"] = False, orphan
        return r

    if any(component_mode(settings, n) != "disabled" for n in ("temporal", "worker")):
        import_temporal_client()
    with ThreadPoolExecutor(max_workers=len(COMPONENTS)) as pool:
        rows = list(pool.map(row, COMPONENTS))
    all_ok = all(r["healthy"] for r in rows if r["mode"] != "disabled")
    return rows, all_ok


def port_in_use(host: str, port: int) -> bool:
    """True when ``host:port`` cannot be bound (something listens there)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((connect_host(host), port))
        except OSError:
            return True
    return False


def _port_owner(port: int) -> str:
    try:
        import psutil

        for conn in psutil.net_connections(kind="inet"):
            listening = conn.status == psutil.CONN_LISTEN
            if conn.laddr and conn.laddr.port == port and listening and conn.pid:
                return f" by pid {conn.pid} ({psutil.Process(conn.pid).name()})"
    except Exception:  # noqa: BLE001 - naming the owner is best effort
        return ""
    return ""


def required_ports(settings: Settings) -> list[tuple[str, str, int, str]]:
    """``(what, host, port, how to change it)`` for every port the embedded parts will bind."""
    ports: list[tuple[str, str, int, str]] = []
    if component_mode(settings, "temporal") == "embedded":
        ports.append(
            (
                "Temporal gRPC frontend",
                "127.0.0.1",
                settings.temporal_port,
                (
                    "set PROMPTOPS_TEMPORAL_PORT to a free port "
                    "(or TEMPORAL_ADDRESS to use a running server)"
                ),
            )
        )
        ports.append(
            (
                "Temporal Web UI",
                "127.0.0.1",
                settings.temporal_ui_port,
                "set PROMPTOPS_TEMPORAL_UI_PORT to a free port",
            )
        )
    if component_mode(settings, "llm") == "embedded":
        ports.append(
            (
                "local LLM server",
                "127.0.0.1",
                settings.llm_port,
                "set PROMPTOPS_LLM_PORT to a free port (or PROMPTOPS_MODELS to use other models)",
            )
        )
    if component_mode(settings, "api") == "embedded":
        ports.append(
            ("API", settings.api_host, settings.api_port, "set PROMPTOPS_API_PORT to a free port")
        )
    return ports


def check_ports(settings: Settings) -> None:
    """Raise :class:`PortInUseError` naming every needed port that is taken (and the env var)."""
    problems: list[str] = []
    seen: dict[int, str] = {}
    for what, host, port, fix in required_ports(settings):
        if port in seen:
            problems.append(f"{what} and {seen[port]} are both configured on port {port}: {fix}.")
            continue
        seen[port] = what
        if port_in_use(host, port):
            problems.append(f"Port {port} ({what}) is already in use{_port_owner(port)}: {fix}.")
    if problems:
        raise PortInUseError("\n".join(problems))


class _Aborted(Exception):
    pass


@contextlib.contextmanager
def _supervisor_lock(home: Path, wait_seconds: float = 2.0) -> Iterator[bool]:
    fh = open(home / LOCK_FILE, "a+")  # noqa: SIM115 - held for the supervisor's lifetime
    got = False
    deadline = time.monotonic() + wait_seconds
    try:
        while True:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                got = True
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    break
                time.sleep(0.05)
        yield got
    finally:
        if got:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
        fh.close()


class Supervisor:
    """Runs the embedded stack of ``settings`` until SIGTERM/SIGINT (see the module docstring).

    ``console`` (a rich console) gets the progress lines, else stdout; ``on_ready`` is called
    with the state once the stack is healthy (else the URLs are printed to ``console``).
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        console: Any = None,
        on_ready: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.settings = settings or get_settings()
        self.home = self.settings.home_dir
        self.logs = self.home / "logs"
        self.console = console
        self.on_ready = on_ready
        self._stop = threading.Event()
        self._abort = threading.Event()
        self._lock = threading.RLock()
        self.status = "starting"
        self.error: StackError | None = None
        self.started_wall = now_iso()
        self.started_at = time.monotonic()
        self.ready_at: str | None = None
        self.startup_seconds: float | None = None
        self.database_url: str | None = self.settings.database_url
        self.comps = {
            name: ComponentState(
                name=name, mode=component_mode(self.settings, name), log=self.logs / f"{name}.log"
            )
            for name in COMPONENTS
        }
        self._gguf: Path | None = None
        self._env: dict[str, str] = {}
        self._create_time: float | None = None

    # -- output ---------------------------------------------------------------------------------

    def say(self, message: str, style: str | None = None) -> None:
        """Print a timestamped progress line."""
        stamp = datetime.now().strftime("%H:%M:%S")
        if self.console is not None:
            self.console.print(f"[dim]{stamp}[/dim] {message}", style=style, highlight=False)
        else:
            print(f"{stamp} {message}", flush=True)

    # -- state ----------------------------------------------------------------------------------

    def urls(self) -> dict[str, str | None]:
        s = self.settings
        api_on = self.comps["api"].mode == "embedded"
        temporal_mode = self.comps["temporal"].mode
        llm_on = self.comps["llm"].mode == "embedded"
        api = api_url(s) if api_on else None
        models_file = None
        if self.comps["llm"].mode == "external":
            models_file = str(s.models_file)
        elif llm_on:
            models_file = str(s.embedded_models_file)
        return {
            "api": api,
            "docs": f"{api}/docs" if api else None,
            "temporal_ui": s.temporal_ui_url if temporal_mode == "embedded" else None,
            "temporal_address": s.resolved_temporal_address
            if temporal_mode != "disabled"
            else None,
            "database_url": self.database_url,
            "llm_base_url": llm_base_url(s) if llm_on else None,
            "models_file": models_file,
            "admin_key_file": str(s.admin_key_file) if s.admin_key_file.exists() else None,
        }

    def state(self) -> dict[str, Any]:
        comps: dict[str, Any] = {}
        for name, comp in self.comps.items():
            child = comp.child
            pid = (
                comp.pid
                if name == "postgres"
                else (child.pid if child is not None and child.alive() else None)
            )
            comps[name] = {
                "mode": comp.mode,
                "status": comp.status,
                "pid": pid,
                "create_time": child.create_time if child is not None and pid else None,
                "url": comp.url,
                "log": str(comp.log) if comp.log else None,
                "restarts": comp.restarts,
                "detail": comp.detail,
            }
        error = None
        if self.error is not None:
            error = {
                "message": self.error.message,
                "component": self.error.component,
                "log": self.error.log,
                "log_tail": self.error.log_tail,
            }
        return {
            "version": 1,
            "status": self.status,
            "error": error,
            "home": str(self.home),
            "supervisor": {
                "pid": os.getpid(),
                "create_time": self._create_time,
                "log": str(self.logs / "supervisor.log"),
            },
            "started_at": self.started_wall,
            "ready_at": self.ready_at,
            "startup_seconds": self.startup_seconds,
            "updated_at": now_iso(),
            "urls": self.urls(),
            "pids": {name: c["pid"] for name, c in comps.items() if c["pid"]}
            | {"supervisor": os.getpid()},
            "components": comps,
        }

    def save(self) -> None:
        """Write ``state.json``."""
        with self._lock:
            write_state_file(self.settings, self.state())

    def _set_status(self, comp: ComponentState, status: str, detail: str | None = None) -> None:
        with self._lock:
            comp.status = status
            if detail is not None:
                comp.detail = detail
            self.save()

    # -- lifecycle --------------------------------------------------------------------------------

    def request_stop(self, *_: Any) -> None:
        """Stop the stack (the SIGTERM/SIGINT/SIGHUP handler)."""
        self._stop.set()
        self._abort.set()

    def run(self) -> int:
        """Start everything, supervise until stopped; 0 on a clean stop, 1 when startup failed."""
        self.home.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(parents=True, exist_ok=True)
        try:
            import psutil

            self._create_time = psutil.Process(os.getpid()).create_time()
        except Exception:  # noqa: BLE001
            self._create_time = None
        with _supervisor_lock(self.home) as got:
            if not got:
                self.say(f"another supervisor already runs the stack in {self.home}")
                return 0
            return self._run_locked()

    def _run_locked(self) -> int:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                signal.signal(sig, self.request_stop)
        leftovers = cleanup_stale(self.settings)
        if leftovers:
            self.say(f"stopped leftovers of a previous supervisor: {', '.join(leftovers)}")
        self.save()
        self.say(f"starting PromptOps stack in {self.home} (pid {os.getpid()})")
        try:
            enabled_components(self.settings)
            check_ports(self.settings)
            self._prepare()
            self._start_all()
        except _Aborted:
            pass
        except StackError as exc:
            self.error = exc
        except Exception as exc:  # noqa: BLE001 - report anything with a message, not a hang
            self.error = StackError(f"{type(exc).__name__}: {exc}")
        if self.error is not None or self._stop.is_set():
            if self.error is not None:
                self.say(f"startup failed: {self.error.message}", style="red")
            self._shutdown(final="failed" if self.error is not None else "stopped")
            return 1 if self.error is not None else 0

        self.startup_seconds = round(time.monotonic() - self.started_at, 2)
        self.ready_at = now_iso()
        with self._lock:
            self.status = "healthy"
            self.save()
        state = self.state()
        self.say(f"stack healthy in {self.startup_seconds:.1f}s", style="green")
        if self.on_ready is not None:
            self.on_ready(state)
        elif self.console is not None:
            self.console.print(urls_table(state))
        self._monitor()
        self._shutdown(final="stopped")
        return 0

    def _prepare(self) -> None:
        env = child_env(self.settings)
        env.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        urls = self.urls()
        if urls["temporal_address"]:
            env["TEMPORAL_ADDRESS"] = urls["temporal_address"]
        if urls["models_file"]:
            env["PROMPTOPS_MODELS"] = urls["models_file"]
        self._env = env
        if self.comps["llm"].mode == "embedded":
            from promptops.devstack.llm import (
                EmbeddedLLMError,
                find_smollm2_gguf,
                write_embedded_models_file,
            )

            try:
                self._gguf = find_smollm2_gguf()
            except EmbeddedLLMError as exc:
                raise StackError(str(exc), component="llm") from exc
            write_embedded_models_file(
                self.settings.embedded_models_file, llm_base_url(self.settings)
            )
        if self.comps["temporal"].mode != "disabled":
            import_temporal_client()
        if self.comps["temporal"].mode == "embedded":
            from promptops.devstack.temporal import TemporalBinaryNotFound, temporal_binary

            try:
                temporal_binary()
            except TemporalBinaryNotFound as exc:
                raise StackError(str(exc), component="temporal") from exc
        for name, comp in self.comps.items():
            if comp.mode == "external":
                comp.status = "external"
                comp.url = {
                    "temporal": self.settings.temporal_address,
                    "postgres": mask_url(self.settings.database_url),
                    "llm": str(self.settings.models_file),
                }[name]
            elif comp.mode == "disabled":
                comp.status = "disabled"
        self.comps["temporal"].url = urls["temporal_address"]
        self.comps["llm"].url = urls["llm_base_url"] or self.comps["llm"].url
        self.comps["api"].url = urls["api"]
        self.save()

    def _child_env(self) -> dict[str, str]:
        env = dict(self._env)
        if self.database_url:
            env["DATABASE_URL"] = self.database_url
        return env

    def _start_child(self, comp: ComponentState) -> None:
        child = Child(
            comp.name,
            component_command(self.settings, comp.name, self._gguf),
            self._child_env(),
            comp.log or self.logs / f"{comp.name}.log",
            Path.cwd(),
        )
        try:
            child.start()
        except OSError as exc:
            raise StackError(
                f"could not start {LABELS[comp.name]}: {exc}", component=comp.name
            ) from exc
        comp.child = child
        self.say(f"{LABELS[comp.name]}: started pid {child.pid} (log {comp.log})")

    def _sleep(self, seconds: float) -> None:
        if self._abort.wait(seconds):
            raise _Aborted

    def _bring_up(self, name: str) -> None:
        if name == "postgres":
            self._bring_up_postgres()
            return
        comp = self.comps[name]
        self._set_status(comp, "starting")
        self._start_child(comp)
        deadline = time.monotonic() + READY_TIMEOUTS.get(name, 60.0)
        attempts = 0
        while True:
            if self._abort.is_set():
                raise _Aborted
            child = comp.child
            assert child is not None
            if not child.alive():
                rc = child.returncode
                if attempts >= STARTUP_RETRIES:
                    raise StackError(
                        f"{LABELS[name]} exited with code {rc} while starting",
                        component=name,
                        log=str(comp.log),
                        log_tail=child.tail(),
                    )
                attempts += 1
                comp.restarts += 1
                self.say(
                    f"{LABELS[name]}: exited with code {rc} while starting; retrying",
                    style="yellow",
                )
                self._sleep(BACKOFF_SECONDS[0])
                self._start_child(comp)
                continue
            ok, detail = component_ready(self.settings, comp)
            if ok and name == "temporal":
                from promptops.devstack.temporal import ensure_search_attributes

                try:
                    added = ensure_search_attributes(
                        self.settings.resolved_temporal_address, self.settings.temporal_namespace
                    )
                except Exception as exc:  # noqa: BLE001 - reported; workflows then say which
                    self.say(
                        f"{LABELS[name]}: could not register search attributes: {exc}",
                        style="yellow",
                    )
                else:
                    if added:
                        self.say(
                            f"{LABELS[name]}: registered search attributes "
                            f"{', '.join(added)} (missing from {self.settings.temporal_db})"
                        )
            if ok:
                comp.up_since = time.monotonic()
                self._set_status(comp, "up", detail)
                self.say(
                    f"{LABELS[name]}: up ({detail}) after {time.monotonic() - self.started_at:.1f}s"
                )
                return
            if time.monotonic() > deadline:
                raise StackError(
                    f"{LABELS[name]} did not become healthy within "
                    f"{READY_TIMEOUTS.get(name, 60.0):.0f}s ({detail})",
                    component=name,
                    log=str(comp.log),
                    log_tail=child.tail(),
                )
            self._sleep(0.5 if name == "worker" else POLL_SECONDS)

    def _pg_log(self, message: str) -> None:
        log = self.comps["postgres"].log
        assert log is not None
        with open(log, "a") as fh:
            fh.write(f"{now_iso()} {message}\n")

    def _bring_up_postgres(self) -> None:
        comp = self.comps["postgres"]
        if comp.mode == "embedded":
            from promptops.devstack.postgres import (
                EmbeddedPostgresError,
                postgres_pid,
                start_postgres,
            )

            self._set_status(comp, "starting")
            self._pg_log(f"starting embedded Postgres in {self.settings.pgdata}")
            try:
                url = start_postgres(self.settings.pgdata)
            except EmbeddedPostgresError as exc:
                self._pg_log(f"failed: {exc}")
                raise StackError(
                    f"embedded Postgres failed: {exc}".splitlines()[0],
                    component="postgres",
                    log=str(self.settings.pgdata / "log"),
                    log_tail=str(exc),
                ) from exc
            comp.pid = postgres_pid(self.settings.pgdata)
            with self._lock:
                self.database_url = url
                comp.url = url
            self._pg_log(f"running (pid {comp.pid}): {url}")
        if self._abort.is_set():
            raise _Aborted
        database_url = self.database_url
        assert database_url is not None
        self._migrate(database_url)
        comp.up_since = time.monotonic()
        if comp.mode == "embedded":
            self._set_status(comp, "up", "migrated")
            self.say(
                f"Postgres: up (pid {comp.pid}) after {time.monotonic() - self.started_at:.1f}s"
            )

    def _migrate(self, url: str) -> None:
        try:
            from promptops.db.migrate import upgrade_head
        except ModuleNotFoundError as exc:
            if exc.name in ("promptops.db.migrate", "promptops.db"):
                self.say(
                    "Postgres: promptops.db.migrate not found; skipping migrations", style="yellow"
                )
                self._pg_log("promptops.db.migrate not found; migrations skipped")
                return
            raise StackError(
                f"database migrations cannot be imported: {exc}", component="postgres"
            ) from exc
        t0 = time.monotonic()
        try:
            upgrade_head(url)
        except Exception as exc:
            import traceback

            self._pg_log("migrations failed:\n" + traceback.format_exc())
            raise StackError(
                f"database migrations failed: {type(exc).__name__}: {exc}".splitlines()[0],
                component="postgres",
                log=str(self.comps["postgres"].log),
                log_tail=traceback.format_exc(limit=3),
            ) from exc
        self._pg_log(f"migrations at head ({time.monotonic() - t0:.1f}s)")
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

    def _start_all(self) -> None:
        embedded = [n for n in COMPONENTS if self.comps[n].mode == "embedded"]
        run_migrations = self.comps["postgres"].mode in ("embedded", "external")
        with ThreadPoolExecutor(max_workers=5, thread_name_prefix="promptops-up") as pool:
            futures: dict[str, Future[None]] = {}
            for name in ("temporal", "postgres", "llm"):
                if name in embedded or (name == "postgres" and run_migrations):
                    futures[name] = pool.submit(self._bring_up, name)
            self._wait(
                [futures[n] for n in ("temporal", "postgres") if n in futures],
                list(futures.values()),
            )
            for name in ("worker", "api"):
                if name in embedded:
                    futures[name] = pool.submit(self._bring_up, name)
            self._wait(list(futures.values()), list(futures.values()))

    def _wait(self, needed: list[Future[None]], every: list[Future[None]]) -> None:
        pending = set(needed)
        while pending:
            done, pending = wait(pending, timeout=0.2, return_when=FIRST_EXCEPTION)
            for fut in done:
                exc = fut.exception()
                if exc is not None:
                    self._abort.set()
                    wait(every)
                    raise exc
            if self._stop.is_set():
                self._abort.set()
                wait(every)
                raise _Aborted

    # -- supervision ----------------------------------------------------------------------------

    def _overall(self) -> str:
        managed = [c for c in self.comps.values() if c.mode == "embedded"]
        return "healthy" if all(c.status == "up" for c in managed) else "degraded"

    def _monitor(self) -> None:
        last_pg_check = 0.0
        while not self._stop.wait(0.25):
            changed = False
            now = time.monotonic()
            for comp in self.comps.values():
                if comp.mode != "embedded" or comp.name == "postgres":
                    continue
                child = comp.child
                if comp.status in ("up", "starting") and (child is None or not child.alive()):
                    rc = child.returncode if child is not None else None
                    changed = True
                    if comp.restarts >= MAX_RESTARTS:
                        comp.status = "failed"
                        comp.detail = (
                            f"exited with code {rc}; gave up after {comp.restarts} restarts"
                        )
                        self.say(
                            f"{LABELS[comp.name]}: {comp.detail} (log {comp.log})", style="red"
                        )
                    else:
                        delay = BACKOFF_SECONDS[min(comp.restarts, len(BACKOFF_SECONDS) - 1)]
                        comp.status = "restarting"
                        comp.next_restart = now + delay
                        comp.detail = f"exited with code {rc}; restarting in {delay:.0f}s"
                        self.say(f"{LABELS[comp.name]}: {comp.detail}", style="yellow")
                elif comp.status == "restarting" and now >= comp.next_restart:
                    comp.restarts += 1
                    try:
                        self._start_child(comp)
                        comp.status = "starting"
                        comp.detail = f"restart {comp.restarts}/{MAX_RESTARTS}"
                    except StackError as exc:
                        comp.status = "failed"
                        comp.detail = exc.message
                    changed = True
                elif comp.status == "starting":
                    ok, detail = component_ready(self.settings, comp, timeout=1.0)
                    if ok:
                        comp.status, comp.detail, comp.up_since = "up", detail, now
                        self.say(f"{LABELS[comp.name]}: up again ({detail})", style="green")
                        changed = True
                elif (
                    comp.status == "up"
                    and comp.restarts
                    and now - comp.up_since > STABLE_AFTER_SECONDS
                ):
                    comp.restarts = 0
            pg = self.comps["postgres"]
            if pg.mode == "embedded" and now - last_pg_check > 2.0:
                last_pg_check = now
                changed |= self._watch_postgres(pg)
            if changed:
                with self._lock:
                    self.status = self._overall()
                    self.save()

    def _watch_postgres(self, pg: ComponentState) -> bool:
        from promptops.devstack.postgres import postgres_pid, start_postgres

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
        self._pg_log("postmaster gone; restarting")
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

    def _shutdown(self, final: str) -> None:
        with self._lock:
            self.status = "stopping"
            self.save()
        self.say("stopping...")
        groups = [("api", "worker"), ("llm", "temporal")]
        for group in groups:
            threads = []
            for name in group:
                comp = self.comps[name]
                if comp.child is not None and comp.child.alive():
                    t = threading.Thread(
                        target=comp.child.stop, args=(stop_timeout(name),), daemon=True
                    )
                    t.start()
                    threads.append(t)
            for t in threads:
                t.join()
        for name in ("api", "worker", "llm", "temporal"):
            comp = self.comps[name]
            if comp.mode == "embedded":
                comp.status, comp.detail = "down", ""
        pg = self.comps["postgres"]
        if pg.mode == "embedded":
            from promptops.devstack.postgres import stop_postgres

            try:
                if stop_postgres(self.settings.pgdata):
                    self._pg_log("stopped")
            except Exception as exc:  # noqa: BLE001
                self.say(f"Postgres: stop failed: {exc}", style="red")
            pg.pid, pg.status, pg.detail = None, "down", ""
        with self._lock:
            self.status = final
            self.save()
        self.say(f"stack {final}")


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


def main() -> int:
    """Run the supervisor in the foreground with the settings of the environment (this is the
    process ``promptops up --detach`` starts in the background)."""
    from rich.console import Console

    settings = get_settings()
    return Supervisor(settings, console=Console(highlight=False)).run()


if __name__ == "__main__":
    sys.exit(main())
