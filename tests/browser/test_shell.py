"""Sign-in, the frame every page shares, projects: in headless Chromium against a real stack."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.browser.conftest import UIStack, assert_accessible, shoot, sign_in


async def test_sign_in_refuses_a_bad_key_next_to_the_field(page: Any, ui_stack: UIStack) -> None:
    await page.goto(ui_stack.url + "/")
    await assert_accessible(page)
    await page.get_by_label("API key").fill("po_nothing_here")
    await page.get_by_role("button", name="Sign in").click()
    alert = page.get_by_role("alert")
    await alert.wait_for()
    assert "malformed API key" in await alert.inner_text()
    assert await page.get_by_label("API key").get_attribute("aria-invalid") == "true"
    await shoot(page, "signin-refused")


async def test_projects_page_creates_a_project_and_names_a_bad_field(
    page: Any, ui_stack: UIStack
) -> None:
    await sign_in(page, ui_stack)
    await page.locator(".whoami", has_text="Admin").wait_for()
    name = f"ui-{uuid.uuid4().hex[:6]}"
    await page.get_by_label("Name", exact=True).fill(name)
    await page.get_by_role("button", name="Create project").click()
    await page.get_by_role("link", name=name).wait_for()
    # The same name again: the API's 409 is shown, not a blank page.
    await page.get_by_label("Name", exact=True).fill(name)
    await page.get_by_role("button", name="Create project").click()
    await page.get_by_role("alert").wait_for()
    assert "already" in await page.get_by_role("alert").inner_text()
    await assert_accessible(page)
    await shoot(page, "projects")


async def test_keyboard_reaches_the_navigation_and_content(page: Any, ui_stack: UIStack) -> None:
    await sign_in(page, ui_stack)
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.textContent") == "Skip to content"
    await page.keyboard.press("Enter")
    assert await page.evaluate("document.activeElement.id") == "main"


async def test_a_revoked_key_returns_to_sign_in(page: Any, ui_stack: UIStack) -> None:
    admin = {"Authorization": f"Bearer {ui_stack.admin_key}"}
    async with httpx.AsyncClient(base_url=ui_stack.url + "/api/v1", headers=admin) as api:
        created = (
            await api.post(
                "/api_keys", json={"name": f"ui-{uuid.uuid4().hex[:6]}", "role": "Viewer"}
            )
        ).json()
        await sign_in(page, ui_stack, key=created["key"])
        assert (await api.delete(f"/api_keys/{created['id']}")).status_code == 200
    await page.reload()
    await page.get_by_label("API key").wait_for()
    assert "no longer valid" in await page.get_by_role("alert").inner_text()
