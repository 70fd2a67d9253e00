"""Retrieval in headless Chromium against a real stack: create an index on the project's
Retrieval page (a taken name refused next to its field), ingest a folder of four Python
library doc pages through the real worker and embedding model, watch the live progress reach
Completed, read the sources and documents, then search "functools.lru_cache" on the query page
and see the dense, keyword and hybrid hits side by side."""

from __future__ import annotations

import re
import shutil
import uuid
from pathlib import Path
from typing import Any

import httpx

from tests.browser.conftest import UIStack, assert_accessible, shoot, sign_in

DOCS = Path("/usr/share/doc/python3.11/html/library")
#: functools (lru_cache) and three short pages: the worker embeds a batch's documents between
#: two heartbeats, which must fit the heartbeat timeout on a busy 2-core machine.
PAGES = ("functools.html", "bisect.html", "keyword.html", "colorsys.html")


def _corpus(tmp_path: Path) -> Path:
    """Four library pages in a folder of their own (the stack's worker runs on this machine
    and reads it)."""
    folder = tmp_path / "pydocs"
    folder.mkdir()
    for name in PAGES:
        shutil.copy(DOCS / name, folder / name)
    return folder


async def _project(stack: UIStack) -> str:
    admin = {"Authorization": f"Bearer {stack.admin_key}"}
    async with httpx.AsyncClient(base_url=stack.url + "/api/v1", headers=admin) as api:
        r = await api.post("/projects", json={"name": f"rag-{uuid.uuid4().hex[:6]}"})
        assert r.status_code == 201, r.text
        return str(r.json()["id"])


async def test_create_ingest_watch_and_query_side_by_side(
    page: Any, ui_stack: UIStack, tmp_path: Path
) -> None:
    folder = _corpus(tmp_path)
    project_id = await _project(ui_stack)
    await sign_in(page, ui_stack)

    # The project page links to its Retrieval page; the nav entry opens it too.
    await page.goto(f"{ui_stack.url}/projects/{project_id}")
    main = page.get_by_role("main")
    await main.get_by_role("link", name="Retrieval", exact=True).click()
    await page.wait_for_url(re.compile(rf"/projects/{project_id}/retrieval$"))
    await page.get_by_text("No indexes in this project yet.").wait_for()

    # Create an index: small chunks, one metadata field, a 30-day TTL.
    await page.get_by_label("Name", exact=True).fill("python-docs")
    await page.get_by_label("Min tokens").fill("60")
    await page.get_by_label("Max tokens").fill("240")
    await page.get_by_role("button", name="Add metadata field").click()
    await page.get_by_label("Field 1 name").fill("lang")
    await page.get_by_label("Time to live", exact=True).fill("30")
    await assert_accessible(page)
    await shoot(page, "retrieval-new-index")
    await page.get_by_role("button", name="Create index").click()
    await page.wait_for_url(re.compile(r"/retrieval/indexes/[0-9a-f-]{36}$"))
    index_id = page.url.rsplit("/", 1)[1]
    await page.get_by_role("heading", name="python-docs").wait_for()
    facts = await page.locator("dl.facts").first.inner_text()
    assert "60–240 tokens" in facts and "30 d" in facts, facts
    await page.get_by_text("Nothing ingested yet.").wait_for()

    # A second index of the same name: refused next to the name field.
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Retrieval").click()
    await page.get_by_role("link", name="python-docs").wait_for()
    await page.get_by_label("Name", exact=True).fill("python-docs")
    await page.get_by_role("button", name="Create index").click()
    name_error = page.locator("#index-name-error")
    await name_error.wait_for()
    assert "already exists" in await name_error.inner_text()
    assert await page.get_by_label("Name", exact=True).get_attribute("aria-invalid") == "true"
    await assert_accessible(page)
    await shoot(page, "retrieval-indexes")

    # Ingest the folder (with a document metadata value) and watch it to Completed.
    await page.get_by_role("link", name="python-docs").click()
    await page.get_by_role("heading", name="Ingest a source").wait_for()
    await page.get_by_label("Folder path").fill(str(folder / "missing"))
    await page.get_by_role("button", name="Start ingestion").click()
    path_error = page.locator("#ingest-path-error")
    await path_error.wait_for()
    assert "is not a folder" in await path_error.inner_text()
    await page.get_by_label("Folder path").fill(str(folder))
    await page.get_by_label(re.compile(r"^lang")).fill("en")
    await page.get_by_role("button", name="Start ingestion").click()
    await page.wait_for_url(re.compile(r"\?ingestion=ingest-"))
    progress = page.locator(".progress-text")
    await progress.wait_for()
    text = await progress.inner_text()
    assert re.fullmatch(r"\w+: \d+ / (\d+|\?) documents \(\d+%\)", text), text
    await shoot(page, "retrieval-ingesting")
    await page.get_by_text(f"Completed: {len(PAGES)} / {len(PAGES)} documents (100%)").wait_for(
        timeout=300_000
    )
    figures = await page.locator("dl.figures").inner_text()
    assert re.search(rf"Added\s+{len(PAGES)}\b", figures), figures
    assert re.search(r"Chunks written\s+[1-9]\d*", figures), figures
    ingestion_id = page.url.split("ingestion=", 1)[1]
    temporal = page.locator(".progress-card").get_by_role(
        "link", name=re.compile("Workflow in the Temporal UI")
    )
    assert (await temporal.get_attribute("href") or "").endswith(f"/workflows/{ingestion_id}")

    # The source's last ingestion and the documents table follow.
    sources = page.get_by_role("table", name="Sources of the index")
    await sources.get_by_text(f"{len(PAGES)} added").wait_for()
    assert str(folder) in await sources.inner_text()
    documents = page.get_by_role("table", name="Documents")
    await documents.get_by_role("row", name=re.compile("functools.html")).wait_for()
    assert await documents.locator("tbody tr").count() == len(PAGES)
    pager = page.get_by_role("navigation", name="Pages of documents")
    assert await pager.get_by_role("status").inner_text() == f"1–{len(PAGES)} of {len(PAGES)}"
    await assert_accessible(page)
    await shoot(page, "retrieval-index")

    # The query page: the three modes side by side.
    await page.get_by_role("link", name="Query this index").click()
    await page.wait_for_url(re.compile(rf"/retrieval/query\?index={index_id}$"))
    await page.get_by_label("Query", exact=True).fill("functools.lru_cache")
    await page.get_by_label("Top k").fill("5")
    await page.get_by_role("button", name="Add filter").click()
    await page.get_by_label("Filter 1 field").select_option("lang")
    await page.get_by_label("Filter 1 value").fill("en")
    await page.get_by_role("button", name="Search").click()
    columns = {}
    for name in ("Dense", "Keyword", "Hybrid (RRF)"):
        column = page.get_by_role("region", name=name, exact=True)
        await column.get_by_role("listitem").first.wait_for()
        columns[name] = column
        hits = await column.get_by_role("listitem").count()
        assert 1 <= hits <= 5, (name, hits)
        timings = await column.locator("dl.timings").inner_text()
        assert re.search(r"total\s+[\d.]+ ms", timings), timings
        # Dense and hybrid embed the query; keyword does not.
        embed = r"embed\s+—" if name == "Keyword" else r"embed\s+[\d.]+ ms"
        assert re.search(embed, timings), (name, timings)
    hybrid_first = columns["Hybrid (RRF)"].get_by_role("listitem").first
    assert re.search(r"dense (#\d+|—) · keyword (#\d+|—)", await hybrid_first.inner_text())
    # lru_cache's own section is found by every mode: its hits share a chip.
    assert "functools.html" in await hybrid_first.inner_text()
    assert await page.locator(".shared-chip").count() >= 2
    link = columns["Dense"].get_by_role("listitem").first.get_by_role("link").first
    href = await link.get_attribute("href") or ""
    assert re.fullmatch(rf"/retrieval/indexes/{index_id}/chunks/[0-9a-f-]{{36}}", href), href
    boxes = [await c.bounding_box() for c in columns.values()]
    assert boxes[0]["y"] == boxes[1]["y"] == boxes[2]["y"], boxes  # side by side
    assert boxes[0]["x"] < boxes[1]["x"] < boxes[2]["x"], boxes
    await assert_accessible(page)
    await shoot(page, "retrieval-query")

    # Delete the index (confirmed): back to the project's list, without it.
    await page.goto(f"{ui_stack.url}/retrieval/indexes/{index_id}")
    await page.get_by_role("button", name="Delete index").click()
    await page.get_by_role("button", name=re.compile(r"^Delete python-docs and its 4")).click()
    await page.wait_for_url(re.compile(rf"/projects/{project_id}/retrieval$"))
    await page.get_by_text("No indexes in this project yet.").wait_for()
