"""Write the API's OpenAPI document (what ``/openapi.json`` serves) to a file, for the web
app's generated TypeScript client: ``python -m api.openapi ui/src/api/openapi.json`` (then
``npm run gen:api`` in ``ui/``). Keys are sorted so the file only changes when the API does;
a test fails when the committed copy is stale."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from api.main import create_app


def openapi_document() -> dict[str, Any]:
    """The app's OpenAPI 3.1 document."""
    schema: dict[str, Any] = create_app().openapi()
    return schema


def render() -> str:
    """The document as the committed file holds it: sorted keys, two-space indent."""
    return json.dumps(openapi_document(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m api.openapi OUTPUT.json", file=sys.stderr)
        return 2
    Path(args[0]).write_text(render())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
