"""A worker as its own OS process, for tests that kill it (``SIGKILL``) or its Temporal server.

    python -m tests.support.worker_process --temporal 127.0.0.1:7233 --task-queue TQ \\
        --database-url postgresql+psycopg://... --models-file models.yaml

Builds the worker with :func:`workers.main.build_worker` and runs until killed (``SIGTERM`` /
``SIGINT`` shut it down gracefully). Prints ``WORKER READY pid=N`` (flushed) once it polls.

Importing the worker's code takes seconds (LiteLLM, SciPy, ...). With ``--hold`` the process
imports everything, prints ``WORKER LOADED``, and connects only once a line arrives on stdin:
a test starts a standby worker early and releases it the moment the first one is killed.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import logging
import os
import signal
import sys
from datetime import timedelta
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

READY_LINE = "WORKER READY"
LOADED_LINE = "WORKER LOADED"


async def _connect(address: str, timeout_s: float) -> object:
    from temporalio.client import Client

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        try:
            return await Client.connect(address)
        except Exception:  # server not up yet
            if loop.time() > deadline:
                raise
            await asyncio.sleep(0.2)


async def run(args: argparse.Namespace) -> None:
    from temporalio.worker import Worker

    import workers.main
    from promptops.llm import ModelCatalog

    catalog = ModelCatalog.load(Path(args.models_file))
    client = await _connect(args.temporal, args.connect_timeout)
    if args.sticky_timeout_s is not None:
        # After a SIGKILL the server still routes the workflow's next task to the dead worker's
        # sticky queue until this timeout (SDK default 10 s) moves it to the shared queue.
        # build_worker has no knob for it: give the Worker class it calls the option.
        workers.main.Worker = functools.partial(  # type: ignore[misc]
            Worker, sticky_queue_schedule_to_start_timeout=timedelta(seconds=args.sticky_timeout_s)
        )
    worker = workers.main.build_worker(client, args.task_queue, args.database_url, catalog)  # type: ignore[arg-type]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with worker:
        print(f"{READY_LINE} pid={os.getpid()}", flush=True)
        await stop.wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--temporal", required=True, help="host:port of the Temporal frontend")
    parser.add_argument("--task-queue", required=True)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--models-file", required=True, help="LiteLLM-style model list (YAML)")
    parser.add_argument("--connect-timeout", type=float, default=30.0)
    parser.add_argument(
        "--sticky-timeout-s",
        type=float,
        default=None,
        help="sticky queue schedule-to-start timeout (default: the SDK's)",
    )
    parser.add_argument(
        "--hold",
        action="store_true",
        help="import everything, then wait for a line on stdin before polling",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stdout,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    # The gateway imports LiteLLM lazily on the first call; that import takes seconds and runs
    # on the event loop, so the first chunk would send no heartbeat for that long (a test's
    # 3 s heartbeat timeout would fire). Import it before the worker polls.
    import litellm  # noqa: F401

    import workers.main  # noqa: F401

    logging.getLogger("LiteLLM").setLevel(logging.WARNING)
    if args.hold:
        print(f"{LOADED_LINE} pid={os.getpid()}", flush=True)
        if not sys.stdin.readline():
            return  # stdin closed without a go: the test gave up on this worker
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
