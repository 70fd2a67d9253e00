"""The import contracts of ``pyproject.toml`` break when they should.

``lint-imports`` in CI proves the code keeps them; these tests prove they would catch a
violation, so a loosened contract cannot pass unnoticed (with ``allow_indirect_imports = true``
a workflow importing the model gateway kept every contract). Each case copies the packages and
``pyproject.toml`` into a temporary directory, appends one forbidden import to one module and
runs ``lint-imports`` on the copy for one contract (by its ``id``): ~0.3 s a case.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("promptops", "activities", "workflows", "workers", "api")


def lint_imports() -> str:
    """The ``lint-imports`` of this interpreter's environment (a dev dependency)."""
    found = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert found, "lint-imports not found next to the interpreter: install the dev extra"
    return found


def copy_project(dest: Path) -> Path:
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package, dest / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(ROOT / "pyproject.toml", dest / "pyproject.toml")
    return dest


def run(project: Path, contract: str | None = None) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` on ``project`` (every contract, or only ``contract``)."""
    args = [lint_imports(), "--no-cache", "--no-logo"]
    if contract:
        args += ["--contract", contract]
    # The copy comes first on the path, before the editable install of the real tree.
    env = {**os.environ, "PYTHONPATH": str(project)}
    return subprocess.run(
        args, cwd=project, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_the_project_keeps_every_contract(tmp_path: Path) -> None:
    result = run(copy_project(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


#: (contract id, module appended to, forbidden import): one violation each contract must catch.
VIOLATIONS = [
    # The two imports the issue names: a workflow importing the gateway or an activity
    # implementation (each also reaches litellm and aiohttp indirectly).
    (
        "workflows",
        "workflows/evaluation/workflow.py",
        "from promptops.llm.gateway import LLMGateway",
    ),
    (
        "workflows",
        "workflows/evaluation/workflow.py",
        "from activities.evaluation.activities import EvaluationActivities",
    ),
    ("workflows", "workflows/canary/guards.py", "import httpx"),
    # Indirect: workflows import activity types, so I/O in a types module reaches them.
    ("workflows", "activities/deployment/types.py", "import sqlalchemy"),
    ("workflows", "activities/approval/declarations.py", "from promptops.db import session"),
    (
        "implementations",
        "activities/evaluation/scoring.py",
        "from activities.llm.activities import LLMActivities",
    ),
    ("api", "api/deps.py", "from activities.llm.activities import LLMActivities"),
    ("layers", "activities/errors.py", "import workflows.evaluation.types"),
    ("layers", "promptops/errors.py", "import activities.errors"),
    ("promptops", "promptops/settings.py", "from promptops.governance import security"),
    ("promptops", "promptops/db/session.py", "from promptops.llm import catalog"),
    ("promptops", "promptops/telemetry/tracing.py", "from promptops import embeddings"),
]


@pytest.mark.parametrize(
    ("contract", "module", "line"),
    VIOLATIONS,
    ids=[f"{c}:{m}:{line.split()[1]}" for c, m, line in VIOLATIONS],
)
def test_a_forbidden_import_breaks_its_contract(
    tmp_path: Path, contract: str, module: str, line: str
) -> None:
    project = copy_project(tmp_path)  # keeps every contract (the test above)
    with (project / module).open("a") as fh:
        fh.write(f"\n{line}  # a deliberate violation\n")
    result = run(project, contract)
    assert result.returncode == 1, f"{module}: `{line}` kept contract {contract}:\n{result.stdout}"
    assert "BROKEN" in result.stdout


def test_a_new_promptops_module_must_be_placed(tmp_path: Path) -> None:
    """The promptops layers are exhaustive: a new top-level module needs its place."""
    project = copy_project(tmp_path)
    (project / "promptops" / "unplaced.py").write_text('"""A module no layer names."""\n')
    result = run(project, "promptops")
    assert result.returncode == 1 and "unplaced" in result.stdout, result.stdout
