"""RAG in the playground against a real stack: an index of three Python doc pages ingested by
the worker (the real embedding model), a prompt version run with the index (k = 3, the query
from the variable ``question``) on the embedded SmolLM2 model; the answer's retrieval panel
lists the sources given to the model and the answer's citations, each checked; a source's
link opens the chunk's page (its citation marker, heading path, text).

The tiny model rarely cites well: the test asserts that the sources and the citation list
render, not what the model cited. To see (and check with axe) a valid and a flagged citation,
the run is then replayed with a stubbed stream whose answer cites the real chunk given and a
made-up one."""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path
from typing import Any

import httpx

from tests.browser.conftest import UIStack, assert_accessible, shoot, sign_in
from tests.browser.flows import until

MODEL = "smollm2-135m"
DOCS = Path("/usr/share/doc/python3.11/html/library")
PAGES = ("functools.html", "itertools.html", "operator.html")
QUESTION = "What does functools.lru_cache do?"
#: The chunks' token budget: the embedded llama.cpp server shares its 4096-token context among
#: 4 slots, so a request gets 1024 tokens; the API's default budget (1500) overflows it.
CONTEXT_TOKENS = 700
#: Bounds on waiting (not assertions on time): the embedded model on a shared 2-core machine
#: can take minutes for a short answer when the machine is busy.
ANSWER_WAIT_MS = 300_000
PAGE_WAIT_MS = 90_000


async def _setup(stack: UIStack, folder: Path) -> dict[str, str]:
    """A project with prompt ``qa`` (one version asking for cited answers) and an index of
    ``folder`` ingested to completion (through the API)."""
    admin = {"Authorization": f"Bearer {stack.admin_key}"}
    async with httpx.AsyncClient(base_url=stack.url + "/api/v1", headers=admin, timeout=60) as api:
        r = await api.post("/projects", json={"name": f"rag-{uuid.uuid4().hex[:6]}"})
        assert r.status_code == 201, r.text
        project_id = r.json()["id"]
        r = await api.post(f"/projects/{project_id}/prompts", json={"name": "qa"})
        assert r.status_code == 201, r.text
        prompt_id = r.json()["id"]
        r = await api.post(
            f"/prompts/{prompt_id}/versions",
            json={
                "body": "Answer the question using the sources. Cite them. "
                "Question: {{ question }}",
                "variables": {"question": "str"},
                "model": MODEL,
                "decoding": {"max_tokens": 48, "temperature": 0},
                "notes": "rag browser test",
            },
        )
        assert r.status_code == 201, r.text
        version_id = r.json()["id"]
        r = await api.post(
            "/retrieval/indexes", json={"project_id": project_id, "name": "python-docs"}
        )
        assert r.status_code == 201, r.text
        index_id = r.json()["id"]
        r = await api.post(
            f"/retrieval/indexes/{index_id}/ingest",
            json={"source": {"kind": "folder", "path": str(folder)}},
        )
        assert r.status_code == 202, r.text
        ingestion = await until(
            api,
            f"/retrieval/ingestions/{r.json()['id']}",
            lambda b: b["status"] in ("Completed", "Failed", "Terminated", "Canceled"),
            "ingestion of the Python doc pages",
        )
        assert ingestion["status"] == "Completed", ingestion
        assert ingestion["documents_in_index"] == len(PAGES), ingestion
        assert ingestion["chunks_in_index"] > 0, ingestion
    return {
        "project_id": project_id,
        "prompt_id": prompt_id,
        "version_id": version_id,
        "index_id": index_id,
    }


async def test_rag_run_shows_sources_and_citations_and_opens_a_chunk(
    page: Any, ui_stack: UIStack, tmp_path: Path
) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    for name in PAGES:
        shutil.copy(DOCS / name, folder / name)
    fx = await _setup(ui_stack, folder)

    page.set_default_timeout(PAGE_WAIT_MS)
    await sign_in(page, ui_stack)
    await page.goto(
        f"{ui_stack.url}/playground?project={fx['project_id']}&prompt={fx['prompt_id']}"
        f"&target=v:{fx['version_id']}"
    )
    await page.get_by_role("heading", name="Playground", exact=True).wait_for()
    await page.get_by_label("question (str)").fill(QUESTION)

    # The Retrieval (RAG) fields: the project's index, k = 3, the query from `question`.
    rag = page.get_by_role("group", name="Retrieval (RAG)")
    index = rag.get_by_label("Index", exact=True)
    await index.locator(f"option[value='{fx['index_id']}']").wait_for(state="attached")
    await index.select_option(fx["index_id"])
    await rag.get_by_label("Chunks (k)").fill("3")
    await rag.get_by_label("Context budget (tokens)").fill(str(CONTEXT_TOKENS))
    await rag.get_by_label("Search mode").select_option("hybrid")
    await rag.get_by_label("Search with").select_option("question")
    await assert_accessible(page)
    await shoot(page, "playground-rag-setup")

    await page.get_by_role("button", name="Run").click()
    # The answer, or a failure (said at once, not after the wait).
    answer = page.get_by_role("region", name="Answer")
    await (
        answer.get_by_label("Run figures")
        .or_(answer.get_by_role("alert"))
        .or_(page.locator("form [role=alert]"))
        .wait_for(timeout=ANSWER_WAIT_MS)
    )
    failures = page.get_by_role("alert")
    assert await failures.count() == 0, await failures.all_inner_texts()
    await page.get_by_role("heading", name="Retrieval", exact=True).wait_for()

    figures = await page.get_by_label("Retrieval figures").inner_text()
    assert "python-docs" in figures and "hybrid" in figures and "(k = 3)" in figures, figures
    assert " ms" in figures, figures
    sources = page.get_by_role("list", name="Sources given to the model")
    links = sources.get_by_role("link")
    given = await links.count()
    assert 1 <= given <= 3, await sources.inner_text()
    for i in range(given):
        marker = await links.nth(i).inner_text()
        assert marker.startswith("[doc:"), marker
        assert await sources.locator("li").nth(i).get_by_text(".html").count() == 1
    # The citations: a checked list, or the note that the answer cites nothing.
    await page.get_by_role("heading", name="Citations in the answer").wait_for()
    citations = page.get_by_role("list", name="Citations in the answer")
    if await citations.count():
        for item in await citations.locator("li").all():
            verdict = await item.locator(".badge").inner_text()
            assert verdict.endswith(("Valid", "Flagged")), verdict
    else:
        await page.get_by_text("The answer cites no source.").wait_for()
    await assert_accessible(page)
    await shoot(page, "playground-rag-answer")
    await _replay_with_citations(page, fx["index_id"], sources)

    # A source's link opens its chunk: the same marker, its headings, its text.
    first = links.first
    marker = await first.inner_text()
    await first.click()
    await page.get_by_test_id("chunk-text").wait_for()
    assert await page.get_by_test_id("citation-marker").inner_text() == marker
    assert f"/retrieval/indexes/{fx['index_id']}/chunks/" in page.url
    assert (await page.get_by_test_id("chunk-text").inner_text()).strip()
    await page.get_by_role("heading", level=1).wait_for()
    await page.get_by_role("link", name="python-docs").first.wait_for()
    for term in ("Tokens", "Embedding model", "all-MiniLM-L6-v2"):
        assert await page.get_by_text(term, exact=True).count() >= 1, term
    await assert_accessible(page)
    await shoot(page, "rag-chunk")


async def _replay_with_citations(page: Any, index_id: str, sources: Any) -> None:
    """Run again with the stream stubbed: an answer citing the first chunk given (valid) and
    a chunk that was not (flagged), as the API checks them."""
    first = sources.get_by_role("link").first
    marker = await first.inner_text()
    chunk_id = (await first.get_attribute("href")).rsplit("/", 1)[1]
    source = (await sources.locator("li").first.locator(".cited-source").inner_text()).split("#")
    made_up = "[doc:ffffffffffff#made-up]"
    given = {"marker": marker, "chunk_id": chunk_id, "source": source[0], "anchor": source[-1]}
    done = {
        "run_id": str(uuid.uuid4()),
        "model": MODEL,
        "output": f"It memoizes calls {marker} {made_up}.",
        "cache_hit": False,
        "metrics": {"tokens": {"prompt": 652, "completion": 20}, "cost_usd": 0, "latency_ms": 900},
        "retrieval": {
            "index_id": index_id,
            "index": "python-docs",
            "mode": "hybrid",
            "k": 3,
            "retrieved": 3,
            "latency_ms": 40,
            "sources": [given],
            "citations": [
                {**given, "valid": True, "reason": None},
                {
                    "marker": made_up,
                    "valid": False,
                    "chunk_id": None,
                    "source": None,
                    "anchor": None,
                    "reason": "not a retrieved chunk",
                },
            ],
            "invalid_citations": 1,
        },
    }
    body = f"event: delta\ndata: {json.dumps({'text': done['output']})}\n\n"
    body += f"event: done\ndata: {json.dumps(done)}\n\n"

    async def stub(route: Any) -> None:
        await route.fulfill(status=200, content_type="text/event-stream", body=body)

    await page.route("**/api/v1/generate", stub)
    await page.get_by_role("button", name="Run").click()
    citations = page.get_by_role("list", name="Citations in the answer")
    await citations.wait_for()
    valid, flagged = await citations.locator("li").all()
    assert (await valid.locator(".badge").inner_text()).endswith("Valid")
    assert await valid.get_by_role("link", name=marker).get_attribute("href") == (
        f"/retrieval/indexes/{index_id}/chunks/{chunk_id}"
    )
    assert (await flagged.locator(".badge").inner_text()).endswith("Flagged")
    assert "not a retrieved chunk" in await flagged.inner_text()
    await assert_accessible(page)
    await shoot(page, "playground-rag-citations")
    await page.unroute("**/api/v1/generate")
