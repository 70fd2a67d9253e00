"""``promptops routing apply|list``: a project's routing policies through the REST API (with
the key from ``PROMPTOPS_API_KEY`` or the admin key file written by ``promptops up``).

A policy file::

    routing_policies:
      - name: cheap-but-fast
        strategy: cost_first            # or quality_first, latency_first
        candidates: [gpt-4o-mini, claude-haiku]
        fallbacks: [gpt-4o]
        constraints: {max_p95_latency_ms: 1500, min_quality: 0.7, max_cost_usd: 0.002}
        description: default route of the support bot

Requests then use ``model: "policy:cheap-but-fast"``.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import typer

routing_app = typer.Typer(
    help="Apply and list routing policies (model 'policy:<name>').", no_args_is_help=True
)


def _call(method: str, path: str, **kwargs: Any) -> Any:
    from promptops.cli.evals import call

    return call(method, path, **kwargs)


def _fail(message: str) -> None:
    from promptops.cli.evals import fail

    fail(message)


def _project_id(ref: str) -> str:
    """A project id, or the id of the project named ``ref`` (exact name)."""
    try:
        return str(uuid.UUID(ref))
    except ValueError:
        pass
    projects = _call("GET", "/projects")["data"]
    for project in projects:
        if project["name"] == ref:
            return str(project["id"])
    _fail(
        f"no project named {ref!r}; projects: {', '.join(p['name'] for p in projects) or '(none)'}"
    )
    raise typer.Exit(1)  # not reached: _fail exits


def load_policies(path: Path) -> list[dict[str, Any]]:
    """The policies of a YAML file, each checked with ``RoutingPolicySpec`` (shape only: the
    server checks the models). Raises ``ValueError`` with a message naming the file, the
    policy and the field."""
    import yaml
    from pydantic import ValidationError

    from promptops.llm.routing.policy import RoutingPolicySpec

    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("routing_policies"), list):
        # ValueError like every other bad-file case (the CLI reports them all the same way).
        raise ValueError(  # noqa: TRY004
            f"{path}: expected a mapping with a 'routing_policies' list"
        )
    out: list[dict[str, Any]] = []
    names: set[str] = set()
    for i, item in enumerate(data["routing_policies"]):
        where = f"{path}: routing_policies[{i}]"
        if not isinstance(item, dict):
            raise ValueError(f"{where}: expected a mapping")  # noqa: TRY004
        try:
            spec = RoutingPolicySpec.model_validate(item)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or '(policy)'}: {e['msg']}"
                for e in exc.errors()
            )
            raise ValueError(f"{where} ({item.get('name', '?')}): {problems}") from None
        if spec.name in names:
            raise ValueError(f"{where}: policy {spec.name!r} appears twice")
        names.add(spec.name)
        out.append(spec.model_dump(mode="json"))
    return out


@routing_app.command("apply")
def apply(
    file: str = typer.Argument(..., help="YAML file with a 'routing_policies' list"),
    project: str = typer.Option(..., "--project", help="project name or id"),
) -> None:
    """Create or replace each policy of FILE in the project (PUT, one per policy). Policies of
    the project that the file does not name are left alone."""
    from rich.console import Console

    try:
        policies = load_policies(Path(file))
    except ValueError as exc:
        _fail(str(exc))
        return
    project_id = _project_id(project)
    out = Console(highlight=False)
    for policy in policies:
        name = policy.pop("name")
        _call("PUT", f"/projects/{project_id}/routing_policies/{name}", json=policy)
        out.print(
            f"applied [bold]{name}[/bold] ({policy['strategy']}: "
            f"{', '.join(policy['candidates'])}"
            f"{'; fallbacks ' + ', '.join(policy['fallbacks']) if policy['fallbacks'] else ''})"
        )
    out.print(
        f"{len(policies)} routing polic{'y' if len(policies) == 1 else 'ies'} applied; "
        f"use model 'policy:<name>'"
    )


def _constraints(c: dict[str, Any]) -> str:
    parts = []
    if c.get("max_p95_latency_ms") is not None:
        parts.append(f"p95 <= {c['max_p95_latency_ms']:g} ms")
    if c.get("min_quality") is not None:
        parts.append(f"quality >= {c['min_quality']:g}")
    if c.get("max_cost_usd") is not None:
        parts.append(f"cost <= ${c['max_cost_usd']:g}")
    return ", ".join(parts) or "-"


@routing_app.command("list")
def list_policies(
    project: str = typer.Option(..., "--project", help="project name or id"),
    as_json: bool = typer.Option(False, "--json", help="print the policies as JSON"),
) -> None:
    """The project's routing policies."""
    import json

    from rich.console import Console
    from rich.table import Table

    data = _call("GET", f"/projects/{_project_id(project)}/routing_policies")["data"]
    if as_json:
        print(json.dumps(data, indent=2))
        return
    table = Table(title="routing policies")
    for column in ("name", "strategy", "candidates", "fallbacks", "constraints", "updated by"):
        table.add_column(column)
    for p in data:
        table.add_row(
            p["name"],
            p["strategy"],
            ", ".join(p["candidates"]),
            ", ".join(p["fallbacks"]) or "-",
            _constraints(p["constraints"]),
            p["updated_by"],
        )
    Console(highlight=False).print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(routing_app, name="routing")
