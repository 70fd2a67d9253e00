"""The request path's reads in one round trip: which version serves a request, with everything
the gateway needs about its project (organization, cache settings, budget limits) and the
canary deployment splitting the traffic, if any.

``generate`` used to make seven queries before calling a model (project, prompt, label, version,
deployment, project settings, budget); at a few hundred microseconds each on the request path,
they were most of the gateway's overhead. A miss (no row) means "not found or not yours"; the
caller then takes the ordinary path that names what is missing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from promptops.db.models import (
    ACTIVE_DEPLOYMENT_STATUSES,
    Deployment,
    Label,
    Project,
    ProjectBudget,
    Prompt,
    PromptVersion,
)


@dataclass(frozen=True)
class BudgetLimits:
    """A project's limits (None = unlimited): USD and tokens per UTC day and month."""

    daily_usd: Decimal | None
    monthly_usd: Decimal | None
    daily_tokens: int | None
    monthly_tokens: int | None

    @property
    def any(self) -> bool:
        return any(v is not None for v in (self.daily_usd, self.monthly_usd,
                                             self.daily_tokens, self.monthly_tokens))


@dataclass(frozen=True)
class ProjectFacts:
    """What the gateway needs to know about the project of a call."""

    id: uuid.UUID
    organization_id: uuid.UUID
    cache_settings: dict[str, Any]
    budget: BudgetLimits


@dataclass(frozen=True)
class ActiveDeployment:
    id: uuid.UUID
    canary_weight: float
    candidate_version_id: uuid.UUID


@dataclass(frozen=True)
class Served:
    """The version found, its prompt and project, and the active deployment (or None)."""

    version: PromptVersion
    prompt_id: uuid.UUID
    project: ProjectFacts
    deployment: ActiveDeployment | None


_COLUMNS = (Project.id, Project.organization_id, Project.cache_settings, Prompt.id,
            ProjectBudget.daily_usd, ProjectBudget.monthly_usd, ProjectBudget.daily_tokens,
            ProjectBudget.monthly_tokens)


def _facts(row: Any) -> ProjectFacts:
    return ProjectFacts(id=row[1], organization_id=row[2], cache_settings=row[3] or {},
                        budget=BudgetLimits(row[5], row[6], row[7], row[8]))


class ServingRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def by_label(
        self, organization_id: uuid.UUID, label: str, *, environment: str | None,
        prompt_id: uuid.UUID | None = None, project_id: uuid.UUID | None = None,
        prompt_name: str | None = None, scope_project_id: uuid.UUID | None = None,
    ) -> Served | None:
        """The version under ``label`` of a prompt given by id, or by ``project_id`` + name,
        in the organization (and in ``scope_project_id`` for project-scoped callers), with the
        deployment active in ``environment``. One query; None when anything is missing."""
        q = (select(PromptVersion, *_COLUMNS,
                    Deployment.id, Deployment.canary_weight, Deployment.candidate_version_id)
             .select_from(Prompt)
             .join(Project, Project.id == Prompt.project_id)
             .join(Label, and_(Label.prompt_id == Prompt.id, Label.name == label))
             .join(PromptVersion, PromptVersion.id == Label.prompt_version_id)
             .outerjoin(ProjectBudget, ProjectBudget.project_id == Project.id)
             .outerjoin(Deployment, and_(
                 Deployment.prompt_id == Prompt.id, Deployment.environment == environment,
                 Deployment.status.in_(ACTIVE_DEPLOYMENT_STATUSES)))
             .where(Project.organization_id == organization_id))
        if prompt_id is not None:
            q = q.where(Prompt.id == prompt_id)
        else:
            q = q.where(Project.id == project_id, Prompt.name == prompt_name)
        if scope_project_id is not None:
            q = q.where(Project.id == scope_project_id)
        row = (await self.session.execute(q.limit(1))).first()
        if row is None:
            return None
        deployment = (ActiveDeployment(row[9], float(row[10]), row[11])
                      if environment is not None and row[9] is not None else None)
        return Served(version=row[0], prompt_id=row[4], project=_facts(row),
                      deployment=deployment)

    async def by_version(self, organization_id: uuid.UUID, version_id: uuid.UUID,
                         scope_project_id: uuid.UUID | None = None) -> Served | None:
        """A version by id in the organization (and project scope), with its project's facts.
        One query; None when not found."""
        q = (select(PromptVersion, *_COLUMNS)
             .select_from(PromptVersion)
             .join(Prompt, Prompt.id == PromptVersion.prompt_id)
             .join(Project, Project.id == Prompt.project_id)
             .outerjoin(ProjectBudget, ProjectBudget.project_id == Project.id)
             .where(PromptVersion.id == version_id, Project.organization_id == organization_id))
        if scope_project_id is not None:
            q = q.where(Project.id == scope_project_id)
        row = (await self.session.execute(q)).first()
        if row is None:
            return None
        return Served(version=row[0], prompt_id=row[4], project=_facts(row), deployment=None)

    async def project(self, project_id: uuid.UUID) -> ProjectFacts:
        """A project's facts by id (the caller has checked access). Raises NoResultFound."""
        row = (await self.session.execute(
            select(Project.id, Project.organization_id, Project.cache_settings,
                   ProjectBudget.daily_usd, ProjectBudget.monthly_usd,
                   ProjectBudget.daily_tokens, ProjectBudget.monthly_tokens)
            .select_from(Project)
            .outerjoin(ProjectBudget, ProjectBudget.project_id == Project.id)
            .where(Project.id == project_id))).one()
        return ProjectFacts(id=row[0], organization_id=row[1], cache_settings=row[2] or {},
                            budget=BudgetLimits(row[3], row[4], row[5], row[6]))
