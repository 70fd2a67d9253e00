"""``promptops deploy`` and ``promptops rollout status|list|pause|resume|promote|abort``: canary
rollouts (``CanaryRolloutWorkflow``) through the REST API, with the key from
``PROMPTOPS_API_KEY`` or the admin key file written by ``promptops up``.

Errors (409 not approved, 422 bad plan, 404 unknown id, API unreachable) print the server's
message and exit 1, without a traceback.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

import typer

rollout_app = typer.Typer(
    help="Watch and steer canary rollouts (CanaryRolloutWorkflow).", no_args_is_help=True
)

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")
_FINAL = ("Promoted", "RolledBack", "Aborted")
_STATUS_STYLE = {
    "Promoted": "green",
    "RolledBack": "red",
    "Aborted": "red",
    "Running": "cyan",
    "Paused": "yellow",
    "Pending": "cyan",
}


def parse_duration(text: str) -> int:
    """Seconds in ``text``: a plain number of seconds (``90``) or units s/m/h/d/w, combinable
    (``1h30m``, ``2d``). Raises ValueError for anything else or for zero."""
    value = text.strip().lower()
    if re.fullmatch(r"\d+", value):
        seconds = float(value)
    else:
        parts = _DURATION.findall(value)
        if not parts or "".join(n + u for n, u in parts) != value:
            raise ValueError(f"not a duration: {text!r} (examples: 90, 45s, 15m, 1h30m, 2d)")
        seconds = sum(float(n) * _UNITS[u] for n, u in parts)
    if seconds < 1:
        raise ValueError(f"a duration must be at least 1 second: {text!r}")
    return round(seconds)


def parse_bake(text: str) -> int | list[int]:
    """One duration for every step, or a comma-separated list (one per step below 100%)."""
    items = [t for t in text.split(",") if t.strip()]
    if not items:
        raise ValueError("--bake is empty")
    values = [parse_duration(t) for t in items]
    return values[0] if len(values) == 1 else values


def parse_steps(text: str) -> list[float]:
    """``10,50,100`` -> [10.0, 50.0, 100.0] (the API checks that they rise to 100)."""
    try:
        return [float(t) for t in text.split(",") if t.strip()]
    except ValueError as exc:
        raise ValueError(f"--steps must be comma-separated percentages: {text!r}") from exc


def _call(method: str, path: str, **kwargs: Any) -> Any:
    from promptops.cli.evals import call

    return call(method, path, **kwargs)


def _fail(message: str) -> None:
    from promptops.cli.evals import fail

    fail(message)


def _fmt(value: Any, spec: str = ".3f", unit: str = "") -> str:
    if value is None:
        return "-"
    return f"{value:{spec}}{unit}"


def print_deployment(d: dict[str, Any], as_json: bool = False) -> None:
    """A deployment (row + ``live`` status query) as rich text, or as JSON."""
    from rich.console import Console
    from rich.table import Table

    if as_json:
        print(json.dumps(d, indent=2, default=str))
        return
    console = Console(highlight=False)
    live = d.get("live") or {}
    status = live.get("status") or d["status"]
    style = _STATUS_STYLE.get(status, "bold")
    steps = (d.get("plan") or {}).get("steps") or []
    step = live.get("step_index", d["current_step"])
    weight = (live.get("weights") or {}).get("canary", d["canary_weight"])
    console.print(
        f"Deployment [bold]{d['id']}[/bold] to [bold]{d['environment']}[/bold]: "
        f"[{style}]{status}[/{style}]"
    )
    console.print(
        f"  candidate {d['candidate_version_id']}  baseline "
        f"{d.get('baseline_version_id') or '(none: first deployment)'}"
    )
    step_text = f"{step + 1}/{len(steps)} ({steps[step]:g}%)" if 0 <= step < len(steps) else "-"
    console.print(f"  step {step_text}  weights: canary {weight:g}% / baseline {100 - weight:g}%")
    if live and live.get("bake_time_s"):
        console.print(
            f"  bake {live['bake_elapsed_s'] / 3600:.2f} h of "
            f"{live['bake_time_s'] / 3600:.2f} h, checks every "
            f"{live['check_interval_s']} s ({live['checks']} so far, last "
            f"{live.get('last_check_at') or '-'})"
        )
    if d.get("reason") or live.get("reason"):
        console.print(f"  reason: {d.get('reason') or live.get('reason')}")
    figures = live.get("figures") or {}
    if figures:
        table = Table(
            "arm",
            "runs",
            "error rate",
            "p95 ms",
            "feedback",
            "outcome",
            "eval",
            title="Guard figures (last check, bake window)",
            show_edge=False,
        )
        for arm in ("baseline", "canary"):
            f = figures.get(arm) or {}
            table.add_row(
                arm,
                str(f.get("n", 0)),
                _fmt(f.get("error_rate"), ".1%"),
                _fmt(f.get("p95_latency_ms"), ".0f"),
                _fmt(f.get("mean_feedback")),
                _fmt(f.get("mean_outcome")),
                _fmt(f.get("eval_score")),
            )
        console.print(table)
        console.print(f"  eval score for promotion: {_fmt(live.get('eval_score'))}")
    for b in live.get("breaches") or []:
        console.print(f"  [red]breach[/red] {b['guard']}: {b['message']}")
    history = live.get("history") or []
    if history:
        table = Table("step", "percent", "started", "ended", "paused s", "outcome", show_edge=False)
        for h in history:
            table.add_row(
                str(h["step_index"] + 1),
                f"{h['percent']:g}%",
                h["started_at"],
                h.get("ended_at") or "",
                f"{h.get('paused_s') or 0:.0f}",
                h.get("outcome") or "",
            )
        console.print(table)
    if d.get("temporal_ui_url"):
        console.print(f"  Temporal UI: {d['temporal_ui_url']}")


def deploy(
    version_id: str = typer.Argument(..., help="the approved prompt version to roll out"),
    env: str = typer.Option(..., "--env", "-e", help="dev | staging | prod"),
    steps: str = typer.Option("10,50,100", "--steps", help="canary percentages, ending at 100"),
    bake: str = typer.Option(
        "1h", "--bake", help="bake time per step (90, 15m, 1h, 2d) or one per step: 1h,4h"
    ),
    check_interval: str | None = typer.Option(
        None, "--check-interval", help="time between guard checks (default min(bake/4, 5m))"
    ),
    min_samples: int | None = typer.Option(
        None, "--min-samples", min=0, help="runs per arm needed per bake (default 20)"
    ),
    max_error_rate_increase: float | None = typer.Option(
        None, "--max-error-rate-increase", help="e.g. 0.02 = 2 points of success rate"
    ),
    max_p95_ms: float | None = typer.Option(
        None, "--max-p95-ms", help="absolute p95 latency limit of the canary"
    ),
    max_feedback_drop: float | None = typer.Option(None, "--max-feedback-drop"),
    min_eval_score: float | None = typer.Option(
        None, "--min-eval-score", help="promotion gate (default 0.70)"
    ),
    no_eval_gate: bool = typer.Option(
        False, "--no-eval-gate", help="disable the eval-score promotion gate"
    ),
    project: str | None = typer.Option(
        None, "--project", help="project id (default: the version's project)"
    ),
    as_json: bool = typer.Option(False, "--json", help="print the answer as JSON"),
) -> None:
    """Start a canary rollout of an approved prompt version (CanaryRolloutWorkflow)."""
    from rich.console import Console

    if env not in ("dev", "staging", "prod"):
        _fail(f"--env must be dev, staging or prod, not {env!r}")
    try:
        plan: dict[str, Any] = {"steps": parse_steps(steps), "bake_time_s": parse_bake(bake)}
        if check_interval is not None:
            plan["check_interval_s"] = parse_duration(check_interval)
    except ValueError as exc:
        _fail(str(exc))
        return
    for name, value in (
        ("min_samples", min_samples),
        ("max_error_rate_increase", max_error_rate_increase),
        ("max_p95_latency_ms", max_p95_ms),
        ("max_feedback_drop", max_feedback_drop),
        ("min_eval_score", min_eval_score),
    ):
        if value is not None:
            plan[name] = value
    if no_eval_gate:
        plan["min_eval_score"] = None
    if project is None:
        version = _call("GET", f"/prompt_versions/{version_id}")
        project = _call("GET", f"/prompts/{version['prompt_id']}")["project_id"]
    started = _call(
        "POST",
        "/deployments",
        json={
            "project_id": project,
            "prompt_version_id": version_id,
            "environment": env,
            "plan": plan,
        },
    )
    if as_json:
        print(json.dumps(started, indent=2, default=str))
        return
    d = started["deployment"]
    Console(highlight=False).print(
        f"Deployment [bold]{d['id']}[/bold] started: {env}, steps "
        f"{', '.join(f'{s:g}%' for s in d['plan']['steps'])}\n"
        f"  workflow {started['workflow_id']}\n"
        f"  follow with: promptops rollout status {d['id']} --watch\n"
        f"  Temporal UI: {started['temporal_ui_url']}"
    )


@rollout_app.command("status")
def status(
    deployment_id: str = typer.Argument(..., help="deployment id"),
    watch: bool = typer.Option(False, "--watch", "-w", help="refresh until it ends"),
    interval: float = typer.Option(5.0, "--interval", min=0.5, help="seconds between refreshes"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Step, weights, last guard figures per arm, breaches and step history."""
    while True:
        d = _call("GET", f"/deployments/{deployment_id}")
        print_deployment(d, as_json)
        if not watch or d["status"] in _FINAL:
            return
        time.sleep(interval)


@rollout_app.command("list")
def list_rollouts(
    project: str | None = typer.Option(None, "--project", help="only this project"),
    env: str | None = typer.Option(None, "--env", "-e"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Deployments, newest first."""
    from rich.console import Console
    from rich.table import Table

    params = {k: v for k, v in (("project_id", project), ("environment", env)) if v}
    data = _call("GET", "/deployments", params=params)["data"]
    if as_json:
        print(json.dumps(data, indent=2, default=str))
        return
    table = Table(
        "id", "env", "status", "step", "canary %", "candidate", "created", show_edge=False
    )
    for d in data:
        style = _STATUS_STYLE.get(d["status"], "bold")
        table.add_row(
            d["id"],
            d["environment"],
            f"[{style}]{d['status']}[/{style}]",
            str(d["current_step"] + 1),
            f"{d['canary_weight']:g}",
            d["candidate_version_id"][:8],
            str(d["created_at"])[:19],
        )
    Console(highlight=False).print(table)


def _operate(deployment_id: str, action: str, reason: str, as_json: bool) -> None:
    from rich.console import Console

    answer = _call("POST", f"/deployments/{deployment_id}/{action}", json={"reason": reason})
    if as_json:
        print(json.dumps(answer, indent=2, default=str))
        return
    if "requested" in answer:  # pause / resume: a signal, applied by the workflow at once
        Console(highlight=False).print(
            f"Deployment [bold]{deployment_id}[/bold]: {answer['requested']} requested"
        )
        return
    print_deployment(answer)


@rollout_app.command("pause")
def pause(
    deployment_id: str = typer.Argument(...),
    reason: str = typer.Option("", "--reason", "-m"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Hold the current weight and stop the bake clock."""
    _operate(deployment_id, "pause", reason, as_json)


@rollout_app.command("resume")
def resume(
    deployment_id: str = typer.Argument(...),
    reason: str = typer.Option("", "--reason", "-m"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Restart the bake clock where it stopped."""
    _operate(deployment_id, "resume", reason, as_json)


@rollout_app.command("promote")
def promote(
    deployment_id: str = typer.Argument(...),
    reason: str = typer.Option("", "--reason", "-m"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Jump to 100% now (the eval-score gate still applies)."""
    _operate(deployment_id, "promote", reason, as_json)


@rollout_app.command("abort")
def abort(
    deployment_id: str = typer.Argument(...),
    reason: str = typer.Option(..., "--reason", "-m", help="why (required)"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Stop the rollout: weight 0, status Aborted, the reason recorded."""
    if not reason.strip():
        _fail("an abort needs a reason: --reason TEXT")
    _operate(deployment_id, "abort", reason, as_json)


def register(app: typer.Typer) -> None:
    app.command("deploy")(deploy)
    app.add_typer(rollout_app, name="rollout")
