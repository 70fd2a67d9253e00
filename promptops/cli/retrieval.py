"""``promptops ingest``, ``promptops index list|create|show`` and ``promptops query``:
retrieval through the REST API."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from promptops.cli.evals import call, fail

index_app = typer.Typer(help="Retrieval indexes (list, create, show).", no_args_is_help=True)


def _project_id(project: str | None) -> str:
    projects = call("GET", "/projects")["data"]
    if project is None:
        if len(projects) == 1:
            return str(projects[0]["id"])
        fail("several projects: name one with --project")
    for p in projects:
        if project in (p["id"], p["name"]):
            return str(p["id"])
    fail(f"no project {project!r}")
    raise typer.Exit(1)  # not reached


def find_index(name: str, project: str | None = None) -> dict[str, Any] | None:
    """The index called ``name`` (or with that id), of ``project`` when given."""
    params = {"project_id": _project_id(project)} if project else None
    indexes = call("GET", "/retrieval/indexes", params=params)["data"]
    found = [i for i in indexes if name in (i["id"], i["name"])]
    if len(found) > 1:
        fail(f"several indexes are called {name!r}: name the project with --project")
    return found[0] if found else None


def create_index(name: str, project: str | None, **settings: Any) -> dict[str, Any]:
    body = {"project_id": _project_id(project), "name": name, **settings}
    return dict(call("POST", "/retrieval/indexes", json=body))


def follow_ingestion(started: dict[str, Any], *, quiet: bool = False) -> dict[str, Any]:
    """Poll an ingestion with a progress bar until it ends; returns its last state."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True, quiet=quiet)
    state = started
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("ingesting", total=None)
        while state["status"] not in ("Completed", "Failed", "Terminated", "Canceled", "Timed_Out"):
            progress.update(
                task,
                completed=state["documents_done"],
                total=state["documents_total"] or None,
                description=f"ingesting ({state['chunks_written']} chunks written)",
            )
            time.sleep(0.5)
            state = call("GET", f"/retrieval/ingestions/{started['id']}")
        progress.update(
            task, completed=state["documents_done"], total=state["documents_total"] or 1
        )
    return state


def ingest(
    path: Annotated[
        Path, typer.Argument(help="a folder or a file (HTML, reST, Markdown, text, PDF)")
    ],
    index: str = typer.Option(..., "--index", help="index name or id (created when missing)"),
    project: str | None = typer.Option(None, help="project name or id (when there are several)"),
    include: Annotated[
        list[str] | None, typer.Option(help="glob of files to take from a folder (repeatable)")
    ] = None,
    exclude: Annotated[
        list[str] | None, typer.Option(help="glob of files to leave out (repeatable)")
    ] = None,
    force: bool = typer.Option(False, help="re-embed unchanged documents too"),
    wait: bool = typer.Option(True, help="follow the progress until it ends"),
    as_json: bool = typer.Option(False, "--json", help="print the final state as JSON"),
) -> None:
    """Ingest a folder or file into an index (a durable IngestionWorkflow): unchanged documents
    are skipped, changed ones replaced, removed ones deleted."""
    path = path.expanduser().resolve()
    if not path.exists():
        fail(f"{path} does not exist")
    found = find_index(index, project) or create_index(index, project)
    source: dict[str, Any]
    if path.is_dir():
        source = {"kind": "folder", "path": str(path)}
        if include:
            source["include"] = include
        if exclude:
            source["exclude"] = exclude
    else:
        source = {"kind": "files", "paths": [str(path)]}
    started = call(
        "POST",
        f"/retrieval/indexes/{found['id']}/ingest",
        json={"source": source, "force": force},
    )
    state = follow_ingestion(started, quiet=as_json) if wait else started
    if as_json:
        typer.echo(json.dumps(state, indent=2, default=str))
        return
    typer.echo(
        f"{state['status']}: {state['documents_done']}/{state['documents_total']} documents "
        f"({state['added']} added, {state['replaced']} replaced, {state['skipped']} unchanged, "
        f"{state['removed']} removed), {state['chunks_written']} chunks written, "
        f"{state['duplicates']} near-duplicates dropped; the index holds "
        f"{state['documents_in_index']} documents, {state['chunks_in_index']} chunks"
    )
    for e in state.get("errors", [])[:10]:
        typer.echo(f"  could not ingest {e['source']}: {e['message']}")
    typer.echo(f"workflow: {state['temporal_ui_url']}")
    if state["status"] != "Completed" and wait:
        fail(state.get("error") or f"ingestion ended {state['status']}")


def query(
    text: str = typer.Argument(..., help="the query"),
    index: str = typer.Option(..., "--index", help="index name or id"),
    project: str | None = typer.Option(None, help="project name or id"),
    mode: str = typer.Option("hybrid", help="dense, keyword or hybrid"),
    top_k: int = typer.Option(5, "--top-k", min=1, max=100),
    mmr: float | None = typer.Option(None, help="MMR lambda (0..1) to diversify"),
    rerank: bool = typer.Option(False, help="rerank with the configured cross-encoder"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Search an index and print the hits with their scores and sources."""
    found = find_index(index, project)
    if found is None:
        fail(f"no index {index!r}")
        return
    result = call(
        "POST",
        "/retrieval/query",
        json={
            "index_id": found["id"],
            "query": text,
            "mode": mode,
            "top_k": top_k,
            "mmr_lambda": mmr,
            "rerank": rerank,
        },
    )
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    for rank, h in enumerate(result["hits"], start=1):
        where = " > ".join(h["heading_path"])
        anchor = f"#{h['anchor']}" if h["anchor"] else ""
        typer.echo(f"{rank:>2}. {h['score']:.4f}  {h['source']}{anchor}  {where}")
    typer.echo(f"{result['timings_ms'].get('total', 0):.1f} ms ({result['mode']})")


@index_app.command("list")
def list_indexes(project: str | None = typer.Option(None)) -> None:
    """Indexes with their models and sizes."""
    params = {"project_id": _project_id(project)} if project else None
    for i in call("GET", "/retrieval/indexes", params=params)["data"]:
        typer.echo(
            f"{i['name']}  {i['embedding_model']} ({i['embedding_model_version']})  "
            f"{i['documents']} documents, {i['chunks']} chunks  {i['id']}"
        )


@index_app.command("create")
def create(
    name: str,
    project: str | None = typer.Option(None),
    min_tokens: int = typer.Option(300),
    max_tokens: int = typer.Option(800),
    overlap: float = typer.Option(0.12),
    ttl_seconds: int | None = typer.Option(None),
    reindex_interval_seconds: int | None = typer.Option(None),
) -> None:
    """Create an index."""
    created = create_index(
        name,
        project,
        chunking={"min_tokens": min_tokens, "max_tokens": max_tokens, "overlap": overlap},
        ttl_seconds=ttl_seconds,
        reindex_interval_seconds=reindex_interval_seconds,
    )
    typer.echo(f"created index {created['name']} ({created['id']})")


@index_app.command("show")
def show(name: str, project: str | None = typer.Option(None)) -> None:
    """An index, its sources and their last ingestion."""
    found = find_index(name, project)
    if found is None:
        fail(f"no index {name!r}")
        return
    typer.echo(json.dumps(call("GET", f"/retrieval/indexes/{found['id']}"), indent=2))


def register(app: typer.Typer) -> None:
    app.command("ingest")(ingest)
    app.command("query")(query)
    app.add_typer(index_app, name="index")
