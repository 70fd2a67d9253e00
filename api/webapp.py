"""Serving the web app (``ui/``, built by ``npm run build`` into ``ui/dist``) at ``/``.

Files under ``/assets`` are Vite's hashed bundles (cached for a year, they never change under a
name); any other GET outside the API answers ``index.html``, so the app's own routes
(``/prompts/...``) survive a reload. Paths of the API (``/api``, ``/v1``) never fall back to the
app: an unknown API path stays a JSON 404. Without a build (a Python-only install) ``/`` says how
to build it.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

from api.errors import NotFound

#: Where ``npm run build`` in ``ui/`` writes the app (``PROMPTOPS_UI_DIR`` overrides it).
DEFAULT_UI_DIR = Path(__file__).resolve().parents[1] / "ui" / "dist"
#: Path prefixes that belong to the API, never to the app.
API_PREFIXES = ("api/", "v1/", "_swagger/")

NOT_BUILT = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>PromptOps</title></head><body><main><h1>PromptOps</h1>
<p>The web app is not built. Run <code>npm ci &amp;&amp; npm run build</code> in <code>ui/</code>
(the README's setup does), or use the API at <a href="/docs">/docs</a>.</p></main></body></html>
"""


def install_webapp(app: FastAPI, ui_dir: Path | None) -> None:
    """Serve the built app from ``ui_dir`` (default :data:`DEFAULT_UI_DIR`) at ``/``. Call it
    after every API route is registered: the fallback route matches any remaining path."""
    root = (ui_dir or DEFAULT_UI_DIR).resolve()
    index = root / "index.html"
    if (root / "assets").is_dir():
        app.mount("/assets", StaticFiles(directory=root / "assets"), name="ui-assets")

    @app.get("/{path:path}", include_in_schema=False)
    async def webapp(path: str, request: Request) -> Response:
        if path.startswith(API_PREFIXES) or path in ("api", "v1"):
            raise NotFound(f"no route {request.url.path}")
        if not index.is_file():
            return HTMLResponse(NOT_BUILT)
        candidate = (root / path).resolve()
        if path and candidate.is_file() and candidate.is_relative_to(root):
            return FileResponse(candidate)
        return FileResponse(index, headers={"Cache-Control": "no-cache"})
