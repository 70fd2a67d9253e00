"""Durable overhead of ``BatchEvaluationWorkflow`` vs a plain asyncio loop over the same LLM calls.

    python -m tests.benchmarks.bench_durable_overhead [--calls 200] [--concurrency 10]
        [--latency-ms 50] [--repeats 3] [--chunk-size N] [--stub lean|inproc] [--json]

Both sides make ``--calls`` chat completions against an OpenAI-compatible stub that answers after
a fixed ``--latency-ms``, never more than ``--concurrency`` at once:

- **loop** (the baseline): ``asyncio.gather`` over the calls behind an ``asyncio.Semaphore``, each
  call through :class:`promptops.llm.gateway.LLMGateway` (so through ``litellm.acompletion``,
  exactly the code path the activity uses; no database, no Temporal).
- **workflow**: one ``BatchEvaluationWorkflow`` (one prompt version x a ``--calls``-example
  dataset, metric ``exact_match``) on a real Temporal dev server with an in-process worker and
  the embedded Postgres (temp pgdata, migrated to head). Timed from ``start_workflow`` to the
  result, so it includes the plan and finalize activities and every per-example DB write.

One warm-up of each, then ``--repeats`` measurements of each, loop and workflow alternately (so
a change in the machine's load hits both alike); the figures are medians. The ratio
``workflow_examples_per_s / loop_examples_per_s`` is the headline (target >= 0.8). The stub
reports the most calls it ever had in flight, which must not exceed ``--concurrency`` (the
workflow's bounded-concurrency promise); ``ideal`` is ``ceil(calls/concurrency) * latency``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any, Self

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import httpx

from tests.benchmarks._common import ROOT, child_env, cpu_s, free_port, machine, median, proc_cpu_s

TARGET_RATIO = 0.8


# --------------------------------------------------------------------------------------------
# The stub
# --------------------------------------------------------------------------------------------


class LeanStub:
    """``tests/benchmarks/lean_stub.py`` in a subprocess (its CPU is not in our process)."""

    def __init__(self, latency_ms: float) -> None:
        self.port = free_port()
        self.latency_ms = latency_ms
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> LeanStub:
        env = child_env()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.benchmarks.lean_stub",
                "--port",
                str(self.port),
                "--latency-ms",
                str(self.latency_ms),
            ],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{self.base_url}/stats", timeout=0.5, trust_env=False)
                return self
            except httpx.HTTPError:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"lean stub exited: {self.proc.stderr.read()!r}")  # type: ignore[union-attr]
                time.sleep(0.05)
        raise RuntimeError("lean stub did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def reset(self) -> None:
        httpx.post(f"{self.base_url}/reset", timeout=2, trust_env=False)

    def cpu_s(self) -> float:
        """CPU seconds the stub process has used (to check it is not the bottleneck)."""
        assert self.proc is not None
        return proc_cpu_s(self.proc.pid)

    def stats(self) -> dict[str, int]:
        return httpx.get(f"{self.base_url}/stats", timeout=2, trust_env=False).json()

    def model_list(self) -> dict[str, Any]:
        return {
            "model_list": [
                {
                    "model_name": "stub",
                    "litellm_params": {
                        "model": "openai/stub",
                        "api_base": self.base_url,
                        "api_key": "none",
                    },
                    "model_info": {"input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6},
                }
            ]
        }


class InprocStub:
    """``tests/support/stub_llm.py`` (FastAPI + uvicorn in a thread of this process)."""

    def __init__(self, latency_ms: float) -> None:
        from tests.support.stub_llm import StubConfig, StubLLMServer

        self.server = StubLLMServer(StubConfig(latency_s=latency_ms / 1000.0))

    def start(self) -> InprocStub:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def reset(self) -> None:
        self.server.cfg.calls = 0
        self.server.cfg.prompts.clear()

    def stats(self) -> dict[str, int]:
        return {"calls": self.server.cfg.calls, "max_in_flight": -1}

    def cpu_s(self) -> float:
        return float("nan")  # a thread of this process: counted in the process's own CPU

    def model_list(self) -> dict[str, Any]:
        return self.server.model_list()


# --------------------------------------------------------------------------------------------
# (a) the plain loop
# --------------------------------------------------------------------------------------------


async def run_loop(gateway: Any, calls: int, concurrency: int) -> float:
    semaphore = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with semaphore:
            await gateway.complete([{"role": "user", "content": f"alpha beta gamma {i}"}])

    t0 = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(calls)))
    return time.perf_counter() - t0


# --------------------------------------------------------------------------------------------
# (b) the workflow
# --------------------------------------------------------------------------------------------


def _ts(event_time: Any) -> float:
    return event_time.seconds + event_time.nanos / 1e9


def history_breakdown(history: Any) -> dict[str, Any]:
    """Where the workflow's wall time went, from its event history (server timestamps)."""
    from temporalio.api.enums.v1 import EventType

    events = list(history.events)
    t_start = _ts(events[0].event_time)
    t_end = _ts(events[-1].event_time)
    scheduled: dict[int, tuple[str, float]] = {}
    started: dict[int, float] = {}
    acts: list[dict[str, Any]] = []
    for ev in events:
        t = _ts(ev.event_time)
        if ev.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            scheduled[ev.event_id] = (
                ev.activity_task_scheduled_event_attributes.activity_type.name,
                t,
            )
        elif ev.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            started[ev.activity_task_started_event_attributes.scheduled_event_id] = t
        elif ev.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            sid = ev.activity_task_completed_event_attributes.scheduled_event_id
            name, t_sched = scheduled[sid]
            t_st = started.get(sid, t_sched)
            acts.append(
                {
                    "name": name,
                    "scheduled": t_sched - t_start,
                    "queue_s": t_st - t_sched,
                    "run_s": t - t_st,
                    "completed": t - t_start,
                }
            )

    def total(name: str, key: str) -> float:
        return round(sum(a[key] for a in acts if a["name"] == name), 4)

    chunks = [a for a in acts if a["name"] == "evaluate_chunk"]
    busy = sum(a["run_s"] for a in acts)
    return {
        "history_s": round(t_end - t_start, 4),
        "events": len(events),
        "plan_run_s": total("plan_evaluation", "run_s"),
        "chunks": len(chunks),
        "chunks_run_s": total("evaluate_chunk", "run_s"),
        "finalize_run_s": total("finalize_evaluation", "run_s"),
        "activity_queue_s": round(sum(a["queue_s"] for a in acts), 4),
        # History time not covered by a running activity: workflow tasks, scheduling, the gaps
        # between chunks (activities run one after another here).
        "between_activities_s": round((t_end - t_start) - busy, 4),
    }


class WorkflowBench:
    """Postgres + Temporal dev server + in-process worker + a dataset; runs evaluations."""

    def __init__(
        self,
        catalog: Any,
        calls: int,
        concurrency: int,
        chunk_size: int | None,
        keep_tmp: bool = False,
    ) -> None:
        self.catalog = catalog
        self.calls = calls
        self.concurrency = concurrency
        self.chunk_size = chunk_size
        self.keep_tmp = keep_tmp
        self.tmp = Path(tempfile.mkdtemp(prefix="promptops-bench-"))
        self.task_queue = f"bench-{uuid.uuid4().hex[:8]}"
        self.stack = AsyncExitStack()
        self.env: Any = None
        self.pgdata = self.tmp / "pgdata"
        self.url = ""
        self.version_id = ""
        self.dataset_id = ""
        self.setup_s: dict[str, float] = {}

    async def __aenter__(self) -> Self:
        from temporalio.testing import WorkflowEnvironment

        from promptops.db.migrate import upgrade_head
        from promptops.devstack.postgres import start_postgres
        from promptops.devstack.temporal import temporal_binary
        from workers.main import build_worker
        from workflows.evaluation.workflow import DATASET_ID, EVAL_ID

        t0 = time.perf_counter()
        os.chmod(self.tmp, 0o755)  # pgserver runs postgres as user "pgserver" under root
        self.url = await asyncio.to_thread(start_postgres, self.pgdata, database="bench")
        await asyncio.to_thread(upgrade_head, self.url)
        self.stack.push_async_callback(self._stop_postgres)
        self.setup_s["postgres"] = round(time.perf_counter() - t0, 2)
        t0 = time.perf_counter()
        self.env = await WorkflowEnvironment.start_local(
            dev_server_existing_path=temporal_binary(), search_attributes=[EVAL_ID, DATASET_ID]
        )
        self.stack.push_async_callback(self.env.shutdown)
        self.setup_s["temporal"] = round(time.perf_counter() - t0, 2)
        t0 = time.perf_counter()
        await self._make_dataset()
        self.setup_s["dataset"] = round(time.perf_counter() - t0, 2)
        worker = build_worker(self.env.client, self.task_queue, self.url, self.catalog)
        await self.stack.enter_async_context(worker)
        return self

    async def _stop_postgres(self) -> None:
        from promptops.db.session import get_engine
        from promptops.devstack.postgres import stop_postgres

        await get_engine(self.url).dispose()
        await asyncio.to_thread(stop_postgres, self.pgdata)
        if not self.keep_tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)

    async def __aexit__(self, *exc: object) -> None:
        await self.stack.aclose()

    async def _make_dataset(self) -> None:
        """One project, one prompt version (``{{ text }}``), ``calls`` examples, via the API app."""
        from tests.support.apps import issue_key, running_app
        from tests.support.evals import make_eval_fixture

        key = await issue_key(self.url)
        async with (
            running_app(self.url, self.env.client, self.catalog, self.task_queue) as running,
            running.client(key.key) as api,
        ):
            fx = await make_eval_fixture(api, self.calls, bodies=("{{ text }}",))
        self.version_id = fx["versions"][0]
        self.dataset_id = fx["dataset_id"]

    async def run_once(self) -> tuple[float, Any, dict[str, Any]]:
        from temporalio.common import SearchAttributePair, TypedSearchAttributes

        from workflows.evaluation.types import BatchEvaluationInput
        from workflows.evaluation.workflow import DATASET_ID, EVAL_ID, BatchEvaluationWorkflow

        eval_id = f"eval-bench-{uuid.uuid4().hex[:12]}"
        kwargs: dict[str, Any] = {}
        if self.chunk_size:
            kwargs["chunk_size"] = self.chunk_size
        inp = BatchEvaluationInput(
            evaluation_id=eval_id,
            prompt_version_ids=[self.version_id],
            dataset_id=self.dataset_id,
            metrics=["exact_match"],
            concurrency=self.concurrency,
            **kwargs,
        )
        t0 = time.perf_counter()
        handle = await self.env.client.start_workflow(
            BatchEvaluationWorkflow.run,
            inp,
            id=eval_id,
            task_queue=self.task_queue,
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(EVAL_ID, eval_id),
                    SearchAttributePair(DATASET_ID, self.dataset_id),
                ]
            ),
        )
        result = await handle.result()
        elapsed = time.perf_counter() - t0
        if result.status != "Completed" or result.summary["versions"][0]["n"] != self.calls:
            raise RuntimeError(f"evaluation did not complete all examples: {result}")
        return elapsed, result, history_breakdown(await handle.fetch_history())


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    from promptops.llm import LLMGateway, ModelCatalog, aclose_all
    from workflows.evaluation.types import BatchEvaluationInput

    info = machine()
    stub: LeanStub | InprocStub = (LeanStub if args.stub == "lean" else InprocStub)(args.latency_ms)
    stub.start()
    log = (
        (lambda *a: print(*a, file=sys.stderr, flush=True)) if not args.quiet else (lambda *a: None)
    )
    runs: dict[str, list[dict[str, Any]]] = {"loop": [], "workflow": []}
    try:
        catalog = ModelCatalog.from_dict(stub.model_list())
        gateway = LLMGateway(catalog)
        async with WorkflowBench(
            catalog, args.calls, args.concurrency, args.chunk_size, keep_tmp=args.keep_tmp
        ) as wb:
            log(f"setup: {wb.setup_s}")

            async def measure(kind: str, label: str) -> None:
                stub.reset()
                c0, s0 = cpu_s(), stub.cpu_s()
                breakdown: dict[str, Any] = {}
                if kind == "loop":
                    t = await run_loop(gateway, args.calls, args.concurrency)
                else:
                    t, _, breakdown = await wb.run_once()
                cpu, stub_cpu = cpu_s() - c0, stub.cpu_s() - s0
                st = stub.stats()
                if st["calls"] != args.calls:
                    raise RuntimeError(f"{kind} made {st['calls']} calls, expected {args.calls}")
                row = {
                    "s": t,
                    "cpu_ms_per_example": cpu / args.calls * 1000,
                    "stub_cpu_ms_per_call": stub_cpu / args.calls * 1000,
                    "max_in_flight": st.get("max_in_flight", -1),
                    "breakdown": breakdown,
                }
                log(
                    f"{kind:8} {label}: {t:.3f}s ({args.calls / t:.1f} ex/s, "
                    f"{row['cpu_ms_per_example']:.1f} ms CPU/ex, max in flight "
                    f"{row['max_in_flight']}) {breakdown or ''}"
                )
                if label != "warm-up":
                    runs[kind].append(row)

            # One warm-up of each, then loop and workflow alternately, so that a change in the
            # machine's load during the benchmark hits both sides alike.
            await measure("loop", "warm-up")
            await measure("workflow", "warm-up")
            for i in range(1, args.repeats + 1):
                await measure("loop", f"run {i}")
                await measure("workflow", f"run {i}")
            setup = wb.setup_s
    finally:
        await aclose_all()  # the gateways' pooled provider connections
        stub.stop()

    def summary(kind: str) -> dict[str, Any]:
        rows = runs[kind]
        times = [r["s"] for r in rows]
        med = median(times)
        out: dict[str, Any] = {
            "runs_s": [round(x, 4) for x in times],
            "median_s": round(med, 4),
            "examples_per_s": round(args.calls / med, 2),
            "cpu_ms_per_example": round(median([r["cpu_ms_per_example"] for r in rows]), 2),
            "stub_cpu_ms_per_call": round(median([r["stub_cpu_ms_per_call"] for r in rows]), 2),
            "max_in_flight": max(r["max_in_flight"] for r in rows),
        }
        if kind == "workflow":
            mid = sorted(range(len(rows)), key=lambda k: times[k])[len(rows) // 2]
            out["breakdown_of_median_run"] = rows[mid]["breakdown"]
        return out

    lp, wf = summary("loop"), summary("workflow")
    ratio = wf["examples_per_s"] / lp["examples_per_s"]
    pair_ratios = [l_["s"] / w["s"] for l_, w in zip(runs["loop"], runs["workflow"], strict=True)]
    wf["setup_s"] = setup
    return {
        "benchmark": "durable_overhead",
        "machine": info,
        "params": {
            "calls": args.calls,
            "concurrency": args.concurrency,
            "latency_ms": args.latency_ms,
            "repeats": args.repeats,
            "chunk_size": args.chunk_size or BatchEvaluationInput.chunk_size,
            "stub": args.stub,
            "metric": "exact_match",
            "baseline": "asyncio.gather + Semaphore over promptops.llm.gateway.LLMGateway"
            ".complete (litellm.acompletion)",
        },
        "ideal_s": math.ceil(args.calls / args.concurrency) * args.latency_ms / 1000.0,
        "loop": lp,
        "workflow": wf,
        "ratio_workflow_over_loop": round(ratio, 3),
        "pair_ratios": [round(x, 3) for x in pair_ratios],
        "target_ratio": TARGET_RATIO,
        "meets_target": ratio >= TARGET_RATIO,
        "concurrency_respected": (0 <= wf["max_in_flight"] <= args.concurrency)
        if wf["max_in_flight"] >= 0
        else None,
    }


def report(r: dict[str, Any]) -> str:
    p, lp, wf = r["params"], r["loop"], r["workflow"]
    b = wf["breakdown_of_median_run"]
    lines = [
        (
            f"durable overhead: {p['calls']} calls, concurrency {p['concurrency']}, stub latency "
            f"{p['latency_ms']:.0f} ms ({p['stub']} stub), chunk_size {p['chunk_size']}, "
            f"median of {p['repeats']} (after one warm-up); {r['machine']['cpus']} CPUs, "
            f"{r['machine']['date']}"
        ),
        (
            f"  ideal (ceil(calls/concurrency) x latency): {r['ideal_s']:.3f} s; stub CPU per call "
            f"{lp['stub_cpu_ms_per_call']} ms (loop), "
            f"{wf['stub_cpu_ms_per_call']} ms (workflow)"
        ),
        (
            f"  loop     : {lp['median_s']:.3f} s  {lp['examples_per_s']:7.1f} ex/s  "
            f"{lp['cpu_ms_per_example']:5.1f} ms CPU/ex  runs {lp['runs_s']}  "
            f"max in flight {lp['max_in_flight']}"
        ),
        (
            f"  workflow : {wf['median_s']:.3f} s  {wf['examples_per_s']:7.1f} ex/s  "
            f"{wf['cpu_ms_per_example']:5.1f} ms CPU/ex  runs {wf['runs_s']}  "
            f"max in flight {wf['max_in_flight']}"
        ),
        (
            f"  ratio workflow/loop: {r['ratio_workflow_over_loop']:.3f}  (target >= "
            f"{r['target_ratio']}: {'met' if r['meets_target'] else 'NOT met'}; per pair "
            f"{r['pair_ratios']})"
        ),
        (
            f"  median workflow run from its history: {b.get('history_s')} s in history, "
            f"plan {b.get('plan_run_s')} s, {b.get('chunks')} chunk(s) {b.get('chunks_run_s')} s, "
            f"finalize {b.get('finalize_run_s')} s, "
            f"activity queueing {b.get('activity_queue_s')} s, "
            f"no activity running {b.get('between_activities_s')} s"
        ),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--calls", type=int, default=200)
    p.add_argument("--concurrency", type=int, default=10)
    p.add_argument("--latency-ms", type=float, default=50.0)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument(
        "--chunk-size",
        type=int,
        default=None,
        help="BatchEvaluationInput.chunk_size (default: the workflow's default)",
    )
    p.add_argument(
        "--stub",
        choices=("lean", "inproc"),
        default="lean",
        help="lean: bare asyncio server in a subprocess (default); inproc: "
        "tests/support/stub_llm.py in a thread of this process",
    )
    p.add_argument("--keep-tmp", action="store_true", help="keep the temp pgdata")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--quiet", action="store_true", help="no per-run lines on stderr")
    args = p.parse_args(argv)
    # The Temporal dev server inherits this process's stdout and prints a banner: send it (and
    # anything else the servers print) to stderr, so stdout carries only the result.
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
