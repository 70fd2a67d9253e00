"""Business rules for projects, prompts, versions and labels.

Protected labels (``production`` in every project, plus ``dev``/``staging`` where an Admin
marks them) point only at Approved versions. They move when a deployment is promoted (the
canary workflow's ``finish_deployment`` activity) or by an Admin's emergency rollback to a
version they served before (``label_history``, written by a database trigger on every move);
``PUT .../labels/{name}`` refuses them for everyone.
"""

from __future__ import annotations

import asyncio
import difflib
import re
import uuid
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import Principal
from api.schemas.prompts import PromptVersionCreate, TemplatePreview
from promptops.db.models import (
    ALWAYS_PROTECTED_LABELS,
    ENVIRONMENT_LABELS,
    PROTECTABLE_LABELS,
    Label,
    Project,
    Prompt,
    PromptVersion,
    PromptVersionStatus,
    Role,
)
from promptops.db.repositories import (
    AuditRepository,
    DeploymentRepository,
    ProjectRepository,
    PromptRepository,
)
from promptops.errors import Conflict, Forbidden, InvalidInput, NotFound
from promptops.llm.budgets.bounds import estimate_prompt_tokens
from promptops.llm.templating import (
    PromptContent,
    TemplateError,
    check_template,
    validate_template,
)

#: The environment whose deployments move each protectable label (``production`` -> prod).
LABEL_ENVIRONMENTS = {label: env for env, label in ENVIRONMENT_LABELS.items()}


def version_content(v: PromptVersion) -> PromptContent:
    return PromptContent(
        body=v.body,
        system=v.system,
        variables=v.variables,
        model=v.model,
        decoding=v.decoding,
        response_format=v.response_format,
    )


def _lines(text: str) -> list[str]:
    # Split on "\n" only (str.splitlines also splits on \r, \x0c, U+2028...), keeping ends.
    return re.findall(r"[^\n]*\n|[^\n]+$", text)


def unified_diff(a: str, b: str, fromfile: str, tofile: str) -> str:
    """The unified diff (3 lines of context) of texts ``a`` and ``b``, lines split on "\\n".
    A last line without a newline is followed by git's ``\\ No newline at end of file``
    marker, so every diff line is a line of its own (difflib would otherwise glue ``-x`` and
    ``+y`` into one)."""
    out: list[str] = []
    for line in difflib.unified_diff(_lines(a), _lines(b), fromfile=fromfile, tofile=tofile):
        out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(out)


def _problem(exc: TemplateError) -> dict[str, Any]:
    return {"field": exc.field, "message": str(exc), "names": exc.names}


def _preview(data: TemplatePreview) -> dict[str, Any]:
    check = check_template(data.body, data.variables, system=data.system)
    errors = [_problem(p) for p in check.problems]
    messages: list[dict[str, str]] | None = None
    syntax_ok = not any(p.field in ("body", "system") for p in check.problems)
    if syntax_ok:
        missing = sorted((set(data.variables) | check.used) - set(data.values))
        if missing:
            errors.append(
                {
                    "field": "values",
                    "message": f"no value to render with for: {', '.join(missing)}",
                    "names": missing,
                }
            )
        else:
            content = PromptContent(body=data.body, system=data.system, variables=data.variables)
            try:
                messages = content.render_messages(data.values)
            except TemplateError as exc:
                errors.append(_problem(exc))
    as_written = ([{"content": data.system}] if data.system else []) + [{"content": data.body}]
    return {
        "messages": messages,
        "used_variables": sorted(check.used),
        "errors": errors,
        "prompt_tokens": estimate_prompt_tokens(messages if messages is not None else as_written),
        "rendered": messages is not None,
    }


async def preview_template(data: TemplatePreview) -> dict[str, Any]:
    """Check and render an unsaved template: ``TemplatePreviewPublic`` fields.

    The checks are :func:`promptops.llm.templating.check_template`'s, the ones creating a
    version enforces (syntax, undeclared and unused variables), all reported at once instead of
    the first; a declared or used variable without a value is a ``values`` problem and leaves
    ``messages`` None. ``prompt_tokens`` is the ESTIMATE the budget check reserves
    (:func:`promptops.llm.budgets.bounds.estimate_prompt_tokens`: characters / 4 + 4 per
    message + 3), not a tokenizer's count. Rendering runs in a worker thread (bounded by the
    sandbox's limits) so a heavy template does not hold up the event loop. Never raises for a
    bad template: problems are in ``errors``.
    """
    return await asyncio.to_thread(_preview, data)


class PromptService:
    def __init__(self, session: AsyncSession, principal: Principal) -> None:
        self.session = session
        self.principal = principal
        self.projects = ProjectRepository(session)
        self.prompts = PromptRepository(session)
        self.audit = AuditRepository(session)

    async def _audit(
        self,
        action: str,
        entity_type: str,
        entity_id: object,
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
    ) -> None:
        await self.audit.record(
            organization_id=self.principal.organization_id,
            actor=self.principal.actor,
            action=action,
            entity_type=entity_type,
            entity_id=str(entity_id),
            before=before,
            after=after,
            request_id=self.principal.request_id,
        )

    async def create_project(self, name: str, description: str) -> Project:
        if self.principal.project_id is not None:
            raise Forbidden("this API key is scoped to one project and cannot create projects")
        if await self.projects.get_by_name(name, self.principal.organization_id):
            raise Conflict(f"a project named {name!r} already exists", field="name")
        project = await self.projects.add(
            Project(
                id=uuid.uuid4(),
                organization_id=self.principal.organization_id,
                name=name,
                description=description,
            )
        )
        await self._audit("project.create", "project", project.id, after={"name": name})
        return project

    async def get_project(self, project_id: uuid.UUID) -> Project:
        project = await self.projects.get(project_id, self.principal.organization_id)
        if project is None or not self.principal.can_access_project(project.id):
            raise NotFound(f"project {project_id} not found")
        return project

    async def create_prompt(self, project_id: uuid.UUID, name: str, description: str) -> Prompt:
        await self.get_project(project_id)
        if await self.prompts.get_by_name(project_id, name):
            raise Conflict(f"a prompt named {name!r} already exists in this project", field="name")
        prompt = await self.prompts.add(
            Prompt(id=uuid.uuid4(), project_id=project_id, name=name, description=description)
        )
        await self._audit("prompt.create", "prompt", prompt.id, after={"name": name})
        return prompt

    async def get_prompt(self, prompt_id: uuid.UUID) -> Prompt:
        prompt = await self.prompts.get(
            prompt_id, self.principal.organization_id, self.principal.project_id
        )
        if prompt is None:
            raise NotFound(f"prompt {prompt_id} not found")
        return prompt

    async def create_version(
        self, prompt_id: uuid.UUID, data: PromptVersionCreate
    ) -> PromptVersion:
        await self.get_prompt(prompt_id)
        try:
            validate_template(data.body, data.variables, system=data.system)
        except TemplateError as exc:
            raise InvalidInput(str(exc), field=exc.field) from exc
        decoding = data.decoding.model_dump(exclude_none=True)
        content = PromptContent(
            body=data.body,
            system=data.system,
            variables=data.variables,
            model=data.model,
            decoding=decoding,
            response_format=data.response_format,
        )
        await self.prompts.lock_prompt(prompt_id)
        number = await self.prompts.next_version_number(prompt_id)
        version = await self.prompts.add_version(
            PromptVersion(
                id=uuid.uuid4(),
                prompt_id=prompt_id,
                version=number,
                body=data.body,
                system=data.system,
                variables=data.variables,
                notes=data.notes,
                model=data.model,
                decoding=decoding,
                response_format=data.response_format,
                content_hash=content.content_hash(),
                created_by=self.principal.actor,
            )
        )
        await self._audit(
            "prompt_version.create",
            "prompt_version",
            version.id,
            after={
                "prompt_id": str(prompt_id),
                "version": number,
                "content_hash": version.content_hash,
            },
        )
        return version

    async def get_version(self, version_id: uuid.UUID) -> PromptVersion:
        version = await self.prompts.get_version(
            version_id, self.principal.organization_id, self.principal.project_id
        )
        if version is None:
            raise NotFound(f"prompt version {version_id} not found")
        return version

    # ------------------------------------------------------------------ labels
    async def is_protected(self, project_id: uuid.UUID, name: str) -> bool:
        """Whether label ``name`` is protected in the project (``production`` always is)."""
        if name in ALWAYS_PROTECTED_LABELS:
            return True
        return any(p.name == name for p in await self.prompts.protected_labels(project_id))

    async def list_labels(self, prompt_id: uuid.UUID) -> list[dict[str, Any]]:
        """The prompt's labels as ``LabelPublic`` fields, each with ``protected``."""
        prompt = await self.get_prompt(prompt_id)
        protected = ALWAYS_PROTECTED_LABELS | {
            p.name for p in await self.prompts.protected_labels(prompt.project_id)
        }
        return [
            {
                "prompt_id": lab.prompt_id,
                "name": lab.name,
                "prompt_version_id": lab.prompt_version_id,
                "updated_at": lab.updated_at,
                "protected": lab.name in protected,
            }
            for lab in await self.prompts.list_labels(prompt_id)
        ]

    async def move_label(self, prompt_id: uuid.UUID, name: str, version_id: uuid.UUID) -> Label:
        """Point an unprotected label at a version of the prompt (creating the label); audited
        ``label.move``.

        Raises NotFound (404) for a prompt or version the caller cannot see, InvalidInput
        (422, ``prompt_version_id``) for a version of another prompt, Conflict (409) for a
        protected label, whoever asks: those move through a deployment or an emergency
        rollback (the message says how).
        """
        prompt = await self.get_prompt(prompt_id)
        # Shared lock: a concurrent protect_label of this project waits for the move (and the
        # move for it), so a label cannot become protected while pointing at a Draft.
        await self.prompts.lock_project(prompt.project_id, exclusive=False)
        if await self.is_protected(prompt.project_id, name):
            env = LABEL_ENVIRONMENTS[name]
            raise Conflict(
                f"label {name!r} is protected and cannot be moved by hand: it moves when a "
                f"deployment of an approved version is promoted (POST /deployments with "
                f"environment {env!r}), or by an Admin's emergency rollback to a version it "
                f"served before (POST /prompts/{prompt_id}/labels/{name}/rollback with "
                "prompt_version_id and reason)"
            )
        version = await self.get_version(version_id)
        if version.prompt_id != prompt_id:
            raise InvalidInput(
                f"version {version_id} belongs to another prompt", field="prompt_version_id"
            )
        label = await self.prompts.get_label(prompt_id, name, for_update=True)
        before = {"prompt_version_id": str(label.prompt_version_id)} if label else None
        if label is None:
            try:
                async with self.session.begin_nested():
                    label = await self.prompts.add_label(
                        Label(
                            id=uuid.uuid4(),
                            prompt_id=prompt_id,
                            name=name,
                            prompt_version_id=version_id,
                        )
                    )
            except IntegrityError:
                label = await self.prompts.get_label(prompt_id, name, for_update=True)
                if label is None:
                    raise
                label.prompt_version_id = version_id
        else:
            label.prompt_version_id = version_id
        await self.session.flush()
        await self.session.refresh(label)
        await self._audit(
            "label.move",
            "label",
            f"{prompt_id}:{name}",
            before=before,
            after={"prompt_version_id": str(version_id), "version": version.version},
        )
        return label

    async def rollback_label(
        self, prompt_id: uuid.UUID, name: str, version_id: uuid.UUID, reason: str
    ) -> dict[str, Any]:
        """An Admin's emergency rollback: point protected label ``name`` back at a version it
        served before; audited ``label.rollback`` with the reason.

        Returns ``LabelRollbackPublic`` fields. Raises Forbidden (403) below Admin; NotFound
        (404) for a prompt or version the caller cannot see, or a label the prompt does not
        have; InvalidInput (422) for an empty ``reason`` or a version of another prompt
        (``prompt_version_id``); Conflict (409) for a label that is not protected (PUT it),
        a version the label never served or that is not Approved, the version it serves now
        (all naming ``prompt_version_id``), or an active deployment of the prompt to the
        label's environment (abort it first: the message names it).
        """
        self.principal.require(Role.ADMIN)
        reason = reason.strip()
        if not reason:
            raise InvalidInput("an emergency rollback needs a reason", field="reason")
        prompt = await self.get_prompt(prompt_id)
        version = await self.get_version(version_id)
        if version.prompt_id != prompt_id:
            raise InvalidInput(
                f"version {version_id} belongs to another prompt", field="prompt_version_id"
            )
        if not await self.is_protected(prompt.project_id, name):
            raise Conflict(
                f"label {name!r} is not protected: move it with PUT "
                f"/prompts/{prompt_id}/labels/{name}"
            )
        # The label's row lock orders this rollback with deployments of the prompt (create and
        # promotion lock it too), so the active-deployment check below cannot go stale.
        label = await self.prompts.get_label(prompt_id, name, for_update=True)
        if label is None:
            raise NotFound(f"prompt {prompt_id} has no label {name!r}: nothing to roll back")
        if label.prompt_version_id == version.id:
            raise Conflict(
                f"label {name!r} already points at version {version.version}",
                field="prompt_version_id",
            )
        if not await self.prompts.label_served(prompt_id, name, version.id):
            raise Conflict(
                f"version {version.version} never served under label {name!r}: an "
                "emergency rollback returns only to a version the label pointed at "
                f"before (GET /prompts/{prompt_id}/labels/{name}/history lists them); "
                "a new version goes through approval and a deployment",
                field="prompt_version_id",
            )
        if version.status != PromptVersionStatus.APPROVED:
            raise Conflict(
                f"version {version.version} is {version.status.value}, not Approved: "
                f"protected label {name!r} points only at approved versions",
                field="prompt_version_id",
            )
        active = await DeploymentRepository(self.session).active_for(
            prompt_id, LABEL_ENVIRONMENTS[name]
        )
        if active is not None:
            raise Conflict(
                f"deployment {active.id} of this prompt to {active.environment} is "
                f"{active.status}: abort it first (POST /deployments/{active.id}/abort), then "
                "roll back; if the canary is the problem, the abort alone restores the "
                "baseline"
            )
        previous = label.prompt_version_id
        label.prompt_version_id = version.id
        await self.session.flush()
        await self.session.refresh(label)
        await self._audit(
            "label.rollback",
            "label",
            f"{prompt_id}:{name}",
            before={"prompt_version_id": str(previous)},
            after={
                "prompt_version_id": str(version.id),
                "version": version.version,
                "reason": reason,
            },
        )
        return {
            "prompt_id": label.prompt_id,
            "name": label.name,
            "prompt_version_id": label.prompt_version_id,
            "updated_at": label.updated_at,
            "protected": True,
            "version": version.version,
            "previous_version_id": previous,
            "reason": reason,
        }

    async def label_history(
        self, prompt_id: uuid.UUID, name: str, limit: int = 100
    ) -> dict[str, Any]:
        """``LabelHistoryPublic`` fields: the values label ``name`` took, newest first (empty
        for a label that never existed). 404 for a prompt the caller cannot see."""
        await self.get_prompt(prompt_id)
        label = await self.prompts.get_label(prompt_id, name)
        rows = await self.prompts.label_history(prompt_id, name, limit=limit)
        data = [
            {
                "prompt_version_id": h.prompt_version_id,
                "version": number,
                "previous_version_id": h.previous_version_id,
                "moved_at": h.moved_at,
                "current": i == 0
                and label is not None
                and label.prompt_version_id == h.prompt_version_id,
            }
            for i, (h, number) in enumerate(rows)
        ]
        return {"prompt_id": prompt_id, "name": name, "data": data, "count": len(data)}

    # ------------------------------------------------------------------ protected labels
    async def protected_labels(self, project_id: uuid.UUID) -> dict[str, Any]:
        """``ProtectedLabelsPublic`` fields: ``production`` (always) and the labels an Admin
        marked, by name. 404 for a project the caller cannot see."""
        await self.get_project(project_id)
        marked = await self.prompts.protected_labels(project_id)
        data: list[dict[str, Any]] = [
            {"name": n, "always": True} for n in sorted(ALWAYS_PROTECTED_LABELS)
        ]
        data += [
            {
                "name": p.name,
                "always": False,
                "created_by": p.created_by,
                "created_at": p.created_at,
            }
            for p in marked
        ]
        return {"project_id": project_id, "data": sorted(data, key=lambda d: d["name"])}

    async def protect_label(self, project_id: uuid.UUID, name: str) -> dict[str, Any]:
        """Mark label ``name`` protected in the project (Admin; idempotent; audited
        ``label.protect`` when it changes). Returns :meth:`protected_labels`.

        Raises Forbidden (403) below Admin, NotFound (404), InvalidInput (422, ``name``) for a
        label no deployment moves (only ``dev``, ``staging`` and ``production`` can be
        protected: anything else would be frozen), Conflict (409) while the label of some
        prompt of the project points at a version that is not Approved (the message names
        them).
        """
        self.principal.require(Role.ADMIN)
        await self.get_project(project_id)
        if name not in PROTECTABLE_LABELS:
            raise InvalidInput(
                f"label {name!r} cannot be protected: a protected label moves only through "
                "deployments, which move the environment labels "
                f"({', '.join(sorted(PROTECTABLE_LABELS))})",
                field="name",
            )
        if name in ALWAYS_PROTECTED_LABELS:
            return await self.protected_labels(project_id)
        await self.prompts.lock_project(project_id, exclusive=True)
        unapproved = await self.prompts.unapproved_under_label(project_id, name)
        if unapproved:
            listed = ", ".join(
                f"{prompt} (version {number}, {status.value})"
                for prompt, number, status in unapproved[:5]
            )
            more = f" and {len(unapproved) - 5} more" if len(unapproved) > 5 else ""
            raise Conflict(
                f"label {name!r} points at versions that are not Approved in "
                f"prompts {listed}{more}: deploy approved versions there first"
            )
        before = [p.name for p in await self.prompts.protected_labels(project_id)]
        if await self.prompts.add_protected_label(project_id, name, self.principal.actor):
            await self._audit(
                "label.protect",
                "project",
                project_id,
                before={"protected_labels": before},
                after={"protected_labels": sorted({*before, name}), "label": name},
            )
        return await self.protected_labels(project_id)

    async def unprotect_label(self, project_id: uuid.UUID, name: str) -> dict[str, Any]:
        """Unmark label ``name`` (Admin; idempotent; audited ``label.unprotect`` when it
        changes). Returns :meth:`protected_labels`. Raises Forbidden (403) below Admin,
        NotFound (404), Conflict (409) for ``production``, which is always protected."""
        self.principal.require(Role.ADMIN)
        await self.get_project(project_id)
        if name in ALWAYS_PROTECTED_LABELS:
            raise Conflict(
                f"label {name!r} is protected in every project and cannot be unprotected"
            )
        await self.prompts.lock_project(project_id, exclusive=True)
        before = [p.name for p in await self.prompts.protected_labels(project_id)]
        if await self.prompts.remove_protected_label(project_id, name):
            await self._audit(
                "label.unprotect",
                "project",
                project_id,
                before={"protected_labels": before},
                after={"protected_labels": [n for n in before if n != name], "label": name},
            )
        return await self.protected_labels(project_id)

    async def resolve_label(self, prompt_id: uuid.UUID, name: str) -> PromptVersion:
        label = await self.prompts.get_label(prompt_id, name)
        if label is None:
            raise NotFound(f"prompt {prompt_id} has no label {name!r}", field="label")
        return await self.get_version(label.prompt_version_id)

    async def diff(self, prompt_id: uuid.UUID, a: int, b: int) -> dict[str, Any]:
        await self.get_prompt(prompt_id)
        va = await self.prompts.get_version_by_number(prompt_id, a)
        vb = await self.prompts.get_version_by_number(prompt_id, b)
        if va is None or vb is None:
            missing = a if va is None else b
            raise NotFound(f"prompt {prompt_id} has no version {missing}")
        fields: dict[str, dict[str, Any]] = {}
        for name in ("system", "variables", "model", "decoding", "response_format", "notes"):
            x, y = getattr(va, name), getattr(vb, name)
            if x != y:
                fields[name] = {"from": x, "to": y}
        body_diff = unified_diff(va.body, vb.body, f"v{a}", f"v{b}")
        return {"from_version": a, "to_version": b, "fields": fields, "body_diff": body_diff}
