"""The prompts pages in headless Chromium against a real stack: a project's prompts, the prompt
editor (Monaco, variable checks and preview as you type), versions, the diff of two versions,
label moves and a protected label refused, submit for approval."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.browser.conftest import UIStack, assert_accessible, shoot, sign_in

# The template theme's colour of a variable name (localMonaco.ts, "variable": 1f4fd1).
VARIABLE_COLOUR = "rgb(31, 79, 209)"


async def _project(stack: UIStack) -> str:
    admin = {"Authorization": f"Bearer {stack.admin_key}"}
    async with httpx.AsyncClient(base_url=stack.url + "/api/v1", headers=admin) as api:
        answer = await api.post("/projects", json={"name": f"ui-prompts-{uuid.uuid4().hex[:6]}"})
        assert answer.status_code == 201, answer.text
        return str(answer.json()["id"])


async def _editor(page: Any, label: str) -> Any:
    """The Monaco editor named ``label``, once it has loaded."""
    editor = page.locator(f'[data-editor="{label}"] .monaco-editor')
    await editor.wait_for()
    return editor


async def _type_template(page: Any, label: str, text: str) -> None:
    editor = await _editor(page, label)
    await editor.locator(".view-lines").click()
    await page.keyboard.press("ControlOrMeta+A")
    await page.keyboard.press("Delete")
    await page.keyboard.type(text)


async def _save(page: Any, number: int) -> None:
    await page.get_by_role("button", name="Save version").click()
    await page.get_by_text(f"Version {number} saved.").wait_for()


async def test_prompt_editor_versions_diff_and_labels(page: Any, ui_stack: UIStack) -> None:
    project_id = await _project(ui_stack)
    await sign_in(page, ui_stack)

    # The project page: create a prompt, which opens it.
    await page.goto(f"{ui_stack.url}/projects/{project_id}")
    await page.get_by_role("heading", name="Prompts", exact=True).wait_for()
    await page.get_by_label("Name", exact=True).fill("greeting")
    await page.get_by_label("Description").fill("Greets a user")
    await assert_accessible(page)
    await shoot(page, "prompts-project")
    await page.get_by_role("button", name="Create prompt").click()
    await page.get_by_role("heading", name="greeting", exact=True).wait_for()
    await page.get_by_text("No versions yet.").wait_for()

    # The editor: type a template reading a variable that is not declared yet.
    await page.get_by_role("link", name="New version", exact=True).click()
    await page.get_by_role("heading", name="New version of greeting").wait_for()
    await _type_template(page, "Template body", "Hello {{ name }} from {{ city }}!")
    await page.get_by_role("button", name="Add a variable").click()
    await page.get_by_label("Name 1").fill("name")
    problems = page.locator("#variable-problems")
    await problems.get_by_text("Used but not declared: city").wait_for()
    # The editor marks where `city` is read (a warning squiggle) and colours variable names.
    body = await _editor(page, "Template body")
    await body.locator(".squiggly-warning").first.wait_for()
    name_token = body.locator(".view-lines span span", has_text="name").first
    assert await name_token.evaluate("e => getComputedStyle(e).color") == VARIABLE_COLOUR
    await shoot(page, "prompts-editor-undeclared")
    # The preview: a value for each variable, rendered as typed.
    await page.get_by_label("name", exact=True).fill("Ada")
    await problems.get_by_role("button", name="Declare city").click()
    await page.get_by_label("city", exact=True).fill("Paris")
    messages = page.get_by_role("list", name="Rendered messages")
    await messages.get_by_text("Hello Ada from Paris!").wait_for()
    assert await problems.inner_text() == ""
    assert "prompt tokens" in await page.locator("#token-count").inner_text()
    await assert_accessible(page)
    await shoot(page, "prompts-editor")
    await _save(page, 1)

    # A second version from the first: the editor starts from its text.
    await page.get_by_role("link", name="New version from v1").click()
    await _editor(page, "Template body")
    await _type_template(page, "Template body", "Hi {{ name }},\nwelcome to {{ city }}.")
    await page.get_by_label("name", exact=True).fill("Ada")
    await page.get_by_label("city", exact=True).fill("Rome")
    await messages.get_by_text("welcome to Rome.").wait_for()
    await _save(page, 2)

    # The diff of v1 (left) and v2 (right), side by side.
    diff = page.locator("table.diff")
    await diff.wait_for()
    assert await page.get_by_label("From (left)").input_value() == "1"
    assert await page.get_by_label("To (right)").input_value() == "2"
    assert "Hello {{ name }} from {{ city }}!" in await diff.locator(".diff-removed").inner_text()
    added = await diff.locator(".diff-added").all_inner_texts()
    assert any("welcome to {{ city }}." in text for text in added)
    await assert_accessible(page)
    await shoot(page, "prompts-diff")

    # Move an unprotected label; a protected one is refused next to the label field.
    labels = page.locator("section", has=page.get_by_role("heading", name="Labels", exact=True))
    await page.get_by_label("Label", exact=True).fill("beta")
    await page.get_by_label("Version", exact=True).select_option(label="v1 (Draft)")
    await page.get_by_role("button", name="Move label").click()
    await page.get_by_text("Label beta now points at v1.").wait_for()
    beta = labels.get_by_role("row", name="beta")
    assert "v1" in await beta.inner_text()
    await page.get_by_label("Label", exact=True).fill("production")
    await page.get_by_label("Version", exact=True).select_option(label="v2 (Draft)")
    await page.get_by_role("button", name="Move label").click()
    refusal = page.locator("#move-label-name-error")
    await refusal.wait_for()
    assert "protected" in (await refusal.inner_text()).lower()
    assert await page.get_by_label("Label", exact=True).get_attribute("aria-invalid") == "true"
    assert await labels.get_by_role("row", name="production").count() == 0

    # Submit v2 for approval: its status leaves Draft.
    await page.get_by_role("button", name="Submit v2 for approval").click()
    await page.get_by_text("Submitted").wait_for()
    v2 = page.locator("table.versions").get_by_role("row", name="v2")
    await v2.get_by_text("Draft").wait_for(state="detached")

    await assert_accessible(page)
    await shoot(page, "prompts-prompt")


async def test_a_viewer_reads_versions_and_the_diff_but_changes_nothing(
    page: Any, ui_stack: UIStack
) -> None:
    project_id = await _project(ui_stack)
    admin = {"Authorization": f"Bearer {ui_stack.admin_key}"}
    async with httpx.AsyncClient(base_url=ui_stack.url + "/api/v1", headers=admin) as api:
        prompt = (
            await api.post(f"/projects/{project_id}/prompts", json={"name": "summary"})
        ).json()
        for body in ("Summarise {{ text }}", "Summarise in one line:\n{{ text }}"):
            answer = await api.post(
                f"/prompts/{prompt['id']}/versions",
                json={"body": body, "variables": {"text": "str"}},
            )
            assert answer.status_code == 201, answer.text
        viewer = (
            await api.post(
                "/api_keys", json={"name": f"ui-{uuid.uuid4().hex[:6]}", "role": "Viewer"}
            )
        ).json()
    await sign_in(page, ui_stack, key=viewer["key"])
    await page.goto(f"{ui_stack.url}/prompts/{prompt['id']}")
    await page.locator("table.diff").wait_for()
    assert await page.locator("table.versions tbody tr").count() == 2
    assert await page.get_by_role("link", name="New version", exact=True).count() == 0
    assert await page.get_by_role("button", name="Move label").count() == 0
    assert await page.get_by_role("button", name="Submit v2 for approval").count() == 0
    await assert_accessible(page)
    await shoot(page, "prompts-prompt-viewer")
