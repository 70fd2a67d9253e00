"""``promptops labels list|history|rollback|protected|protect|unprotect``: a prompt's labels,
the versions a label served, an Admin's emergency rollback of a protected label, and which
labels a project protects, through the REST API (with the key from ``PROMPTOPS_API_KEY`` or the
admin key file written by ``promptops up``).

Errors (403 not an Admin, 409 never served / not approved / a deployment is active, 422 empty
reason, 404 unknown id, API unreachable) print the server's message and exit 1, without a
traceback.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import typer

labels_app = typer.Typer(
    help="Labels: list, history, emergency rollback, protected labels.", no_args_is_help=True
)

_VERSION_NUMBER = re.compile(r"v?(\d+)", re.IGNORECASE)


def _call(method: str, path: str, **kwargs: Any) -> Any:
    from promptops.cli.evals import call

    return call(method, path, **kwargs)


def _fail(message: str) -> None:
    from promptops.cli.evals import fail

    fail(message)


def _console() -> Any:
    from rich.console import Console

    return Console(highlight=False)


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))


def resolve_version(prompt_id: str, ref: str) -> str:
    """A version id, given its id or its number (``3`` or ``v3``) in the prompt."""
    try:
        return str(uuid.UUID(ref))
    except ValueError:
        pass
    match = _VERSION_NUMBER.fullmatch(ref.strip())
    if match is None:
        _fail(f"--to must be a version id or a version number such as v3, not {ref!r}")
        raise typer.Exit(1)  # not reached: _fail exits
    number = int(match.group(1))
    versions = _call("GET", f"/prompts/{prompt_id}/versions")["data"]
    for v in versions:
        if v["version"] == number:
            return str(v["id"])
    _fail(f"prompt {prompt_id} has no version {number}")
    raise typer.Exit(1)


@labels_app.command("list")
def list_labels(
    prompt_id: str = typer.Argument(..., help="prompt id"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """The prompt's labels and the versions they point at."""
    from rich.table import Table

    data = _call("GET", f"/prompts/{prompt_id}/labels")["data"]
    if as_json:
        _print_json(data)
        return
    table = Table("label", "version id", "protected", "updated", show_edge=False)
    for lab in data:
        table.add_row(
            lab["name"],
            lab["prompt_version_id"],
            "[bold]yes[/bold]" if lab.get("protected") else "no",
            str(lab["updated_at"])[:19],
        )
    _console().print(table)


@labels_app.command("history")
def history(
    prompt_id: str = typer.Argument(..., help="prompt id"),
    label: str = typer.Argument("production", help="label name"),
    limit: int = typer.Option(20, "--limit", min=1, max=1000),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Every version the label pointed at, newest first: where a rollback may return."""
    from rich.table import Table

    data = _call("GET", f"/prompts/{prompt_id}/labels/{label}/history", params={"limit": limit})[
        "data"
    ]
    if as_json:
        _print_json(data)
        return
    if not data:
        _console().print(f"Label {label!r} of prompt {prompt_id} never pointed at a version.")
        return
    table = Table(
        "moved at",
        "version",
        "version id",
        "replaced",
        "",
        show_edge=False,
        title=f"{label} of prompt {prompt_id}",
    )
    for h in data:
        table.add_row(
            str(h["moved_at"])[:19],
            f"v{h['version']}",
            h["prompt_version_id"],
            h.get("previous_version_id") or "-",
            "[green]current[/green]" if h["current"] else "",
        )
    _console().print(table)


@labels_app.command("rollback")
def rollback(
    prompt_id: str = typer.Argument(..., help="prompt id"),
    to: str = typer.Option(
        ..., "--to", help="the version to return to: its id, or its number (v3)"
    ),
    reason: str = typer.Option(..., "--reason", "-m", help="why (required; audited)"),
    label: str = typer.Option("production", "--label", "-l", help="the protected label"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Emergency rollback (Admin) of a protected label to a version it served before.

    The version must be Approved; the reason is recorded in the audit log. Refused while a
    deployment of the prompt to the label's environment is active (abort it first)."""
    if not reason.strip():
        _fail("an emergency rollback needs a reason: --reason TEXT")
    version_id = resolve_version(prompt_id, to)
    out = _call(
        "POST",
        f"/prompts/{prompt_id}/labels/{label}/rollback",
        json={"prompt_version_id": version_id, "reason": reason},
    )
    if as_json:
        _print_json(out)
        return
    _console().print(
        f"Label [bold]{out['name']}[/bold] of prompt {prompt_id} rolled back to "
        f"[bold]v{out['version']}[/bold] ({out['prompt_version_id']}); it served "
        f"{out['previous_version_id']} before.\n  reason (audited): {out['reason']}"
    )


def _print_protected(out: dict[str, Any], as_json: bool) -> None:
    if as_json:
        _print_json(out)
        return
    parts = [
        f"{p['name']} (always)" if p["always"] else f"{p['name']} (by {p.get('created_by') or '?'})"
        for p in out["data"]
    ]
    _console().print(f"Protected labels of project {out['project_id']}: {', '.join(parts)}")


@labels_app.command("protected")
def protected(
    project_id: str = typer.Argument(..., help="project id"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """The labels the project protects (production always)."""
    _print_protected(_call("GET", f"/projects/{project_id}/protected_labels"), as_json)


@labels_app.command("protect")
def protect(
    project_id: str = typer.Argument(..., help="project id"),
    label: str = typer.Argument(..., help="dev or staging"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Protect a label in the project (Admin).

    From then on it moves only through deployments and emergency rollbacks."""
    _print_protected(_call("PUT", f"/projects/{project_id}/protected_labels/{label}"), as_json)


@labels_app.command("unprotect")
def unprotect(
    project_id: str = typer.Argument(..., help="project id"),
    label: str = typer.Argument(..., help="dev or staging"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Stop protecting a label (Admin); production stays protected."""
    _print_protected(_call("DELETE", f"/projects/{project_id}/protected_labels/{label}"), as_json)


def register(app: typer.Typer) -> None:
    app.add_typer(labels_app, name="labels")
