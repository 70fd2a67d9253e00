"""The dashboard with a million runs (issue 11, Performance).

```
python -m tests.benchmarks.bench_dashboard [--runs 1000000] [--calls 100] [--baseline-calls 5]
    [--page-loads 5] [--no-page] [--keep-tmp] [--json]
```

Everything on this machine, under a temp dir: the embedded Postgres (``start_postgres``,
migrated to head) and the PromptOps API (one uvicorn worker, as ``promptops up`` starts it,
serving the built web app from ``ui/dist``). No Temporal: the fold the schedule would run is
called here directly (``run_rollups_fold()``), and timed.

1. Data: an organization with an Admin key, 4 projects x 3 prompts x 3 versions made through
   the API; then ``--runs`` runs inserted in one ``INSERT ... SELECT FROM generate_series`` over
   the last 30 days (6 models, 1/10 without a prompt version, 7 % failures, 15 % cache hits,
   lognormal latencies), which the triggers turn into as many delta rows; then the fold, then
   ``VACUUM ANALYZE``.
2. Endpoint: for each filter combination, ``GET /api/v1/dashboards/metrics`` ``--calls`` times
   (3 warm-ups) over HTTP with keep-alive: P50/P95/max; and the same figures by the plain
   ``GROUP BY`` over ``runs`` of :mod:`tests.support.dashboard_baseline` (in the benchmark
   process, no HTTP: the baseline is spared the API's cost) ``--baseline-calls`` times.
   Ratio = baseline P50 / endpoint P50, same run. The endpoint's run counts are checked equal
   to the baseline's and its p95 within the sketch's 2 %.
3. Page: headless Debian Chromium (Playwright, ``executable_path``), a fresh browser context
   per load (cold HTTP cache), the key put in ``sessionStorage`` before the app starts, then
   ``/dashboard?window=30d``: time from navigation start (``performance.now()`` in the page)
   until the figure cards show the run count and the filter lists are filled and enabled.

Nothing asserts on time; targets: endpoint P95 < 100 ms, page < 2 s.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import math
import os
import shutil
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from tests.benchmarks._common import ROOT, child_env, free_port, machine, median
from tests.benchmarks.bench_gateway import Proc, model_list

MODELS = [
    "gpt-4o-mini",
    "gpt-4o",
    "claude-3-5-haiku",
    "claude-3-5-sonnet",
    "mistral-small",
    "llama-3-70b",
]


def log(*a: Any) -> None:
    print(*a, file=sys.stderr, flush=True)


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


# The runs, in one statement: every run picks a project (and a version of it, or none), a
# model, a time in the last 30 days, an outcome and a latency from its ordinal.
LOAD_SQL = """
INSERT INTO runs (id, project_id, prompt_version_id, source, model, variables, rendered_input,
                  success, tokens_in, tokens_out, cost_usd, latency_ms, cache_hit, created_at)
SELECT gen_random_uuid(), k.project_id, CASE WHEN i % 10 = 0 THEN NULL ELSE k.version_id END,
       'execute', (CAST(:models AS text[]))[1 + (i * 7 + i / 13) % :n_models],
       '{}', '[]', random() > 0.07, 20 + (random() * 900)::int, (random() * 400)::int,
       (random() * 0.002)::numeric(18, 8),
       CASE WHEN i % 7 = 0 THEN 1 + random() * 3
            ELSE exp(ln(700) + 0.7 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()))
       END,
       i % 7 = 0,
       :now - random() * interval '30 days'
FROM generate_series(1, :n) AS i
JOIN (SELECT row_number() OVER () - 1 AS slot, project_id, version_id
      FROM unnest(CAST(:projects AS uuid[]), CAST(:versions AS uuid[]))
           AS u(project_id, version_id)) k
  ON k.slot = i % :keys
"""


class Bench:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.pgdata = tmp / "pgdata"
        self.secret = base64.urlsafe_b64encode(os.urandom(32)).decode()
        self.enc = base64.urlsafe_b64encode(os.urandom(32)).decode()
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.db_url = ""
        self.api: Proc | None = None

    def start(self) -> None:
        from promptops.db.migrate import upgrade_head
        from promptops.devstack.postgres import start_postgres

        os.chmod(self.tmp, 0o755)  # pgserver runs postgres as user "pgserver" under root
        self.db_url = start_postgres(self.pgdata, database="bench")
        upgrade_head(self.db_url)
        import yaml

        models = self.tmp / "models.yaml"  # nothing is called: a stub model the API can load
        models.write_text(yaml.safe_dump(model_list("http://127.0.0.1:9/v1")))
        self.api = Proc(
            "api",
            [
                sys.executable,
                "-m",
                "uvicorn",
                "api.main:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--no-access-log",
            ],
            child_env(
                DATABASE_URL=self.db_url,
                PROMPTOPS_HOME=str(self.tmp / "home"),
                PROMPTOPS_MODELS=str(models),
                PROMPTOPS_DEFAULT_MODEL="stub",
                PROMPTOPS_SECRET_KEY=self.secret,
                PROMPTOPS_ENCRYPTION_KEY=self.enc,
            ),
            self.tmp / "api.log",
            f"{self.base}/healthz",
        ).start()
        self.api.wait_ready()

    def stop(self) -> None:
        if self.api is not None:
            self.api.stop()
        if self.db_url:
            from promptops.devstack.postgres import stop_postgres

            stop_postgres(self.pgdata)


async def admin_key(bench: Bench) -> tuple[str, uuid.UUID]:
    from promptops.db.models import Role
    from promptops.db.session import get_session_factory
    from promptops.governance.identity import bootstrap_admin

    async with get_session_factory(bench.db_url)() as session:
        issued = await bootstrap_admin(
            session,
            base64.urlsafe_b64decode(bench.secret),
            organization="bench",
            email="bench@promptops.local",
            role=Role.ADMIN,
            key_name="bench",
        )
        await session.commit()
    return issued.key, issued.organization_id


async def make_data(bench: Bench, key: str, n: int) -> dict[str, Any]:
    from sqlalchemy import text

    from promptops.db.session import get_session_factory

    projects, versions, keys = [], [], []
    async with httpx.AsyncClient(
        base_url=bench.base + "/api/v1", headers={"Authorization": f"Bearer {key}"}
    ) as api:
        for p in range(4):
            project = (await api.post("/projects", json={"name": f"team-{p}"})).json()
            projects.append(project)
            for q in range(3):
                prompt = (
                    await api.post(
                        f"/projects/{project['id']}/prompts", json={"name": f"prompt-{q}"}
                    )
                ).json()
                for v in range(3):
                    version = (
                        await api.post(
                            f"/prompts/{prompt['id']}/versions",
                            json={"body": f"v{v} {{{{ x }}}}", "variables": {"x": "str"}},
                        )
                    ).json()
                    versions.append(version["id"])
                    keys.append((project["id"], version["id"]))
    now = datetime.now(UTC)
    t0 = time.perf_counter()
    async with get_session_factory(bench.db_url)() as session:
        await session.execute(
            text(LOAD_SQL),
            {
                "models": MODELS,
                "n_models": len(MODELS),
                "n": n,
                "now": now,
                "projects": [k[0] for k in keys],
                "versions": [k[1] for k in keys],
                "keys": len(keys),
            },
        )
        await session.commit()
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    async with get_session_factory(bench.db_url)() as session:
        moved = await session.scalar(text("SELECT run_rollups_fold()"))
        await session.commit()
    fold_s = time.perf_counter() - t0
    import psycopg

    from promptops.devstack.postgres import conninfo_kwargs

    with psycopg.connect(**conninfo_kwargs(bench.db_url), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE runs")
        conn.execute("VACUUM ANALYZE run_rollups")
        conn.execute("VACUUM ANALYZE run_rollup_deltas")
        count = conn.execute("SELECT count(*) FROM runs").fetchone()
        rollup_rows = conn.execute(
            "SELECT grain, count(*) FROM run_rollups GROUP BY grain ORDER BY grain"
        ).fetchall()
        size = conn.execute(
            "SELECT pg_size_pretty(pg_total_relation_size('runs')), "
            "pg_size_pretty(pg_total_relation_size('run_rollups'))"
        ).fetchone()
    return {
        "runs": int(count[0]) if count else 0,
        "load_s": round(load_s, 1),
        "fold_s": round(fold_s, 1),
        "fold_moved": int(moved or 0),
        "rollup_rows": {g: int(c) for g, c in rollup_rows},
        "runs_size": size[0] if size else "?",
        "rollups_size": size[1] if size else "?",
        "now": now,
        "projects": projects,
        "versions": versions,
    }


def combos(data: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    now: datetime = data["now"]
    hour_end = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    day_end = now.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    p0 = data["projects"][0]["id"]
    return [
        (
            "last 24 h by hour, all groups",
            {"bucket": "hour", "start": hour_end - timedelta(hours=24), "end": hour_end},
        ),
        (
            "last 30 d by day, all groups",
            {"bucket": "day", "start": day_end - timedelta(days=30), "end": day_end},
        ),
        (
            "last 7 d by hour, one project, by model",
            {
                "bucket": "hour",
                "start": hour_end - timedelta(days=7),
                "end": hour_end,
                "project_id": p0,
                "group_by": ["model"],
            },
        ),
        (
            "last 30 d by day, one model, by prompt version",
            {
                "bucket": "day",
                "start": day_end - timedelta(days=30),
                "end": day_end,
                "model": MODELS[1],
                "group_by": ["prompt_version"],
            },
        ),
    ]


async def endpoint_vs_baseline(
    bench: Bench, key: str, org: uuid.UUID, data: dict[str, Any], calls: int, base_calls: int
) -> list[dict[str, Any]]:
    from promptops.db.session import get_session_factory
    from tests.support.dashboard_baseline import baseline

    out = []
    async with httpx.AsyncClient(
        base_url=bench.base + "/api/v1",
        headers={"Authorization": f"Bearer {key}"},
        timeout=60,
        trust_env=False,
    ) as api:
        for name, q in combos(data):
            group_by = q.get("group_by", ["project", "model", "prompt_version"])
            params = {
                **{k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in q.items()},
                "group_by": group_by,
            }
            got: dict[str, Any] = {}
            for _ in range(3):
                r = await api.get("/dashboards/metrics", params=params)
                assert r.status_code == 200, r.text
                got = r.json()
            times = []
            for _ in range(calls):
                t0 = time.perf_counter()
                r = await api.get("/dashboards/metrics", params=params)
                times.append((time.perf_counter() - t0) * 1000)
                assert r.status_code == 200
            base_times = []
            want: dict[str, Any] = {}
            async with get_session_factory(bench.db_url)() as session:
                for _ in range(base_calls):
                    t0 = time.perf_counter()
                    want = await baseline(
                        session,
                        organization_id=org,
                        grain=q["bucket"],
                        start=q["start"],
                        end=q["end"],
                        group_by=group_by,
                        project_id=q.get("project_id"),
                        model=q.get("model"),
                        prompt_version_id=q.get("prompt_version_id"),
                    )
                    base_times.append((time.perf_counter() - t0) * 1000)
            same_runs = got["totals"]["runs"] == want["totals"]["runs"] and len(
                got["groups"]
            ) == len(want["groups"])
            p95_err = abs(got["totals"]["latency_p95_ms"] / want["totals"]["latency_p95_ms"] - 1)
            row = {
                "query": name,
                "runs_counted": got["totals"]["runs"],
                "groups": len(got["groups"]),
                "buckets": len(got["series"]),
                "endpoint_p50_ms": round(median(times), 1),
                "endpoint_p95_ms": round(pct(times, 0.95), 1),
                "endpoint_max_ms": round(max(times), 1),
                "baseline_p50_ms": round(median(base_times), 1),
                "baseline_max_ms": round(max(base_times), 1),
                "ratio": round(median(base_times) / median(times), 1),
                "equal_to_baseline": same_runs,
                "p95_vs_percentile_cont": round(p95_err, 4),
            }
            log(json.dumps(row))
            out.append(row)
    return out


async def page_loads(bench: Bench, key: str, loads: int) -> dict[str, Any]:
    from playwright.async_api import async_playwright

    from tests.browser.conftest import CHROMIUM_ARGS

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None or not (ROOT / "ui" / "dist" / "index.html").exists():
        return {"skipped": "chromium or ui/dist missing"}
    ready_js = """
    () => {
      const runs = [...document.querySelectorAll('.figure-card')]
        .find((c) => c.querySelector('dt')?.textContent === 'Runs');
      const value = runs?.querySelector('.figure-value')?.textContent ?? '';
      const selects = ['dash-window', 'dash-project', 'dash-model', 'dash-version']
        .map((id) => document.getElementById(id));
      const usable = selects.every((s) => s && !s.disabled)
        && selects[1].options.length > 1 && selects[2].options.length > 1;
      return value !== '' && value !== '–' && usable ? performance.now() : false;
    }
    """
    times, shown = [], ""
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            for i in range(loads + 1):
                context = await browser.new_context(viewport={"width": 1280, "height": 860})
                await context.add_init_script(
                    f"sessionStorage.setItem('promptops.apiKey', {json.dumps(key)})"
                )
                page = await context.new_page()
                await page.goto(bench.base + "/dashboard?window=30d", wait_until="commit")
                handle = await page.wait_for_function(ready_js, polling="raf", timeout=60_000)
                ms = float(await handle.json_value())
                shown = await page.locator(".figure-card .figure-value").first.inner_text()
                if i == 0:
                    log(f"page warm-up load: {ms:.0f} ms (not counted)")
                else:
                    times.append(ms)
                    log(f"page load {i}: {ms:.0f} ms")
                await context.close()
        finally:
            await browser.close()
    return {
        "loads": loads,
        "median_ms": round(median(times)),
        "max_ms": round(max(times)),
        "runs_card": shown,
        "times_ms": [round(t) for t in times],
    }


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="bench-dashboard-"))
    bench = Bench(tmp)
    result: dict[str, Any] = {"machine": machine()}
    try:
        log(f"temp dir {tmp}; starting Postgres and the API")
        bench.start()
        key, org = await admin_key(bench)
        log(f"loading {args.runs} runs")
        data = await make_data(bench, key, args.runs)
        result["data"] = {k: v for k, v in data.items() if k not in ("now", "projects", "versions")}
        log(json.dumps(result["data"]))
        result["endpoint"] = await endpoint_vs_baseline(
            bench, key, org, data, args.calls, args.baseline_calls
        )
        if not args.no_page:
            result["page"] = await page_loads(bench, key, args.page_loads)
    finally:
        bench.stop()
        if args.keep_tmp:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return result


def report(result: dict[str, Any]) -> None:
    d = result["data"]
    print(f"machine: {result['machine']}")
    print(
        f"runs: {d['runs']:,} ({d['runs_size']}); load {d['load_s']} s, fold {d['fold_s']} s "
        f"({d['fold_moved']:,} deltas) -> rollup rows {d['rollup_rows']} ({d['rollups_size']})"
    )
    print()
    print(
        "| query | runs | groups | buckets | endpoint P50 / P95 / max ms | GROUP BY P50 ms "
        "| ratio |"
    )
    print("| --- | ---: | ---: | ---: | --- | ---: | ---: |")
    for r in result["endpoint"]:
        print(
            f"| {r['query']} | {r['runs_counted']:,} | {r['groups']} | {r['buckets']} | "
            f"{r['endpoint_p50_ms']} / {r['endpoint_p95_ms']} / {r['endpoint_max_ms']} | "
            f"{r['baseline_p50_ms']} | {r['ratio']}x |"
        )
    if "page" in result:
        p = result["page"]
        if "skipped" in p:
            print(f"\npage: skipped ({p['skipped']})")
        else:
            print(
                f"\npage interactive (30 d window, {d['runs']:,} runs): "
                f"median {p['median_ms']} ms, "
                f"max {p['max_ms']} ms over {p['loads']} cold loads {p['times_ms']}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--baseline-calls", type=int, default=5)
    parser.add_argument("--page-loads", type=int, default=5)
    parser.add_argument("--no-page", action="store_true")
    parser.add_argument("--keep-tmp", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = asyncio.run(main_async(args))
    if args.json:
        print(json.dumps(result, default=str, indent=2))
    else:
        report(result)


if __name__ == "__main__":
    main()
