"""``promptops eval run|retrieval|status|show``: batch evaluations through the REST API."""

from __future__ import annotations

import json
import os
from typing import Any

import typer

eval_app = typer.Typer(
    help="Run and inspect batch evaluations (BatchEvaluationWorkflow).", no_args_is_help=True
)


def api_url() -> str:
    from promptops.settings import get_settings

    return os.environ.get("PROMPTOPS_API_URL") or get_settings().api_url


def fail(message: str) -> None:
    from rich.console import Console

    Console(stderr=True, highlight=False).print(f"[bold red]Error:[/bold red] {message}")
    raise typer.Exit(1)


def _client() -> Any:
    from promptops.devstack.client import PromptOpsClient
    from promptops.settings import get_settings

    key = get_settings().resolved_api_key()
    if not key:
        fail(
            "no API key: set PROMPTOPS_API_KEY, or run `promptops up` (it writes an admin key "
            f"to {get_settings().admin_key_file})"
        )
    return PromptOpsClient(api_url(), api_key=key)


def call(method: str, path: str, **kwargs: Any) -> Any:
    """One API call with the CLI's key; a 4xx/5xx or an unreachable API ends the command with
    a clean error (exit 1, no traceback)."""
    from promptops.devstack.client import APIClientError

    with _client() as client:
        try:
            return client.request(method, path, **kwargs)
        except APIClientError as exc:
            fail(exc.message)
            raise typer.Exit(1) from exc  # not reached: fail() exits


def follow(
    client: Any,
    evaluation_id: str,
    *,
    label: str = "evaluating",
    rows: int = 0,
    console: Any = None,
) -> dict[str, Any]:
    """Poll an evaluation with a rich progress bar (on ``console``) until it ends."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        transient=False,
        console=console,
    ) as progress:
        task = progress.add_task(label, total=None)

        def update(ev: dict[str, Any]) -> None:
            p = ev["progress"]
            progress.update(task, completed=p["done"], total=p["total"] or None)

        return dict(client.wait_evaluation(evaluation_id, on_progress=update, rows=rows))


def _progress_console(as_json: bool) -> Any:
    from rich.console import Console

    # With --json, stdout carries only the JSON document.
    return Console(stderr=as_json, highlight=False)


@eval_app.command("run")
def run(
    versions: str = typer.Option(..., "--versions", help="comma-separated prompt version ids"),
    dataset: str = typer.Option(..., "--dataset", help="dataset id"),
    metrics: str = typer.Option(..., "--metrics", help="comma-separated metric names"),
    concurrency: int = typer.Option(4, min=1),
    limit: int | None = typer.Option(None, min=1, help="only the first N examples"),
    positive_label: str | None = typer.Option(None, help="positive class for precision/recall"),
    wait: bool = typer.Option(True, help="follow progress and print the comparison"),
    as_json: bool = typer.Option(False, "--json", help="print the result as JSON"),
) -> None:
    """Start a batch evaluation; prints its id (= Temporal workflow id)."""
    from promptops.devstack.client import APIClientError

    body: dict[str, Any] = {
        "prompt_version_ids": [v.strip() for v in versions.split(",") if v.strip()],
        "dataset_id": dataset,
        "metrics": [m.strip() for m in metrics.split(",") if m.strip()],
        "concurrency": concurrency,
        "limit": limit,
        "positive_label": positive_label,
    }
    with _client() as client:
        try:
            started = client.start_evaluation(**body)
            if not wait:
                print(json.dumps(started) if as_json else started["id"])
                return
            result = follow(client, started["id"], console=_progress_console(as_json))
        except APIClientError as exc:
            fail(exc.message)
            return
    _print_result(result, as_json)


@eval_app.command("retrieval")
def retrieval(
    dataset: str = typer.Option(..., "--dataset", help="dataset id (query + qrels examples)"),
    index: str = typer.Option(..., "--index", help="retrieval index name or id"),
    modes: str = typer.Option(
        "dense,keyword,hybrid", "--modes", help="comma-separated: one configuration per mode"
    ),
    top_k: int = typer.Option(10, "--top-k", min=1, max=100, help="hits scored per query"),
    granularity: str = typer.Option("page", help="page (anchors fold into pages) or anchor"),
    mmr_lambda: float | None = typer.Option(None, min=0.0, max=1.0, help="MMR on (0..1)"),
    rerank: bool = typer.Option(False, help="rerank with the configured cross-encoder"),
    project: str | None = typer.Option(None, help="the index's project (name or id)"),
    limit: int | None = typer.Option(None, min=1, help="only the first N examples"),
    wait: bool = typer.Option(True, help="follow progress and print the comparison"),
    as_json: bool = typer.Option(False, "--json", help="print the result as JSON"),
) -> None:
    """Evaluate retrieval on a dataset of queries with qrels: recall@1/5/10, MRR and nDCG@10
    per mode, with 95% intervals and paired differences against the first mode."""
    from promptops.cli.retrieval import find_index
    from promptops.devstack.client import APIClientError

    if granularity not in ("page", "anchor"):
        fail("--granularity must be page or anchor")
    found = find_index(index, project)
    if found is None:
        fail(f"no retrieval index {index!r}")
        return
    configs = [
        {
            "index_id": found["id"],
            "mode": mode,
            "top_k": top_k,
            "mmr_lambda": mmr_lambda,
            "rerank": rerank,
        }
        for mode in dict.fromkeys(m.strip() for m in modes.split(",") if m.strip())
    ]
    if not configs:
        fail("--modes names no mode")
    body: dict[str, Any] = {
        "retrieval_configs": configs,
        "dataset_id": dataset,
        "granularity": granularity,
        "limit": limit,
    }
    with _client() as client:
        try:
            started = client.start_evaluation(**body)
            if not wait:
                print(json.dumps(started) if as_json else started["id"])
                return
            result = follow(client, started["id"], console=_progress_console(as_json))
        except APIClientError as exc:
            fail(exc.message)
            return
    _print_result(result, as_json)


@eval_app.command("status")
def status(evaluation_id: str) -> None:
    """Status and progress of an evaluation."""
    from rich.console import Console

    from promptops.devstack.client import APIClientError

    with _client() as client:
        try:
            ev = client.get_evaluation(evaluation_id)
        except APIClientError as exc:
            fail(exc.message)
            return
    p = ev["progress"]
    Console(highlight=False).print(
        f"{ev['id']}: [bold]{ev['status']}[/bold] {p['done']}/{p['total']} examples\n"
        f"Temporal UI: {ev['temporal_ui_url']}"
    )
    for v in p.get("versions") or []:
        means = ", ".join(f"{k}={x:.3f}" for k, x in v["means"].items() if x is not None)
        Console(highlight=False).print(f"  {v['version_id'][:8]} done={v['done']} {means}")


@eval_app.command("show")
def show(
    evaluation_id: str,
    rows: int = typer.Option(0, help="also print N per-example rows"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Aggregates with 95% intervals, the paired comparison and optionally per-example rows."""
    from promptops.devstack.client import APIClientError

    with _client() as client:
        try:
            ev = client.get_evaluation(evaluation_id, rows=rows)
        except APIClientError as exc:
            fail(exc.message)
            return
    _print_result(ev, as_json)


def _print_result(ev: dict[str, Any], as_json: bool) -> None:
    from rich.console import Console

    from promptops.cli.report import comparison_table, wide_width

    if as_json:
        print(json.dumps(ev, indent=2, default=str))
        return
    console = Console(highlight=False, width=wide_width())
    names = {c["config_id"]: c["label"] for c in ev.get("retrieval_configs") or []}
    console.print(comparison_table(f"Evaluation {ev['id']} ({ev['status']})", ev, names))
    for row in ev.get("rows") or []:
        if "config_id" in row:  # a retrieval evaluation: the judged ids of the top hits
            console.print(
                f"[dim]{row['example_id']}[/dim] {row['label']} ranking={row['ranking'][:5]} "
                f"{ {k: round(v, 3) for k, v in row['metrics'].items()} }"
            )
            continue
        console.print(
            f"[dim]{row['example_id']}[/dim] {row['prompt_version_id'][:8]} "
            f"expected={row['expected']!r} output={str(row['output'])[:80]!r} "
            f"{ {k: round(v, 3) for k, v in row['metrics'].items()} }"
        )
    console.print(f"Temporal UI: {ev['temporal_ui_url']}")


def register(app: typer.Typer) -> None:
    app.add_typer(eval_app, name="eval")
