"""Worker entry point: one Temporal client, the activity instances, one task queue.

Run with ``python -m workers.main`` (``promptops up`` starts one). Scale by starting more
processes against the same ``TEMPORAL_ADDRESS`` and ``PROMPTOPS_TASK_QUEUE``.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import signal
from collections.abc import Callable
from typing import Any

from temporalio.client import Client
from temporalio.worker import Worker

from activities.approval.activities import ApprovalActivities
from activities.deployment.activities import DeploymentActivities
from activities.evaluation.activities import EvaluationActivities
from activities.ingestion.activities import IngestionActivities
from activities.llm.activities import LLMActivities
from activities.provider_health.activities import ProviderHealthActivities
from activities.rollups.activities import RollupActivities
from promptops.db.connection import close_pools
from promptops.devstack.runtime import resolve_database_url
from promptops.governance.security import SecretBox
from promptops.llm import LLMGateway, ModelCatalog, aclose_all
from promptops.llm.pipeline import Pipeline
from promptops.retrieval.rerank_config import load_reranker
from promptops.settings import Settings, get_settings
from promptops.telemetry import setup_tracing, temporal_interceptors
from workflows.approval.workflow import ApprovalWorkflow
from workflows.canary.workflow import CanaryRolloutWorkflow
from workflows.evaluation.workflow import BatchEvaluationWorkflow
from workflows.ingestion.schedule import ensure_retrieval_maintenance_schedule
from workflows.ingestion.workflow import IngestionWorkflow, RetrievalMaintenanceWorkflow
from workflows.provider_health.schedule import ensure_health_check_schedule
from workflows.provider_health.workflow import ProviderHealthCheckWorkflow
from workflows.rollups.schedule import ensure_rollup_fold_schedule
from workflows.rollups.workflow import RunRollupFoldWorkflow

log = logging.getLogger("promptops.worker")

WORKFLOWS = [
    BatchEvaluationWorkflow,
    ApprovalWorkflow,
    CanaryRolloutWorkflow,
    ProviderHealthCheckWorkflow,
    RunRollupFoldWorkflow,
    IngestionWorkflow,
    RetrievalMaintenanceWorkflow,
]


def build_activities(
    database_url: str, catalog: ModelCatalog, *, settings: Settings | None = None
) -> list[Callable[..., Any]]:
    """Every activity of the platform (bound methods carrying their ``@activity.defn`` names),
    on one gateway (one set of breakers and rolling figures per worker process) and one
    model-call pipeline. ``settings``: default :func:`get_settings`.

    Each one implements a declaration of ``activities/<family>/declarations.py`` that workflows
    call; ``tests/unit/test_activity_declarations.py`` checks names and types agree."""
    settings = settings or get_settings()
    gateway = LLMGateway(catalog)
    pipeline = Pipeline(
        gateway,
        database_url,
        secret_box=SecretBox(settings.data_encryption_key()),
        durable=settings.run_commit == "durable",
    )
    reranker = load_reranker(settings)
    evaluation = EvaluationActivities(database_url, pipeline, reranker=reranker)
    llm = LLMActivities(database_url, pipeline)
    approval = ApprovalActivities(database_url, webhook_url=settings.approval_webhook_url)
    deployment = DeploymentActivities(database_url)
    health = ProviderHealthActivities(database_url, gateway)
    rollups = RollupActivities(database_url)
    ingestion = IngestionActivities(database_url, reranker=reranker)
    return [
        evaluation.plan_evaluation,
        evaluation.evaluate_chunk,
        evaluation.evaluate_retrieval_chunk,
        evaluation.finalize_evaluation,
        llm.call_model,
        approval.begin_approval,
        approval.record_approval_check,
        approval.record_approval_decision,
        approval.send_approval_reminder,
        approval.finish_approval,
        deployment.start_deployment,
        deployment.set_deployment_step,
        deployment.compute_deployment_figures,
        deployment.finish_deployment,
        health.check_provider_health,
        rollups.fold_run_rollups,
        ingestion.list_source_documents,
        ingestion.ingest_batch,
        ingestion.finish_ingestion,
        ingestion.plan_retrieval_maintenance,
        ingestion.retrieve,
    ]


def build_worker(
    client: Client,
    task_queue: str,
    database_url: str,
    catalog: ModelCatalog,
    *,
    max_concurrent_activities: int = 50,
) -> Worker:
    """A worker polling ``task_queue`` for every workflow (:data:`WORKFLOWS`) and activity
    (:func:`build_activities`), at most ``max_concurrent_activities`` activities at once."""
    return Worker(
        client,
        task_queue=task_queue,
        workflows=WORKFLOWS,
        activities=build_activities(database_url, catalog),
        max_concurrent_activities=max_concurrent_activities,
    )


async def run_worker(settings: Settings) -> None:
    database_url = resolve_database_url(settings)
    catalog = ModelCatalog.load(settings.resolved_models_file)
    setup_tracing("promptops-worker")
    # The client's TracingInterceptor also applies to the worker built on it: workflow and
    # activity spans continue the trace of the API request that started the workflow.
    client = await Client.connect(
        settings.resolved_temporal_address,
        namespace=settings.temporal_namespace,
        interceptors=temporal_interceptors(),
    )
    worker = build_worker(client, settings.task_queue, database_url, catalog)
    try:
        await ensure_health_check_schedule(
            client, settings.task_queue, settings.health_check_interval_s
        )
    except Exception:  # a refusing cluster must not keep the worker from serving
        log.exception("could not create or update the provider health check schedule")
    try:
        await ensure_rollup_fold_schedule(
            client, settings.task_queue, settings.rollup_fold_interval_s
        )
    except Exception:
        log.exception("could not create or update the run rollup fold schedule")
    try:
        await ensure_retrieval_maintenance_schedule(
            client, settings.task_queue, settings.retrieval_maintenance_interval_s
        )
    except Exception:
        log.exception("could not create or update the retrieval maintenance schedule")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log.info(
        "worker polling task queue %s on %s",
        settings.task_queue,
        settings.resolved_temporal_address,
    )
    async with worker:
        # Import LiteLLM (~5 s) in a thread once polling has started: done lazily on the first
        # LLM call it would block the event loop for seconds and miss activity heartbeats.
        await asyncio.to_thread(importlib.import_module, "litellm")
        await stop.wait()
    await aclose_all()  # the gateways' pooled provider connections
    await close_pools()


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # LiteLLM logs every call at INFO; runs are recorded in the database instead.
    for name in ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy", "httpx"):
        logging.getLogger(name).setLevel(logging.WARNING)
    asyncio.run(run_worker(get_settings()))


if __name__ == "__main__":
    main()
