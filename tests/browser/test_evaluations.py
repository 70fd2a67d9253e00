"""Datasets and evaluations in headless Chromium against a real stack: create a dataset, import
a JSONL file with a bad row (the row-numbered refusal next to the file field, nothing
imported), paste CSV rows with a bad row (the same, next to the text box), import a good file,
page through it; start an evaluation of two versions on the embedded model, watch it to
Completed, read the comparison table (the same figures ``promptops eval show`` prints), filter
the per-example rows and export them as CSV."""

from __future__ import annotations

import csv
import io
import json
import re
import uuid
from pathlib import Path
from typing import Any

import httpx

from promptops.cli.report import comparison_table
from tests.browser.conftest import UIStack, assert_accessible, shoot, sign_in

COUNTRIES = [
    ("France", "Paris"),
    ("Germany", "Berlin"),
    ("Italy", "Rome"),
    ("Spain", "Madrid"),
    ("Japan", "Tokyo"),
    ("Egypt", "Cairo"),
    ("Canada", "Ottawa"),
    ("Kenya", "Nairobi"),
    ("Peru", "Lima"),
    ("Norway", "Oslo"),
    ("Greece", "Athens"),
    ("Poland", "Warsaw"),
    ("Austria", "Vienna"),
    ("Portugal", "Lisbon"),
    ("Ireland", "Dublin"),
    ("Sweden", "Stockholm"),
    ("Finland", "Helsinki"),
    ("Denmark", "Copenhagen"),
    ("Hungary", "Budapest"),
    ("Cuba", "Havana"),
    ("Chile", "Santiago"),
    ("Thailand", "Bangkok"),
    ("Russia", "Moscow"),
    ("China", "Beijing"),
    ("India", "New Delhi"),
    ("Mexico", "Mexico City"),
    ("Turkey", "Ankara"),
    ("Iran", "Tehran"),
]
#: Examples evaluated (the first N of the dataset) and the answer length: a handful, short.
EXAMPLES = 4
MAX_TOKENS = 8


def _jsonl(rows: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


async def _setup(stack: UIStack) -> dict[str, Any]:
    """A project with prompt ``capital`` and two versions (through the API)."""
    admin = {"Authorization": f"Bearer {stack.admin_key}"}
    async with httpx.AsyncClient(base_url=stack.url + "/api/v1", headers=admin) as api:
        project = (
            await api.post("/projects", json={"name": f"evals-{uuid.uuid4().hex[:6]}"})
        ).json()
        prompt = (
            await api.post(f"/projects/{project['id']}/prompts", json={"name": "capital"})
        ).json()
        versions = []
        for body, notes in (
            ("What is the capital of {{ country }}?", "plain"),
            ("Name the capital city of {{ country }}. Answer with the city name only.", "specific"),
        ):
            r = await api.post(
                f"/prompts/{prompt['id']}/versions",
                json={
                    "body": body,
                    "variables": {"country": "str"},
                    "notes": notes,
                    "decoding": {"max_tokens": MAX_TOKENS, "temperature": 0},
                },
            )
            assert r.status_code == 201, r.text
            versions.append(r.json()["id"])
    return {"project_id": project["id"], "versions": versions}


async def test_import_browse_evaluate_compare_and_export(
    page: Any, ui_stack: UIStack, tmp_path: Path
) -> None:
    fx = await _setup(ui_stack)
    await sign_in(page, ui_stack)

    # Datasets of the project: create one.
    await page.goto(f"{ui_stack.url}/projects/{fx['project_id']}/datasets")
    await page.get_by_text("No datasets in this project yet.").wait_for()
    await page.get_by_label("Name", exact=True).fill("capitals")
    await page.get_by_role("button", name="Create dataset").click()
    await page.get_by_role("link", name="capitals").wait_for()
    await assert_accessible(page)
    await shoot(page, "datasets")

    # A file whose third row has no input: refused with its row number, nothing imported.
    await page.get_by_role("link", name="capitals").click()
    await page.get_by_role("heading", name="capitals").wait_for()
    file_field = page.get_by_label("File (JSONL or CSV)")
    bad = [
        {"id": "fr", "input": {"country": "France"}, "expected": "Paris"},
        {"id": "de", "input": {"country": "Germany"}, "expected": "Berlin"},
        {"id": "it", "expected": "Rome"},
    ]
    await file_field.set_input_files(
        files=[{"name": "bad.jsonl", "mimeType": "application/x-ndjson", "buffer": _jsonl(bad)}]
    )
    await page.get_by_role("button", name="Import").click()
    alert = page.get_by_role("alert")
    await alert.wait_for()
    message = await alert.inner_text()
    assert message.startswith("row 3: missing field 'input'"), message
    assert "Nothing was imported." in message
    assert await file_field.get_attribute("aria-invalid") == "true"
    assert await page.get_by_text("No examples yet: import a file.").is_visible()
    await assert_accessible(page)
    await shoot(page, "dataset-import-refused")

    # Pasted CSV rows: the same all-or-nothing refusal, with the data row's number, next to
    # the text box.
    await page.get_by_label("pasted rows", exact=True).check()
    await page.get_by_label("Format", exact=True).select_option("csv")
    rows_box = page.get_by_label("Rows", exact=True)
    await rows_box.fill("id,input,expected\nfr,France,Paris\nde,,Berlin\n")
    await page.get_by_role("button", name="Import").click()
    await alert.wait_for()
    message = await alert.inner_text()
    assert message.startswith("row 2: missing field 'input'"), message
    assert await rows_box.get_attribute("aria-invalid") == "true"
    assert await page.get_by_text("No examples yet: import a file.").is_visible()
    await assert_accessible(page)
    await shoot(page, "dataset-paste-refused")
    await page.get_by_label("a file", exact=True).check()

    # A good file: every row, paged 25 at a time.
    good = [
        {
            "id": country.lower(),
            "input": {"country": country},
            "expected": capital,
            "metadata": {"continent_order": i},
        }
        for i, (country, capital) in enumerate(COUNTRIES)
    ]
    await file_field.set_input_files(
        files=[{"name": "good.jsonl", "mimeType": "application/x-ndjson", "buffer": _jsonl(good)}]
    )
    await page.get_by_role("button", name="Import").click()
    await page.get_by_text(
        f"Imported {len(good)} examples; the dataset now has {len(good)}."
    ).wait_for()
    examples = page.get_by_role("table", name="Examples")
    await examples.get_by_role("row", name=re.compile(r"\bfrance\b")).wait_for()
    assert "country: France" in await examples.get_by_role("row").nth(1).inner_text()
    pager = page.get_by_role("navigation", name="Pages of examples")
    assert await pager.get_by_role("status").inner_text() == f"1–25 of {len(good)}"
    await assert_accessible(page)
    await shoot(page, "dataset")
    await pager.get_by_role("button", name="Next").click()
    await pager.get_by_text(f"26–{len(good)} of {len(good)}").wait_for()
    await examples.get_by_role("row", name=re.compile(r"\bturkey\b")).wait_for()
    await pager.get_by_role("button", name="Previous").click()
    await pager.get_by_text(f"1–25 of {len(good)}").wait_for()

    # Start an evaluation of both versions on the first examples.
    await page.get_by_role("link", name="Evaluate prompt versions on this dataset").click()
    await page.get_by_role("heading", name="New evaluation").wait_for()
    assert await page.get_by_label("Dataset", exact=True).input_value() != ""
    await page.get_by_label(re.compile(r"^capital v1\b")).check()
    await page.get_by_label(re.compile(r"^capital v2\b")).check()
    for metric in ("exact_match", "accuracy"):
        await page.get_by_label(metric, exact=True).check()
    await page.get_by_label("Concurrency").fill("2")
    await page.get_by_label("Only the first N examples").fill(str(EXAMPLES))
    await assert_accessible(page)
    await shoot(page, "evaluation-new")
    await page.get_by_role("button", name="Start evaluation").click()
    await page.wait_for_url(re.compile(r"/evaluations/eval-[0-9a-f]+$"))
    eval_id = page.url.rsplit("/", 1)[1]

    # Live progress while it runs (it may already be done on a fast machine), then Completed.
    await page.locator(".status-badge").wait_for()
    progress = await page.evaluate(
        "document.querySelector('.progress-text')?.textContent ?? null"
    )  # read at once: the run may end any moment
    if progress is not None:
        assert re.fullmatch(r"\d+ / (\d+|\?) examples \(\d+%\) · \d+ errors?", progress)
        await shoot(page, "evaluation-running")
    await page.locator(".status-badge", has_text="Completed").wait_for(timeout=300_000)
    temporal = page.get_by_role("link", name=re.compile("Workflow in the Temporal UI"))
    assert (await temporal.get_attribute("href") or "").endswith(f"/workflows/{eval_id}")

    # The comparison table shows the figures `promptops eval show` prints.
    admin = {"Authorization": f"Bearer {ui_stack.admin_key}"}
    async with httpx.AsyncClient(base_url=ui_stack.url + "/api/v1", headers=admin) as api:
        evaluation = (await api.get(f"/evals/{eval_id}", params={"rows": 0})).json()
        api_csv = (await api.get(f"/evals/{eval_id}/rows.csv")).text
        disagreeing = (
            await api.get(f"/evals/{eval_id}/examples", params={"disagreements": "true"})
        ).json()["count"]
    names = {fx["versions"][0]: "capital v1", fx["versions"][1]: "capital v2"}
    cli = comparison_table("capital", evaluation, names)
    cli_rows = [[str(col._cells[i]) for col in cli.columns] for i in range(cli.row_count)]
    table = page.get_by_role("table", name=re.compile("^Comparison"))
    await table.wait_for()
    headers = await table.get_by_role("columnheader").all_inner_texts()
    assert headers[:3] == ["Metric", "capital v1 (baseline)", "capital v2"]
    assert headers[3].startswith("Δ capital v2 − capital v1")
    web_rows = {}
    for row in await table.locator("tbody tr").all():
        cells = [c.strip() for c in await row.locator("th, td").all_inner_texts()]
        web_rows[cells[0]] = cells
    assert list(web_rows) == [r[0] for r in cli_rows]
    for cli_row in cli_rows:
        web = web_rows[cli_row[0]]
        assert web[1:3] == cli_row[1:3], (web, cli_row)
        if cli_row[3]:
            assert web[3].startswith(cli_row[3]), (web, cli_row)
            assert web[4] == cli_row[4].removesuffix(" (McNemar)"), (web, cli_row)
    assert web_rows["accuracy"][5] == "McNemar (exact)"
    assert web_rows["token_f1"][5] == "paired bootstrap"
    assert re.fullmatch(r"\d\.\d{3} \[\d\.\d{3}, \d\.\d{3}\]", web_rows["token_f1"][1])
    assert web_rows["examples (errors)"][1].startswith(f"{EXAMPLES} (")
    await assert_accessible(page)
    await shoot(page, "evaluation")

    # Per-example rows: input, expected and both versions' outputs with their scores.
    rows = page.get_by_role("table", name="Per-example results")
    france = rows.get_by_role("row", name=re.compile(r"^france\b"))
    await france.wait_for()
    text = await france.inner_text()
    assert "country: France" in text and "Paris" in text and "token_f1" in text
    pager = page.get_by_role("navigation", name="Pages of per-example results")
    assert await pager.get_by_role("status").inner_text() == f"1–{EXAMPLES} of {EXAMPLES}"
    await page.get_by_label("Only examples where the versions disagree").check()
    if disagreeing:
        await pager.get_by_text(f"1–{disagreeing} of {disagreeing}").wait_for()
    else:
        await page.get_by_text("The versions agree on every example.").wait_for()

    # CSV export: the download is what the API's export says, one line per example and version.
    async with page.expect_download() as download_info:
        await page.get_by_role("button", name="Export CSV").click()
    download = await download_info.value
    assert download.suggested_filename == f"{eval_id}-rows.csv"
    saved = tmp_path / "rows.csv"
    await download.save_as(saved)
    content = saved.read_bytes().decode("utf-8")
    assert content == api_csv
    lines = list(csv.DictReader(io.StringIO(content)))
    assert len(lines) == 2 * EXAMPLES
    assert {(line["prompt"], line["version"]) for line in lines} == {
        ("capital", "1"),
        ("capital", "2"),
    }
    fra = [line for line in lines if line["example_id"] == "france"]
    assert {line["expected"] for line in fra} == {"Paris"}
    assert json.loads(fra[0]["input"]) == {"country": "France"}
    assert all(line["token_f1"] != "" for line in lines)

    # The project's evaluations, with their status.
    await page.goto(f"{ui_stack.url}/projects/{fx['project_id']}/evaluations")
    listed = page.get_by_role("row", name=re.compile(eval_id))
    await listed.wait_for()
    listed_text = await listed.inner_text()
    assert "Completed" in listed_text and "capitals" in listed_text
    assert "capital v1, capital v2" in listed_text
    await assert_accessible(page)
    await shoot(page, "evaluations")
