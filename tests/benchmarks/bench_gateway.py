"""The gateway's performance targets (issue 4), side by side with the LiteLLM proxy in one run.

    python -m tests.benchmarks.bench_gateway [--requests 300] [--concurrency 32]
        [--duration 10] [--profile-requests 200] [--no-profile] [--json]

Servers, each in its own process on 127.0.0.1 (free ports, temp dirs):

- the lean stub (``tests/benchmarks/lean_stub.py --latency-ms 0``: answers at once);
- the PromptOps API, ONE uvicorn worker (``python -m uvicorn api.main:app --no-access-log``, as
  ``promptops up`` starts it) on the embedded Postgres (``start_postgres`` on a temp pgdata,
  migrated to head),
  ``PROMPTOPS_MODELS`` = a model list with one model ``stub`` (``openai/stub`` at the stub,
  priced so that the budget reservation has a cost); no Temporal (generate does not need it);
- the peer: the LiteLLM proxy (``litellm --config cfg.yaml --num_workers 1``, same model list,
  ``LITELLM_MASTER_KEY`` set (it refuses to start without one), no database,
  ``LITELLM_LOCAL_MODEL_COST_MAP=True``).

Data, through the API with an Admin key (``promptops.governance.identity.bootstrap_admin`` against
the DB): one project with a budget (daily/monthly USD and tokens, far above what the run spends, so
the reservation and settlement are on the path), one prompt ``bench`` whose version (model ``stub``)
carries the ``production`` label.

Measured from this process (one aiohttp client session with keep-alive, a warm-up first; aiohttp
because its client costs about half the CPU per request of httpx on the same 2 cores):

1. **sequential overhead**: ``--requests`` requests on each path, round-robin (request i of every
   path back to back, so a change in the machine's load hits all paths alike): direct to the
   stub (baseline), ``POST /api/v1/generate``, PromptOps ``POST /v1/chat/completions`` (skipped
   with a note while it answers 404) and the LiteLLM proxy's ``/v1/chat/completions``.
   Overhead = percentile(path) - percentile(direct), at P50 and P95; targets P50 <= 3 ms,
   P95 <= 6 ms.
2. **throughput at saturation**: ``--concurrency`` clients for ``--duration`` s on generate, then
   on the LiteLLM proxy (then on PromptOps' ``/v1/chat/completions`` when present): requests/s,
   errors, and the ratio to the proxy (target >= 3x).
3. **exact-cache hit path**: ``PUT /api/v1/projects/{id}/cache`` ``{"exact": {"enabled": true,
   "ttl_s": 3600}}`` (skipped with a note while it answers 404/405), then the same generate
   request ``--requests`` times: end-to-end P50/P95 (target P95 <= 5 ms) and the share of answers
   with ``cache_hit``.
4. **profile** (unless ``--no-profile``): the API is restarted under an instrumented entry point
   (``python -m tests.benchmarks.bench_gateway --serve-instrumented``: the same app, plus
   wall-clock timers around the stages of the generate path and SQLAlchemy cursor events) and
   ``--profile-requests`` sequential generates are sent; the per-request milliseconds of each
   stage come from the server's counters. When ``py-spy`` is installed it also samples the
   server's CPU (``py-spy record --format raw``) and attributes inclusive CPU ms per request to
   frames (litellm, SQLAlchemy/psycopg, pydantic, Jinja...).

Nothing asserts on time. ``--json`` prints the whole result as JSON on stdout (progress and the
servers' banners go to stderr / the servers' log files in the temp dir).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any, Self

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import httpx

from tests.benchmarks._common import ROOT, child_env, cpu_s, free_port, machine, proc_cpu_s

TARGET_P50_MS = 3.0
TARGET_P95_MS = 6.0
TARGET_THROUGHPUT_RATIO = 3.0
TARGET_CACHE_P95_MS = 5.0

PROMPT_BODY = "Say {{ text }}"
TEXT = "alpha beta gamma delta"
MESSAGES = [{"role": "user", "content": f"Say {TEXT}"}]
MAX_TOKENS = 16
INPUT_PRICE = 1e-6
OUTPUT_PRICE = 2e-6


def log(*a: Any) -> None:
    print(*a, file=sys.stderr, flush=True)


def pct(values: list[float], q: float) -> float:
    """Percentile ``q`` in [0, 100] with linear interpolation between closest ranks."""
    if not values:
        return float("nan")
    s = sorted(values)
    k = (len(s) - 1) * q / 100.0
    lo = int(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


# --------------------------------------------------------------------------------------------
# Servers
# --------------------------------------------------------------------------------------------


class Proc:
    """A server in a subprocess, its output in a log file; ``wait_ready`` polls ``health_url``."""

    def __init__(
        self, name: str, cmd: list[str], env: dict[str, str], logfile: Path, health_url: str
    ) -> None:
        self.name, self.cmd, self.env, self.logfile = name, cmd, env, logfile
        self.health_url = health_url
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Proc:
        self._log = open(self.logfile, "ab")  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen(
            self.cmd,
            env=self.env,
            cwd=ROOT,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        return self

    def wait_ready(self, timeout: float = 120.0) -> float:
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited ({self.proc.returncode}); see "
                    f"{self.logfile}:\n{self.logfile.read_text()[-3000:]}"
                )
            try:
                r = httpx.get(self.health_url, timeout=1.0, trust_env=False)
                if r.status_code < 500:
                    return time.monotonic() - t0
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} not ready after {timeout} s; see {self.logfile}")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if getattr(self, "_log", None):
            self._log.close()


def model_list(stub_base: str) -> dict[str, Any]:
    return {
        "model_list": [
            {
                "model_name": "stub",
                "litellm_params": {
                    "model": "openai/stub",
                    "api_base": stub_base,
                    "api_key": "none",
                },
                "model_info": {
                    "input_cost_per_token": INPUT_PRICE,
                    "output_cost_per_token": OUTPUT_PRICE,
                },
            }
        ]
    }


class Stack:
    """Stub + Postgres + PromptOps API + LiteLLM proxy, all in subprocesses under ``tmp``."""

    def __init__(self, tmp: Path) -> None:
        import yaml

        self.tmp = tmp
        self.secret = base64.urlsafe_b64encode(os.urandom(32)).decode()
        self.enc = base64.urlsafe_b64encode(os.urandom(32)).decode()
        self.master_key = "sk-bench-" + uuid.uuid4().hex
        self.stub_port, self.api_port, self.proxy_port = free_port(), free_port(), free_port()
        self.stub_base = f"http://127.0.0.1:{self.stub_port}/v1"
        self.api_base = f"http://127.0.0.1:{self.api_port}"
        self.proxy_base = f"http://127.0.0.1:{self.proxy_port}"
        self.models_file = tmp / "models.yaml"
        self.models_file.write_text(yaml.safe_dump(model_list(self.stub_base)))
        self.pgdata = tmp / "pgdata"
        self.db_url = ""
        self.procs: dict[str, Proc] = {}
        self.ready_s: dict[str, float] = {}

    def start(self) -> None:
        from promptops.db.migrate import upgrade_head
        from promptops.devstack.postgres import start_postgres

        stub = Proc(
            "stub",
            [
                sys.executable,
                "-m",
                "tests.benchmarks.lean_stub",
                "--port",
                str(self.stub_port),
                "--latency-ms",
                "0",
            ],
            child_env(),
            self.tmp / "stub.log",
            f"{self.stub_base}/stats",
        ).start()
        self.procs["stub"] = stub
        cfg = self.tmp / "litellm.yaml"
        cfg.write_text(self.models_file.read_text())
        litellm_bin = Path(sys.executable).with_name("litellm")
        proxy = Proc(
            "litellm proxy",
            [
                str(litellm_bin),
                "--config",
                str(cfg),
                "--host",
                "127.0.0.1",
                "--port",
                str(self.proxy_port),
                "--num_workers",
                "1",
            ],
            child_env(LITELLM_MASTER_KEY=self.master_key),
            self.tmp / "litellm.log",
            f"{self.proxy_base}/health/liveliness",
        ).start()
        self.procs["proxy"] = proxy
        t0 = time.monotonic()
        os.chmod(self.tmp, 0o755)  # pgserver runs postgres as user "pgserver" under root
        self.db_url = start_postgres(self.pgdata, database="bench")
        upgrade_head(self.db_url)
        self.ready_s["postgres"] = round(time.monotonic() - t0, 2)
        self.start_api(instrumented=False)
        self.ready_s["stub"] = round(stub.wait_ready(), 2)
        self.ready_s["proxy"] = round(proxy.wait_ready(), 2)

    def start_api(self, *, instrumented: bool, **env: str) -> None:
        if "api" in self.procs:
            self.procs.pop("api").stop()
        cmd = (
            [
                sys.executable,
                "-m",
                "tests.benchmarks.bench_gateway",
                "--serve-instrumented",
                "--port",
                str(self.api_port),
            ]
            if instrumented
            else [
                sys.executable,
                "-m",
                "uvicorn",
                "api.main:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.api_port),
                "--no-access-log",
            ]
        )
        api = Proc(
            "api",
            cmd,
            child_env(
                DATABASE_URL=self.db_url,
                PROMPTOPS_MODELS=str(self.models_file),
                PROMPTOPS_HOME=str(self.tmp / "home"),
                PROMPTOPS_SECRET_KEY=self.secret,
                PROMPTOPS_ENCRYPTION_KEY=self.enc,
                PROMPTOPS_DEFAULT_MODEL="stub",
                **env,
            ),
            self.tmp / ("api-instrumented.log" if instrumented else "api.log"),
            f"{self.api_base}/healthz",
        ).start()
        self.procs["api"] = api
        self.ready_s["api_instrumented" if instrumented else "api"] = round(api.wait_ready(), 2)

    def stop(self) -> None:
        for p in self.procs.values():
            p.stop()
        if self.db_url:
            from promptops.devstack.postgres import stop_postgres

            stop_postgres(self.pgdata)


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------


async def admin_key(stack: Stack) -> str:
    from promptops.db.models import Role
    from promptops.db.session import get_engine, get_session_factory
    from promptops.governance.identity import bootstrap_admin

    async with get_session_factory(stack.db_url)() as session:
        issued = await bootstrap_admin(
            session,
            base64.urlsafe_b64decode(stack.secret),
            organization="bench",
            email="bench@promptops.local",
            role=Role.ADMIN,
            key_name="bench",
        )
        await session.commit()
    await get_engine(stack.db_url).dispose()
    return issued.key


async def setup_data(api: httpx.AsyncClient, db_url: str) -> dict[str, str]:
    from promptops.db.session import get_engine
    from tests.support.labels import serve_approved

    async def ok(r: httpx.Response) -> dict[str, Any]:
        if r.status_code >= 300:
            raise RuntimeError(f"{r.request.method} {r.request.url}: {r.status_code} {r.text}")
        return r.json()

    project = await ok(await api.post("/api/v1/projects", json={"name": "bench"}))
    prompt = await ok(
        await api.post(f"/api/v1/projects/{project['id']}/prompts", json={"name": "bench"})
    )
    version = await ok(
        await api.post(
            f"/api/v1/prompts/{prompt['id']}/versions",
            json={"body": PROMPT_BODY, "variables": {"text": "str"}, "model": "stub"},
        )
    )
    # production is protected (deployments and emergency rollbacks move it): serve the version
    # as a promoted deployment would leave it.
    await serve_approved(db_url, prompt["id"], version["id"])
    await get_engine(db_url).dispose()
    await ok(
        await api.put(
            f"/api/v1/projects/{project['id']}/budgets",
            json={
                "daily_usd": 1_000_000,
                "monthly_usd": 1_000_000,
                "daily_tokens": 10**15,
                "monthly_tokens": 10**15,
            },
        )
    )
    return {
        "project_id": project["id"],
        "project_name": project["name"],
        "prompt_id": prompt["id"],
        "version_id": version["id"],
    }


# --------------------------------------------------------------------------------------------
# Paths
# --------------------------------------------------------------------------------------------


class Path_:
    """One way of asking for the same completion: a URL, headers and a JSON body."""

    def __init__(
        self, name: str, url: str, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        self.name, self.url, self.body = name, url, body
        self.headers = headers or {}
        self.content = json.dumps(body).encode()
        self.headers = {**self.headers, "content-type": "application/json"}

    async def send(self, client: AioClient) -> Reply:
        return await client.post(self.url, content=self.content, headers=self.headers)


def paths(stack: Stack, key: str, data: dict[str, str]) -> dict[str, Path_]:
    auth = {"authorization": f"Bearer {key}"}
    chat = {"model": "stub", "messages": MESSAGES, "max_tokens": MAX_TOKENS}
    return {
        "direct": Path_("direct (client -> stub)", f"{stack.stub_base}/chat/completions", chat),
        "generate": Path_(
            "PromptOps POST /api/v1/generate",
            f"{stack.api_base}/api/v1/generate",
            {
                "project_id": data["project_id"],
                "prompt": "bench",
                "label": "production",
                "variables": {"text": TEXT},
                "decoding": {"max_tokens": MAX_TOKENS},
            },
            auth,
        ),
        "openai": Path_(
            "PromptOps POST /v1/chat/completions",
            f"{stack.api_base}/v1/chat/completions",
            chat,
            {**auth, "openai-project": data["project_name"]},
        ),
        "litellm": Path_(
            "LiteLLM proxy POST /v1/chat/completions",
            f"{stack.proxy_base}/v1/chat/completions",
            chat,
            {"authorization": f"Bearer {stack.master_key}"},
        ),
    }


class Reply:
    """A finished response: ``status_code``, ``text``, ``json()``."""

    def __init__(self, status_code: int, body: bytes) -> None:
        self.status_code, self.body = status_code, body

    @property
    def text(self) -> str:
        return self.body.decode(errors="replace")

    def json(self) -> Any:
        return json.loads(self.body)


class AioClient:
    """The measuring client: one aiohttp session with keep-alive. aiohttp's client costs about
    half the CPU per request of httpx's, and client, servers and Postgres share 2 cores here:
    the cheaper the client, the less it takes from what it measures (every path, the peer's
    included, goes through the same client)."""

    def __init__(self, concurrency: int = 1) -> None:
        import aiohttp

        self._aiohttp = aiohttp
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=max(concurrency, 1)),
            trust_env=False,
            timeout=aiohttp.ClientTimeout(total=60),
        )

    async def request(
        self,
        method: str,
        url: str,
        *,
        content: bytes | None = None,
        json_body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        async with self.session.request(
            method, url, data=content, json=json_body, headers=headers
        ) as r:
            return Reply(r.status, await r.read())

    async def post(self, url: str, **kw: Any) -> Reply:
        return await self.request("POST", url, **kw)

    async def put(self, url: str, **kw: Any) -> Reply:
        return await self.request("PUT", url, **kw)

    async def get(self, url: str, **kw: Any) -> Reply:
        return await self.request("GET", url, **kw)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.session.close()


def new_client(concurrency: int = 1) -> AioClient:
    return AioClient(concurrency)


async def probe(client: AioClient, path: Path_) -> tuple[bool, str]:
    r = await path.send(client)
    if r.status_code == 200:
        return True, ""
    return False, f"HTTP {r.status_code}: {r.text[:300]}"


# --------------------------------------------------------------------------------------------
# 1. Sequential overhead
# --------------------------------------------------------------------------------------------


async def sequential(
    client: AioClient, ps: dict[str, Path_], n: int, warmup: int
) -> dict[str, list[float]]:
    lat: dict[str, list[float]] = {k: [] for k in ps}
    errors: dict[str, int] = defaultdict(int)
    for i in range(warmup + n):
        for k, p in ps.items():
            t0 = time.perf_counter()
            r = await p.send(client)
            dt = (time.perf_counter() - t0) * 1000.0
            if r.status_code != 200:
                errors[k] += 1
                if errors[k] == 1:
                    log(f"  {k}: HTTP {r.status_code} {r.text[:200]}")
            elif i >= warmup:
                lat[k].append(dt)
    return lat


def overhead_table(lat: dict[str, list[float]]) -> dict[str, Any]:
    base = lat["direct"]
    b50, b95 = pct(base, 50), pct(base, 95)
    out: dict[str, Any] = {}
    for k, v in lat.items():
        row = {
            "n": len(v),
            "p50_ms": round(pct(v, 50), 3),
            "p95_ms": round(pct(v, 95), 3),
            "p99_ms": round(pct(v, 99), 3),
            "mean_ms": round(sum(v) / len(v), 3) if v else None,
        }
        if k != "direct":
            row["overhead_p50_ms"] = round(pct(v, 50) - b50, 3)
            row["overhead_p95_ms"] = round(pct(v, 95) - b95, 3)
            row["meets_p50"] = row["overhead_p50_ms"] <= TARGET_P50_MS
            row["meets_p95"] = row["overhead_p95_ms"] <= TARGET_P95_MS
        out[k] = row
    lit = out.get("litellm")
    if lit:
        for k, row in out.items():
            if k not in ("direct", "litellm") and row.get("overhead_p50_ms"):
                row["overhead_p50_vs_litellm"] = (
                    round(lit["overhead_p50_ms"] / row["overhead_p50_ms"], 2)
                    if row["overhead_p50_ms"] > 0
                    else None
                )
    return out


# --------------------------------------------------------------------------------------------
# 2. Throughput at saturation
# --------------------------------------------------------------------------------------------


async def saturate(
    path: Path_, concurrency: int, duration: float, server_pid: int | None
) -> dict[str, Any]:
    """``concurrency`` clients sending ``path`` back to back for ``duration`` s, on one
    :class:`AioClient` (one keep-alive connection per client)."""
    import aiohttp

    ok = errors = 0
    statuses: dict[int | str, int] = defaultdict(int)
    lat: list[float] = []
    async with new_client(concurrency) as client:

        async def send() -> int:
            return (await path.send(client)).status_code

        # Open the connections first (a short warm-up at full concurrency).
        await asyncio.gather(*(send() for _ in range(concurrency)))
        stop_at = time.perf_counter() + duration
        c0 = cpu_s()
        s0 = proc_cpu_s(server_pid) if server_pid else 0.0

        async def worker() -> None:
            nonlocal ok, errors
            while time.perf_counter() < stop_at:
                t0 = time.perf_counter()
                code: int | str
                try:
                    code = await send()
                except (aiohttp.ClientError, TimeoutError) as exc:
                    code = type(exc).__name__
                if code == 200:
                    ok += 1
                    lat.append((time.perf_counter() - t0) * 1000.0)
                else:
                    errors += 1
                    statuses[code] += 1

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - t0
        cpu = cpu_s() - c0
        server_cpu = (proc_cpu_s(server_pid) - s0) if server_pid else float("nan")
    return {
        "ok": ok,
        "errors": errors,
        "error_statuses": dict(statuses),
        "seconds": round(elapsed, 3),
        "rps": round(ok / elapsed, 1),
        "p50_ms": round(pct(lat, 50), 2),
        "p95_ms": round(pct(lat, 95), 2),
        "client_cpu_ms_per_req": round(cpu / max(ok + errors, 1) * 1000, 3),
        "server_cpu_ms_per_req": round(server_cpu / max(ok + errors, 1) * 1000, 3),
        "server_cpu_share": round(server_cpu / elapsed, 2),
    }


# --------------------------------------------------------------------------------------------
# 3. Exact cache
# --------------------------------------------------------------------------------------------


async def exact_cache(
    client: AioClient, ps: dict[str, Path_], key: str, data: dict[str, str], stack: Stack, n: int
) -> dict[str, Any]:
    r = await client.put(
        f"{stack.api_base}/api/v1/projects/{data['project_id']}/cache",
        json_body={"exact": {"enabled": True, "ttl_s": 3600}},
        headers={"authorization": f"Bearer {key}"},
    )
    if r.status_code in (404, 405):
        return {
            "available": False,
            "note": f"PUT /api/v1/projects/{{id}}/cache answered {r.status_code}: not "
            f"available yet, skipped",
        }
    if r.status_code >= 300:
        return {
            "available": False,
            "note": f"enabling the cache failed: HTTP {r.status_code} {r.text[:300]}",
        }
    gen = ps["generate"]
    await gen.send(client)  # the miss that fills the cache
    lat: list[float] = []
    hits = 0
    for i in range(n + 20):
        t0 = time.perf_counter()
        resp = await gen.send(client)
        dt = (time.perf_counter() - t0) * 1000.0
        if i >= 20 and resp.status_code == 200:
            lat.append(dt)
            hits += bool(resp.json().get("cache_hit"))
    return {
        "available": True,
        "n": len(lat),
        "hits": hits,
        "p50_ms": round(pct(lat, 50), 3),
        "p95_ms": round(pct(lat, 95), 3),
        "p99_ms": round(pct(lat, 99), 3),
        "meets_p95": pct(lat, 95) <= TARGET_CACHE_P95_MS,
    }


async def async_commit_pass(
    stack: Stack, key: str, data: dict[str, str], ps: dict[str, Path_], args: argparse.Namespace
) -> dict[str, Any]:
    """Sections 1 (without the peer) and 3 with the API restarted under
    ``PROMPTOPS_RUN_COMMIT=async``: what the WAL flush of the run record costs on this disk.
    The API is restarted with the default afterwards."""
    stack.start_api(instrumented=False, PROMPTOPS_RUN_COMMIT="async")
    try:
        async with new_client() as client:
            await _set_cache(client, stack, key, data["project_id"], False)
            lat = await sequential(
                client,
                {k: ps[k] for k in ("direct", "generate", "openai") if k in ps},
                args.requests,
                args.warmup,
            )
            out = {"sequential": overhead_table(lat)}
            out["exact_cache"] = await exact_cache(client, ps, key, data, stack, args.requests)
    finally:
        stack.start_api(instrumented=False)
    return out


# --------------------------------------------------------------------------------------------
# 4. Profile
# --------------------------------------------------------------------------------------------

#: py-spy frames -> stage, inclusive: (label, function name or "" for any, path fragment).
#: py-spy names methods ``Class.method``; a function name matches its last component.
#: SQLAlchemy's asyncio layer runs ORM/Core code in greenlets, whose stacks py-spy reports as
#: separate roots: they count under the SQLAlchemy buckets, not under the stage that awaited them.
SPY_BUCKETS: list[tuple[str, str, str]] = [
    ("request path on the event loop (uvicorn run_asgi)", "run_asgi", "uvicorn/"),
    ("  auth: Authenticator.authenticate", "authenticate", "promptops/governance/auth.py"),
    ("  pipeline: resolve stage", "__call__", "promptops/llm/pipeline/stages/resolve.py"),
    ("  pipeline: route stage (own work)", "__call__", "promptops/llm/pipeline/stages/route.py"),
    ("  pipeline: budget reservation", "reserve", "promptops/llm/budgets/guard.py"),
    ("  LLMGateway.complete", "complete", "promptops/llm/gateway.py"),
    ("    of which litellm.acompletion", "acompletion", "litellm/"),
    ("  pipeline: run record batch", "_write", "promptops/llm/pipeline/stages/record.py"),
    ("  AsyncSession.commit", "commit", "sqlalchemy/ext/asyncio/session.py"),
    ("  response serialisation (serialize_response)", "serialize_response", "fastapi/"),
    ("  request body validation (fastapi)", "request_body_to_args", "fastapi/"),
    ("any SQLAlchemy frame (incl. greenlets)", "", "sqlalchemy/"),
    ("any psycopg frame", "", "psycopg/"),
    ("  of which SQLAlchemy compile / cache-key generation", "_generate_cache_key", "sqlalchemy/"),
    ("any litellm frame", "", "litellm/"),
    ("any httpx/httpcore/aiohttp frame", "", "httpx/|httpcore/|aiohttp/"),
    ("any pydantic frame", "", "pydantic"),
    ("any jinja2 frame", "", "jinja2/"),
    ("any opentelemetry frame", "", "opentelemetry/"),
    ("any prometheus_client frame", "", "prometheus_client/"),
    ("other threads (thread pools)", "_bootstrap", "threading.py"),
]


#: Stacks whose root is not the main thread's entry point: SQLAlchemy's greenlets, and under
#: uvloop every task step and callback the C event loop runs (so it overlaps the rows above).
GREENLET = "stacks of their own (greenlets; task steps run by uvloop)"


def _frame_match(frame: str, func: str, fragment: str) -> bool:
    name, _, where = frame.partition(" (")
    name = name.strip()
    return (not func or name == func or name.endswith("." + func)) and any(
        f in where for f in fragment.split("|")
    )


def pyspy_breakdown(raw: Path, rate: int, requests: int) -> dict[str, Any]:
    """Inclusive CPU ms per request of each bucket from py-spy's collapsed stacks
    (``frame;frame;... count``, one stack a line)."""
    totals: dict[str, int] = defaultdict(int)
    all_samples = 0
    for line in raw.read_text().splitlines():
        stack, _, count_s = line.rpartition(" ")
        try:
            count = int(count_s)
        except ValueError:
            continue
        all_samples += count
        frames = stack.split(";")
        if not (frames[0].startswith("_run_module_as_main") or "threading.py" in frames[0]):
            totals[GREENLET] += count
        for label, func, fragment in SPY_BUCKETS:
            if any(_frame_match(f, func, fragment) for f in frames):
                totals[label] += count
    per = 1000.0 / rate / max(requests, 1)
    labels = [label for label, _, _ in SPY_BUCKETS]
    labels.insert(labels.index("any SQLAlchemy frame (incl. greenlets)"), GREENLET)
    return {
        "samples": all_samples,
        "rate_hz": rate,
        "cpu_ms_per_request_all_threads": round(all_samples * per, 3),
        "inclusive_cpu_ms_per_request": {label: round(totals[label] * per, 3) for label in labels},
    }


async def _set_cache(
    client: AioClient, stack: Stack, key: str, project_id: str, enabled: bool
) -> int:
    r = await client.put(
        f"{stack.api_base}/api/v1/projects/{project_id}/cache",
        json_body={"exact": {"enabled": enabled, "ttl_s": 3600}},
        headers={"authorization": f"Bearer {key}"},
    )
    return r.status_code


async def _timed_pass(client: AioClient, stack: Stack, gen: Path_, n: int) -> dict[str, Any]:
    """``n`` sequential generates; the server's stage timers plus the client's view."""
    await asyncio.sleep(0.1)  # let the previous request's timers finish before the reset
    await client.post(f"{stack.api_base}/_bench/reset")
    lat: list[float] = []
    statuses: dict[int, int] = defaultdict(int)
    hits = 0
    for _ in range(n):
        t0 = time.perf_counter()
        r = await gen.send(client)
        lat.append((time.perf_counter() - t0) * 1000.0)
        statuses[r.status_code] += 1
        if r.status_code == 200:
            hits += bool(r.json().get("cache_hit"))
    await asyncio.sleep(0.1)  # the last request's timers close after its response is sent
    timings = (await client.get(f"{stack.api_base}/_bench/timings")).json()
    timings["client_p50_ms"] = round(pct(lat, 50), 3)
    timings["client_p95_ms"] = round(pct(lat, 95), 3)
    timings["statuses"] = dict(statuses)
    timings["cache_hits"] = hits
    return timings


async def profile(stack: Stack, key: str, data: dict[str, str], n: int) -> dict[str, Any]:
    stack.start_api(instrumented=True)
    ps = paths(stack, key, data)
    gen = ps["generate"]
    out: dict[str, Any] = {}
    async with new_client() as client:
        cache_status = await _set_cache(client, stack, key, data["project_id"], False)
        for _ in range(30):
            await gen.send(client)
        # Pass 1: the timers only, cache off.
        out["stage_wall_ms_per_request"] = await _timed_pass(client, stack, gen, n)
        # Pass 2: py-spy CPU samples (the timers stay on; their cost is in the figures).
        spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
        if not Path(spy).exists():
            out["py_spy"] = {"note": "py-spy not installed (pip install py-spy)"}
        else:
            out["py_spy"] = await _pyspy_pass(client, stack, gen, n, spy)
        # Pass 3: the exact-cache hit path, timers only.
        if (
            cache_status < 300
            and await _set_cache(client, stack, key, data["project_id"], True) < 300
        ):
            await gen.send(client)
            out["cache_hit_stage_wall_ms_per_request"] = await _timed_pass(client, stack, gen, n)
    return out


async def _pyspy_pass(
    client: AioClient, stack: Stack, gen: Path_, n: int, spy: str
) -> dict[str, Any]:
    raw = stack.tmp / "pyspy.txt"
    rate = 1000
    cmd = [
        spy,
        "record",
        "--pid",
        str(stack.procs["api"].pid),
        "--rate",
        str(rate),
        "--format",
        "raw",
        "--nonblocking",
        "--output",
        str(raw),
        "--full-filenames",
    ]
    # A sampler beside the loop: starting it blocks for a moment, which is fine here.
    proc = subprocess.Popen(  # noqa: ASYNC220
        cmd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    await asyncio.sleep(1.5)
    if proc.poll() is not None:
        return {"note": f"py-spy failed: {proc.stderr.read().decode()[-500:]}"}  # type: ignore[union-attr]
    for _ in range(n):
        await gen.send(client)
    proc.send_signal(2)  # SIGINT: py-spy writes the file and exits
    try:
        await asyncio.to_thread(proc.wait, 20)
    except subprocess.TimeoutExpired:
        proc.kill()
    if not raw.exists():
        return {"note": f"py-spy wrote nothing: {proc.stderr.read().decode()[-500:]}"}  # type: ignore[union-attr]
    res = pyspy_breakdown(raw, rate, n)
    res["raw_file"] = str(raw)
    return res


# --- the instrumented server (runs in the API subprocess) -------------------------------------


def serve_instrumented(port: int) -> None:
    """The API app with wall-clock timers around the generate path's stages (sequential use:
    the counters are process-wide sums) and SQLAlchemy cursor events; ``GET /_bench/timings``
    returns ms per request, ``POST /_bench/reset`` zeroes them."""
    import functools

    import fastapi.routing
    import litellm
    import psycopg
    import uvicorn
    from sqlalchemy import event
    from sqlalchemy.engine import Engine
    from sqlalchemy.ext.asyncio import AsyncSession

    from api import hotpath
    from api.main import create_app
    from promptops.db.repositories.cache import CacheRepository
    from promptops.db.repositories.serving import ServingRepository
    from promptops.governance.auth import Authenticator
    from promptops.llm import LLMGateway
    from promptops.llm.budgets.guard import BudgetGuard
    from promptops.llm.credentials import CredentialStore
    from promptops.llm.pipeline import Pipeline
    from promptops.llm.pipeline.stages import route as route_stage
    from promptops.llm.pipeline.stages.record import RecordStage
    from promptops.llm.pipeline.stages.resolve import ResolveStage
    from promptops.llm.providers.openai_compatible import OpenAICompatibleClient

    wall: dict[str, float] = defaultdict(float)
    count: dict[str, int] = defaultdict(int)
    state = {"requests": 0}

    def add(label: str, dt: float) -> None:
        wall[label] += dt
        count[label] += 1

    def timed(owner: Any, name: str, label: str) -> None:
        orig = getattr(owner, name)

        @functools.wraps(orig)
        async def wrapper(*a: Any, **k: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return await orig(*a, **k)
            finally:
                add(label, time.perf_counter() - t0)

        setattr(owner, name, wrapper)

    timed(hotpath, "_generate", "hot path: generate endpoint (auth..answer JSON)")
    timed(Authenticator, "authenticate", "auth (principal cache, rate limit)")
    timed(Pipeline, "run", "Pipeline.run (resolve..run record)")
    timed(ServingRepository, "by_label", "  serving lookup (one query: version, project, budget)")
    timed(ResolveStage, "_serve", "  resolve: serving lookup + canary arm")
    timed(route_stage, "resolve_policy_route", "  route: policy decision (None: no query)")
    timed(CredentialStore, "for_entry", "  route: tenant credentials")
    timed(CacheRepository, "get_exact", "  cache lookup (exact)")
    timed(BudgetGuard, "reserve", "  budget reservation (one statement)")
    timed(LLMGateway, "complete", "  gateway.complete (provider round trip)")
    timed(
        OpenAICompatibleClient,
        "complete",
        "    direct OpenAI-compatible call (incl. stub round trip)",
    )
    timed(litellm, "acompletion", "    litellm.acompletion (incl. stub round trip)")
    timed(RecordStage, "_write", "  run record batch (run + settlement + cache entry)")
    timed(AsyncSession, "commit", "session commits (ORM: none on the hot path)")
    timed(psycopg.AsyncCursor, "execute", "psycopg cursor.execute (wall, every raw statement)")

    orig_serialize = fastapi.routing.serialize_response

    async def serialize(*a: Any, **k: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return await orig_serialize(*a, **k)
        finally:
            add("response validation + serialisation", time.perf_counter() - t0)

    fastapi.routing.serialize_response = serialize

    sql_start: dict[int, float] = {}

    @event.listens_for(Engine, "before_cursor_execute")
    def _before(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        sql_start[id(cursor)] = time.perf_counter()

    @event.listens_for(Engine, "after_cursor_execute")
    def _after(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        t0 = sql_start.pop(id(cursor), None)
        if t0 is not None:
            verb = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else "?"
            add(f"SQL {verb} (cursor execute, wall)", time.perf_counter() - t0)

    app = create_app()

    async def outer(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await app(scope, receive, send)
        if scope["path"].startswith("/_bench/"):
            if scope["path"] == "/_bench/reset":
                wall.clear()
                count.clear()
                state["requests"] = 0
                body = b"{}"
            else:
                n = max(state["requests"], 1)
                body = json.dumps(
                    {
                        "requests": state["requests"],
                        "stages": {
                            k: {
                                "ms_per_request": round(v * 1000 / n, 3),
                                "calls_per_request": round(count[k] / n, 2),
                            }
                            for k, v in sorted(wall.items(), key=lambda kv: -kv[1])
                        },
                    }
                ).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return None
        t0 = time.perf_counter()
        try:
            return await app(scope, receive, send)
        finally:
            if scope["path"] == "/api/v1/generate":
                state["requests"] += 1
                add("whole request in the ASGI app (server side)", time.perf_counter() - t0)

    uvicorn.run(outer, host="127.0.0.1", port=port, access_log=False)  # as the plain server


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    info = machine()
    tmp = Path(tempfile.mkdtemp(prefix="promptops-bench-gw-"))
    stack = Stack(tmp)
    result: dict[str, Any] = {
        "benchmark": "gateway",
        "machine": info,
        "params": {
            "requests": args.requests,
            "concurrency": args.concurrency,
            "duration_s": args.duration,
            "warmup": args.warmup,
            "stub_latency_ms": 0,
            "api_workers": 1,
            "proxy_workers": 1,
        },
        "notes": [],
    }
    try:
        log(f"starting stub, Postgres, API and LiteLLM proxy under {tmp} ...")
        await asyncio.to_thread(stack.start)
        result["startup_s"] = stack.ready_s
        key = await admin_key(stack)
        async with httpx.AsyncClient(
            base_url=stack.api_base,
            trust_env=False,
            timeout=60,
            headers={"authorization": f"Bearer {key}"},
        ) as client:
            data = await setup_data(client, stack.db_url)
        ps = paths(stack, key, data)
        async with new_client() as client:
            for k in list(ps):
                ok, why = await probe(client, ps[k])
                if not ok:
                    note = f"{ps[k].name}: not available ({why})"
                    log(note)
                    result["notes"].append(note)
                    if k in ("direct", "generate", "litellm"):
                        raise RuntimeError(note)
                    del ps[k]
            if "openai" not in ps:
                result["openai_compat"] = "not available"
            log(
                f"1. sequential: {args.requests} requests per path ({list(ps)}), "
                f"{args.warmup} warm-up rounds"
            )
            lat = await sequential(client, ps, args.requests, args.warmup)
            result["sequential"] = overhead_table(lat)
        log(f"2. throughput: {args.concurrency} clients x {args.duration} s per target")
        tp: dict[str, Any] = {}
        api_pid, proxy_pid = stack.procs["api"].pid, stack.procs["proxy"].pid
        targets = [("generate", api_pid), ("litellm", proxy_pid)]
        if "openai" in ps:
            targets.append(("openai", api_pid))
        for k, pid in targets:
            tp[k] = await saturate(ps[k], args.concurrency, args.duration, pid)
            log(f"   {k}: {tp[k]}")
        lit = tp["litellm"]["rps"]
        for k, row in tp.items():
            if k != "litellm":
                row["ratio_vs_litellm"] = round(row["rps"] / lit, 2) if lit else None
                row["meets_ratio"] = bool(lit) and row["rps"] / lit >= TARGET_THROUGHPUT_RATIO
        result["throughput"] = tp
        log("3. exact cache")
        async with new_client() as client:
            result["exact_cache"] = await exact_cache(client, ps, key, data, stack, args.requests)
        if not args.no_async_commit:
            log("3b. sequential and exact cache again, PROMPTOPS_RUN_COMMIT=async")
            result["async_commit"] = await async_commit_pass(stack, key, data, ps, args)
        if not args.no_profile:
            log(f"4. profile: {args.profile_requests} sequential generates, instrumented API")
            result["profile"] = await profile(stack, key, data, args.profile_requests)
    finally:
        await asyncio.to_thread(stack.stop)
        if not args.keep_tmp:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            log(f"kept {tmp}")
    return result


def _f(x: Any, nd: int = 2) -> str:
    return "-" if x is None else (f"{x:.{nd}f}" if isinstance(x, float) else str(x))


def _stage_lines(t: dict[str, Any], title: str) -> list[str]:
    lines = [
        "",
        (
            f"4. profile of POST /api/v1/generate, {title}: {t['requests']} sequential "
            f"requests on the instrumented server (statuses {t['statuses']}, "
            f"{t['cache_hits']} cache hits; client P50 {t['client_p50_ms']} ms, P95 "
            f"{t['client_p95_ms']} ms); wall ms per request, stages nest"
        ),
    ]
    for k, v in t["stages"].items():
        lines.append(
            f"   {k:58} {v['ms_per_request']:8.3f} ms  ({v['calls_per_request']} calls/request)"
        )
    return lines


def report(r: dict[str, Any]) -> str:
    p, m = r["params"], r["machine"]
    lines = [
        (
            f"gateway benchmark: {m['date']}, {m['cpus']} CPUs, load avg at start "
            f"{m['loadavg_1m_at_start']}; stub latency 0 ms, 1 API worker, 1 proxy worker"
        ),
        "",
        (
            f"1. sequential, {p['requests']} requests per path (round-robin, after "
            f"{p['warmup']} warm-up rounds); overhead = path percentile - direct percentile"
        ),
        (
            f"   {'path':42} {'P50 ms':>8} {'P95 ms':>8} {'ovh P50':>8} {'ovh P95':>8}  "
            f"targets (P50<={TARGET_P50_MS:g}, P95<={TARGET_P95_MS:g})"
        ),
    ]
    names = {
        "direct": "direct (client -> stub), baseline",
        "generate": "PromptOps POST /api/v1/generate",
        "openai": "PromptOps POST /v1/chat/completions",
        "litellm": "LiteLLM proxy /v1/chat/completions (peer)",
    }
    for k, row in r["sequential"].items():
        tgt = (
            ""
            if k == "direct"
            else (
                f"P50 {'met' if row['meets_p50'] else 'NOT met'}, "
                f"P95 {'met' if row['meets_p95'] else 'NOT met'}"
            )
        )
        if row.get("overhead_p50_vs_litellm"):
            tgt += f"; peer's P50 overhead / ours = {row['overhead_p50_vs_litellm']}"
        lines.append(
            f"   {names[k]:42} {_f(row['p50_ms']):>8} {_f(row['p95_ms']):>8} "
            f"{_f(row.get('overhead_p50_ms')):>8} {_f(row.get('overhead_p95_ms')):>8}"
            f"  {tgt}"
        )
    if r.get("openai_compat") == "not available":
        lines.append("   PromptOps POST /v1/chat/completions: not available (404)")
    tp = r["throughput"]
    lines += [
        "",
        (
            f"2. throughput, {p['concurrency']} concurrent clients x {p['duration_s']} s "
            f"(target >= {TARGET_THROUGHPUT_RATIO:g}x the peer's req/s)"
        ),
        (
            f"   {'target':42} {'req/s':>8} {'errors':>7} {'P50 ms':>8} {'P95 ms':>8} "
            f"{'srv CPU ms/req':>15} {'cli CPU ms/req':>15} {'ratio':>6}"
        ),
    ]
    for k, row in tp.items():
        lines.append(
            f"   {names[k]:42} {_f(row['rps'], 1):>8} {row['errors']:>7} "
            f"{_f(row['p50_ms']):>8} {_f(row['p95_ms']):>8} "
            f"{_f(row['server_cpu_ms_per_req']):>15} "
            f"{_f(row['client_cpu_ms_per_req']):>15} "
            f"{_f(row.get('ratio_vs_litellm')):>6}"
        )
    c = r["exact_cache"]
    lines += [
        "",
        (
            f"3. exact-cache hit path, sequential (target P95 <= "
            f"{TARGET_CACHE_P95_MS:g} ms end to end)"
        ),
    ]
    if c.get("available"):
        lines.append(
            f"   P50 {c['p50_ms']:.2f} ms, P95 {c['p95_ms']:.2f} ms, P99 "
            f"{c['p99_ms']:.2f} ms; {c['hits']}/{c['n']} answers were cache hits; "
            f"{'met' if c['meets_p95'] else 'NOT met'}"
        )
    else:
        lines.append(f"   {c.get('note')}")
    ac = r.get("async_commit")
    if ac:
        lines += [
            "",
            (
                "3b. the same with PROMPTOPS_RUN_COMMIT=async (run records do not wait "
                "for the WAL fsync)"
            ),
        ]
        for k, row in ac["sequential"].items():
            ovh = (
                ""
                if k == "direct"
                else f"  overhead P50 {_f(row['overhead_p50_ms'])} ms, P95 "
                f"{_f(row['overhead_p95_ms'])} ms: P50 "
                f"{'met' if row['meets_p50'] else 'NOT met'}, P95 "
                f"{'met' if row['meets_p95'] else 'NOT met'}"
            )
            lines.append(
                f"   {names[k]:42} P50 {_f(row['p50_ms'])} ms, P95 {_f(row['p95_ms'])} ms{ovh}"
            )
        c = ac["exact_cache"]
        if c.get("available"):
            lines.append(
                f"   exact-cache hits: P50 {c['p50_ms']:.2f} ms, P95 {c['p95_ms']:.2f} "
                f"ms; {'met' if c['meets_p95'] else 'NOT met'}"
            )
    prof = r.get("profile")
    if prof:
        lines += _stage_lines(prof["stage_wall_ms_per_request"], "cache off")
        spy = prof.get("py_spy", {})
        if "inclusive_cpu_ms_per_request" in spy:
            lines.append(
                f"   py-spy CPU samples, cache off ({spy['rate_hz']} Hz): "
                f"{spy['cpu_ms_per_request_all_threads']} ms CPU per request in all "
                f"threads; inclusive CPU ms per request:"
            )
            for k, v in spy["inclusive_cpu_ms_per_request"].items():
                lines.append(f"   {k:58} {v:8.3f} ms")
        elif spy:
            lines.append(f"   py-spy: {spy.get('note')}")
        if prof.get("cache_hit_stage_wall_ms_per_request"):
            lines += _stage_lines(prof["cache_hit_stage_wall_ms_per_request"], "exact-cache hits")
    lines += [f"note: {n}" for n in r.get("notes", [])]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--requests",
        "-n",
        type=int,
        default=300,
        help="sequential requests per path (and cache-hit requests)",
    )
    p.add_argument("--warmup", type=int, default=30, help="warm-up rounds before measuring")
    p.add_argument("--concurrency", "-c", type=int, default=32)
    p.add_argument(
        "--duration", "-d", type=float, default=10.0, help="seconds of saturation per target"
    )
    p.add_argument("--profile-requests", type=int, default=200)
    p.add_argument("--no-profile", action="store_true")
    p.add_argument(
        "--no-async-commit",
        action="store_true",
        help="skip section 3b (PROMPTOPS_RUN_COMMIT=async)",
    )
    p.add_argument("--keep-tmp", action="store_true", help="keep the temp dir (logs, py-spy)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--serve-instrumented", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.serve_instrumented:
        serve_instrumented(args.port)
        return 0
    sys.stdout.flush()
    saved_stdout = os.dup(1)
    os.dup2(2, 1)
    try:
        result = asyncio.run(bench(args))
    finally:
        sys.stdout.flush()
        os.dup2(saved_stdout, 1)
        os.close(saved_stdout)
    print(json.dumps(result, indent=2) if args.json else report(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
