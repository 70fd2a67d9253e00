"""The playground's first streamed token: from the API sending it to the browser showing it.

    python -m tests.benchmarks.bench_playground_first_token [--runs 20] [--max-tokens 8] [--json]

A real stack (``promptops up --detach`` in a temp home on free ports: Postgres, Temporal, the
worker, the embedded SmolLM2 model) whose API is this module's ``--serve-instrumented``: the
same app (``api.main.create_app``, uvicorn, no access log, as ``promptops up`` starts it)
inside an outermost ASGI wrapper that takes the wall clock (``time.time()``, epoch ms) just
before it hands each ``event: delta`` body of a ``POST /api/v1/generate`` SSE answer to the
server; ``GET /_bench/sse`` returns those times per stream. Nothing else differs.

Headless Debian Chromium (Playwright, as the browser tests drive it) opens the playground on a
prompt version with one variable, then alternates, ``--runs`` times each:

- **app**: fill the variable (different every run, so no cache answers), click Run, wait for
  the answer to end. A MutationObserver (installed before the app loads) takes
  ``performance.timeOrigin + performance.now()`` when the answer element first holds text:
  the first token is in the DOM. The app's own hook (``ui/src/features/playground/timings.ts``,
  on when ``window.__promptopsStreamTimings`` exists) adds when the delta was parsed from the
  body and the start of the animation frame after React committed it (the paint).
- **baseline**: the same request from the same page by a bare ``fetch`` reader without React:
  on the first ``delta`` event it sets a plain ``div``'s text; the same MutationObserver
  timing. What the browser, the network stack and the clock comparison cost on their own.

Both clocks are this machine's wall clock, so ``DOM time - sent time`` is the delay the user
sees after the API sent the token. Reported: p50/p95 (ms) of the first token's delay for the
app (in the DOM, parsed, painted) and the baseline, and ``app / baseline`` of the p50s.
Target (issue 11): the app's first token in the DOM within 50 ms of the API sending it.
Nothing asserts on time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from tests.benchmarks._common import ROOT, machine
from tests.browser.conftest import CHROMIUM_ARGS
from tests.support.stack import cli, stack_env

TARGET_MS = 50.0
MODEL = "smollm2-135m"

#: Installed before the app loads: the app's timing hook on, and the first time the answer
#: (or the baseline's div) holds text, taken in a MutationObserver callback.
INIT_SCRIPT = """
window.__promptopsStreamTimings = [];
window.__firstDom = null;
new MutationObserver(() => {
  if (window.__firstDom !== null) return;
  const el = document.querySelector('[data-testid="answer"][aria-busy="true"], #bench-baseline');
  if (el && el.textContent) {
    window.__firstDom = {at: performance.timeOrigin + performance.now(), text: el.textContent};
  }
}).observe(document, {subtree: true, childList: true, characterData: true});
"""

#: The baseline: the same request read by a bare fetch reader; the first delta's text goes
#: into a plain div (the MutationObserver above times it). Reads to the end, as the app does.
BASELINE_SCRIPT = """
async ([key, body]) => {
  window.__firstDom = null;
  let div = document.getElementById('bench-baseline');
  if (div) div.remove();
  div = document.createElement('div');
  div.id = 'bench-baseline';
  document.body.appendChild(div);
  const response = await fetch('/api/v1/generate', {
    method: 'POST',
    headers: {Authorization: 'Bearer ' + key, 'Content-Type': 'application/json',
              Accept: 'text/event-stream'},
    body: JSON.stringify(body),
  });
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  let shown = false;
  let received = null;
  for (;;) {
    const {value, done} = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, {stream: true});
    if (!shown) {
      const head = 'event: delta\\ndata: ';
      const start = buffer.indexOf(head);
      const end = start === -1 ? -1 : buffer.indexOf('\\n\\n', start);
      if (end !== -1) {
        received = performance.timeOrigin + performance.now();
        div.textContent = JSON.parse(buffer.slice(start + head.length, end)).text;
        shown = true;
      }
    }
  }
  await new Promise((resolve) => setTimeout(resolve, 0));
  const dom = window.__firstDom;
  div.remove();  // so the observer cannot take it for the app's answer
  return {received, dom};
}
"""


def serve_instrumented(host: str, port: int) -> None:
    """The API app inside a wrapper that records when each SSE ``delta`` body of
    ``POST /api/v1/generate`` is handed to the server (``GET /_bench/sse``: a list of streams,
    each ``{"sent": [epoch ms, ...]}``, oldest first)."""
    import uvicorn

    from api.main import create_app

    app = create_app()
    streams: list[dict[str, Any]] = []

    async def outer(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == "/_bench/sse":
            body = json.dumps(streams).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        if scope["type"] != "http" or scope["path"] != "/api/v1/generate":
            await app(scope, receive, send)
            return
        record: dict[str, Any] | None = None

        async def timed_send(message: Any) -> None:
            nonlocal record
            if message["type"] == "http.response.start":
                headers = dict(message.get("headers") or [])
                if headers.get(b"content-type", b"").startswith(b"text/event-stream"):
                    record = {"sent": []}
                    streams.append(record)
            elif (
                record is not None
                and message["type"] == "http.response.body"
                and message.get("body", b"").startswith(b"event: delta")
            ):
                record["sent"].append(time.time() * 1000.0)
            await send(message)

        await app(scope, receive, timed_send)

    uvicorn.run(outer, host=host, port=port, access_log=False, log_level="warning")


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of ``values``."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100.0 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def summary(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50_ms": round(statistics.median(values), 2) if values else float("nan"),
        "p95_ms": round(percentile(values, 95), 2),
        "min_ms": round(min(values), 2) if values else float("nan"),
        "max_ms": round(max(values), 2) if values else float("nan"),
    }


def log(quiet: bool, *parts: Any) -> None:
    if not quiet:
        print(*parts, file=sys.stderr, flush=True)


async def seed(url: str, key: str, max_tokens: int) -> dict[str, str]:
    import httpx

    async with httpx.AsyncClient(
        base_url=url + "/api/v1", headers={"Authorization": f"Bearer {key}"}, timeout=60
    ) as api:
        project = await api.post("/projects", json={"name": f"bench-{uuid.uuid4().hex[:6]}"})
        project.raise_for_status()
        project_id = project.json()["id"]
        prompt = await api.post(f"/projects/{project_id}/prompts", json={"name": "first-token"})
        prompt.raise_for_status()
        version = await api.post(
            f"/prompts/{prompt.json()['id']}/versions",
            json={
                "body": "Write a short greeting for {{ name }}.",
                "variables": {"name": "str"},
                "model": MODEL,
                "decoding": {"max_tokens": max_tokens, "temperature": 0},
            },
        )
        version.raise_for_status()
        return {
            "project_id": project_id,
            "prompt_id": prompt.json()["id"],
            "version_id": version.json()["id"],
        }


async def sent_times(url: str) -> list[dict[str, Any]]:
    import httpx

    async with httpx.AsyncClient(timeout=30) as client:
        answer = await client.get(url + "/_bench/sse")
        answer.raise_for_status()
        streams: list[dict[str, Any]] = answer.json()
        return streams


async def measure(url: str, key: str, args: argparse.Namespace) -> dict[str, Any]:
    from playwright.async_api import async_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("chromium is not installed (bash deploy/bootstrap.sh --dev)")
    data = await seed(url, key, args.max_tokens)
    app_dom: list[float] = []
    app_received: list[float] = []
    app_frame: list[float] = []
    base_dom: list[float] = []
    base_received: list[float] = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 860})
            await page.add_init_script(INIT_SCRIPT)
            await page.goto(url + "/")
            await page.get_by_label("API key").fill(key)
            await page.get_by_role("button", name="Sign in").click()
            await page.get_by_role("navigation", name="Main").wait_for()
            await page.goto(
                f"{url}/playground?project={data['project_id']}&prompt={data['prompt_id']}"
                f"&target=v:{data['version_id']}"
            )
            field = page.get_by_label("name (str)")
            await field.wait_for()
            for i in range(args.warmup + args.runs):
                warm = i < args.warmup
                # app
                before = len(await sent_times(url))
                await page.evaluate(
                    "() => { window.__promptopsStreamTimings.length = 0;"
                    " window.__firstDom = null; }"
                )
                await field.fill(f"app run {i} {uuid.uuid4().hex[:6]}")
                await page.get_by_role("button", name="Run", exact=True).click()
                await page.wait_for_function(
                    "() => { const a = document.querySelector('[data-testid=answer]');"
                    " return window.__firstDom !== null && a"
                    " && a.getAttribute('aria-busy') === 'false'; }",
                    timeout=args.timeout * 1000,
                )
                await page.get_by_label("Run figures").wait_for(timeout=args.timeout * 1000)
                dom = await page.evaluate("window.__firstDom")
                timings = await page.evaluate("window.__promptopsStreamTimings")
                streams = await sent_times(url)
                if len(streams) != before + 1:
                    raise RuntimeError(f"expected one new stream, got {len(streams) - before}")
                sent = streams[-1]["sent"]
                first = next((t for t in timings if t["seq"] == 1), None)
                if sent and dom and first and not warm:
                    app_dom.append(dom["at"] - sent[0])
                    app_received.append(first["received"] - sent[0])
                    if first.get("frame") is not None:
                        app_frame.append(first["frame"] - sent[0])
                # baseline
                body = {
                    "prompt_version_id": data["version_id"],
                    "variables": {"name": f"baseline run {i} {uuid.uuid4().hex[:6]}"},
                    "stream": True,
                }
                result = await page.evaluate(BASELINE_SCRIPT, [key, body])
                streams = await sent_times(url)
                sent = streams[-1]["sent"]
                if sent and result["dom"] and not warm:
                    base_dom.append(result["dom"]["at"] - sent[0])
                    base_received.append(result["received"] - sent[0])
                log(
                    args.quiet,
                    f"{'warm-up' if warm else 'run'} {i + 1 - (0 if warm else args.warmup)}: "
                    f"app {app_dom[-1] if app_dom and not warm else float('nan'):.2f} ms, "
                    f"baseline {base_dom[-1] if base_dom and not warm else float('nan'):.2f} ms",
                )
        finally:
            await browser.close()
    app = summary(app_dom)
    base = summary(base_dom)
    return {
        "machine": machine(),
        "runs": args.runs,
        "max_tokens": args.max_tokens,
        "target_ms": TARGET_MS,
        "app_first_token_in_dom": app,
        "app_first_token_parsed": summary(app_received),
        "app_first_token_painted": summary(app_frame),
        "baseline_first_token_in_dom": base,
        "baseline_first_token_parsed": summary(base_received),
        "ratio_app_over_baseline_p50": round(app["p50_ms"] / base["p50_ms"], 2)
        if base["p50_ms"]
        else float("nan"),
        "within_target_p95": app["p95_ms"] <= TARGET_MS,
    }


def report(result: dict[str, Any]) -> None:
    print(f"machine: {result['machine']}")
    print(f"runs: {result['runs']} per path (max_tokens {result['max_tokens']})")
    print("first token, API sent -> browser (ms):")
    for name in (
        "app_first_token_in_dom",
        "app_first_token_parsed",
        "app_first_token_painted",
        "baseline_first_token_in_dom",
        "baseline_first_token_parsed",
    ):
        s = result[name]
        print(
            f"  {name:30} p50 {s['p50_ms']:7.2f}  p95 {s['p95_ms']:7.2f}"
            f"  (min {s['min_ms']:.2f}, max {s['max_ms']:.2f}, n {s['n']})"
        )
    print(f"ratio app / baseline (p50, in the DOM): {result['ratio_app_over_baseline_p50']}")
    print(
        f"target: in the DOM within {result['target_ms']:.0f} ms (p95): "
        f"{'met' if result['within_target_p95'] else 'not met'}"
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--runs", type=int, default=20, help="measured runs per path")
    p.add_argument("--warmup", type=int, default=2, help="unmeasured runs per path first")
    p.add_argument("--max-tokens", type=int, default=8, help="answer length (tokens)")
    p.add_argument("--timeout", type=float, default=180, help="seconds one answer may take")
    p.add_argument("--keep-home", action="store_true", help="keep the stack's temp home")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.add_argument("--serve-instrumented", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--host", default="127.0.0.1", help=argparse.SUPPRESS)
    p.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.serve_instrumented:
        serve_instrumented(args.host, args.port)
        return 0

    home = Path(tempfile.mkdtemp(prefix="bench-playground-"))
    env = stack_env(home, task_queue=f"bench-playground-{os.getpid()}")
    env["PROMPTOPS_API_COMMAND"] = (
        "{python} -m tests.benchmarks.bench_playground_first_token --serve-instrumented"
        " --host {host} --port {port}"
    )
    log(args.quiet, f"starting the stack in {home} ...")
    up = subprocess.run(
        [*cli(), "up", "--detach"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    try:
        if up.returncode != 0:
            raise SystemExit(f"promptops up failed:\n{up.stdout[-3000:]}\n{up.stderr[-3000:]}")
        state = json.loads((home / "state.json").read_text())
        url = state["urls"]["web_app"].rstrip("/")
        key = (home / "admin.key").read_text().strip()
        result = asyncio.run(measure(url, key, args))
    finally:
        subprocess.run(
            [*cli(), "down"], env=env, cwd=ROOT, capture_output=True, timeout=120, check=False
        )
        if not args.keep_home:
            shutil.rmtree(home, ignore_errors=True)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        report(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
