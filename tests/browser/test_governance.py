"""Approvals and rollouts in headless Chromium against a real stack: the author submits a
version and is refused when approving it, a second user approves it with a comment, starts a
canary, watches its guard figures come in and aborts it; an automatic rollback's reason is
shown on its page."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx

from tests.browser.conftest import UIStack, assert_accessible, shoot, sign_in
from tests.browser.flows import WAIT_MS, approve_through_api, production_traffic, until


async def test_submit_approve_deploy_watch_and_abort(
    page: Any, browser: Any, ui_stack: UIStack
) -> None:
    tag = uuid.uuid4().hex[:6]
    prompt_name = f"capital-{tag}"
    admin_headers = {"Authorization": f"Bearer {ui_stack.admin_key}"}
    base = ui_stack.url + "/api/v1"
    async with httpx.AsyncClient(base_url=base, headers=admin_headers, timeout=120) as admin:
        # A project and prompt with v1 serving production and v2, the change to review.
        project = (await admin.post("/projects", json={"name": f"gov-{tag}"})).json()
        prompt = (
            await admin.post(f"/projects/{project['id']}/prompts", json={"name": prompt_name})
        ).json()
        versions = []
        for body in (
            "The capital of {{ country }} is",
            "Answer in one word.\nThe capital of {{ country }} is",
            "Say nothing about {{ country }}.",
        ):
            r = await admin.post(
                f"/prompts/{prompt['id']}/versions",
                json={
                    "body": body,
                    "variables": {"country": "str"},
                    "decoding": {"max_tokens": 6, "temperature": 0},
                },
            )
            assert r.status_code == 201, r.text
            versions.append(r.json()["id"])
        v1, v2, v3 = versions
        # The second user: a reviewer (Editor) with a key of their own.
        reviewer_email = f"reviewer-{tag}@example.com"
        r = await admin.post("/members", json={"email": reviewer_email, "role": "Editor"})
        assert r.status_code == 201, r.text
        r = await admin.post(
            "/api_keys",
            json={"name": f"reviewer {tag}", "role": "Editor", "user_email": reviewer_email},
        )
        assert r.status_code == 201, r.text
        reviewer_key = r.json()["key"]
        reviewer_headers = {"Authorization": f"Bearer {reviewer_key}"}
        async with httpx.AsyncClient(base_url=base, headers=reviewer_headers, timeout=120) as rev:
            await approve_through_api(admin, rev, v1)
            first = (
                await admin.post(
                    "/deployments",
                    json={
                        "project_id": project["id"],
                        "prompt_version_id": v1,
                        "environment": "prod",
                    },
                )
            ).json()["deployment"]
            await until(
                admin,
                f"/deployments/{first['id']}",
                lambda d: d["status"] == "Promoted",
                "the first rollout (no baseline) is promoted at once",
            )

        # The author submits v2 from the web app and cannot approve it.
        await sign_in(page, ui_stack)
        await page.goto(f"{ui_stack.url}/approvals/new?version={v2}")
        await page.get_by_role("heading", name="v2 body").wait_for(timeout=WAIT_MS)
        await page.get_by_text("No golden-set check").wait_for()
        await assert_accessible(page)
        await shoot(page, "approvals-submit")
        await page.get_by_role("button", name="Submit for approval").click()
        await page.get_by_role("heading", name=f"Review {prompt_name} v2").wait_for()
        await page.locator(".page-head .badge", has_text="Pending").wait_for(timeout=WAIT_MS)
        await page.get_by_text("v1 (serving production) → v2").wait_for()
        # Once the workflow waits for reviews the page tells the author they cannot decide.
        await page.get_by_text("Note: you wrote this version").wait_for(timeout=WAIT_MS)
        diff = page.get_by_role("region", name="Body changes from v1 to v2")
        assert "added: +Answer in one word." in (await diff.text_content() or "")
        await page.get_by_label("Comment").fill("Looks right to me")
        await page.get_by_role("button", name="Approve").click()
        alert = page.get_by_role("alert")
        await alert.wait_for()
        assert "author of a prompt version cannot approve it" in await alert.inner_text()
        await assert_accessible(page)
        await shoot(page, "approval-review-author-refused")

        # The reviewer finds it in their queue and approves it with a comment.
        context = await browser.new_context(viewport={"width": 1280, "height": 860})
        try:
            second = await context.new_page()
            await sign_in(second, ui_stack, key=reviewer_key)
            await (
                second.get_by_role("navigation", name="Main")
                .get_by_role("link", name="Approvals")
                .click()
            )
            mine = second.get_by_role("table", name=re.compile("Waiting for your review"))
            link = mine.get_by_role("link", name=f"{prompt_name} v2")
            await link.wait_for(timeout=WAIT_MS)
            await assert_accessible(second)
            await shoot(second, "approvals-queue")
            await link.click()
            await second.get_by_label("Comment").fill("Shorter answers; ship it.")
            await second.get_by_role("button", name="Approve").click()
            await second.get_by_role("status").filter(has_text="Decision recorded").wait_for()
            await second.locator(".page-head .badge", has_text="Approved").wait_for(timeout=WAIT_MS)
            decisions = second.get_by_role("region", name="Decisions")
            await decisions.get_by_text("Shorter answers; ship it.").wait_for()
            assert reviewer_email in await decisions.inner_text()
            await assert_accessible(second)
            await shoot(second, "approval-approved")

            # The reviewer starts a canary; a plan the API refuses is answered at its field.
            await second.goto(f"{ui_stack.url}/rollouts/new?version={v2}")
            version_select = second.get_by_label("Version", exact=True)
            await second.wait_for_function(
                "id => document.getElementById('rollout-version')?.value === id", arg=v2
            )
            assert await version_select.input_value() == v2
            await second.get_by_label("Steps (canary %)").fill("50, 25, 100")
            await second.get_by_role("button", name="Start the rollout").click()
            steps_error = second.locator("#plan-steps-error")
            await steps_error.wait_for()
            assert "rise strictly" in await steps_error.inner_text()
            assert await second.get_by_label("Steps (canary %)").get_attribute("aria-invalid")
            await assert_accessible(second)
            await shoot(second, "rollout-new-refused")
            await second.get_by_label("Steps (canary %)").fill("25, 50, 100")
            await second.get_by_label("Bake time per step (s)").fill("900")
            await second.get_by_label("Check interval (s)").fill("2")
            await second.get_by_label("Minimum runs per arm").fill("1")
            await second.get_by_label("Maximum error-rate increase (0–1)").fill("1")
            await second.get_by_label("Minimum eval score to go beyond the first step (0–1)").fill(
                ""
            )
            await second.get_by_role("button", name="Start the rollout").click()
            await second.get_by_role("heading", name=f"{prompt_name} v2 to prod").wait_for()
            deployment_id = second.url.rstrip("/").rsplit("/", 1)[-1]

            # Watch it: the split, then guard figures per check while users call prod.
            async with production_traffic(admin, project["id"], prompt_name, {"country": "France"}):
                await second.locator(".page-head .badge", has_text="Running").wait_for(
                    timeout=WAIT_MS
                )
                await second.get_by_text("Canary 25% · baseline 75%").wait_for(timeout=WAIT_MS)
                await second.get_by_role("img", name=re.compile("^Error rate")).wait_for(
                    timeout=WAIT_MS
                )
                await second.get_by_role("img", name=re.compile("^Mean feedback")).wait_for(
                    timeout=WAIT_MS
                )
                await second.get_by_text(re.compile(r"Every check as a table \([3-9]")).wait_for(
                    timeout=WAIT_MS
                )
            await second.get_by_role("link", name=f"canary-{deployment_id}").wait_for()
            await assert_accessible(second)
            await shoot(second, "rollout-running")

            # Abort: without a reason the API's answer sits at the field; then with one.
            await second.get_by_role("button", name="Abort").click()
            await second.locator("#operator-reason-error").wait_for()
            await second.get_by_label("Reason", exact=True).fill("ui test: stop the canary")
            await second.get_by_role("button", name="Abort").click()
            await second.locator(".page-head .badge", has_text="Aborted").wait_for(timeout=WAIT_MS)
            ended = second.locator(".banner", has_text="Aborted:")
            await ended.wait_for()
            assert "ui test: stop the canary" in await ended.inner_text()
            await assert_accessible(second)
            await shoot(second, "rollout-aborted")
        finally:
            await context.close()

        # An automatic rollback: v3's canary cannot gather its samples; its page says why.
        async with httpx.AsyncClient(base_url=base, headers=reviewer_headers, timeout=120) as rev:
            await approve_through_api(admin, rev, v3)
        r = await admin.post(
            "/deployments",
            json={
                "project_id": project["id"],
                "prompt_version_id": v3,
                "environment": "prod",
                "plan": {
                    "steps": [50, 100],
                    "bake_time_s": 3,
                    "check_interval_s": 1,
                    "min_samples": 1000,
                    "min_eval_score": None,
                },
            },
        )
        assert r.status_code == 202, r.text
        rolled = r.json()["deployment"]["id"]
        await page.goto(f"{ui_stack.url}/rollouts/{rolled}")
        await page.locator(".page-head .badge", has_text="Rolled back").wait_for(timeout=WAIT_MS)
        reason = page.locator(".banner", has_text="Rolled back:")
        await reason.wait_for()
        assert "too few samples" in await reason.inner_text()
        await assert_accessible(page)
        await shoot(page, "rollout-rolled-back")

        # The list: both canaries with how they ended.
        await (
            page.get_by_role("navigation", name="Main").get_by_role("link", name="Rollouts").click()
        )
        await page.get_by_role("link", name=f"{prompt_name} v2").wait_for()
        row = page.get_by_role("row").filter(has_text=f"{prompt_name} v3")
        assert "too few samples" in await row.inner_text()
        await assert_accessible(page)
        await shoot(page, "rollouts")
