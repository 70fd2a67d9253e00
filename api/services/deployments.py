"""Canary deployments: admit a deployment, start ``CanaryRolloutWorkflow`` by its business id
(``canary-{deployment_id}``), read rows with the live ``status`` query, and pass operator
requests (pause/resume signals, promote-now/abort updates) to the workflow."""

from __future__ import annotations

import asyncio
import builtins
import dataclasses
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
    WorkflowUpdateStage,
)
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from api.deps import Principal
from api.errors import Conflict, NotFound, Unavailable
from api.schemas.deployments import DeploymentCreate
from api.services.evals import temporal_ui_link
from api.services.prompts import PromptService
from promptops.db.models import (
    ACTIVE_DEPLOYMENT_STATUSES,
    ENVIRONMENT_LABELS,
    Deployment,
    PromptVersionStatus,
)
from promptops.db.repositories import AuditRepository, DeploymentRepository, PromptRepository
from promptops.db.repositories.deployments import DeploymentNames
from promptops.settings import Settings
from workflows.canary.types import CanaryRolloutInput, OperatorInput, OperatorResult
from workflows.canary.workflow import CanaryRolloutWorkflow, workflow_id_for
from workflows.search_attributes import DEPLOYMENT_ID, PROMPT_VERSION

#: How long ``GET /deployments/{id}`` waits for the workflow's live status.
LIVE_TIMEOUT = timedelta(seconds=5)
#: How long promote/abort wait for the workflow to act before answering 202 "requested".
UPDATE_WAIT_S = 30.0


def public(
    dep: Deployment,
    settings: Settings,
    live: dict[str, Any] | None = None,
    names: DeploymentNames | None = None,
) -> dict[str, Any]:
    """The row as ``DeploymentPublic`` fields, with the Temporal UI link, live status and the
    prompt's name and version numbers when ``names`` is given."""
    return {
        "id": dep.id,
        "project_id": dep.project_id,
        "prompt_id": dep.prompt_id,
        "environment": dep.environment,
        "candidate_version_id": dep.candidate_version_id,
        "baseline_version_id": dep.baseline_version_id,
        "plan": dep.plan,
        "status": dep.status,
        "canary_weight": dep.canary_weight,
        "current_step": dep.current_step,
        "reason": dep.reason,
        "workflow_id": dep.workflow_id,
        "created_by": dep.created_by,
        "created_at": dep.created_at,
        "updated_at": dep.updated_at,
        "completed_at": dep.completed_at,
        "temporal_ui_url": temporal_ui_link(settings, dep.workflow_id),
        "live": live,
        "prompt_name": names.prompt_name if names else None,
        "candidate_version": names.candidate_version if names else None,
        "baseline_version": names.baseline_version if names else None,
    }


class DeploymentService:
    def __init__(
        self, session: AsyncSession, principal: Principal, client: Client | None, settings: Settings
    ) -> None:
        self.session = session
        self.principal = principal
        self.client = client
        self.settings = settings
        self.repo = DeploymentRepository(session)

    def _client(self) -> Client:
        if self.client is None:
            raise Unavailable("Temporal is not connected")
        return self.client

    async def create(self, req: DeploymentCreate) -> Deployment:
        """Admit and start a canary rollout; one transaction, so a refusal leaves no row and
        starts no workflow.

        Raises NotFound (404) for a project or version the caller cannot see or a version of
        another project; Conflict (409) for a Rejected, Draft or Pending version, a candidate
        that the environment's label already serves, or an active deployment of the same
        prompt and environment; Unavailable (503) when Temporal refuses the start (the row is
        rolled back with the request).
        """
        prompts = PromptService(self.session, self.principal)
        project = await prompts.get_project(req.project_id)
        version = await prompts.get_version(req.prompt_version_id)
        prompt = await prompts.get_prompt(version.prompt_id)
        if prompt.project_id != project.id:
            raise NotFound(
                f"prompt version {req.prompt_version_id} not found in project {project.id}",
                field="prompt_version_id",
            )
        if version.status == PromptVersionStatus.REJECTED:
            raise Conflict("rejected versions cannot be deployed", field="prompt_version_id")
        if version.status != PromptVersionStatus.APPROVED:
            raise Conflict(
                f"version {version.version} is not approved (status "
                f"{version.status.value}): submit it for approval first",
                field="prompt_version_id",
            )
        label_name = ENVIRONMENT_LABELS[req.environment]
        # The label's row lock orders this admission with an emergency rollback of the label
        # (which refuses while a deployment is active), so the baseline read here is current.
        label = await PromptRepository(self.session).get_label(
            prompt.id, label_name, for_update=True
        )
        baseline = label.prompt_version_id if label else None
        if baseline == version.id:
            raise Conflict(
                f"version {version.version} already serves {req.environment} "
                f"(label {label_name!r})",
                field="prompt_version_id",
            )
        active = await self.repo.active_for(prompt.id, req.environment)
        if active is not None:
            raise Conflict(
                f"deployment {active.id} of this prompt to {req.environment} is "
                f"still {active.status}: pause, promote or abort it first"
            )
        plan = req.plan.to_data()
        deployment_id = uuid.uuid4()
        workflow_id = workflow_id_for(deployment_id)
        try:
            async with self.session.begin_nested():
                dep = await self.repo.add(
                    Deployment(
                        id=deployment_id,
                        project_id=project.id,
                        prompt_id=prompt.id,
                        environment=req.environment,
                        candidate_version_id=version.id,
                        baseline_version_id=baseline,
                        plan=dataclasses.asdict(plan),
                        status="Pending",
                        canary_weight=0.0,
                        current_step=-1,
                        reason="",
                        workflow_id=workflow_id,
                        created_by=self.principal.actor,
                    )
                )
        except IntegrityError as exc:  # a concurrent request won the partial unique index
            raise Conflict(
                f"an active deployment of this prompt to {req.environment} already exists"
            ) from exc
        await AuditRepository(self.session).record(
            organization_id=self.principal.organization_id,
            actor=self.principal.actor,
            action="deployment.create",
            entity_type="deployment",
            entity_id=str(dep.id),
            after={
                "environment": req.environment,
                "candidate_version_id": str(version.id),
                "baseline_version_id": str(baseline) if baseline else None,
                "plan": dataclasses.asdict(plan),
            },
            request_id=self.principal.request_id,
        )
        try:
            await self._client().start_workflow(
                CanaryRolloutWorkflow.run,
                CanaryRolloutInput(
                    deployment_id=str(dep.id), plan=plan, actor=self.principal.actor
                ),
                id=workflow_id,
                task_queue=self.settings.task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                search_attributes=TypedSearchAttributes(
                    [
                        SearchAttributePair(DEPLOYMENT_ID, str(dep.id)),
                        SearchAttributePair(PROMPT_VERSION, str(version.id)),
                    ]
                )
                if self.settings.search_attributes
                else None,
            )
        except RPCError as exc:
            raise Unavailable(f"Temporal refused to start {workflow_id}: {exc}") from exc
        return dep

    async def get(self, deployment_id: uuid.UUID) -> Deployment:
        """The deployment within the caller's organization and project scope (404 else)."""
        dep = await self.repo.get(
            deployment_id, self.principal.organization_id, self.principal.project_id
        )
        if dep is None:
            raise NotFound(f"deployment {deployment_id} not found")
        return dep

    async def list(
        self,
        project_id: uuid.UUID | None,
        *,
        environment: str | None = None,
        status: str | None = None,
        limit: int = 100,
    ) -> list[Deployment]:
        if project_id is not None:
            await PromptService(self.session, self.principal).get_project(project_id)
        return list(
            await self.repo.list(
                self.principal.organization_id,
                project_id=project_id,
                scope_project_id=self.principal.project_id,
                environment=environment,
                status=status,
                limit=limit,
            )
        )

    async def described(
        self, deps: Sequence[Deployment], *, with_live: bool = False
    ) -> builtins.list[dict[str, Any]]:
        """``DeploymentPublic`` fields of each row with the prompt's name and version numbers
        (and, with ``with_live``, the running workflow's ``status`` query)."""
        names = await self.repo.names(deps)
        return [
            public(d, self.settings, await self.live(d) if with_live else None, names.get(d.id))
            for d in deps
        ]

    async def checks(
        self, deployment_id: uuid.UUID, *, after_index: int, limit: int
    ) -> dict[str, Any]:
        """The deployment's guard checks after ``after_index``, oldest first (at most
        ``limit``): per-arm figures as the guards judged them. 404 as :meth:`get`."""
        dep = await self.get(deployment_id)
        rows = await self.repo.checks(dep.id, after_index=after_index, limit=limit)
        data = [
            {
                "check_index": r.check_index,
                "step_index": r.step_index,
                "canary_weight": r.canary_weight,
                "window_started_at": r.window_started_at,
                "checked_at": r.checked_at,
                "baseline": (r.figures or {}).get("baseline") or {"arm": "baseline"},
                "canary": (r.figures or {}).get("canary") or {"arm": "canary"},
                "approval_eval_score": r.approval_eval_score,
            }
            for r in rows
        ]
        return {"deployment_id": dep.id, "data": data, "count": len(data)}

    async def live(self, dep: Deployment) -> dict[str, Any] | None:
        """The workflow's ``status`` query while it runs (None when finished or unreachable)."""
        if self.client is None or dep.status not in ACTIVE_DEPLOYMENT_STATUSES:
            return None
        handle = self.client.get_workflow_handle(dep.workflow_id)
        try:
            desc = await handle.describe(rpc_timeout=LIVE_TIMEOUT)
            if desc.status != WorkflowExecutionStatus.RUNNING:
                return None
            # Without a worker polling, a query waits for one: answer with the row instead.
            result: dict[str, Any] = await handle.query("status", rpc_timeout=LIVE_TIMEOUT)
            return result
        except (RPCError, WorkflowQueryFailedError):
            return None

    def _operator(self, reason: str) -> OperatorInput:
        return OperatorInput(
            actor=self.principal.actor, reason=reason, request_id=self.principal.request_id
        )

    async def _active(self, deployment_id: uuid.UUID) -> Deployment:
        dep = await self.get(deployment_id)
        if dep.status not in ACTIVE_DEPLOYMENT_STATUSES:
            raise Conflict(f"deployment {deployment_id} already ended ({dep.status})")
        return dep

    async def signal(self, deployment_id: uuid.UUID, name: str, reason: str) -> Deployment:
        """Send ``pause`` or ``resume``; the workflow applies it at once (the row follows)."""
        dep = await self._active(deployment_id)
        try:
            await (
                self._client()
                .get_workflow_handle(dep.workflow_id)
                .signal(name, self._operator(reason))
            )
        except RPCError as exc:
            raise Conflict(
                f"the rollout workflow {dep.workflow_id} is not running: {exc.message}"
            ) from exc
        return dep

    async def update(
        self, deployment_id: uuid.UUID, name: str, reason: str
    ) -> tuple[Deployment, bool]:
        """Run the ``promote_now`` or ``abort`` update. Returns the (refreshed) row and whether
        the workflow finished acting within :data:`UPDATE_WAIT_S` (else it is still on it).

        Raises Conflict (409) when the workflow rejects the request (already ended, eval-score
        gate, missing reason).
        """
        dep = await self._active(deployment_id)
        handle = self._client().get_workflow_handle(dep.workflow_id)
        try:
            update = await handle.start_update(
                name,
                self._operator(reason),
                wait_for_stage=WorkflowUpdateStage.ACCEPTED,
                result_type=OperatorResult,
            )
            try:
                await asyncio.wait_for(update.result(), UPDATE_WAIT_S)
                done = True
            except TimeoutError:
                done = False
        except WorkflowUpdateFailedError as exc:
            cause = exc.cause
            message = cause.message if isinstance(cause, ApplicationError) else str(cause)
            raise Conflict(message) from exc
        except RPCError as exc:
            raise Conflict(
                f"the rollout workflow {dep.workflow_id} is not running: {exc.message}"
            ) from exc
        await self.session.refresh(dep)
        return dep, done
