"""Business rules for projects, prompts, versions and labels."""

from __future__ import annotations

import difflib
import uuid
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import Principal
from api.errors import Conflict, Forbidden, NotFound, Unprocessable
from api.schemas.prompts import PromptVersionCreate
from promptops.db.models import Label, Project, Prompt, PromptVersion, Role
from promptops.db.repositories import AuditRepository, ProjectRepository, PromptRepository
from promptops.llm.templating import PromptContent, TemplateError, validate_template

#: Labels only an Admin may move by hand (others move them through deployments).
PROTECTED_LABELS = frozenset({"production"})


def version_content(v: PromptVersion) -> PromptContent:
    return PromptContent(body=v.body, system=v.system, variables=v.variables, model=v.model,
                         decoding=v.decoding, response_format=v.response_format)


class PromptService:
    def __init__(self, session: AsyncSession, principal: Principal) -> None:
        self.session = session
        self.principal = principal
        self.projects = ProjectRepository(session)
        self.prompts = PromptRepository(session)
        self.audit = AuditRepository(session)

    async def _audit(self, action: str, entity_type: str, entity_id: object,
                     before: dict[str, Any] | None = None,
                     after: dict[str, Any] | None = None) -> None:
        await self.audit.record(
            organization_id=self.principal.organization_id, actor=self.principal.actor,
            action=action, entity_type=entity_type, entity_id=str(entity_id), before=before,
            after=after, request_id=self.principal.request_id,
        )

    async def create_project(self, name: str, description: str) -> Project:
        if self.principal.project_id is not None:
            raise Forbidden("this API key is scoped to one project and cannot create projects")
        if await self.projects.get_by_name(name, self.principal.organization_id):
            raise Conflict(f"a project named {name!r} already exists", field="name")
        project = await self.projects.add(Project(
            id=uuid.uuid4(), organization_id=self.principal.organization_id, name=name,
            description=description,
        ))
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
        prompt = await self.prompts.add(Prompt(id=uuid.uuid4(), project_id=project_id, name=name,
                                               description=description))
        await self._audit("prompt.create", "prompt", prompt.id, after={"name": name})
        return prompt

    async def get_prompt(self, prompt_id: uuid.UUID) -> Prompt:
        prompt = await self.prompts.get(prompt_id, self.principal.organization_id,
                                        self.principal.project_id)
        if prompt is None:
            raise NotFound(f"prompt {prompt_id} not found")
        return prompt

    async def create_version(self, prompt_id: uuid.UUID, data: PromptVersionCreate) -> PromptVersion:
        await self.get_prompt(prompt_id)
        try:
            validate_template(data.body, data.variables, system=data.system)
        except TemplateError as exc:
            raise Unprocessable(str(exc), field=exc.field) from exc
        decoding = data.decoding.model_dump(exclude_none=True)
        content = PromptContent(body=data.body, system=data.system, variables=data.variables,
                                model=data.model, decoding=decoding,
                                response_format=data.response_format)
        await self.prompts.lock_prompt(prompt_id)
        number = await self.prompts.next_version_number(prompt_id)
        version = await self.prompts.add_version(PromptVersion(
            id=uuid.uuid4(), prompt_id=prompt_id, version=number, body=data.body,
            system=data.system, variables=data.variables, notes=data.notes, model=data.model,
            decoding=decoding, response_format=data.response_format,
            content_hash=content.content_hash(), created_by=self.principal.actor,
        ))
        await self._audit("prompt_version.create", "prompt_version", version.id,
                          after={"prompt_id": str(prompt_id), "version": number,
                                 "content_hash": version.content_hash})
        return version

    async def get_version(self, version_id: uuid.UUID) -> PromptVersion:
        version = await self.prompts.get_version(version_id, self.principal.organization_id,
                                                self.principal.project_id)
        if version is None:
            raise NotFound(f"prompt version {version_id} not found")
        return version

    async def move_label(self, prompt_id: uuid.UUID, name: str, version_id: uuid.UUID) -> Label:
        if name in PROTECTED_LABELS:
            # Production traffic moves through approvals and canary deployments; a direct move
            # (e.g. an emergency rollback) is an Admin's decision.
            self.principal.require(Role.ADMIN)
        await self.get_prompt(prompt_id)
        version = await self.get_version(version_id)
        if version.prompt_id != prompt_id:
            raise Unprocessable(f"version {version_id} belongs to another prompt",
                                field="prompt_version_id")
        label = await self.prompts.get_label(prompt_id, name, for_update=True)
        before = {"prompt_version_id": str(label.prompt_version_id)} if label else None
        if label is None:
            try:
                async with self.session.begin_nested():
                    label = await self.prompts.add_label(Label(
                        id=uuid.uuid4(), prompt_id=prompt_id, name=name,
                        prompt_version_id=version_id))
            except IntegrityError:
                label = await self.prompts.get_label(prompt_id, name, for_update=True)
                if label is None:
                    raise
                label.prompt_version_id = version_id
        else:
            label.prompt_version_id = version_id
        await self.session.flush()
        await self.session.refresh(label)
        await self._audit("label.move", "label", f"{prompt_id}:{name}", before=before,
                          after={"prompt_version_id": str(version_id), "version": version.version})
        return label

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
        body_diff = "".join(difflib.unified_diff(
            va.body.splitlines(keepends=True), vb.body.splitlines(keepends=True),
            fromfile=f"v{a}", tofile=f"v{b}",
        ))
        return {"from_version": a, "to_version": b, "fields": fields, "body_diff": body_diff}
