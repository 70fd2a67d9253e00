"""The resolve stage: which project and prompt version serve the call, and the messages sent.

- an explicit version (``target.version_id``) in the caller's organization and project scope;
  one that has not passed the approval policy (status other than Approved) is served as a
  **test call** (recorded with source ``test``; it never carries a deployment, so canary
  figures never count it);
- a label of a prompt (by id, or by project + name), default ``production``; while a canary
  deployment is active in the label's environment, the subject's sticky hash picks the arm
  (:func:`promptops.governance.traffic.choose_arm`; a call without a subject id is drawn
  afresh) and the canary's candidate serves the canary arm;
- raw messages in a project (by id, given facts, or ``project_ref`` / the caller's scope / the
  organization's only project: :func:`choose_project`).

The version is rendered with the variables (:class:`promptops.llm.templating.PromptContent`),
the call's messages are appended, and decoding/model/response format are merged over the
version's. Errors: :class:`promptops.errors.NotFound` naming what is missing,
:class:`promptops.errors.InvalidInput` for variables the template cannot take or a project that
cannot be chosen.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

from promptops.db.models import ENVIRONMENT_LABELS
from promptops.db.models.prompt_version import PromptVersionStatus
from promptops.db.repositories.serving import NamedProject, ServingRepository
from promptops.errors import InvalidInput, NotFound
from promptops.governance.auth import Principal
from promptops.governance.traffic import choose_arm
from promptops.llm.pipeline.call import CallOutcome, ModelCall, Next, PromptTarget
from promptops.llm.templating import PromptContent, TemplateError

#: Environment served by each label (the inverse of ``ENVIRONMENT_LABELS``).
_ENVIRONMENT_OF = {label: env for env, label in ENVIRONMENT_LABELS.items()}


def environment_of_label(label: str | None) -> tuple[str | None, str]:
    """(environment, label) served for ``label`` (default ``production``, environment prod;
    a label that no environment serves has environment None)."""
    label = label or ENVIRONMENT_LABELS["prod"]
    return _ENVIRONMENT_OF.get(label), label


async def choose_project(
    serving: ServingRepository, principal: Principal, project_ref: str | None
) -> NamedProject:
    """The project of a call that names no prompt: the key's project when it is scoped to
    one, else ``project_ref`` (a project id or name), else the organization's only project.
    Raises NotFound (404) for a project outside the caller's reach, InvalidInput (422) when
    none can be chosen."""
    org = principal.organization_id
    if principal.project_id is not None:
        found = await serving.find_projects(org, scope_project_id=principal.project_id)
        if not found:
            raise NotFound(f"project {principal.project_id} not found")
        return found[0]
    if project_ref:
        try:
            project_id = uuid.UUID(project_ref)
        except ValueError:
            found = await serving.find_projects(org, name=project_ref)
            if not found:
                raise NotFound(
                    f"project {project_ref!r} not found", field="OpenAI-Project"
                ) from None
            return found[0]
        found = await serving.find_projects(org, project_id=project_id)
        if not found:
            raise NotFound(f"project {project_id} not found")
        return found[0]
    found = await serving.find_projects(org)
    if len(found) == 1:
        return found[0]
    raise InvalidInput(
        "choose the project: send the OpenAI-Project header (project= in the OpenAI SDK) "
        "with a project name or id, or use a project-scoped API key",
        field="OpenAI-Project",
    )


class ResolveStage:
    """See the module docstring."""

    name = "resolve"

    async def __call__(self, call: ModelCall, call_next: Next) -> CallOutcome:
        request = call.request
        serving = ServingRepository(call.db)
        if request.version is not None:
            call.version = request.version
            call.project = request.project or await serving.project(
                request.project_id or _no_project()
            )
        elif request.target is not None:
            await self._serve(call, serving, request.target)
        else:
            await self._project_of_messages(call, serving)
        if call.version is not None:
            try:
                rendered = PromptContent.of(call.version).render_messages(request.variables)
            except TemplateError as exc:
                # Name the (first) variable at fault, so a form can put the message next
                # to its field (loc ["body", "variables", "<name>"]).
                field = exc.field
                if field == "variables" and exc.names:
                    field = f"variables.{exc.names[0]}"
                raise InvalidInput(str(exc), field=field) from exc
            call.messages = [*rendered, *request.messages]
            call.extra_messages = list(request.messages)
            call.decoding = {**(call.version.decoding or {}), **request.decoding}
            call.response_format = request.response_format or call.version.response_format
        else:
            if not request.messages:
                raise InvalidInput("messages must not be empty", field="messages")
            call.messages = list(request.messages)
            call.decoding = dict(request.decoding)
            call.response_format = request.response_format
        call.schema = request.schema
        return await call_next(call)

    @staticmethod
    def _principal(call: ModelCall) -> Principal:
        if call.request.principal is None:
            raise InvalidInput("a call that names a prompt needs a caller")
        return call.request.principal

    async def _serve(
        self, call: ModelCall, serving: ServingRepository, target: PromptTarget
    ) -> None:
        principal = self._principal(call)
        org, scope = principal.organization_id, principal.project_id
        if target.version_id is not None:
            served = await serving.by_version(org, target.version_id, scope)
            if served is None:
                raise NotFound(
                    f"prompt version {target.version_id} not found", field="prompt_version_id"
                )
            call.version, call.project = served.version, served.project
            call.test_call = served.version.status != PromptVersionStatus.APPROVED.value
            return
        label = target.label or ENVIRONMENT_LABELS["prod"]
        if target.prompt_id is None and target.project_id is None:
            # A prompt by name without a project: the project of the call (as for raw
            # messages: the key's, the named one, the organization's only one).
            project = await choose_project(serving, principal, call.request.project_ref)
            target = replace(target, project_id=project.id)
        served = await serving.by_label(
            org,
            label,
            environment=target.environment,
            prompt_id=target.prompt_id,
            project_id=target.project_id,
            prompt_name=target.prompt_name,
            scope_project_id=scope,
        )
        if served is None:
            await self._explain_miss(serving, principal, target, label)
        assert served is not None  # _explain_miss always raises
        call.version, call.project = served.version, served.project
        call.environment = target.environment
        deployment = served.deployment
        if deployment is None:
            return
        subject = call.request.subject_id or uuid.uuid4().hex
        call.arm = choose_arm(deployment.canary_weight, deployment.id, subject)
        call.deployment_id = deployment.id
        if call.arm == "canary":
            candidate = await serving.version(deployment.candidate_version_id)
            if candidate is None:  # pragma: no cover - deployments keep their versions
                raise NotFound(f"canary version {deployment.candidate_version_id} not found")
            call.version = candidate

    @staticmethod
    async def _explain_miss(
        serving: ServingRepository, principal: Principal, target: PromptTarget, label: str
    ) -> None:
        """Raise the error naming what a failed label lookup was missing."""
        missing = await serving.explain_miss(
            principal.organization_id,
            label,
            prompt_id=target.prompt_id,
            project_id=target.project_id,
            prompt_name=target.prompt_name,
            scope_project_id=principal.project_id,
        )
        if missing == "project":
            raise NotFound(
                f"project {target.project_id} not found", field=target.field or "project_id"
            )
        if missing == "prompt":
            if target.prompt_id is not None:
                raise NotFound(
                    f"prompt {target.prompt_id} not found", field=target.field or "prompt_id"
                )
            raise NotFound(
                f"no prompt named {target.prompt_name!r} in this project",
                field=target.field or "prompt",
            )
        name = target.prompt_name or target.prompt_id
        raise NotFound(f"prompt {name} has no label {label!r}", field=target.field or "label")

    async def _project_of_messages(self, call: ModelCall, serving: ServingRepository) -> None:
        request = call.request
        if request.project is not None:
            call.project = request.project
            return
        principal = self._principal(call)
        if request.project_id is not None:
            found = await serving.find_projects(
                principal.organization_id,
                scope_project_id=principal.project_id,
                project_id=request.project_id,
            )
            if not found:
                raise NotFound(f"project {request.project_id} not found", field="project_id")
            call.project = found[0].facts
            return
        call.project = (await choose_project(serving, principal, request.project_ref)).facts


def _no_project() -> Any:
    raise InvalidInput("a pre-loaded version needs its project")
