"""Browser tests of the web app: headless Debian Chromium driven by Playwright (its Python API,
with ``executable_path``: Playwright's own browser download does not work on these machines)
against a real ``promptops up`` stack in a temporary home on free ports.

- ``ui_stack``: the stack (session-wide), with its URLs and the local Admin key.
- ``browser``: one Chromium for the session; ``page``: a fresh context and page per test.
- ``shoot(page, name)``: a full-page screenshot into ``ui/screenshots/`` (look at them).
- ``assert_accessible(page)``: axe-core (the ``ui/node_modules`` copy) finds no serious or
  critical WCAG 2.1 A/AA violation.

Every test here is skipped when chromium or the built app is missing (a machine without the
dev setup), never silently passed: the skip names what is missing.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.stack import ROOT, cli, stack_env

SCREENSHOTS = ROOT / "ui" / "screenshots"
AXE = ROOT / "ui" / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@dataclass(frozen=True)
class UIStack:
    url: str
    admin_key: str
    env: dict[str, str]
    home: Path


def _chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.skip("chromium is not installed (bash deploy/bootstrap.sh --dev installs it)")
    if not (ROOT / "ui" / "dist" / "index.html").exists():
        pytest.skip("the web app is not built (bash deploy/bootstrap.sh builds ui/dist)")
    return path


@pytest.fixture(scope="session")
def ui_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UIStack]:
    _chromium()
    home = tmp_path_factory.mktemp("ui-stack")
    env = stack_env(home, task_queue="ui-tests")
    up = subprocess.run(
        [*cli(), "up", "--detach"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    try:
        assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
        state = json.loads((home / "state.json").read_text())
        yield UIStack(
            url=state["urls"]["web_app"].rstrip("/"),
            admin_key=(home / "admin.key").read_text().strip(),
            env=env,
            home=home,
        )
    finally:
        subprocess.run(
            [*cli(), "down"], env=env, cwd=ROOT, capture_output=True, timeout=120, check=False
        )


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    executable = _chromium()
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            await chromium.close()


@pytest.fixture
async def page(browser: Any) -> AsyncIterator[Any]:
    context = await browser.new_context(viewport={"width": 1280, "height": 860})
    page = await context.new_page()
    try:
        yield page
    finally:
        await context.close()


async def shoot(page: Any, name: str) -> Path:
    """A full-page screenshot ``ui/screenshots/<name>.png``."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path


async def assert_accessible(page: Any) -> None:
    """axe-core's WCAG 2.1 A/AA rules on the page as it is: no serious or critical
    violation (the message lists each rule and the elements it found)."""
    await page.add_script_tag(path=str(AXE))
    result = await page.evaluate(
        "() => axe.run(document, {runOnly: {type: 'tag', values: "
        "['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})"
    )
    bad = [v for v in result["violations"] if v["impact"] in ("serious", "critical")]
    assert not bad, "\n".join(
        f"{v['id']} ({v['impact']}): {v['help']} -> "
        + ", ".join(n["target"][0] for n in v["nodes"][:5])
        for v in bad
    )


async def sign_in(page: Any, stack: UIStack, key: str | None = None) -> None:
    """Open the app and sign in (with the Admin key unless ``key`` is given)."""
    await page.goto(stack.url + "/")
    await page.get_by_label("API key").fill(key or stack.admin_key)
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_role("navigation", name="Main").wait_for()
