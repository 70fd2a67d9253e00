"""Startup time of the embedded stack: ``promptops up --detach`` until all five parts are healthy.

    python -m tests.benchmarks.bench_startup [--runs 3] [--json]

Each run takes a fresh ``PROMPTOPS_HOME`` in a temp dir and free, non-default ports, then:

1. **cold**: ``promptops up --detach`` on the empty home (initdb, migrations, a new Temporal
   SQLite file, model load, worker and API start), timed from the command's start to its exit
   (it exits once the supervisor reports ``healthy``);
2. ``promptops down`` (timed too);
3. **warm**: ``promptops up --detach`` again on the same home (data already there), then
   ``promptops down``.

Reported per run and as medians: the CLI wall time, the supervisor's own ``startup_seconds``
from ``state.json`` (from the supervisor's start to healthy, i.e. without the CLI's import time)
and, per component, the "up after N s" that the supervisor logs (``logs/supervisor.log``:
``state.json`` records when the stack became healthy but not when each part did). The headline is
``target / actual`` against the fixed 20 s target (>= 1 means within target). As a reference figure
from the same run: ``python -c "import litellm"`` (every Python part of the stack imports it).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.benchmarks._common import ROOT, machine, median, time_import_litellm
from tests.support.stack import cli
from tests.support.stack import stack_env as _stack_env

TARGET_S = 20.0
COMPONENTS = ("temporal", "postgres", "llm", "worker", "api")
LOG_LABELS = {
    "Temporal": "temporal",
    "Postgres": "postgres",
    "LLM server": "llm",
    "Worker": "worker",
    "API": "api",
}
# e.g. "12:00:01 Temporal: up (gRPC ok (server 1.27.1)) after 3.2s"
UP_LINE = re.compile(r"(Temporal|Postgres|LLM server|Worker|API): up \(.*\) after ([0-9.]+)s")


def stack_env(home: Path) -> dict[str, str]:
    return _stack_env(home, COMPONENTS, task_queue=f"bench-startup-{os.getpid()}")


def run_cli(args: list[str], env: dict[str, str], timeout: float = 300) -> tuple[float, str]:
    t0 = time.perf_counter()
    proc = subprocess.run(
        [*cli(), *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(
            f"promptops {' '.join(args)} exited {proc.returncode}:\n"
            f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    return elapsed, proc.stdout


def component_times(home: Path) -> dict[str, float]:
    """ "up after N s" of each component in the latest start logged in supervisor.log."""
    try:
        text = (home / "logs" / "supervisor.log").read_text(errors="replace")
    except OSError:
        return {}
    last_start = text.rfind("starting PromptOps stack")
    out: dict[str, float] = {}
    for label, seconds in UP_LINE.findall(text[last_start:] if last_start >= 0 else text):
        out.setdefault(LOG_LABELS[label], float(seconds))
    return out


def read_state(home: Path) -> dict[str, Any]:
    try:
        return json.loads((home / "state.json").read_text())
    except (OSError, ValueError):
        return {}


def one_up(env: dict[str, str], home: Path) -> dict[str, Any]:
    cli_s, _ = run_cli(["up", "--detach"], env)
    state = read_state(home)
    statuses = {n: (state.get("components") or {}).get(n, {}).get("status") for n in COMPONENTS}
    if state.get("status") != "healthy" or any(s != "up" for s in statuses.values()):
        raise RuntimeError(
            f"stack not healthy after `up --detach`: {state.get('status')} {statuses}"
        )
    return {
        "cli_s": round(cli_s, 2),
        "startup_seconds": state.get("startup_seconds"),
        "components_up_after_s": component_times(home),
    }


def one_run(keep: bool) -> dict[str, Any]:
    home = Path(tempfile.mkdtemp(prefix="promptops-bench-home-"))
    os.chmod(home, 0o755)  # the embedded Postgres runs as user "pgserver" under root
    env = stack_env(home)
    result: dict[str, Any] = {"home": str(home)}
    try:
        result["cold"] = one_up(env, home)
        result["down_s"] = round(run_cli(["down"], env)[0], 2)
        result["warm"] = one_up(env, home)
        result["down_warm_s"] = round(run_cli(["down"], env)[0], 2)
    finally:
        if read_state(home).get("status") not in (None, "stopped", "failed"):
            subprocess.run(
                [*cli(), "down"], env=env, cwd=ROOT, capture_output=True, timeout=120, check=False
            )
        if not keep:
            shutil.rmtree(home, ignore_errors=True)
    return result


def summarize(runs: list[dict[str, Any]], import_s: list[float]) -> dict[str, Any]:
    def med(kind: str, key: str) -> float:
        return round(median([r[kind][key] for r in runs if r[kind].get(key) is not None]), 2)

    def comp(kind: str) -> dict[str, float]:
        return {
            n: round(
                median(
                    [
                        r[kind]["components_up_after_s"][n]
                        for r in runs
                        if n in r[kind]["components_up_after_s"]
                    ]
                ),
                2,
            )
            for n in COMPONENTS
            if any(n in r[kind]["components_up_after_s"] for r in runs)
        }

    cold, warm = med("cold", "cli_s"), med("warm", "cli_s")
    return {
        "target_s": TARGET_S,
        "cold": {
            "cli_s": cold,
            "startup_seconds": med("cold", "startup_seconds"),
            "components_up_after_s": comp("cold"),
            "ratio_target_over_actual": round(TARGET_S / cold, 2),
        },
        "warm": {
            "cli_s": warm,
            "startup_seconds": med("warm", "startup_seconds"),
            "components_up_after_s": comp("warm"),
            "ratio_target_over_actual": round(TARGET_S / warm, 2),
        },
        "down_s": round(median([r["down_s"] for r in runs]), 2),
        "import_litellm_s": round(median(import_s), 2),
    }


def report(r: dict[str, Any]) -> str:
    s = r["summary"]
    lines = [
        (
            f"startup of the embedded stack (`promptops up --detach` to healthy), median of "
            f"{r['params']['runs']} run(s); {r['machine']['cpus']} CPUs, "
            f"{r['machine']['date']}"
        )
    ]
    for kind in ("cold", "warm"):
        k = s[kind]
        comps = ", ".join(f"{n} {t:.1f}" for n, t in k["components_up_after_s"].items())
        lines.append(
            f"  {kind}: {k['cli_s']:.1f} s (CLI wall; supervisor startup_seconds "
            f"{k['startup_seconds']:.1f} s)  target {s['target_s']:.0f} s / actual = "
            f"{k['ratio_target_over_actual']:.2f}  [component up after, s: {comps}]"
        )
    lines.append(
        f"  `promptops down`: {s['down_s']:.1f} s;  reference: "
        f'`python -c "import litellm"` {s["import_litellm_s"]:.2f} s'
    )
    lines.append(
        "  per run: "
        + "; ".join(f"cold {x['cold']['cli_s']} s / warm {x['warm']['cli_s']} s" for x in r["runs"])
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--keep-home", action="store_true", help="keep the temp PROMPTOPS_HOMEs")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    args = p.parse_args(argv)
    info = machine()
    import_s = time_import_litellm(3)
    runs = []
    for i in range(args.runs):
        runs.append(one_run(args.keep_home))
        print(
            f"run {i + 1}: cold {runs[-1]['cold']} warm {runs[-1]['warm']}",
            file=sys.stderr,
            flush=True,
        )
    result = {
        "benchmark": "startup",
        "machine": info,
        "params": {"runs": args.runs},
        "summary": summarize(runs, import_s),
        "runs": runs,
    }
    print(json.dumps(result, indent=2) if args.json else report(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
