"""The playground against a real stack (the embedded SmolLM2 model): run a prompt version
with variables, watch the answer stream in, read tokens and cost, find the run in the
prompt's last runs and open its details; a missing variable is named next to its field."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.browser.conftest import UIStack, assert_accessible, shoot, sign_in

MODEL = "smollm2-135m"
#: Bounds on waiting (not assertions on time): the embedded model on a shared 2-core machine
#: can take minutes for a short answer when the machine is busy.
ANSWER_WAIT_MS = 300_000
PAGE_WAIT_MS = 90_000


@dataclass(frozen=True)
class Seeded:
    project_id: str
    prompt_id: str
    version_id: str


@pytest.fixture
async def seeded(ui_stack: UIStack) -> Seeded:
    """A project with a prompt whose version declares two variables (short answers)."""
    admin = {"Authorization": f"Bearer {ui_stack.admin_key}"}
    async with httpx.AsyncClient(
        base_url=ui_stack.url + "/api/v1", headers=admin, timeout=30
    ) as api:
        project = await api.post("/projects", json={"name": f"pg-{uuid.uuid4().hex[:6]}"})
        assert project.status_code == 201, project.text
        project_id = project.json()["id"]
        prompt = await api.post(f"/projects/{project_id}/prompts", json={"name": "greeting"})
        assert prompt.status_code == 201, prompt.text
        prompt_id = prompt.json()["id"]
        version = await api.post(
            f"/prompts/{prompt_id}/versions",
            json={
                "body": "Write one short sentence greeting {{ name }} about {{ topic }}.",
                "variables": {"name": "str", "topic": "str"},
                "model": MODEL,
                "decoding": {"max_tokens": 24, "temperature": 0},
                "notes": "browser test",
            },
        )
        assert version.status_code == 201, version.text
        return Seeded(project_id, prompt_id, version.json()["id"])


def playground_url(stack: UIStack, seeded: Seeded) -> str:
    return (
        f"{stack.url}/playground?project={seeded.project_id}&prompt={seeded.prompt_id}"
        f"&target=v:{seeded.version_id}"
    )


async def open_playground(page: Any, stack: UIStack, seeded: Seeded) -> None:
    page.set_default_timeout(PAGE_WAIT_MS)
    await sign_in(page, stack)
    await page.goto(playground_url(stack, seeded))
    await page.get_by_role("heading", name="Playground", exact=True).wait_for()
    await page.get_by_label("name (str)").wait_for()


async def test_runs_a_version_streams_the_answer_and_lists_the_run(
    page: Any, ui_stack: UIStack, seeded: Seeded
) -> None:
    # Record every text the answer shows while the run is on, from the first delta.
    await page.add_init_script(
        """
        window.__answerTexts = [];
        new MutationObserver(() => {
          const answer = document.querySelector('[data-testid="answer"]');
          if (answer && answer.getAttribute('aria-busy') === 'true' && answer.textContent) {
            window.__answerTexts.push(answer.textContent);
          }
        }).observe(document, {subtree: true, childList: true, characterData: true});
        """
    )
    await open_playground(page, ui_stack, seeded)
    await page.locator("table", has_text="Run").or_(page.get_by_text("No runs yet.")).wait_for()
    await assert_accessible(page)
    await shoot(page, "playground")

    await page.get_by_label("name (str)").fill("Ada")
    await page.get_by_label("topic (str)").fill("otters")
    await page.get_by_role("button", name="Run").click()
    figures = page.get_by_label("Run figures")
    await figures.wait_for(timeout=ANSWER_WAIT_MS)

    answer = (await page.get_by_test_id("answer").inner_text()).strip()
    assert answer
    # Streamed: the text grew while the run was on (more than one state), ending in the answer.
    seen: list[str] = await page.evaluate("window.__answerTexts")
    assert len(set(seen)) > 1, seen
    assert all(answer.startswith(text.strip()) for text in seen if text.strip())

    text = await figures.inner_text()
    for term in ("Prompt tokens", "Completion tokens", "Cost", "Latency", MODEL):
        assert term in text
    completion = await figures.locator("dt:text-is('Completion tokens') + dd").inner_text()
    assert int(completion) > 0
    assert (await figures.locator("dt:text-is('Cost') + dd").inner_text()).startswith("$")

    # The run heads the prompt's last runs (refreshed after the run), with its figures.
    run_link = figures.locator("dt:text-is('Run') + dd a")
    run_short = await run_link.inner_text()
    history = page.get_by_role("table", name="Last runs of this prompt")
    first_row = history.locator("tbody tr").first
    await first_row.get_by_role("link", name=run_short).wait_for()
    assert "v1" in await first_row.inner_text()
    await assert_accessible(page)
    await shoot(page, "playground-answer")

    # Its details: the variables, the rendered input and the output.
    await first_row.get_by_role("link", name=run_short).click()
    await page.get_by_role("heading", name="Input messages").wait_for()
    detail = await page.locator("main").inner_text()
    assert "Write one short sentence greeting Ada about otters." in detail
    assert '"topic": "otters"' in detail
    assert answer[:20] in detail
    await assert_accessible(page)
    await shoot(page, "playground-run")


async def test_a_missing_variable_is_named_next_to_its_field(
    page: Any, ui_stack: UIStack, seeded: Seeded
) -> None:
    await open_playground(page, ui_stack, seeded)
    await page.get_by_label("name (str)").fill("Ada")
    await page.get_by_role("button", name="Run").click()
    topic = page.get_by_label("topic (str)")
    error = page.locator("#var-topic-error")
    await error.wait_for()
    assert "topic" in await error.inner_text()
    assert await topic.get_attribute("aria-invalid") == "true"
    assert await page.get_by_label("name (str)").get_attribute("aria-invalid") is None
    assert (
        "Nothing was run."
        in await page.get_by_test_id("answer")
        .or_(page.get_by_text("Nothing was run."))
        .first.inner_text()
    )
    await assert_accessible(page)
    await shoot(page, "playground-missing-variable")


async def test_free_text_messages_stream_on_a_catalog_model(
    page: Any, ui_stack: UIStack, seeded: Seeded
) -> None:
    page.set_default_timeout(PAGE_WAIT_MS)
    await sign_in(page, ui_stack)
    await page.goto(f"{ui_stack.url}/playground?project={seeded.project_id}&mode=free")
    await page.get_by_label("Message 1", exact=True).fill("Say hello in three words.")
    await page.get_by_label("Max tokens").fill("12")
    assert await page.get_by_label("Model or routing policy").input_value() == MODEL
    await page.get_by_role("button", name="Run").click()
    figures = page.get_by_label("Run figures")
    await figures.wait_for(timeout=ANSWER_WAIT_MS)
    assert (await page.get_by_test_id("answer").inner_text()).strip()
    history = page.get_by_role("table", name="Last free-text runs")
    await history.locator("tbody tr").first.wait_for()
    assert "free text" in await history.locator("tbody tr").first.inner_text()
    await assert_accessible(page)
    await shoot(page, "playground-free-text")
