"""Health of the embedded stack's components: the probes (Temporal over gRPC, HTTP, Postgres,
a models file, the worker's pollers on its task queue), whether a starting component is ready,
and the live status rows of ``promptops status``."""

from __future__ import annotations

import socket
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from promptops.devstack.components import (
    COMPONENTS,
    ComponentState,
    api_url,
    component_mode,
    connect_host,
    llm_base_url,
)
from promptops.devstack.processes import process_alive
from promptops.devstack.state import mask_url, read_state_file, supervisor_alive
from promptops.settings import Settings, get_settings

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
