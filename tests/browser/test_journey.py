"""One user's whole journey through the web app, in headless Chromium against a real
``promptops up`` stack, every step through the pages (the API is used only to read ids the
pages show and to simulate production users during the canary):

sign in -> create a project and a prompt -> write two versions in the editor with the live
preview -> run one in the playground and watch it stream -> import a dataset -> evaluate both
versions and read the comparison -> add a reviewer and give them a key (shown once) -> submit
the new version, approve it as the reviewer -> deploy it as a canary, watch the split and the
guard figures -> abort it -> the dashboard counts the runs.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import httpx

from tests.browser.conftest import UIStack, assert_accessible, shoot, sign_in
from tests.browser.flows import approve_through_api, production_traffic, until

#: Bounds on waiting (not assertions on time) on a busy shared 2-core machine.
WAIT_MS = 300_000
CAPITALS = [
    ("France", "Paris"),
    ("Germany", "Berlin"),
    ("Italy", "Rome"),
    ("Spain", "Madrid"),
    ("Japan", "Tokyo"),
    ("Egypt", "Cairo"),
]
EXAMPLES = 3


async def _type_template(page: Any, text: str) -> None:
    editor = page.locator('[data-editor="Template body"] .monaco-editor')
    await editor.wait_for()
    await editor.locator(".view-lines").click()
    await page.keyboard.press("ControlOrMeta+A")
    await page.keyboard.press("Delete")
    await page.keyboard.type(text)


async def _write_version(page: Any, body: str, number: int, *, first: bool) -> None:
    """In the editor: the body, the variable ``country`` (declared the first time), a preview
    with France, short greedy decoding; saved as version ``number``."""
    await _type_template(page, body)
    if first:
        await page.get_by_role("button", name="Add a variable").click()
        await page.get_by_label("Name 1").fill("country")
    await page.get_by_label("country", exact=True).fill("France")
    preview = page.get_by_role("list", name="Rendered messages")
    await preview.get_by_text(body.replace("{{ country }}", "France")).wait_for()
    assert "prompt tokens" in await page.locator("#token-count").inner_text()
    await page.get_by_label("Temperature (0–2)").fill("0")
    await page.get_by_label("Max tokens (1–32768)").fill("8")
    await shoot(page, f"journey-editor-v{number}")
    await page.get_by_role("button", name="Save version").click()
    await page.get_by_text(f"Version {number} saved.").wait_for()


async def test_the_whole_journey(page: Any, browser: Any, ui_stack: UIStack) -> None:
    page.set_default_timeout(90_000)
    tag = uuid.uuid4().hex[:6]
    project_name = f"journey-{tag}"
    admin_headers = {"Authorization": f"Bearer {ui_stack.admin_key}"}
    api = httpx.AsyncClient(base_url=ui_stack.url + "/api/v1", headers=admin_headers, timeout=60)

    # Every text the playground's answer shows while a run is on (proof that it streams).
    await page.add_init_script(
        """
        window.__answerTexts = [];
        new MutationObserver(() => {
          const a = document.querySelector('[data-testid="answer"]');
          if (a && a.getAttribute('aria-busy') === 'true' && a.textContent)
            window.__answerTexts.push(a.textContent);
        }).observe(document, {subtree: true, childList: true, characterData: true});
        """
    )

    # Sign in; create a project and open it.
    await sign_in(page, ui_stack)
    main_nav = page.get_by_role("navigation", name="Main")
    await main_nav.get_by_role("link", name="Projects").click()
    await page.get_by_label("Name", exact=True).fill(project_name)
    await page.get_by_role("button", name="Create project").click()
    await page.get_by_role("link", name=project_name).click()
    await page.get_by_role("heading", name="Prompts", exact=True).wait_for()
    project_id = page.url.rstrip("/").rsplit("/", 1)[-1]

    # A prompt and two versions written in the editor with the live preview.
    await page.get_by_label("Name", exact=True).fill("capital")
    await page.get_by_role("button", name="Create prompt").click()
    await page.get_by_role("heading", name="capital", exact=True).wait_for()
    prompt_id = page.url.rstrip("/").rsplit("/", 1)[-1]
    await page.get_by_role("link", name="New version", exact=True).click()
    await _write_version(page, "What is the capital of {{ country }}?", 1, first=True)
    await page.get_by_role("link", name="New version from v1").click()
    await _write_version(
        page, "Name the capital city of {{ country }}. Answer with the city only.", 2, first=False
    )
    versions = (await api.get(f"/prompts/{prompt_id}/versions")).json()["data"]
    v1 = next(v["id"] for v in versions if v["version"] == 1)

    # The playground: v2 with a variable, the answer streamed, its figures when it ends.
    versions_table = page.locator("table.versions")
    await (
        versions_table.get_by_role("row", name=re.compile(r"^v2\b"))
        .get_by_role("link", name="Run v2 in the playground")
        .click()
    )
    await page.get_by_role("heading", name="Playground", exact=True).wait_for()
    await page.get_by_label("country (str)").fill("Italy")
    await page.get_by_role("button", name="Run", exact=True).click()
    figures = page.get_by_label("Run figures")
    await figures.wait_for(timeout=WAIT_MS)
    assert (await page.get_by_test_id("answer").inner_text()).strip()
    seen = await page.evaluate("window.__answerTexts")
    assert len(set(seen)) > 1, f"the answer did not stream: {seen}"
    assert "Completion tokens" in await figures.inner_text()
    await assert_accessible(page)
    await shoot(page, "journey-playground")

    # Import a dataset from a JSONL file.
    await page.goto(f"{ui_stack.url}/projects/{project_id}")
    project_pages = page.get_by_role("navigation", name="Project pages")
    await project_pages.get_by_role("link", name="Datasets", exact=True).click()
    await page.wait_for_url(f"**/projects/{project_id}/datasets")
    await page.get_by_label("Name", exact=True).fill("capitals")
    await page.get_by_role("button", name="Create dataset").click()
    await page.get_by_role("link", name="capitals").click()
    rows = [
        {"id": c.lower(), "input": {"country": c}, "expected": capital} for c, capital in CAPITALS
    ]
    jsonl = "".join(json.dumps(r) + "\n" for r in rows).encode()
    await page.get_by_label("File (JSONL or CSV)").set_input_files(
        files=[{"name": "capitals.jsonl", "mimeType": "application/x-ndjson", "buffer": jsonl}]
    )
    await page.get_by_role("button", name="Import").click()
    await page.get_by_text(f"Imported {len(rows)} examples").wait_for()
    await shoot(page, "journey-dataset")

    # Evaluate both versions on it and read the comparison.
    await page.get_by_role("link", name="Evaluate prompt versions on this dataset").click()
    await page.get_by_label(re.compile(r"^capital v1\b")).check()
    await page.get_by_label(re.compile(r"^capital v2\b")).check()
    await page.get_by_label("exact_match", exact=True).check()
    await page.get_by_label("Only the first N examples").fill(str(EXAMPLES))
    await page.get_by_role("button", name="Start evaluation").click()
    await page.wait_for_url(re.compile(r"/evaluations/eval-[0-9a-f]+$"))
    await page.locator(".status-badge", has_text="Completed").wait_for(timeout=WAIT_MS)
    comparison = page.get_by_role("table", name=re.compile("^Comparison"))
    headers = await comparison.get_by_role("columnheader").all_inner_texts()
    assert headers[:3] == ["Metric", "capital v1 (baseline)", "capital v2"]
    exact = comparison.get_by_role("row", name=re.compile(r"^exact_match\b"))
    assert re.search(r"\d\.\d{3}", await exact.inner_text())
    await assert_accessible(page)
    await shoot(page, "journey-evaluation")

    # A reviewer: a member with a key of their own, shown once.
    reviewer = f"reviewer-{tag}@example.com"
    await main_nav.get_by_role("link", name="Settings").click()
    await page.get_by_role("link", name="Members").click()
    await page.get_by_label("Email").fill(reviewer)
    await page.get_by_label("Role", exact=True).select_option("Editor")
    await page.get_by_role("button", name="Add member").click()
    await page.get_by_role("rowheader", name=reviewer, exact=True).wait_for()
    await page.get_by_role("link", name="API keys").click()
    await page.get_by_label("Name", exact=True).fill(f"reviewer {tag}")
    await page.get_by_label("Role", exact=True).select_option("Editor")
    await page.get_by_label("Owner").select_option(reviewer)
    await page.get_by_role("button", name="Create key").click()
    reviewer_key = await page.locator("#secret-value").input_value()
    assert reviewer_key
    await shoot(page, "journey-key-once")
    await page.get_by_role("dialog").get_by_role("button", name="I have stored it, close").click()

    # v1 goes to production first (the baseline a canary compares with), through the API.
    reviewer_headers = {"Authorization": f"Bearer {reviewer_key}"}
    reviewer_api = httpx.AsyncClient(
        base_url=ui_stack.url + "/api/v1", headers=reviewer_headers, timeout=60
    )
    try:
        await approve_through_api(api, reviewer_api, v1)
        first = await api.post(
            "/deployments",
            json={"project_id": project_id, "prompt_version_id": v1, "environment": "prod"},
        )
        assert first.status_code in (200, 201, 202), first.text
        await until(
            api,
            f"/deployments/{first.json()['deployment']['id']}",
            lambda d: d["status"] == "Promoted",
            "v1 promoted (no baseline to compare with)",
        )

        # The author submits v2 from its prompt page.
        await page.goto(f"{ui_stack.url}/prompts/{prompt_id}")
        await page.get_by_role("button", name="Submit v2 for approval").click()
        await page.get_by_text("Submitted").wait_for()

        # The reviewer approves it from their queue with a comment, then starts a canary.
        context = await browser.new_context(viewport={"width": 1280, "height": 860})
        try:
            second = await context.new_page()
            second.set_default_timeout(90_000)
            await sign_in(second, ui_stack, key=reviewer_key)
            await (
                second.get_by_role("navigation", name="Main")
                .get_by_role("link", name="Approvals")
                .click()
            )
            queue = second.get_by_role("table", name=re.compile("Waiting for your review"))
            await queue.get_by_role("link", name="capital v2").click(timeout=WAIT_MS)
            await second.get_by_label("Comment").fill("Shorter answers; ship it.")
            await second.get_by_role("button", name="Approve").click()
            await second.locator(".page-head .badge", has_text="Approved").wait_for(timeout=WAIT_MS)
            await shoot(second, "journey-approved")

            await second.get_by_role("link", name="Deploy v2").click()
            await second.get_by_label("Steps (canary %)").fill("25, 50, 100")
            await second.get_by_label("Bake time per step (s)").fill("900")
            await second.get_by_label("Check interval (s)").fill("2")
            await second.get_by_label("Minimum runs per arm").fill("1")
            await second.get_by_label("Maximum error-rate increase (0–1)").fill("1")
            await second.get_by_label("Minimum eval score to go beyond the first step (0–1)").fill(
                ""
            )
            await second.get_by_role("button", name="Start the rollout").click()
            await second.get_by_role("heading", name="capital v2 to prod").wait_for()

            # Watch the canary while production users call the prompt.
            async with production_traffic(api, project_id, "capital", {"country": "Spain"}):
                await second.get_by_text("Canary 25% · baseline 75%").wait_for(timeout=WAIT_MS)
                await second.get_by_role("img", name=re.compile("^Error rate")).wait_for(
                    timeout=WAIT_MS
                )
            await assert_accessible(second)
            await shoot(second, "journey-canary")

            # Abort it with a reason; the page says why it ended.
            await second.get_by_label("Reason", exact=True).fill("journey: stop the canary")
            await second.get_by_role("button", name="Abort").click()
            await second.locator(".page-head .badge", has_text="Aborted").wait_for(timeout=WAIT_MS)
            ended = second.locator(".banner", has_text="Aborted:")
            assert "journey: stop the canary" in await ended.inner_text()
            await shoot(second, "journey-aborted")
        finally:
            await context.close()
    finally:
        await reviewer_api.aclose()
        await api.aclose()

    # The dashboard counts this project's runs (playground, evaluation and production calls).
    await page.goto(f"{ui_stack.url}/dashboard?window=24h&project={project_id}")
    cards = page.get_by_label("Figures of the window")
    runs_card = cards.locator(".figure-card", has_text="Runs").locator(".figure-value")
    await runs_card.wait_for()
    count = int(re.sub(r"[^\d]", "", await runs_card.inner_text()) or "0")
    assert count >= 1 + 2 * EXAMPLES
    await assert_accessible(page)
    await shoot(page, "journey-dashboard")
