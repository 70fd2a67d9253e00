"""Approval policies and approvals: start ``ApprovalWorkflow`` by business id, send it the
``approve``/``reject`` updates, query it, and read approvals from the database.

A version's approvals are ``approval-{version_id}-{n}``: ``n`` is 1 + the number of its
approvals that Expired (only an expired approval lets the version be submitted again), so a
second submit while one runs finds the same id and ``USE_EXISTING`` returns that run.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from api.deps import Principal
from api.errors import APIError, Conflict, Forbidden, NotFound, Unavailable, Unprocessable
from api.services.evals import temporal_ui_link
from api.services.prompts import PromptService
from promptops.db.models import Approval, ApprovalDecision, Project, PromptVersionStatus, Role
from promptops.db.repositories import (
    ApprovalRepository,
    AuditRepository,
    DatasetRepository,
    IdentityRepository,
    ProjectRepository,
)
from promptops.governance.approval_policy import ApprovalPolicy
from promptops.settings import Settings
from workflows.approval.types import (
    ALREADY_DECIDED,
    DONE,
    INVALID_REVIEW,
    NOT_A_REVIEWER,
    NOT_WAITING,
    OWN_VERSION,
    ApprovalInput,
    ApprovalPolicySnapshot,
    ApprovalState,
    ReviewInput,
    workflow_id_for,
)
from workflows.approval.workflow import ApprovalWorkflow
from workflows.search_attributes import PROMPT_VERSION

#: ``approvals.status`` values, for the list filter.
APPROVAL_STATUSES = ("Checking", "Pending", "Approved", "Rejected", "Expired", "CheckFailed")
FINAL_STATUSES = ("Approved", "Rejected", "Expired", "CheckFailed")

#: How long an approve/reject waits for the workflow to record the decision, and a status
#: query for an answer, before the API gives up (503: is a worker running?).
UPDATE_TIMEOUT = timedelta(seconds=60)
QUERY_TIMEOUT = timedelta(seconds=5)

#: HTTP error for each reason an update validator (or handler) refuses a decision.
_UPDATE_ERRORS: dict[str, type[APIError]] = {
    ALREADY_DECIDED: Conflict,
    NOT_WAITING: Conflict,
    OWN_VERSION: Forbidden,
    NOT_A_REVIEWER: Forbidden,
    INVALID_REVIEW: Unprocessable,
}


def snapshot(policy: ApprovalPolicy) -> ApprovalPolicySnapshot:
    """The policy as the workflow input carries it (frozen at submission)."""
    return ApprovalPolicySnapshot(
        required_approvals=policy.required_approvals,
        reviewers=list(policy.reviewers),
        min_eval_score=policy.min_eval_score,
        golden_dataset_id=str(policy.golden_dataset_id) if policy.golden_dataset_id else None,
        eval_metric=policy.eval_metric,
        eval_max_examples=policy.eval_max_examples,
        deadline_hours=policy.deadline_hours,
        reminder_hours=policy.reminder_hours,
        webhook_url=policy.webhook_url,
    )


class ApprovalService:
    def __init__(
        self, session: AsyncSession, principal: Principal, client: Client | None, settings: Settings
    ) -> None:
        self.session = session
        self.principal = principal
        self.client = client
        self.settings = settings
        self.prompts = PromptService(session, principal)
        self.approvals = ApprovalRepository(session)

    # --- policy ----------------------------------------------------------------------------
    @staticmethod
    def _stored_policy(project: Project) -> ApprovalPolicy:
        try:
            return ApprovalPolicy.from_stored(project.approval_policy)
        except ValidationError as exc:
            raise Conflict(
                f"the stored approval policy of project {project.id} is invalid "
                f"({exc.errors()[0]['msg']}); an Admin must PUT a new one"
            ) from exc

    async def get_policy(self, project_id: uuid.UUID) -> dict[str, Any]:
        """The project's policy with defaults filled in (``webhook_url`` only for Admins). 404
        for another organization's project."""
        project = await self.prompts.get_project(project_id)
        policy = self._stored_policy(project).model_dump()
        if not self.principal.role.at_least(Role.ADMIN):
            # Webhook URLs (Slack, Teams) embed their credential: shown to Admins only.
            policy["webhook_url"] = None
        return {"project_id": project.id, **policy}

    async def put_policy(self, project_id: uuid.UUID, policy: ApprovalPolicy) -> dict[str, Any]:
        """Replace the project's policy (Admin; audited ``approval_policy.update`` with before
        and after). Approvals already running keep the policy they started with.

        Raises NotFound (404) for another organization's project, Unprocessable (422) naming
        ``golden_dataset_id`` (not a dataset of this project, or empty) or ``reviewers`` (not
        an Editor or Admin of the organization with access to the project).
        """
        self.principal.require(Role.ADMIN)
        await self.prompts.get_project(project_id)
        project = await ProjectRepository(self.session).get(
            project_id, self.principal.organization_id, for_update=True
        )
        if project is None:
            raise NotFound(f"project {project_id} not found")
        if policy.golden_dataset_id is not None:
            datasets = DatasetRepository(self.session)
            dataset = await datasets.get(
                policy.golden_dataset_id, self.principal.organization_id, self.principal.project_id
            )
            if dataset is None or dataset.project_id != project.id:
                raise Unprocessable(
                    f"dataset {policy.golden_dataset_id} is not a dataset of project {project.id}",
                    field="golden_dataset_id",
                )
            if await datasets.count_examples(dataset.id) == 0:
                raise Unprocessable(
                    f"dataset {dataset.id} has no examples to evaluate on",
                    field="golden_dataset_id",
                )
        if policy.reviewers:
            await self._check_reviewers(policy.reviewers, project.id)
        before = dict(project.approval_policy or {})
        after = policy.to_stored()
        project.approval_policy = after
        await self.session.flush()
        await AuditRepository(self.session).record(
            organization_id=self.principal.organization_id,
            actor=self.principal.actor,
            action="approval_policy.update",
            entity_type="project",
            entity_id=str(project.id),
            before=before,
            after=after,
            request_id=self.principal.request_id,
        )
        return {"project_id": project.id, **policy.model_dump()}

    async def _check_reviewers(self, reviewers: list[str], project_id: uuid.UUID) -> None:
        members = {
            user.email.strip().lower(): membership
            for membership, user in await IdentityRepository(self.session).list_members(
                self.principal.organization_id
            )
        }
        for email in reviewers:
            membership = members.get(email)
            if membership is None:
                raise Unprocessable(
                    f"{email} is not a member of this organization", field="reviewers"
                )
            if not Role(membership.role).at_least(Role.EDITOR):
                raise Unprocessable(
                    f"{email} is a {membership.role}; reviewers need the Editor or Admin role",
                    field="reviewers",
                )
            if membership.project_id is not None and membership.project_id != project_id:
                raise Unprocessable(
                    f"{email} has access to another project only", field="reviewers"
                )

    # --- submit ----------------------------------------------------------------------------
    async def _current_id(self, version_id: uuid.UUID) -> str:
        expired = await self.approvals.count_for_version(version_id, "Expired")
        return workflow_id_for(str(version_id), expired + 1)

    async def submit(self, version_id: uuid.UUID) -> dict[str, Any]:
        """Start (or find) the version's ``ApprovalWorkflow``.

        Returns ``{approval_id, workflow_id, run_id, prompt_version_id, status,
        temporal_ui_url}``. Raises NotFound (404), Conflict (409) for an Approved or Rejected
        version or a golden set that is gone or empty, Unavailable (503) without Temporal.
        """
        version = await self.prompts.get_version(version_id)
        prompt = await self.prompts.get_prompt(version.prompt_id)
        project = await self.prompts.get_project(prompt.project_id)
        if version.status in (PromptVersionStatus.APPROVED, PromptVersionStatus.REJECTED):
            raise Conflict(
                f"prompt version {version_id} is already {version.status.value}; only a Draft "
                "version can be submitted for approval (create a new version to change it)"
            )
        policy = self._stored_policy(project)
        if policy.golden_dataset_id is not None:
            datasets = DatasetRepository(self.session)
            dataset = await datasets.get(policy.golden_dataset_id, self.principal.organization_id)
            if dataset is None or await datasets.count_examples(dataset.id) == 0:
                raise Conflict(
                    f"the approval policy's golden dataset {policy.golden_dataset_id}"
                    " is missing or empty; an Admin must update the policy"
                )
        approval_id = await self._current_id(version.id)
        client = self._client()
        try:
            handle = await client.start_workflow(
                ApprovalWorkflow.run,
                ApprovalInput(
                    approval_id=approval_id,
                    organization_id=str(self.principal.organization_id),
                    project_id=str(project.id),
                    prompt_version_id=str(version.id),
                    author=version.created_by,
                    requested_by=self.principal.actor,
                    policy=snapshot(policy),
                    request_id=self.principal.request_id,
                ),
                id=approval_id,
                task_queue=self.settings.task_queue,
                # A second submit while it runs returns the running approval; a run that was
                # terminated or failed may be started again under the same id.
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
                search_attributes=TypedSearchAttributes(
                    [
                        SearchAttributePair(PROMPT_VERSION, str(version.id)),
                    ]
                )
                if self.settings.search_attributes
                else None,
            )
        except WorkflowAlreadyStartedError as exc:
            raise Conflict(
                f"approval {approval_id} already ran to its end; see GET "
                f"/prompt_versions/{version_id}/approval"
            ) from exc
        row = await self.approvals.get(approval_id, self.principal.organization_id)
        initial = "Checking" if policy.golden_dataset_id else "Pending"
        return {
            "approval_id": approval_id,
            "workflow_id": approval_id,
            "run_id": handle.result_run_id,
            "prompt_version_id": version.id,
            "status": row.status if row is not None else initial,
            "temporal_ui_url": temporal_ui_link(self.settings, approval_id),
        }

    # --- decisions -------------------------------------------------------------------------
    async def decide(self, version_id: uuid.UUID, decision: str, comment: str) -> dict[str, Any]:
        """Approve or reject as the caller (``principal.actor``) through the workflow's
        update; returns the approval after the decision is stored.

        Raises NotFound (404) without a running approval, Conflict (409) for a second decision
        by the same reviewer or an approval not waiting for reviews (checking, or closed),
        Forbidden (403) for the version's author approving or a reviewer not in the policy's
        list, Unprocessable (422, ``comment``) for a rejection without a comment.
        """
        self.principal.require(Role.EDITOR)
        version = await self.prompts.get_version(version_id)
        if decision == "reject" and not comment.strip():
            raise Unprocessable("a rejection needs a comment", field="comment")
        approval_id = await self._current_id(version.id)
        handle = self._client().get_workflow_handle(approval_id)
        try:
            state: ApprovalState = await handle.execute_update(
                decision,
                ReviewInput(
                    reviewer=self.principal.actor,
                    comment=comment.strip(),
                    request_id=self.principal.request_id,
                ),
                result_type=ApprovalState,
                rpc_timeout=UPDATE_TIMEOUT,
            )
        except WorkflowUpdateFailedError as exc:
            cause = exc.cause
            if isinstance(cause, ApplicationError) and cause.type in _UPDATE_ERRORS:
                error = _UPDATE_ERRORS[cause.type]
                field = "comment" if error is Unprocessable else None
                raise error(cause.message, field=field) from exc
            raise Unavailable(
                f"approval {approval_id} could not record the decision: {cause}"
            ) from exc
        except WorkflowUpdateRPCTimeoutOrCancelledError as exc:
            raise Unavailable(
                f"approval {approval_id} did not answer within "
                f"{UPDATE_TIMEOUT.total_seconds():g} s; is a worker running?"
            ) from exc
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise Unavailable(f"Temporal refused the {decision}: {exc}") from exc
            row = await self.approvals.get(approval_id, self.principal.organization_id)
            if row is not None and row.status in FINAL_STATUSES:
                raise Conflict(
                    f"approval {approval_id} is already {row.status}; decisions are closed"
                ) from exc
            raise NotFound(
                f"prompt version {version_id} has no running approval; submit it first"
            ) from exc
        row = await self.approvals.get(approval_id, self.principal.organization_id)
        return await self._public(approval_id, row, state, version_status=version.status.value)

    # --- reads -----------------------------------------------------------------------------
    async def get_for_version(self, version_id: uuid.UUID) -> dict[str, Any]:
        """The version's current (or last) approval: the live ``status`` query while its
        workflow runs, else the database record with its decisions. 404 if never submitted."""
        version = await self.prompts.get_version(version_id)
        approval_id = await self._current_id(version.id)
        state = await self._live_state(approval_id)
        row = await self.approvals.get(approval_id, self.principal.organization_id)
        if state is None and row is None:
            # The last approval Expired and none was submitted since: show that one.
            rows = await self.approvals.for_version(version.id)
            if not rows:
                raise NotFound(f"prompt version {version_id} was never submitted for approval")
            row = rows[-1]
            approval_id = row.id
        return await self._public(approval_id, row, state, version_status=version.status.value)

    async def list_approvals(
        self,
        *,
        project_id: uuid.UUID | None,
        status: str | None,
        prompt_version_id: uuid.UUID | None,
        limit: int,
        offset: int,
    ) -> dict[str, Any]:
        """Approvals of the caller's organization (and project scope), newest first, from the
        database. 404 for another organization's project or version; 422 (``status``) for an
        unknown status."""
        if status is not None and status not in APPROVAL_STATUSES:
            raise Unprocessable(
                f"unknown status {status!r}; one of {', '.join(APPROVAL_STATUSES)}", field="status"
            )
        if project_id is not None:
            await self.prompts.get_project(project_id)
        if prompt_version_id is not None:
            await self.prompts.get_version(prompt_version_id)
        rows = await self.approvals.list(
            self.principal.organization_id,
            scope_project_id=self.principal.project_id,
            project_id=project_id,
            status=status,
            prompt_version_id=prompt_version_id,
            limit=limit,
            offset=offset,
        )
        decisions = await self.approvals.decisions([r.id for r in rows])
        data = await self._with_facts([self._from_row(r, decisions[r.id]) for r in rows])
        return {"data": data, "count": len(data)}

    async def get(self, approval_id: str) -> dict[str, Any]:
        """One approval by its id (= workflow id): live from the workflow's ``status`` query
        while it runs, else the stored record. An approval whose workflow has not stored its
        row yet (just submitted) is found through its version. 404 for an unknown id or one
        outside the caller's organization or project scope."""
        row = await self.approvals.get(
            approval_id, self.principal.organization_id, self.principal.project_id
        )
        version_id = row.prompt_version_id if row is not None else _version_of(approval_id)
        if version_id is None:
            raise NotFound(f"approval {approval_id} not found")
        try:
            version = await self.prompts.get_version(version_id)
        except NotFound as exc:
            raise NotFound(f"approval {approval_id} not found") from exc
        state = await self._live_state(approval_id)
        if row is None and state is None:
            raise NotFound(f"approval {approval_id} not found")
        return await self._public(approval_id, row, state, version_status=version.status.value)

    # --- helpers ---------------------------------------------------------------------------
    def _client(self) -> Client:
        if self.client is None:
            raise Unavailable("Temporal is not connected")
        return self.client

    async def _live_state(self, approval_id: str) -> ApprovalState | None:
        """The running workflow's ``status`` query, or ``None`` (not running, no answer)."""
        if self.client is None:
            return None
        handle = self.client.get_workflow_handle(approval_id)
        try:
            desc = await handle.describe(rpc_timeout=QUERY_TIMEOUT)
            if desc.status != WorkflowExecutionStatus.RUNNING:
                return None
            state: ApprovalState = await handle.query(
                "status", result_type=ApprovalState, rpc_timeout=QUERY_TIMEOUT
            )
            return state
        except RPCError:
            return None

    async def _with_facts(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Fill in each approval's prompt, version number and author."""
        facts = await self.approvals.version_facts(
            [uuid.UUID(str(item["prompt_version_id"])) for item in items]
        )
        for item in items:
            fact = facts.get(uuid.UUID(str(item["prompt_version_id"])))
            if fact is not None:
                item.update(
                    prompt_id=fact.prompt_id,
                    prompt_name=fact.prompt_name,
                    version=fact.version,
                    author=fact.author,
                )
        return items

    def _from_row(self, row: Approval, decisions: list[ApprovalDecision]) -> dict[str, Any]:
        policy = row.policy or {}
        has_check = bool(policy.get("golden_dataset_id"))
        return {
            "golden_dataset_id": policy.get("golden_dataset_id") if has_check else None,
            "id": row.id,
            "workflow_id": row.id,
            "project_id": row.project_id,
            "prompt_version_id": row.prompt_version_id,
            "status": row.status,
            "phase": DONE if row.status in FINAL_STATUSES else "unknown",
            "live": False,
            "required_approvals": row.required_approvals,
            "approvals": len({d.reviewer for d in decisions if d.decision == "approve"}),
            "decisions": [
                {
                    "reviewer": d.reviewer,
                    "decision": d.decision,
                    "comment": d.comment,
                    "decided_at": d.created_at,
                }
                for d in decisions
            ],
            "reviewers": list(policy.get("reviewers") or []),
            "eval_score": row.eval_score,
            "min_eval_score": policy.get("min_eval_score") if has_check else None,
            "eval_metric": policy.get("eval_metric") if has_check else None,
            "evaluation_id": row.evaluation_id,
            "requested_by": row.requested_by,
            "reason": row.reason,
            "deadline_at": row.deadline_at,
            "created_at": row.created_at,
            "completed_at": row.completed_at,
            "temporal_ui_url": temporal_ui_link(self.settings, row.id),
        }

    async def _public(
        self,
        approval_id: str,
        row: Approval | None,
        state: ApprovalState | None,
        *,
        version_status: str | None = None,
    ) -> dict[str, Any]:
        if row is not None:
            decisions = (await self.approvals.decisions([row.id]))[row.id]
            out = self._from_row(row, decisions)
        else:
            out = {
                "id": approval_id,
                "workflow_id": approval_id,
                "temporal_ui_url": temporal_ui_link(self.settings, approval_id),
            }
        if state is not None:
            out.update(
                {
                    "prompt_version_id": state.prompt_version_id,
                    "status": state.status,
                    "phase": state.phase,
                    "live": True,
                    "required_approvals": state.required_approvals,
                    "approvals": state.approvals,
                    "decisions": [
                        {
                            "reviewer": d.reviewer,
                            "decision": d.decision,
                            "comment": d.comment,
                            "decided_at": d.decided_at or None,
                        }
                        for d in state.decisions
                    ],
                    "reviewers": state.reviewers,
                    "eval_score": state.eval_score,
                    "min_eval_score": state.min_eval_score,
                    "eval_metric": state.eval_metric,
                    "evaluation_id": state.evaluation_id,
                    "reason": state.reason,
                    "reminders_sent": state.reminders_sent,
                    "deadline_at": state.deadline_at or out.get("deadline_at"),
                }
            )
        out["version_status"] = version_status
        return (await self._with_facts([out]))[0]


def _version_of(approval_id: str) -> uuid.UUID | None:
    """The version id inside an approval id ``approval-{version_id}-{n}`` (None if it is not
    one)."""
    prefix, _, rest = approval_id.partition("-")
    head, _, attempt = rest.rpartition("-")
    if prefix != "approval" or not attempt.isdigit():
        return None
    try:
        return uuid.UUID(head)
    except ValueError:
        return None
