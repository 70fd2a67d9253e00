"""The web app's API client is generated from the API's OpenAPI document: the committed document
(``ui/src/api/openapi.json``) and types (``ui/src/api/schema.d.ts``) must be what the API and
openapi-typescript produce today, or CI fails (regenerate: ``python -m api.openapi
ui/src/api/openapi.json && npm run --prefix ui gen:api``)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from api.openapi import render

UI = Path(__file__).resolve().parents[2] / "ui"
REGENERATE = "python -m api.openapi ui/src/api/openapi.json && npm run --prefix ui gen:api"


def test_the_committed_openapi_document_is_the_apis() -> None:
    committed = (UI / "src" / "api" / "openapi.json").read_text()
    assert committed == render(), f"ui/src/api/openapi.json is stale: run {REGENERATE}"


def test_the_committed_types_are_generated_from_it(tmp_path: Path) -> None:
    generator = UI / "node_modules" / ".bin" / "openapi-typescript"
    if shutil.which("node") is None or not generator.exists():
        pytest.skip("node or ui/node_modules missing (bash deploy/bootstrap.sh installs them)")
    out = tmp_path / "schema.d.ts"
    subprocess.run(
        [str(generator), str(UI / "src" / "api" / "openapi.json"), "-o", str(out)],
        check=True,
        capture_output=True,
        cwd=UI,
        timeout=120,
    )
    committed = (UI / "src" / "api" / "schema.d.ts").read_text()
    assert committed == out.read_text(), f"ui/src/api/schema.d.ts is stale: run {REGENERATE}"
