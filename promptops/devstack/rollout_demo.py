"""The governance story on the embedded stack: draft -> approval -> canary -> 100% production,
then an injected regression that rolls back by itself within one bake window, then an Admin's
emergency rollback of the protected ``production`` label.

Everything goes through the REST API, as a team would use it:

1. Project ``rollout-demo``, prompt ``capital`` and a golden set of capital cities (expected
   answers are full sentences; the approval check scores ``token_f1``, SQuAD v1.1).
2. The local Admin adds a reviewer (an Editor) and issues them a key: authors cannot approve
   their own versions.
3. v1 is submitted, passes the golden-set check, is approved by the reviewer and deployed to
   prod: with no baseline yet it is promoted at once.
4. v2 (a rewording) is approved and rolled out 25% -> 50% -> 100% with short bakes while
   simulated users call ``generate`` (sticky subject ids) and send feedback: thumbs up when the
   answer names the right city. Guards compare canary and baseline; v2 is promoted.
5. v3 is approved too, but during its canary a regression is injected: simulated users
   thumbs-down nearly every canary answer. The feedback guard trips at the next check and the
   workflow rolls prod back to v2 by itself, recording why.
6. ``production`` is a protected label: a plain ``PUT .../labels/production`` is refused (409);
   the Admin makes an emergency rollback instead, to the version production served before v2
   (v1 on a fresh stack), with a reason the audit log keeps.

Units: bake and check intervals in seconds; latencies in ms.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from promptops.devstack.client import APIClientError, PromptOpsClient

#: (country, capital) pairs the local model mostly knows.
CAPITALS = [
    ("France", "Paris"),
    ("Japan", "Tokyo"),
    ("Italy", "Rome"),
    ("Germany", "Berlin"),
    ("Egypt", "Cairo"),
    ("Russia", "Moscow"),
    ("China", "Beijing"),
    ("Greece", "Athens"),
    ("Austria", "Vienna"),
    ("United Kingdom", "London"),
]
VERSIONS = {
    "v1": "What is the capital of {{ country }}? Answer in one short sentence.",
    "v2": "Question: what is the capital city of {{ country }}? Reply in one short sentence.",
    "v3": "Name the capital of {{ country }} in one short sentence.",
}
REVIEWER = "reviewer@promptops.example"
Say = Callable[[str], None]


@dataclass
class RolloutDemoSettings:
    #: 25% first (not 10%): at ~3 requests/s on 2 cores a 10% canary would see too few
    #: samples in a 20 s bake for the guards to judge (the too-few-samples guard would fire).
    steps: tuple[float, ...] = (25, 50, 100)
    bake_s: int = 20
    check_interval_s: int = 5
    min_samples: int = 5
    max_feedback_drop: float = 0.3
    min_eval_score: float = 0.70
    traffic_threads: int = 4
    subjects: int = 200
    timeout_s: float = 600.0


@dataclass
class Traffic:
    """Simulated users: ``generate`` with sticky subject ids, then feedback on each answer.

    ``sabotage_canary`` is the injected regression: the probability that a canary answer gets a
    thumbs-down whatever it says."""

    client_factory: Callable[[], PromptOpsClient]
    project_id: str
    prompt_name: str
    threads: int
    subjects: int
    sabotage_canary: float = 0.0
    requests: int = 0
    errors: int = 0
    arms: dict[str, int] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _workers: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> Traffic:
        for i in range(self.threads):
            t = threading.Thread(target=self._run, args=(i,), daemon=True, name=f"demo-traffic-{i}")
            t.start()
            self._workers.append(t)
        return self

    def stop(self) -> None:
        self._stop.set()
        for t in self._workers:
            t.join(timeout=60)

    def _run(self, seed: int) -> None:
        rng = random.Random(seed)
        with self.client_factory() as client:
            while not self._stop.is_set():
                country, capital = rng.choice(CAPITALS)
                subject = f"user-{rng.randrange(self.subjects)}"
                try:
                    run = client.request(
                        "POST",
                        "/generate",
                        json={
                            "project_id": self.project_id,
                            "prompt": self.prompt_name,
                            "environment": "prod",
                            "subject_id": subject,
                            "variables": {"country": country},
                        },
                    )
                except APIClientError:
                    with self._lock:
                        self.errors += 1
                    continue
                arm = run.get("arm") or "none"
                good = capital.lower() in str(run["output"]).lower()
                if arm == "canary" and rng.random() < self.sabotage_canary:
                    good = False
                with self._lock:
                    self.requests += 1
                    self.arms[arm] = self.arms.get(arm, 0) + 1
                try:
                    client.request("POST", f"/runs/{run['run_id']}/feedback", json={"thumbs": good})
                except APIClientError:
                    pass


def _ensure_reviewer_key(admin: PromptOpsClient) -> str:
    try:
        admin.request("POST", "/members", json={"email": REVIEWER, "role": "Editor"})
    except APIClientError as exc:
        if exc.status_code != 409:
            raise
    created = admin.request(
        "POST",
        "/api_keys",
        json={
            "name": f"rollout demo reviewer {uuid.uuid4().hex[:6]}",
            "role": "Editor",
            "user_email": REVIEWER,
        },
    )
    return str(created["key"])


def _wait(
    poll: Callable[[], dict[str, Any]],
    done: Callable[[dict[str, Any]], bool],
    timeout_s: float,
    what: str,
    interval_s: float = 1.0,
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        state = poll()
        if done(state):
            return state
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not finish within {timeout_s:.0f}s: {state}")
        time.sleep(interval_s)


def _approve(
    admin: PromptOpsClient, reviewer: PromptOpsClient, version_id: str, timeout_s: float, say: Say
) -> dict[str, Any]:
    started = admin.request("POST", f"/prompt_versions/{version_id}/submit_for_approval")
    say(f"  submitted for approval: {started['approval_id']}")

    def poll() -> dict[str, Any]:
        return dict(admin.request("GET", f"/prompt_versions/{version_id}/approval"))

    state = _wait(
        poll, lambda s: s["phase"] in ("waiting", "done"), timeout_s, "the approval check"
    )
    if state["phase"] == "done":
        return state
    score = state.get("eval_score")
    say(
        f"  golden-set check passed: {state.get('eval_metric')} = "
        f"{score:.2f} (min {state.get('min_eval_score')})"
        if score is not None
        else "  no golden-set check configured"
    )
    reviewer.request(
        "POST", f"/prompt_versions/{version_id}/approve", json={"comment": "looks good"}
    )
    state = _wait(poll, lambda s: s["phase"] == "done", timeout_s, "the approval")
    say(f"  {REVIEWER} approved -> {state['status']}")
    return state


def _deploy(
    admin: PromptOpsClient,
    project_id: str,
    version_id: str,
    plan: dict[str, Any],
    timeout_s: float,
    say: Say,
) -> dict[str, Any]:
    started = admin.request(
        "POST",
        "/deployments",
        json={
            "project_id": project_id,
            "prompt_version_id": version_id,
            "environment": "prod",
            "plan": plan,
        },
    )
    dep = started["deployment"]
    say(f"  deployment {dep['id']} started: {started['temporal_ui_url']}")
    last: dict[str, Any] = {}

    def poll() -> dict[str, Any]:
        state = dict(admin.request("GET", f"/deployments/{dep['id']}"))
        key = (state["status"], state["canary_weight"])
        if key != last.get("key"):
            last["key"] = key
            say(f"    {state['status']:<10} canary weight {state['canary_weight']:g}%")
        return state

    final = _wait(
        poll,
        lambda s: s["status"] in ("Promoted", "RolledBack", "Aborted"),
        timeout_s,
        f"deployment {dep['id']}",
    )
    if final["reason"]:
        say(f"  -> {final['status']}: {final['reason']}")
    return final


def _emergency_rollback(admin: PromptOpsClient, prompt_id: str, say: Say) -> dict[str, Any] | None:
    """Show that production refuses a plain PUT, then roll it back the supported way to the
    version it served before the current one (None when it served no other). Returns the
    rollback's ``{from, to, reason}``."""
    history = admin.request("GET", f"/prompts/{prompt_id}/labels/production/history")["data"]
    current = next((h["prompt_version_id"] for h in history if h["current"]), None)
    version_id = next(
        (h["prompt_version_id"] for h in history if h["prompt_version_id"] != current), None
    )
    if version_id is None:
        say("  production served no other version: nothing to roll back to")
        return None
    try:
        admin.request(
            "PUT", f"/prompts/{prompt_id}/labels/production", json={"prompt_version_id": version_id}
        )
    except APIClientError as exc:
        if exc.status_code != 409:
            raise
        say(f"  PUT .../labels/production refused (409): {exc.message.split(':')[0]}")
    else:
        raise RuntimeError("production accepted a plain PUT: it should be a protected label")
    reason = "demo: a support ticket says the current version misnames a capital"
    out = admin.request(
        "POST",
        f"/prompts/{prompt_id}/labels/production/rollback",
        json={"prompt_version_id": version_id, "reason": reason},
    )
    say(
        f"  emergency rollback by the Admin: production v{out['version']} (was "
        f"{out['previous_version_id']}), reason audited: {out['reason']!r}"
    )
    return {
        "from": out["previous_version_id"],
        "to": out["prompt_version_id"],
        "reason": out["reason"],
    }


def run_rollout_demo(
    api_url: str, admin_key: str, *, say: Say, cfg: RolloutDemoSettings | None = None
) -> dict[str, Any]:
    """Run the scenario; returns a summary (deployment ids, statuses, reasons, timings)."""
    cfg = cfg or RolloutDemoSettings()
    summary: dict[str, Any] = {"versions": {}, "deployments": {}}
    with PromptOpsClient(api_url, api_key=admin_key) as admin:
        project = admin.ensure_project("rollout-demo", "Demo: approvals and canary rollouts")
        prompt = admin.ensure_prompt(project["id"], "capital")
        dataset = admin.ensure_dataset(
            project["id"],
            "capitals",
            [
                {"id": c, "input": {"country": c}, "expected": f"The capital of {c} is {k}."}
                for c, k in CAPITALS
            ],
            "generation",
        )
        admin.request(
            "PUT",
            f"/projects/{project['id']}/approval_policy",
            json={
                "required_approvals": 1,
                "golden_dataset_id": dataset["id"],
                "eval_metric": "token_f1",
                "min_eval_score": cfg.min_eval_score,
                "deadline_hours": 72,
                "reminder_hours": 24,
            },
        )
        reviewer_key = _ensure_reviewer_key(admin)
        plan = {
            "steps": list(cfg.steps),
            "bake_time_s": cfg.bake_s,
            "check_interval_s": cfg.check_interval_s,
            "min_samples": cfg.min_samples,
            "max_error_rate_increase": 0.05,
            "max_feedback_drop": cfg.max_feedback_drop,
            "min_eval_score": cfg.min_eval_score,
        }

        def client() -> PromptOpsClient:
            return PromptOpsClient(api_url, api_key=admin_key)

        with PromptOpsClient(api_url, api_key=reviewer_key) as reviewer:
            for name, body in VERSIONS.items():
                # A fresh version each run (notes differ), so every run tells the whole story.
                version = admin.request(
                    "POST",
                    f"/prompts/{prompt['id']}/versions",
                    json={
                        "body": body,
                        "variables": {"country": "str"},
                        "decoding": {"max_tokens": 24, "temperature": 0},
                        "notes": f"{name} ({uuid.uuid4().hex[:6]})",
                    },
                )
                summary["versions"][name] = version["id"]
                say(f"{name}: version {version['version']} {version['id']} (Draft)")
                approval = _approve(admin, reviewer, version["id"], cfg.timeout_s, say)
                if approval["status"] != "Approved":
                    raise RuntimeError(
                        f"{name} was not approved: {approval['status']} {approval.get('reason')}"
                    )
                labels = admin.request("GET", f"/prompts/{prompt['id']}/labels")["data"]
                serving = any(lab["name"] == "production" for lab in labels)
                # Before the first promotion nothing serves prod: no users yet.
                traffic = Traffic(
                    client,
                    project["id"],
                    "capital",
                    cfg.traffic_threads if serving else 0,
                    cfg.subjects,
                    sabotage_canary=0.9 if name == "v3" else 0.0,
                )
                if name == "v3":
                    say(
                        "  injecting a regression: simulated users now thumbs-down 90% of "
                        "canary answers"
                    )
                t0 = time.monotonic()
                traffic.start()
                try:
                    final = _deploy(admin, project["id"], version["id"], plan, cfg.timeout_s, say)
                finally:
                    traffic.stop()
                elapsed = time.monotonic() - t0
                say(
                    f"  traffic: {traffic.requests} requests {traffic.arms}, "
                    f"{traffic.errors} errors, {elapsed:.0f}s"
                )
                summary["deployments"][name] = {
                    "id": final["id"],
                    "status": final["status"],
                    "reason": final["reason"],
                    "seconds": round(elapsed, 1),
                    "requests": traffic.requests,
                    "arms": traffic.arms,
                    "workflow_id": final["workflow_id"],
                }
        say("The protected production label: an Admin's emergency rollback")
        summary["emergency_rollback"] = _emergency_rollback(admin, prompt["id"], say)
        labels = admin.request("GET", f"/prompts/{prompt['id']}/labels")["data"]
        production = next((lab for lab in labels if lab["name"] == "production"), None)
        summary["production_version_id"] = production and production["prompt_version_id"]
    return summary
