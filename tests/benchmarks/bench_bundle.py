"""The web app's production bundle: bytes raw and gzip, what the first page load fetches.

    python -m tests.benchmarks.bench_bundle [--no-build] [--json]

Builds ``ui/`` with ``vite build`` (the same build ``deploy/bootstrap.sh`` runs, without the
``tsc`` type check), then measures ``ui/dist``:

- **initial load**: what ``index.html`` makes the browser fetch before the sign-in page can
  render: the entry script, every chunk it imports statically (followed through the ``import``
  statements of the built files), the stylesheets, and the Latin ``woff2`` font files (the
  ``@fontsource`` CSS only makes the browser fetch a subset's file when a glyph of that subset is
  on the page; an English page uses the Latin subset).
- **lazy chunks**: JavaScript the app loads with ``import()`` when a page needs it (Monaco, its
  web workers, route chunks).
- **total**: everything in ``ui/dist``.

gzip is :func:`gzip.compress` at level 6 (the default of nginx's ``gzip_comp_level`` is 1, of
most CDNs 6; level 9 saves ~1 % more on JavaScript).

Baseline, built in the same run with the same Vite and React: a bare React app that renders one
line (``react`` + ``react-dom/client``). The headline ``initial gzip / bare React gzip`` says how
much the app's first load weighs beyond the framework it cannot do without.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from tests.benchmarks._common import ROOT, machine

UI = ROOT / "ui"
VITE = UI / "node_modules" / ".bin" / "vite"
_IMPORT = re.compile(r"""(?:import|from)\s*["'](\./[^"']+\.js)["']""")
_HTML_ASSET = re.compile(r"""(?:src|href)="/(assets/[^"]+)\"""")

_BARE_HTML = """<!doctype html>
<html lang="en"><head><meta charset="UTF-8" /><title>bare</title></head>
<body><div id="root"></div><script type="module" src="./main.js"></script></body></html>
"""
_BARE_MAIN = """import { createElement } from "react";
import { createRoot } from "react-dom/client";
createRoot(document.getElementById("root")).render(createElement("p", null, "Hello"));
"""


def gz(data: bytes) -> int:
    return len(gzip.compress(data, compresslevel=6, mtime=0))


def _sizes(paths: list[Path]) -> dict[str, int]:
    raw = sum(p.stat().st_size for p in paths)
    return {"files": len(paths), "bytes": raw, "gzip_bytes": sum(gz(p.read_bytes()) for p in paths)}


def static_closure(dist: Path) -> list[Path]:
    """Files the browser fetches for ``index.html`` before the app renders.

    Returns paths under ``dist``: the HTML's scripts and stylesheets, the chunks the entry
    imports statically (transitively), and the Latin woff2 fonts the stylesheets reference."""
    html = (dist / "index.html").read_text()
    todo = [dist / m for m in _HTML_ASSET.findall(html)]
    seen: list[Path] = []
    while todo:
        path = todo.pop()
        if path in seen or not path.exists():
            continue
        seen.append(path)
        if path.suffix == ".js":
            # A static import of a sibling chunk; `import("./x.js")` (lazy) does not match
            # because the regex wants `import "` or `from "`.
            todo += [path.parent / rel for rel in _IMPORT.findall(path.read_text())]
        elif path.suffix == ".css":
            for font in re.findall(
                r"url\(/?(assets/inter-latin-\d+-normal-[^)]+\.woff2)\)", path.read_text()
            ):
                todo.append(dist / font)
    return sorted(seen)


def measure(dist: Path) -> dict[str, Any]:
    every = sorted(p for p in dist.rglob("*") if p.is_file())
    initial = static_closure(dist)
    js = [p for p in every if p.suffix == ".js"]
    lazy = [p for p in js if p not in initial]
    biggest = sorted(lazy, key=lambda p: p.stat().st_size, reverse=True)[:5]
    return {
        "initial": _sizes(initial),
        "initial_files": [str(p.relative_to(dist)) for p in initial],
        "initial_js": _sizes([p for p in initial if p.suffix == ".js"]),
        "lazy_js": _sizes(lazy),
        "largest_lazy": [
            {"file": p.name, "bytes": p.stat().st_size, "gzip_bytes": gz(p.read_bytes())}
            for p in biggest
        ],
        "total": _sizes(every),
    }


def build_app() -> None:
    subprocess.run([str(VITE), "build", "--logLevel", "warn"], cwd=UI, check=True)


def build_bare() -> dict[str, Any]:
    """Build the one-line React app with the app's own Vite and node_modules; measure its JS."""
    # Under ui/ so that Node resolves react from ui/node_modules.
    with tempfile.TemporaryDirectory(dir=UI, prefix=".bench-bare-") as tmp:
        src = Path(tmp)
        (src / "index.html").write_text(_BARE_HTML)
        (src / "main.js").write_text(_BARE_MAIN)
        # Vite's defaults, not the app's config (which lives one directory up).
        (src / "vite.config.mjs").write_text("export default {};\n")
        out = src / "dist"
        subprocess.run(
            [str(VITE), "build", "--logLevel", "warn", "--outDir", str(out)],
            cwd=src,
            check=True,
        )
        return _sizes(sorted(out.rglob("*.js")))


def kib(n: int) -> str:
    return f"{n / 1024:.1f} KiB"


def _line(label: str, s: dict[str, int]) -> str:
    return f"{label:<13}: {kib(s['bytes'])} raw, {kib(s['gzip_bytes'])} gzip, {s['files']} files"


def report(r: dict[str, Any]) -> str:
    a, b = r["app"], r["bare_react"]
    lines = [
        f"# web app bundle ({r['machine']['date']})",
        _line("initial load", a["initial"])
        + f" (JS {kib(a['initial_js']['gzip_bytes'])} gzip; the rest CSS + Latin fonts)",
        _line("lazy JS", a["lazy_js"]),
        _line("total dist", a["total"]),
        _line("bare React", b) + " (baseline, same run)",
        f"ratio initial JS gzip / bare React gzip: {r['ratio_initial_js_to_bare']:.2f}",
        "largest lazy chunks: "
        + ", ".join(f"{c['file']} {kib(c['gzip_bytes'])} gzip" for c in a["largest_lazy"]),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--no-build", action="store_true", help="measure ui/dist as it is")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    args = p.parse_args(argv)
    if not VITE.exists():
        print("ui/node_modules is missing: run bash deploy/bootstrap.sh first", file=sys.stderr)
        return 2
    info = machine()
    if not args.no_build:
        build_app()
    app = measure(UI / "dist")
    bare = build_bare()
    result = {
        "benchmark": "bundle",
        "machine": info,
        "app": app,
        "bare_react": bare,
        "ratio_initial_js_to_bare": app["initial_js"]["gzip_bytes"] / bare["gzip_bytes"],
    }
    print(json.dumps(result, indent=2) if args.json else report(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
