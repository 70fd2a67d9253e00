"""The RAG part of the demo (``promptops demo rag``): ingest the Python 3.11 documentation
(Debian's ``python3.11-doc``) into a retrieval index through the durable ``IngestionWorkflow``,
then answer questions about it with the local model, each answer with its cited sources
(checked against the chunks the model was given) and the retrieval latency.

By default a subset of the library reference is ingested (:data:`DEFAULT_PAGES`, so the whole
demo stays within minutes on 2 cores); ``all_pages`` ingests every page but the indexes and
the search page. Runs through the REST API like any client.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from promptops.devstack.client import PromptOpsClient

DOCS_DIR = Path("/usr/share/doc/python3.11/html")
INDEX_NAME = "python-docs"
PROJECT_NAME = "python-docs-demo"
#: The pages ingested by default (HTML, relative to DOCS_DIR).
DEFAULT_PAGES = [
    "library/functools.html",
    "library/itertools.html",
    "library/collections.html",
    "library/json.html",
    "library/pathlib.html",
    "library/dataclasses.html",
    "library/contextlib.html",
    "library/asyncio-task.html",
    "library/re.html",
    "library/datetime.html",
    "tutorial/datastructures.html",
    "tutorial/errors.html",
    "tutorial/classes.html",
    "howto/sorting.html",
]
#: What the full ingestion leaves out: generated indexes, the search page, static files.
FULL_EXCLUDE = ["genindex*", "py-modindex.html", "search.html", "_*/*", "_*"]
QUESTIONS = [
    "How do I cache the results of an expensive function?",
    "How can I sort a list of dictionaries by one of their keys?",
    "How do I read a JSON file into a Python object?",
]
PROMPT = {
    "system": "You answer questions about Python from the sources you are given.",
    "body": (
        "Question: {{ question }}\n\nAnswer in two sentences using only the sources, and cite "
        "the source you used with its marker, e.g. [doc:0123456789ab#anchor]."
    ),
    "variables": {"question": "str"},
    "notes": "RAG demo: answers from the Python docs with citations.",
    "decoding": {"temperature": 0.0, "max_tokens": 96},
}


@dataclass
class RagDemoResult:
    index_id: str
    ingestion: dict[str, Any]
    answers: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        ing = self.ingestion
        return {
            "index_id": self.index_id,
            "ingestion_id": ing["id"],
            "documents": ing["documents_in_index"],
            "chunks": ing["chunks_in_index"],
            "ingest_seconds": ing.get("seconds"),
            "answers": self.answers,
        }


def _ingest(
    client: PromptOpsClient, index_id: str, source: dict[str, Any], say: Callable[..., None]
) -> dict[str, Any]:
    started = time.monotonic()
    state = client.request("POST", f"/retrieval/indexes/{index_id}/ingest", json={"source": source})
    last = -1
    while state["status"] not in ("Completed", "Failed", "Terminated", "Canceled"):
        if state["documents_done"] != last:
            last = state["documents_done"]
            say(
                f"  ingesting: {state['documents_done']}/{state['documents_total'] or '?'} "
                f"documents, {state['chunks_written']} chunks written"
            )
        time.sleep(1.0)
        state = client.request("GET", f"/retrieval/ingestions/{state['id']}")
    if state["status"] != "Completed":
        raise RuntimeError(f"ingestion {state['id']} ended {state['status']}: {state.get('error')}")
    state["seconds"] = round(time.monotonic() - started, 1)
    return dict(state)


def run_rag_demo(
    api_url: str,
    api_key: str,
    *,
    say: Callable[..., None] = print,
    all_pages: bool = False,
    questions: list[str] | None = None,
    docs_dir: Path = DOCS_DIR,
) -> RagDemoResult:
    """Ingest, then ask. Raises FileNotFoundError when the docs are not installed,
    :class:`promptops.devstack.client.APIClientError` for an API refusal, RuntimeError for a
    failed ingestion."""
    if not (docs_dir / "library" / "functools.html").exists():
        raise FileNotFoundError(
            f"the Python docs are not in {docs_dir}: apt-get install python3.11-doc "
            "(bash deploy/bootstrap.sh does it)"
        )
    with PromptOpsClient(api_url, api_key=api_key) as client:
        project = client.ensure_project(PROJECT_NAME, "Demo: RAG over the Python 3.11 docs")
        index = next(
            (
                i
                for i in client.request(
                    "GET", "/retrieval/indexes", params={"project_id": project["id"]}
                )["data"]
                if i["name"] == INDEX_NAME
            ),
            None,
        ) or client.request(
            "POST",
            "/retrieval/indexes",
            json={
                "project_id": project["id"],
                "name": INDEX_NAME,
                "description": "Python 3.11 documentation (Debian python3.11-doc)",
            },
        )
        source: dict[str, Any] = {"kind": "folder", "path": str(docs_dir)}
        if all_pages:
            source.update(include=["*.html"], exclude=FULL_EXCLUDE)
        else:
            source.update(include=DEFAULT_PAGES)
        say(f"Ingesting the Python docs into index {INDEX_NAME!r} (IngestionWorkflow)…")
        ingestion = _ingest(client, index["id"], source, say)
        say(
            f"Ingested in {ingestion['seconds']} s: {ingestion['added']} added, "
            f"{ingestion['replaced']} replaced, {ingestion['skipped']} unchanged; the index "
            f"holds {ingestion['documents_in_index']} documents, "
            f"{ingestion['chunks_in_index']} chunks. Workflow: {ingestion['temporal_ui_url']}"
        )
        prompt = client.ensure_prompt(project["id"], "python-docs-qa")
        version = client.ensure_version(prompt["id"], PROMPT)
        result = RagDemoResult(index_id=index["id"], ingestion=ingestion)
        for question in questions or QUESTIONS:
            run = client.request(
                "POST",
                "/generate",
                json={
                    "prompt_version_id": version["id"],
                    "variables": {"question": question},
                    "retrieval": {
                        "index": INDEX_NAME,
                        "k": 3,
                        "query_variable": "question",
                        "max_context_tokens": 700,
                    },
                },
            )
            info = run.get("retrieval") or {}
            result.answers.append(
                {
                    "question": question,
                    "answer": run["output"],
                    "sources": info.get("sources", []),
                    "citations": info.get("citations", []),
                    "retrieval_ms": info.get("latency_ms"),
                    "run_id": str(run["run_id"]),
                }
            )
        return result
