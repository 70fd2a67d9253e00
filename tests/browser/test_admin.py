"""Models and providers, project settings (budgets, routing policies, cache, approval policy)
and organization settings (members, API keys, provider keys, the audit log): in headless
Chromium against a real stack. Each page is checked with axe-core and photographed."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from playwright.async_api import expect

from tests.browser.conftest import UIStack, assert_accessible, shoot, sign_in

EMBEDDED_MODEL = "smollm2-135m"


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


@pytest.fixture
async def admin_api(ui_stack: UIStack) -> AsyncIterator[httpx.AsyncClient]:
    """The API as the stack's local Admin (to set things up and to check what the UI did)."""
    headers = {"Authorization": f"Bearer {ui_stack.admin_key}"}
    async with httpx.AsyncClient(base_url=ui_stack.url + "/api/v1", headers=headers) as client:
        yield client


@pytest.fixture
async def project(admin_api: httpx.AsyncClient) -> dict[str, Any]:
    answer = await admin_api.post("/projects", json={"name": _name("admin-ui")})
    assert answer.status_code == 201, answer.text
    project: dict[str, Any] = answer.json()
    return project


async def test_models_page_shows_the_embedded_model(
    page: Any, ui_stack: UIStack, project: dict[str, Any]
) -> None:
    await sign_in(page, ui_stack)
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Models").click()
    await page.get_by_role("heading", name="Models and providers").wait_for()
    row = page.get_by_role("row").filter(has_text=EMBEDDED_MODEL)
    await row.wait_for()
    text = await row.inner_text()
    assert "openai" in text  # the provider of openai/smollm2-135m
    assert any(health in text for health in ("healthy", "degraded", "down"))
    assert any(state in text for state in ("closed", "open", "half-open"))
    assert await page.get_by_label("Refresh every 5 s").is_checked()
    schedule = page.get_by_role("link", name="open in Temporal UI")
    assert (await schedule.get_attribute("href") or "").endswith("/schedules/provider-health-check")
    # Every project's day and month against its budget, and the way to its settings.
    usage = page.get_by_role("row").filter(has_text=project["name"])
    await usage.get_by_text("(no limit)").first.wait_for()
    await usage.get_by_role("link", name=f"Routing policies of {project['name']}").wait_for()
    await assert_accessible(page)
    await shoot(page, "admin-models")


async def test_an_admin_sets_a_budget_and_sees_it(
    page: Any, ui_stack: UIStack, project: dict[str, Any], admin_api: httpx.AsyncClient
) -> None:
    await sign_in(page, ui_stack)
    # The way in: organization settings -> Projects -> the project's budgets.
    await page.goto(ui_stack.url + "/settings/projects")
    await page.get_by_role("link", name=f"Budgets of {project['name']}").click()
    await page.get_by_role("heading", name="Budgets and usage").wait_for()
    await assert_accessible(page)
    await page.get_by_label("Daily USD").fill("5")
    await page.get_by_label("Monthly tokens").fill("200000")
    await page.get_by_role("button", name="Save limits").click()
    await page.get_by_text("Limits saved.").wait_for()

    await page.reload()
    today = page.get_by_role("region", name="Today")
    await today.get_by_text("limit $5.00").wait_for()
    assert "Remaining" in await today.inner_text()
    month = page.get_by_role("region", name="This month")
    await month.get_by_text("limit 200,000 tokens").wait_for()
    assert await page.get_by_label("Daily USD").input_value() == "5"
    stored = (await admin_api.get(f"/projects/{project['id']}/budgets")).json()
    assert stored["daily_usd"] == 5 and stored["monthly_tokens"] == 200000
    assert stored["daily_tokens"] is None
    await assert_accessible(page)
    await shoot(page, "admin-budgets")

    # The change is in the audit log, found by action and the project's id.
    await page.goto(ui_stack.url + "/settings/audit")
    await page.get_by_label("Action", exact=True).fill("budget.update")
    await page.get_by_label("Entity id").fill(project["id"])
    await page.get_by_role("button", name="Apply filters").click()
    entry = page.locator("table.audit-table tbody tr")
    await entry.first.get_by_text("budget.update").wait_for()
    assert await entry.count() == 1
    assert project["id"] in await entry.first.inner_text()
    await entry.first.locator("summary").click()
    assert '"daily_usd": "5' in await entry.first.inner_text()


async def test_an_api_key_is_shown_once_then_revoked_and_both_are_in_the_audit_log(
    page: Any, browser: Any, ui_stack: UIStack, admin_api: httpx.AsyncClient
) -> None:
    await sign_in(page, ui_stack)
    await page.goto(ui_stack.url + "/settings/api-keys")
    await page.get_by_role("heading", name="API keys", exact=True).wait_for()
    await assert_accessible(page)
    name = _name("ui-key")
    await page.get_by_label("Name", exact=True).fill(name)
    await page.get_by_label("Role").select_option("Editor")
    await page.get_by_label("Rate limit (requests per minute, optional)").fill("30")
    await page.get_by_role("button", name="Create key").click()

    dialog = page.get_by_role("dialog")
    await dialog.wait_for()
    secret = await dialog.get_by_label("Key").input_value()
    assert secret.startswith("po_")
    assert "shown once" in await dialog.inner_text()
    await assert_accessible(page)
    await shoot(page, "admin-api-key-secret")
    # The key shown is the real one.
    async with httpx.AsyncClient(base_url=ui_stack.url + "/api/v1") as anonymous:
        whoami = await anonymous.get("/me", headers={"Authorization": f"Bearer {secret}"})
        assert whoami.status_code == 200 and whoami.json()["role"] == "Editor"

    await dialog.get_by_role("button", name="I have stored it, close").click()
    await dialog.wait_for(state="hidden")
    prefix = secret.split("_")[1]
    row = page.get_by_role("row").filter(has_text=name)
    await row.get_by_text(f"po_{prefix}_…").wait_for()
    assert "30/min" in await row.inner_text()
    assert secret not in await page.content()
    await page.reload()
    await row.wait_for()
    assert secret not in await page.content()

    # Someone signed in with the new key in another browser...
    other = await browser.new_context(viewport={"width": 1280, "height": 860})
    try:
        theirs = await other.new_page()
        await sign_in(theirs, ui_stack, key=secret)
        await row.get_by_role("button", name="Revoke").click()
        await row.get_by_role("button", name=f"Revoke {name}").click()
        await row.get_by_text("revoked", exact=True).wait_for()
        # ...is sent back to sign-in, told why, by their next request.
        await theirs.goto(ui_stack.url + "/settings/api-keys")
        await theirs.get_by_label("API key").wait_for()
        assert "no longer valid" in await theirs.get_by_role("alert").inner_text()
        await assert_accessible(theirs)
        await shoot(theirs, "admin-revoked-key-signed-out")
    finally:
        await other.close()
    async with httpx.AsyncClient(base_url=ui_stack.url + "/api/v1") as anonymous:
        refused = await anonymous.get("/me", headers={"Authorization": f"Bearer {secret}"})
        assert refused.status_code == 401
    await assert_accessible(page)
    await shoot(page, "admin-api-keys")

    # The audit log, filtered by action, has both entries of this key (by its id).
    keys = (await admin_api.get("/api_keys")).json()["data"]
    key_id = next(k["id"] for k in keys if k["name"] == name)
    await (
        page.get_by_role("navigation", name="Settings sections")
        .get_by_role("link", name="Audit log")
        .click()
    )
    for action in ("api_key.create", "api_key.revoke"):
        await page.get_by_label("Action", exact=True).fill(action)
        await page.get_by_role("button", name="Apply filters").click()
        await page.wait_for_url(f"**/settings/audit?action={action}")
        # Until the filtered answer replaces the previous page (kept on screen meanwhile):
        # this key's one entry of that action, and no row of another action.
        rows = page.locator("table.audit-table tbody tr")
        await expect(rows.filter(has_text=key_id)).to_have_count(1)
        await expect(rows.filter(has_not_text=action)).to_have_count(0)
    await assert_accessible(page)
    await shoot(page, "admin-audit-log")


async def test_a_provider_key_refused_next_to_its_field_then_set_replaced_and_audited(
    page: Any, ui_stack: UIStack, admin_api: httpx.AsyncClient
) -> None:
    await sign_in(page, ui_stack)
    await page.goto(ui_stack.url + "/settings/provider-keys")
    await page.get_by_role("heading", name="Add a provider key").wait_for()
    name = _name("team-openai")
    await page.get_by_label("Provider", exact=True).fill("openai")
    await page.get_by_label("Name", exact=True).fill(name)
    await page.get_by_label("Key", exact=True).fill("sk-test-abcd1234")
    base = page.get_by_label("API base (optional)")
    await base.fill("ftp://models.example.com")
    await page.get_by_role("button", name="Add provider key").click()
    error = page.locator("#pk-api_base-error")
    await error.wait_for()
    assert "http(s) URL" in await error.inner_text()
    assert await base.get_attribute("aria-invalid") == "true"
    assert "pk-api_base-error" in (await base.get_attribute("aria-describedby") or "")
    await assert_accessible(page)
    await shoot(page, "admin-provider-key-refused")

    # Corrected, it is stored and listed by its last four characters only.
    await base.fill("https://models.example.com/v1")
    await page.get_by_role("button", name="Add provider key").click()
    row = page.get_by_role("row").filter(has_text=name)
    await row.get_by_text("…1234").wait_for()
    assert "sk-test-abcd1234" not in await page.content()

    # Replaced in place: a new secret, the provider's default endpoint.
    await row.get_by_role("button", name=f"Replace {name}").click()
    await page.get_by_label(f"New key for {name}").fill("sk-test-efgh5678")
    await page.get_by_label(f"API base for {name} (optional)").fill("")
    await assert_accessible(page)
    await shoot(page, "admin-provider-key-replace")
    await page.get_by_role("button", name="Replace key").click()
    await row.get_by_text("…5678").wait_for()
    assert "provider default" in await row.inner_text()
    assert "sk-test-efgh5678" not in await page.content()
    await shoot(page, "admin-provider-keys")

    # Both changes are in the audit log, found by the key's id, without the secrets.
    stored = (await admin_api.get("/provider_keys")).json()["data"]
    credential_id = next(k["id"] for k in stored if k["name"] == name)
    await page.goto(f"{ui_stack.url}/settings/audit?entity_id={credential_id}")
    entries = page.locator("table.audit-table tbody tr")
    await entries.first.get_by_text("provider_key.replace").wait_for()
    assert await entries.count() == 2
    assert "provider_key.create" in await entries.nth(1).inner_text()
    await assert_accessible(page)
    await shoot(page, "admin-audit-provider-key")
    content = await page.content()
    assert "sk-test-efgh5678" not in content and "sk-test-abcd1234" not in content

    await page.goto(ui_stack.url + "/settings/provider-keys")
    await row.get_by_role("button", name="Delete").click()
    await row.get_by_role("button", name=f"Delete {name}").click()
    await row.wait_for(state="detached")


async def test_routing_policy_created_edited_and_previewed(
    page: Any, ui_stack: UIStack, project: dict[str, Any]
) -> None:
    await sign_in(page, ui_stack)
    base = f"{ui_stack.url}/projects/{project['id']}/settings/routing"
    await page.goto(base)
    await page.get_by_role("link", name="New routing policy").click()
    await page.get_by_label("Name", exact=True).fill("cheap")
    await page.get_by_role("checkbox", name=EMBEDDED_MODEL).check()
    await page.get_by_label("Max p95 latency (ms)").fill("-5")
    await page.get_by_role("button", name="Create policy").click()
    # The API's refusal next to the constraint it names.
    await page.locator("#policy-max-p95-error").wait_for()
    await assert_accessible(page)
    await shoot(page, "admin-routing-policy-edit")
    await page.get_by_label("Max p95 latency (ms)").fill("60000")
    await page.get_by_role("button", name="Create policy").click()

    await page.wait_for_url(base)
    row = page.get_by_role("row").filter(has_text="cheap")
    assert "p95 ≤ 60000 ms" in await row.inner_text()
    await page.get_by_role("button", name="Preview decision").click()
    decision = page.locator(".decision")
    await decision.wait_for()
    assert f"would try {EMBEDDED_MODEL}" in await decision.inner_text()
    await assert_accessible(page)
    await shoot(page, "admin-routing-policies")


async def test_cache_settings_saved_and_purged(
    page: Any, ui_stack: UIStack, project: dict[str, Any], admin_api: httpx.AsyncClient
) -> None:
    await sign_in(page, ui_stack)
    await page.goto(f"{ui_stack.url}/projects/{project['id']}/settings/cache")
    await page.get_by_label("Answer identical requests from the cache").check()
    await page.get_by_label("Similarity threshold (0 to 1)").fill("1.5")
    await page.get_by_role("button", name="Save cache settings").click()
    await page.locator("#semantic-threshold-error").wait_for()
    await page.get_by_label("Similarity threshold (0 to 1)").fill("0.9")
    await page.get_by_role("button", name="Save cache settings").click()
    await page.get_by_text("Cache settings saved.").wait_for()
    stored = (await admin_api.get(f"/projects/{project['id']}/cache")).json()
    assert stored["exact"]["enabled"] is True and stored["semantic"]["threshold"] == 0.9

    await page.get_by_role("button", name="Purge").click()
    await page.get_by_role("button", name="Delete these cached answers").click()
    await page.get_by_text("Deleted 0 exact and 0 semantic entries.").wait_for()
    await assert_accessible(page)
    await shoot(page, "admin-cache")


async def test_approval_policy_and_members(
    page: Any, ui_stack: UIStack, project: dict[str, Any]
) -> None:
    await sign_in(page, ui_stack)
    await page.goto(ui_stack.url + "/settings/members")
    email = f"{_name('reviewer')}@example.com"
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Role", exact=True).select_option("Editor")
    await page.get_by_role("button", name="Add member").click()
    await page.get_by_label(f"Role of {email}").wait_for()
    assert await page.get_by_label(f"Role of {email}").input_value() == "Editor"
    await assert_accessible(page)
    await shoot(page, "admin-members")

    await page.goto(f"{ui_stack.url}/projects/{project['id']}/settings/approval")
    await page.get_by_role("checkbox", name=email).check()
    await page.get_by_label("Approvals required").fill("2")
    await page.get_by_role("button", name="Save approval policy").click()
    # One reviewer cannot give two approvals: the API says so next to the reviewers.
    error = page.locator("#ap-reviewers-error")
    await error.wait_for()
    assert "required_approvals" in await error.inner_text()
    await page.get_by_label("Approvals required").fill("1")
    await page.get_by_role("button", name="Save approval policy").click()
    await page.get_by_text("Approval policy saved.").wait_for()
    await assert_accessible(page)
    await shoot(page, "admin-approval-policy")


async def test_a_viewer_sees_read_only_pages_and_a_403_is_shown_if_reached(
    page: Any, ui_stack: UIStack, project: dict[str, Any], admin_api: httpx.AsyncClient
) -> None:
    email = f"{_name('ops')}@example.com"
    added = await admin_api.post("/members", json={"email": email, "role": "Admin"})
    assert added.status_code == 201, added.text
    issued = await admin_api.post(
        "/api_keys", json={"name": _name("ops"), "role": "Admin", "user_email": email}
    )
    assert issued.status_code == 201, issued.text
    await sign_in(page, ui_stack, key=issued.json()["key"])
    budgets = f"{ui_stack.url}/projects/{project['id']}/settings/budgets"
    await page.goto(budgets)
    await page.get_by_label("Daily USD").fill("1")

    # Demoted while the page is open: the API's 403 is shown, not a blank page.
    demoted = await admin_api.patch(f"/members/{added.json()['user_id']}", json={"role": "Viewer"})
    assert demoted.status_code == 200, demoted.text
    await page.get_by_role("button", name="Save limits").click()
    alert = page.get_by_role("alert")
    await alert.wait_for()
    assert "needs the Admin role" in await alert.inner_text()

    # Loaded again (the app asks who the caller is), the pages are read-only and say why.
    await page.goto(budgets)
    await page.get_by_text("Only Admins can change budgets").wait_for()
    assert await page.get_by_role("button", name="Save limits").count() == 0
    await assert_accessible(page)
    await shoot(page, "admin-viewer-budgets")
    await page.goto(f"{ui_stack.url}/projects/{project['id']}/settings/cache")
    await page.get_by_text("Only Editors and Admins can change cache settings").wait_for()
    assert await page.get_by_label("Answer identical requests from the cache").is_disabled()
    await page.goto(ui_stack.url + "/settings/audit")
    await page.get_by_text("Only Admins can read the audit log").wait_for()
    await page.goto(ui_stack.url + "/settings/members")
    await page.get_by_text("Only Admins can add, change or remove members").wait_for()
    assert await page.get_by_role("button", name="Add member").count() == 0
    await assert_accessible(page)
    await shoot(page, "admin-viewer-members")
