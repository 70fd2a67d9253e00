"""``promptops up`` / ``down`` / ``status``: the embedded stack on one machine, no Docker."""

from __future__ import annotations

import time
from typing import Any

import typer

_STATUS_STYLE = {
    "up": "green",
    "external": "cyan",
    "starting": "yellow",
    "restarting": "yellow",
    "down": "red",
    "failed": "red",
    "disabled": "dim",
}


def _console() -> Any:
    from rich.console import Console

    return Console(highlight=False)


def _print_error(console: Any, exc: Exception) -> None:
    from rich.panel import Panel

    from promptops.devstack.errors import StackError

    message = exc.message if isinstance(exc, StackError) else str(exc)
    console.print(f"[bold red]Error:[/bold red] {message}")
    if isinstance(exc, StackError) and exc.log_tail:
        title = f"last lines of {exc.log}" if exc.log else "details"
        console.print(Panel(exc.log_tail.rstrip(), title=title, border_style="red", expand=False))
    elif isinstance(exc, StackError) and exc.log:
        console.print(f"See {exc.log}")


def _progress_text(state: dict[str, Any]) -> str:
    parts = []
    for name, comp in (state.get("components") or {}).items():
        status = comp.get("status", "?")
        if status in ("disabled",):
            continue
        style = _STATUS_STYLE.get(status, "white")
        parts.append(f"{name} [{style}]{status}[/{style}]")
    return "Starting PromptOps stack: " + ", ".join(parts)


def _print_urls(console: Any, state: dict[str, Any], *, headline: str) -> None:
    from promptops.devstack.control import urls_table

    console.print(headline)
    console.print(urls_table(state))


def up(
    detach: bool = typer.Option(
        False,
        "--detach",
        "-d",
        help="Run the stack in the background and return once it is healthy.",
    ),
) -> None:
    """Start the embedded stack (Temporal, Postgres, local LLM, worker, API) under
    PROMPTOPS_HOME."""
    from promptops.devstack.components import enabled_components
    from promptops.devstack.control import (
        cleanup_stale,
        load_state_settled,
        spawn_detached,
        wait_until_healthy,
    )
    from promptops.devstack.errors import StackError
    from promptops.devstack.ports import check_ports
    from promptops.devstack.supervisor import Supervisor
    from promptops.settings import get_settings

    settings = get_settings()
    console = _console()
    try:
        enabled_components(settings)
        state = load_state_settled(settings)
        if state is not None:
            if state.get("status") not in ("healthy", "degraded"):
                with console.status(_progress_text(state)) as spinner:
                    state = wait_until_healthy(
                        settings, on_progress=lambda s: spinner.update(_progress_text(s))
                    )
            pid = (state.get("supervisor") or {}).get("pid")
            _print_urls(
                console,
                state,
                headline=f"PromptOps stack is already running in {settings.home_dir} "
                f"(supervisor pid {pid}, {state.get('status')}).",
            )
            return
        leftovers = cleanup_stale(settings)
        if leftovers:
            console.print(f"Stopped leftovers of a supervisor that died: {', '.join(leftovers)}.")
        check_ports(settings)
        if detach:
            t0 = time.monotonic()
            with console.status("Starting PromptOps stack...") as spinner:
                proc = spawn_detached(settings)
                state = wait_until_healthy(
                    settings, proc=proc, on_progress=lambda s: spinner.update(_progress_text(s))
                )
            _print_urls(
                console,
                state,
                headline=f"[green]PromptOps stack is up[/green] in {time.monotonic() - t0:.1f}s "
                f"(supervisor pid {state['supervisor']['pid']}; stop it with `promptops down`).",
            )
            return
    except StackError as exc:
        _print_error(console, exc)
        raise typer.Exit(1) from None

    def on_ready(state: dict[str, Any]) -> None:
        _print_urls(
            console,
            state,
            headline="[green]PromptOps stack is up[/green] in "
            f"{state.get('startup_seconds') or 0:.1f}s. Press Ctrl-C to stop it.",
        )

    supervisor = Supervisor(settings, console=console, on_ready=on_ready)
    code = supervisor.run()
    if supervisor.error is not None:
        _print_error(console, supervisor.error)
    raise typer.Exit(code)


def down() -> None:
    """Stop the embedded stack (all children, and the embedded Postgres); data is kept."""
    from promptops.devstack.control import stop_stack
    from promptops.settings import get_settings

    settings = get_settings()
    console = _console()
    with console.status(f"Stopping PromptOps stack in {settings.home_dir}..."):
        stopped = stop_stack(settings)
    if not stopped:
        console.print(f"Nothing is running in {settings.home_dir}.")
        return
    console.print(
        f"[green]Stopped[/green] {', '.join(stopped)}. Data is kept in {settings.home_dir}."
    )


def status() -> None:
    """Show each component: up/down, pid, URL and a live health check (exit 1 unless all
    healthy)."""
    from rich.table import Table

    from promptops.devstack.components import LABELS
    from promptops.devstack.errors import StackError
    from promptops.devstack.health import component_health
    from promptops.devstack.state import load_state
    from promptops.settings import get_settings

    settings = get_settings()
    console = _console()
    try:
        rows, ok = component_health(settings)
    except StackError as exc:
        _print_error(console, exc)
        raise typer.Exit(1) from None
    state = load_state(settings)
    if state is None:
        console.print(
            f"No supervisor is running in {settings.home_dir} (start one with `promptops up`)."
        )
    else:
        sup = state.get("supervisor") or {}
        extra = (
            f" (ready {state['startup_seconds']:.1f}s after start)"
            if state.get("startup_seconds")
            else ""
        )
        console.print(
            f"Supervisor pid {sup.get('pid')} in {settings.home_dir}: {state.get('status')}{extra}"
        )

    table = Table(title="PromptOps stack status", header_style="bold")
    for column in ("Component", "Mode", "State", "PID", "URL", "Health"):
        table.add_column(column, overflow="fold")
    for r in rows:
        if r["mode"] == "disabled":
            state_text, style = "disabled", "dim"
        elif r["healthy"]:
            state_text, style = "up", "green"
        else:
            state_text, style = "down", "red"
        table.add_row(
            LABELS.get(r["name"], r["name"]),
            r["mode"],
            f"[{style}]{state_text}[/{style}]",
            str(r["pid"] or "-"),
            str(r["url"] or "-"),
            r["detail"] or "-",
        )
    console.print(table)
    raise typer.Exit(0 if ok else 1)


def register(app: typer.Typer) -> None:
    app.command("up")(up)
    app.command("down")(down)
    app.command("status")(status)
