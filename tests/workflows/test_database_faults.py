"""Faults beyond the worker: ``kill -9`` of Postgres (the postmaster and every child) in the middle
of a ``BatchEvaluationWorkflow`` and of a ``CanaryRolloutWorkflow`` bake, then a restart on the
same data directory (crash recovery).

Each test runs a Postgres of its own (its own data directory and unix socket, started by
:func:`promptops.devstack.postgres.start_postgres`, migrated with Alembic), never the session's
shared one, with the real app, a real in-process worker and the session's Temporal dev server.
What they show:

- while Postgres is down, API calls answer 503 naming the database, through each way a request
  reaches it (the key lookup of a cold API key, an ORM read, the model-call pipeline), within a
  bounded wait: no hang, no 500;
- the activities that meet the dead database fail retryably and Temporal retries them (a
  pending attempt >= 2; the deployment activities' failure is a ``ServiceUnavailable``);
- after the restart both workflows complete with exactly-once rows: one run and one score per
  (version, example) of the evaluation; the deployment Promoted (not rolled back: a database
  outage is not a failed guard), the ``production`` label on the candidate, one audit entry per
  transition, one run per answered ``generate`` call and none for the refused ones.

The gateway's hot path (``api/hotpath.py``) is off in these apps: it answers raw driver errors with
a plain 500 until it maps them (``promptops.db.errors.database_errors``), so ``generate`` goes
through the FastAPI route here.
"""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil
import psycopg
import pytest
import yaml
from temporalio.api.failure.v1 import Failure
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from activities.errors import SERVICE_UNAVAILABLE
from api.main import create_app
from promptops.db.migrate import upgrade_head
from promptops.devstack.postgres import (
    conninfo_kwargs,
    postgres_pid,
    start_postgres,
    stop_postgres,
)
from promptops.llm import ModelCatalog
from promptops.settings import get_settings
from tests.support import apps
from tests.support.apps import RunningApp, issue_key
from tests.support.canary import make_versions
from tests.support.evals import make_eval_fixture
from tests.support.stub_llm import StubLLMServer
from tests.workflows.test_durability import (
    CHUNK_SIZE,
    N_EXAMPLES,
    RunCounts,
    eval_input,
    run_counts,
    slow_llm,  # noqa: F401 - the fixture (0.1 s stub)
    wait_rows,
)
from workers.main import build_worker
from workflows.canary.workflow import CanaryRolloutWorkflow
from workflows.evaluation.workflow import BatchEvaluationWorkflow

pytestmark = pytest.mark.slow

#: What every answer given while the database is down says.
UNAVAILABLE = "the database is unavailable"
#: Bound on any single wait of these tests (a hang fails them instead of stalling CI).
WAIT_S = 90


# --------------------------------------------------------------------------- helpers


class OwnPostgres:
    """An embedded Postgres on a data directory of its own, killable and restartable."""

    def __init__(self, pgdata: Path, database: str) -> None:
        self.pgdata = pgdata
        self.database = database
        self.url = ""

    def start(self) -> str:
        """Start (or restart after a kill, with crash recovery) on the same data directory;
        the URL (unix socket in the data directory) stays the same."""
        self.url = start_postgres(self.pgdata, database=self.database)
        return self.url

    def kill(self) -> None:
        """``kill -9`` of the postmaster and of every child (backends, WAL writer, checkpointer):
        nothing is flushed or closed, as in a machine crash."""
        pid = postgres_pid(self.pgdata)
        assert pid is not None, "Postgres is not running"
        postmaster = psutil.Process(pid)
        processes = [postmaster, *postmaster.children(recursive=True)]
        for process in processes:
            try:
                process.send_signal(signal.SIGKILL)
            except psutil.NoSuchProcess:
                pass
        _, alive = psutil.wait_procs(processes, timeout=10)
        assert not alive, alive
        assert postgres_pid(self.pgdata) is None


@pytest.fixture
def own_pg(tmp_path: Path) -> Iterator[OwnPostgres]:
    pg = OwnPostgres(tmp_path / "pgdata", database="faults")
    upgrade_head(pg.start())
    try:
        yield pg
    finally:
        stop_postgres(pg.pgdata)


@dataclass
class Stack:
    api: httpx.AsyncClient
    #: A client whose API key the app has not seen yet: its first call looks the key up.
    cold: httpx.AsyncClient


@asynccontextmanager
async def stack(
    pg: OwnPostgres,
    temporal_env: WorkflowEnvironment,
    task_queue: str,
    llm: StubLLMServer,
    tmp_path: Path,
) -> AsyncIterator[Stack]:
    """The app (hot path on, as served; API keys remembered for the whole test so a warm key's
    calls go past authentication to the route) and an in-process worker, both on ``pg``."""
    models = tmp_path / "models.yaml"
    models.write_text(yaml.safe_dump(llm.model_list()))
    catalog = ModelCatalog.load(models)
    admin, cold = await issue_key(pg.url), await issue_key(pg.url, email="cold@example.com")
    app = create_app(
        apps.test_settings(task_queue, PROMPTOPS_AUTH_CACHE_TTL_S="600"),
        database_url=pg.url,
        catalog=catalog,
    )
    async with app.router.lifespan_context(app):
        app.state.temporal = temporal_env.client
        running = RunningApp(app)
        async with (
            running.client(admin.key) as api,
            running.client(cold.key) as cold_api,
            build_worker(temporal_env.client, task_queue, pg.url, catalog),
        ):
            yield Stack(api, cold_api)


async def answered_while_down(calls: list[Awaitable[httpx.Response]]) -> list[httpx.Response]:
    """Send ``calls`` at once while the database is down; each must come back as a 503 naming
    the database, and not hang: the pools give up after ``PROMPTOPS_DB_POOL_TIMEOUT_S``, so
    four times that is a generous bound (psycopg_pool's own default, 30 s, exceeds it)."""
    bound_s = 4 * get_settings().db_pool_timeout_s
    try:
        responses = await asyncio.wait_for(asyncio.gather(*calls), timeout=bound_s)
    except TimeoutError:
        pytest.fail(f"API calls hung for more than {bound_s:g}s while the database was down")
    for r in responses:
        assert r.status_code == 503, (r.request.url, r.status_code, r.text)
        detail = r.json()["detail"]
        assert isinstance(detail, str) and detail.startswith(UNAVAILABLE), detail
    return responses


async def once_back(call: Callable[[], Awaitable[httpx.Response]]) -> httpx.Response:
    """``call`` repeated while it answers 503, as a client told "retry in a few seconds" does
    (after a restart a pooled connection that died with the server fails once)."""
    deadline = time.monotonic() + WAIT_S
    while True:
        r = await call()
        if r.status_code != 503 or time.monotonic() > deadline:
            return r
        await asyncio.sleep(0.5)


async def retried_failure(handle: WorkflowHandle[Any, Any], activity: str) -> Failure:
    """The last failure of ``activity`` once it is pending again after one (attempt >= 2)."""
    deadline = time.monotonic() + WAIT_S
    while True:
        desc = await handle.describe()
        for pending in desc.raw_description.pending_activities:
            if (
                pending.activity_type.name == activity
                and pending.attempt >= 2
                and pending.HasField("last_failure")
            ):
                return pending.last_failure
        if time.monotonic() > deadline:
            raise TimeoutError(f"{activity} was not retried within {WAIT_S}s")
        await asyncio.sleep(0.1)


def rows(pg_url: str, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    with psycopg.connect(**conninfo_kwargs(pg_url)) as conn:
        return conn.execute(sql, params).fetchall()


def scalar(pg_url: str, sql: str, params: tuple[Any, ...]) -> Any:
    ((value,),) = rows(pg_url, sql, params)
    return value


# --------------------------------------------------------------------------- tests


async def test_postgres_sigkill_mid_evaluation_completes_exactly_once(
    own_pg: OwnPostgres,
    temporal_env: WorkflowEnvironment,
    task_queue: str,
    slow_llm: StubLLMServer,  # noqa: F811 - the imported fixture
    tmp_path: Path,
) -> None:
    async with stack(own_pg, temporal_env, task_queue, slow_llm, tmp_path) as st:
        fx = await make_eval_fixture(st.api, N_EXAMPLES, bodies=("{{ text }}",))
        eval_id = f"eval-pgkill-{task_queue}"
        # A heartbeat timeout longer than the pools' wait: a chunk attempt stuck on the dead
        # database fails by itself instead of being timed out under a retry running beside it.
        handle = await temporal_env.client.start_workflow(
            BatchEvaluationWorkflow.run,
            eval_input(eval_id, fx, heartbeat_timeout_s=30),
            id=eval_id,
            task_queue=task_queue,
        )
        # Half-way through the second chunk: chunk 1 committed, chunk 2 in flight.
        await wait_rows(own_pg.url, eval_id, CHUNK_SIZE + CHUNK_SIZE // 2)
        recorded = {
            text
            for (text,) in rows(
                own_pg.url,
                "SELECT e.input->>'text' FROM runs JOIN examples e ON"
                " e.id = runs.example_id WHERE runs.evaluation_id = %s",
                (eval_id,),
            )
        }
        own_pg.kill()

        await answered_while_down(
            [
                st.api.get(f"/evals/{eval_id}"),  # ORM read
                st.api.get("/projects"),  # ORM read
                st.api.post(
                    "/generate",
                    json={  # the model-call pipeline
                        "prompt_version_id": fx["versions"][0],
                        "variables": {"text": "x"},
                    },
                ),
                st.cold.get("/projects"),  # the API-key lookup
            ]
        )
        failure = await retried_failure(handle, "evaluate_chunk")
        assert not failure.application_failure_info.non_retryable, failure

        own_pg.start()
        result = await asyncio.wait_for(handle.result(), timeout=WAIT_S)
        body = (await once_back(lambda: st.api.get(f"/evals/{eval_id}"))).json()

    assert result.status == "Completed"
    assert result.summary["versions"][0]["n"] == N_EXAMPLES
    assert body["status"] == "Completed" and body["progress"]["done"] == N_EXAMPLES
    # One run per example, and one score per run (unique per (run, metric) in the schema).
    assert run_counts(own_pg.url, eval_id) == RunCounts(N_EXAMPLES, N_EXAMPLES, N_EXAMPLES)
    scores = scalar(
        own_pg.url,
        "SELECT count(*) FROM evaluation_results r JOIN runs ON"
        " runs.id = r.run_id WHERE r.evaluation_id = %s AND r.metric = 'token_f1'"
        " AND runs.evaluation_id = %s",
        (eval_id, eval_id),
    )
    assert scores == N_EXAMPLES
    # Every example reached the model; those recorded before the kill exactly once (only
    # examples in flight when an attempt met the dead database are sent again).
    sent = Counter(slow_llm.cfg.prompts)
    assert set(sent) == {f"alpha beta gamma {i}" for i in range(N_EXAMPLES)}
    assert CHUNK_SIZE < len(recorded) < N_EXAMPLES, len(recorded)
    assert {text: sent[text] for text in recorded} == dict.fromkeys(recorded, 1)


MIN_SAMPLES = 5
#: Half the traffic to the candidate for 10 s of bake, a guard check every 2 s, 5 runs per arm.
PLAN = {"steps": [50, 100], "bake_time_s": 10, "check_interval_s": 2, "min_samples": MIN_SAMPLES}
SUBJECTS = 40


async def test_postgres_sigkill_mid_canary_bake_promotes_exactly_once(
    own_pg: OwnPostgres,
    temporal_env: WorkflowEnvironment,
    task_queue: str,
    stub_llm: StubLLMServer,
    tmp_path: Path,
) -> None:
    async with stack(own_pg, temporal_env, task_queue, stub_llm, tmp_path) as st:
        fx = await make_versions(st.api, own_pg.url)  # approval eval score 0.9 >= the 0.7 gate
        r = await st.api.post(
            "/deployments",
            json={
                "project_id": fx.project_id,
                "prompt_version_id": fx.candidate_id,
                "environment": "prod",
                "plan": PLAN,
            },
        )
        assert r.status_code == 202, r.text
        deployment_id = r.json()["deployment"]["id"]
        handle = temporal_env.client.get_workflow_handle_for(
            CanaryRolloutWorkflow.run, r.json()["workflow_id"]
        )
        deadline = time.monotonic() + WAIT_S
        while not (await handle.query("status"))["window_started_at"]:  # step 1 is baking
            assert time.monotonic() < deadline, "the canary never started its first bake"
            await asyncio.sleep(0.05)

        arms: dict[str, int] = {}
        for i in range(SUBJECTS):
            r = await st.api.post(
                "/generate",
                json={
                    "prompt_id": fx.prompt_id,
                    "environment": "prod",
                    "subject_id": f"user-{i}",
                    "variables": {"q": f"question {i}"},
                },
            )
            assert r.status_code == 200, r.text
            arms[r.json()["arm"]] = arms.get(r.json()["arm"], 0) + 1
        assert min(arms.get("baseline", 0), arms.get("canary", 0)) >= MIN_SAMPLES, arms
        own_pg.kill()

        await answered_while_down(
            [
                st.api.get(f"/deployments/{deployment_id}"),  # ORM read
                st.api.post(
                    "/generate",
                    json={  # the model-call pipeline
                        "prompt_id": fx.prompt_id,
                        "environment": "prod",
                        "subject_id": "user-0",
                        "variables": {"q": "while down"},
                    },
                ),
                st.cold.get(f"/deployments/{deployment_id}"),  # the API-key lookup
            ]
        )
        # The guard check that met the dead database is retried, not judged.
        failure = await retried_failure(handle, "compute_deployment_figures")
        info = failure.application_failure_info
        assert info.type == SERVICE_UNAVAILABLE and not info.non_retryable, failure
        assert failure.message.startswith(UNAVAILABLE), failure.message

        own_pg.start()
        result = await asyncio.wait_for(handle.result(), timeout=WAIT_S)
        r = await once_back(lambda: st.api.get(f"/deployments/{deployment_id}"))
        assert r.status_code == 200, r.text
        row = r.json()

    assert result.status == "Promoted", (result.reason, result.breaches)
    assert result.breaches == []
    assert row["status"] == "Promoted" and row["canary_weight"] == 100
    label = scalar(
        own_pg.url,
        "SELECT prompt_version_id FROM labels WHERE prompt_id = %s AND name = 'production'",
        (uuid.UUID(fx.prompt_id),),
    )
    assert str(label) == fx.candidate_id
    # One audit entry per transition: no step or promotion written twice, no rollback.
    actions = [
        a
        for (a,) in rows(
            own_pg.url,
            "SELECT action FROM audit_log WHERE entity_id IN (%s, %s) ORDER BY id",
            (deployment_id, f"{fx.prompt_id}:production"),
        )
    ]
    assert actions == [
        "deployment.create",
        "deployment.start",
        "deployment.step",
        "label.move",
        "deployment.promote",
    ], actions
    # One run per answered generate call; the refused one left none.
    runs = scalar(
        own_pg.url,
        "SELECT count(*) FROM runs WHERE deployment_id = %s",
        (uuid.UUID(deployment_id),),
    )
    assert runs == SUBJECTS
