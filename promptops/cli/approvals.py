"""``promptops submit|approve|reject|approval``: the approval workflow through the REST API
(with the key from ``PROMPTOPS_API_KEY`` or the admin key file written by ``promptops up``).

The reviewer is the API key's user; errors (403 own version, 409 approving twice, ...) print the
server's message and exit 1, without a traceback.
"""

from __future__ import annotations

import json
from typing import Any

import typer


def _call(method: str, path: str, **kwargs: Any) -> Any:
    from promptops.cli.evals import call

    return call(method, path, **kwargs)


_STATUS_STYLE = {
    "Approved": "green",
    "Rejected": "red",
    "CheckFailed": "red",
    "Expired": "yellow",
    "Pending": "cyan",
    "Checking": "cyan",
}


def _print_approval(a: dict[str, Any], as_json: bool) -> None:
    from rich.console import Console
    from rich.table import Table

    if as_json:
        print(json.dumps(a, indent=2, default=str))
        return
    console = Console(highlight=False)
    style = _STATUS_STYLE.get(a["status"], "bold")
    console.print(
        f"Approval [bold]{a['id']}[/bold]: [{style}]{a['status']}[/{style}] "
        f"(phase {a['phase']}{', live' if a.get('live') else ''})"
    )
    console.print(
        f"  prompt version {a['prompt_version_id']}"
        + (f" ({a['version_status']})" if a.get("version_status") else "")
    )
    console.print(
        f"  approvals {a['approvals']}/{a['required_approvals']}"
        + (
            f"; reviewers: {', '.join(a['reviewers'])}"
            if a.get("reviewers")
            else "; any Editor or Admin may review"
        )
    )
    if a.get("evaluation_id"):
        score = a.get("eval_score")
        shown = (
            "running"
            if score is None and a["status"] == "Checking"
            else ("none" if score is None else f"{score:.3f}")
        )
        console.print(
            f"  eval check: {a.get('eval_metric') or ''} = {shown} "
            f"(min {a.get('min_eval_score')}), evaluation {a['evaluation_id']}"
        )
    if a.get("deadline_at"):
        console.print(
            f"  deadline {a['deadline_at']}"
            + (
                f", reminders sent: {a['reminders_sent']}"
                if a.get("reminders_sent") is not None
                else ""
            )
        )
    if a.get("reason"):
        console.print(f"  reason: {a['reason']}")
    if a.get("decisions"):
        table = Table("reviewer", "decision", "comment", "at", show_edge=False)
        for d in a["decisions"]:
            colour = "green" if d["decision"] == "approve" else "red"
            table.add_row(
                d["reviewer"],
                f"[{colour}]{d['decision']}[/{colour}]",
                d.get("comment") or "",
                str(d.get("decided_at") or ""),
            )
        console.print(table)
    console.print(f"  Temporal UI: {a['temporal_ui_url']}")


def submit(
    version_id: str = typer.Argument(..., help="prompt version id"),
    as_json: bool = typer.Option(False, "--json", help="print the answer as JSON"),
) -> None:
    """Submit a Draft prompt version for approval (starts ApprovalWorkflow)."""
    from rich.console import Console

    started = _call("POST", f"/prompt_versions/{version_id}/submit_for_approval")
    if as_json:
        print(json.dumps(started, indent=2))
        return
    Console(highlight=False).print(
        f"Approval [bold]{started['approval_id']}[/bold]: {started['status']}\n"
        f"  Temporal UI: {started['temporal_ui_url']}"
    )


def approve(
    version_id: str = typer.Argument(..., help="prompt version id"),
    comment: str = typer.Option("", "--comment", "-m", help="optional comment"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Approve a pending prompt version as the API key's user."""
    _print_approval(
        _call("POST", f"/prompt_versions/{version_id}/approve", json={"comment": comment}), as_json
    )


def reject(
    version_id: str = typer.Argument(..., help="prompt version id"),
    comment: str = typer.Option(..., "--comment", "-m", help="why (required)"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Reject a pending prompt version as the API key's user (a comment is required)."""
    from promptops.cli.evals import fail

    if not comment.strip():
        fail("a rejection needs a comment: --comment TEXT")
    _print_approval(
        _call("POST", f"/prompt_versions/{version_id}/reject", json={"comment": comment}), as_json
    )


def approval(
    version_id: str = typer.Argument(..., help="prompt version id"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Status of a prompt version's approval: phase, decisions, eval score, deadline."""
    _print_approval(_call("GET", f"/prompt_versions/{version_id}/approval"), as_json)


def register(app: typer.Typer) -> None:
    app.command("submit")(submit)
    app.command("approve")(approve)
    app.command("reject")(reject)
    app.command("approval")(approval)
