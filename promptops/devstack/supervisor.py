"""The supervisor of the embedded stack (``promptops up``; ``python -m
promptops.devstack.supervisor`` runs it in the background for ``up --detach``).

One supervisor per ``PROMPTOPS_HOME`` (guarded by ``HOME/supervisor.lock``) starts, in parallel,
the components that settings do not point elsewhere (:mod:`promptops.devstack.components`). The
worker and the API start as soon as Temporal and Postgres are ready (they do not wait for the
model). Children log to ``HOME/logs/<name>.log``, run in their own sessions (Ctrl-C reaches only
the supervisor, which stops them in order) and are restarted with backoff when they die. The
supervisor records pids, URLs and health in ``HOME/state.json`` (:mod:`promptops.devstack.state`);
other processes control it through :mod:`promptops.devstack.control`.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from datetime import datetime
from pathlib import Path
from typing import Any

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
    child_env,
    component_command,
    component_mode,
    enabled_components,
    llm_base_url,
    stop_timeout,
)
from promptops.devstack.control import cleanup_stale, urls_table
from promptops.devstack.database import DatabaseComponent
from promptops.devstack.errors import StackError
from promptops.devstack.health import component_ready, import_temporal_client
from promptops.devstack.ports import check_ports
from promptops.devstack.processes import Child, now_iso
from promptops.devstack.state import mask_url, stack_urls, state_document, write_state_file
from promptops.settings import Settings, get_settings

LOCK_FILE = "supervisor.lock"


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
        self.database = DatabaseComponent(self.settings, self.comps["postgres"], self.say)
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
        """Where the stack's parts are (the ``urls`` of ``state.json``)."""
        return stack_urls(self.settings, self.comps, self.database_url)

    def state(self) -> dict[str, Any]:
        """The document written to ``state.json``."""
        return state_document(
            status=self.status,
            error=self.error,
            home=self.home,
            supervisor_create_time=self._create_time,
            started_at=self.started_wall,
            ready_at=self.ready_at,
            startup_seconds=self.startup_seconds,
            urls=self.urls(),
            comps=self.comps,
        )

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
                self._register_search_attributes()
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

    def _register_search_attributes(self) -> None:
        from promptops.devstack.temporal import ensure_search_attributes

        label = LABELS["temporal"]
        try:
            added = ensure_search_attributes(
                self.settings.resolved_temporal_address, self.settings.temporal_namespace
            )
        except Exception as exc:  # noqa: BLE001 - reported; workflows then say which
            self.say(f"{label}: could not register search attributes: {exc}", style="yellow")
        else:
            if added:
                self.say(
                    f"{label}: registered search attributes "
                    f"{', '.join(added)} (missing from {self.settings.temporal_db})"
                )

    def _bring_up_postgres(self) -> None:
        comp = self.comps["postgres"]
        if comp.mode == "embedded":
            self._set_status(comp, "starting")
            started = self.database.start()
            with self._lock:
                self.database_url = started
                comp.url = started
        if self._abort.is_set():
            raise _Aborted
        url = self.database_url
        assert url is not None
        self.database.migrate(url)
        comp.up_since = time.monotonic()
        if comp.mode == "embedded":
            self._set_status(comp, "up", "migrated")
            self.say(
                f"Postgres: up (pid {comp.pid}) after {time.monotonic() - self.started_at:.1f}s"
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
                changed |= self._supervise_child(comp, now)
            pg = self.comps["postgres"]
            if pg.mode == "embedded" and now - last_pg_check > 2.0:
                last_pg_check = now
                changed |= self.database.watch()
            if changed:
                with self._lock:
                    self.status = self._overall()
                    self.save()

    def _supervise_child(self, comp: ComponentState, now: float) -> bool:
        """One look at a child: restart it with backoff when it died, mark it up again when it
        answers. Returns whether its state changed."""
        child = comp.child
        if comp.status in ("up", "starting") and (child is None or not child.alive()):
            rc = child.returncode if child is not None else None
            if comp.restarts >= MAX_RESTARTS:
                comp.status = "failed"
                comp.detail = f"exited with code {rc}; gave up after {comp.restarts} restarts"
                self.say(f"{LABELS[comp.name]}: {comp.detail} (log {comp.log})", style="red")
            else:
                delay = BACKOFF_SECONDS[min(comp.restarts, len(BACKOFF_SECONDS) - 1)]
                comp.status = "restarting"
                comp.next_restart = now + delay
                comp.detail = f"exited with code {rc}; restarting in {delay:.0f}s"
                self.say(f"{LABELS[comp.name]}: {comp.detail}", style="yellow")
            return True
        if comp.status == "restarting" and now >= comp.next_restart:
            comp.restarts += 1
            try:
                self._start_child(comp)
                comp.status = "starting"
                comp.detail = f"restart {comp.restarts}/{MAX_RESTARTS}"
            except StackError as exc:
                comp.status = "failed"
                comp.detail = exc.message
            return True
        if comp.status == "starting":
            ok, detail = component_ready(self.settings, comp, timeout=1.0)
            if ok:
                comp.status, comp.detail, comp.up_since = "up", detail, now
                self.say(f"{LABELS[comp.name]}: up again ({detail})", style="green")
                return True
            return False
        if comp.status == "up" and comp.restarts and now - comp.up_since > STABLE_AFTER_SECONDS:
            comp.restarts = 0
        return False

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
        if self.comps["postgres"].mode == "embedded":
            self.database.stop()
        with self._lock:
            self.status = final
            self.save()
        self.say(f"stack {final}")


def main() -> int:
    """Run the supervisor in the foreground with the settings of the environment (this is the
    process ``promptops up --detach`` starts in the background)."""
    from rich.console import Console

    settings = get_settings()
    return Supervisor(settings, console=Console(highlight=False)).run()


if __name__ == "__main__":
    sys.exit(main())
