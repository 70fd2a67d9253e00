"""The dashboard page in headless Chromium against a real stack: the figures of runs recorded
in the stack's database, narrowed by the filters, a bad window named next to its field; axe and
a screenshot of each state."""

from __future__ import annotations

import json
import math
import random
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import insert

from promptops.db.models import Run
from promptops.db.session import get_session_factory
from tests.browser.conftest import UIStack, assert_accessible, shoot, sign_in

MODELS = ("gpt-4o-mini", "claude-3-5-haiku")


async def _seed(stack: UIStack) -> tuple[dict[str, Any], int]:
    """A project with a prompt of two versions and runs over the last 20 hours (both models,
    both versions, some failed, some cache hits), written straight into ``runs`` as the
    pipeline's record stage would. Returns the project and how many runs it has."""
    admin = {"Authorization": f"Bearer {stack.admin_key}"}
    async with httpx.AsyncClient(base_url=stack.url + "/api/v1", headers=admin) as api:
        project = (
            await api.post("/projects", json={"name": f"dash-{uuid.uuid4().hex[:6]}"})
        ).json()
        prompt = (
            await api.post(f"/projects/{project['id']}/prompts", json={"name": "summarise"})
        ).json()
        versions = []
        for body in ("Summarise {{ text }}", "Summarise briefly: {{ text }}"):
            r = await api.post(
                f"/prompts/{prompt['id']}/versions",
                json={"body": body, "variables": {"text": "str"}},
            )
            versions.append(r.json()["id"])
    rng = random.Random(7)
    now = datetime.now(UTC)
    rows = []
    for i in range(600):
        hit = rng.random() < 0.2
        rows.append(
            {
                "id": uuid.uuid4(),
                "project_id": uuid.UUID(project["id"]),
                "prompt_version_id": uuid.UUID(versions[i % 2]),
                "source": "execute",
                "model": MODELS[(i // 2) % 2],
                "variables": {"text": "t"},
                "rendered_input": [],
                "success": rng.random() < 0.93,
                "cache_hit": hit,
                "tokens_in": rng.randint(50, 900),
                "tokens_out": rng.randint(10, 300),
                "cost_usd": Decimal(rng.randint(100, 9000)) / Decimal(10**7),
                "latency_ms": 2.0 if hit else rng.lognormvariate(math.log(700), 0.6),
                "created_at": now - timedelta(minutes=rng.uniform(1, 20 * 60)),
            }
        )
    state = json.loads((stack.home / "state.json").read_text())
    async with get_session_factory(state["urls"]["database_url"])() as session:
        await session.execute(insert(Run), rows)
        await session.commit()
    return project, len(rows)


async def test_dashboard_shows_filters_and_names_a_bad_window(page: Any, ui_stack: UIStack) -> None:
    project, n = await _seed(ui_stack)
    await sign_in(page, ui_stack)
    await page.get_by_role("link", name="Dashboard").click()
    await page.get_by_role("heading", name="Dashboard").wait_for()
    cards = page.get_by_label("Figures of the window")
    await cards.wait_for()
    await page.get_by_role("img", name="Latency over").wait_for()
    await assert_accessible(page)
    await shoot(page, "dashboard")

    # Narrowed to the seeded project: exactly its runs, by model and version.
    await page.get_by_label("Project", exact=True).select_option(label=project["name"])
    runs_card = cards.locator(".figure-card", has_text="Runs").locator(".figure-value")
    await page.wait_for_function(
        "([el, want]) => el.textContent === want",
        arg=[await runs_card.element_handle(), f"{n}"],
    )
    table = page.get_by_role("table", name="Figures by group")
    assert await table.locator("tbody tr").count() == 4  # 2 models x 2 versions
    assert "summarise v2" in await table.inner_text()
    await page.get_by_label("Break down by").select_option(label="Model")
    await page.wait_for_function(
        "() => document.querySelectorAll('table.groups tbody tr').length === 2"
    )
    await page.get_by_label("Model", exact=True).select_option(MODELS[0])
    await page.wait_for_function(
        "() => document.querySelectorAll('table.groups tbody tr').length === 1"
    )
    assert MODELS[0] in await table.inner_text()
    await assert_accessible(page)
    await shoot(page, "dashboard-filtered")

    # A window that ends before it starts: the API's 422 next to the field it names.
    await page.get_by_label("Window", exact=True).select_option("custom")
    await page.get_by_label("From (UTC)").fill("2026-03-02T00:00")
    await page.get_by_label("To (UTC)").fill("2026-03-01T00:00")
    await page.wait_for_function(
        "() => document.querySelector('#dash-from-error')?.textContent === 'must be before end'"
    )
    assert await page.get_by_label("From (UTC)").get_attribute("aria-invalid") == "true"
    # The filter lists stay filled while the window is corrected.
    project_select = page.get_by_label("Project", exact=True)
    assert await project_select.locator("option:checked").inner_text() == project["name"]
    await assert_accessible(page)
    await shoot(page, "dashboard-bad-window")
