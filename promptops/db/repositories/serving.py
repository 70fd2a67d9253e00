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

from promptops.db.connection import SQL
from promptops.db.models import ACTIVE_DEPLOYMENT_STATUSES, PromptVersion
from promptops.db.models.base import plain_record


@dataclass(frozen=True)
class BudgetLimits:
    """A project's limits (None = unlimited): USD and tokens per UTC day and month."""

    daily_usd: Decimal | None
    monthly_usd: Decimal | None
    daily_tokens: int | None
    monthly_tokens: int | None

    @classmethod
    def of(cls, budget: Any) -> BudgetLimits:
        """The limits of a ``ProjectBudget`` row."""
        return cls(budget.daily_usd, budget.monthly_usd, budget.daily_tokens, budget.monthly_tokens)

    @property
    def any(self) -> bool:
        return any(
            v is not None
            for v in (self.daily_usd, self.monthly_usd, self.daily_tokens, self.monthly_tokens)
        )


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


#: A prompt version as the serving query reads it: every ``prompt_versions`` column as a plain
#: attribute (read like a ``PromptVersion``).
ServedVersion = plain_record(PromptVersion, frozen=True)
_VERSION_COLUMNS = tuple(ServedVersion.__dataclass_fields__)


@dataclass(frozen=True)
class Served:
    """The version found, its prompt and project, and the active deployment (or None)."""

    version: Any  # a ServedVersion
    prompt_id: uuid.UUID
    project: ProjectFacts
    deployment: ActiveDeployment | None


_SELECT = (
    ", ".join(f"v.{c}" for c in _VERSION_COLUMNS)
    + ", p.id, p.organization_id, p.cache_settings, pr.id,"
    " b.daily_usd, b.monthly_usd, b.daily_tokens, b.monthly_tokens"
)
_N = len(_VERSION_COLUMNS)

_BY_LABEL = f"""
SELECT {_SELECT}, d.id, d.canary_weight, d.candidate_version_id
FROM prompts pr
JOIN projects p ON p.id = pr.project_id
JOIN labels l ON l.prompt_id = pr.id AND l.name = %(label)s
JOIN prompt_versions v ON v.id = l.prompt_version_id
LEFT JOIN project_budgets b ON b.project_id = p.id
LEFT JOIN deployments d ON d.prompt_id = pr.id AND d.environment = %(environment)s
     AND d.status = ANY(%(active)s)
WHERE p.organization_id = %(org)s
  AND (%(prompt_id)s::uuid IS NULL OR pr.id = %(prompt_id)s::uuid)
  AND (%(prompt_id)s::uuid IS NOT NULL OR (p.id = %(project_id)s::uuid AND pr.name = %(name)s))
  AND (%(scope)s::uuid IS NULL OR p.id = %(scope)s::uuid)
LIMIT 1
"""

_BY_VERSION = f"""
SELECT {_SELECT}
FROM prompt_versions v
JOIN prompts pr ON pr.id = v.prompt_id
JOIN projects p ON p.id = pr.project_id
LEFT JOIN project_budgets b ON b.project_id = p.id
WHERE v.id = %(version_id)s AND p.organization_id = %(org)s
  AND (%(scope)s::uuid IS NULL OR p.id = %(scope)s::uuid)
"""

_VERSION = f"SELECT {', '.join(_VERSION_COLUMNS)} FROM prompt_versions WHERE id = %(id)s"

#: What a failed serving lookup was missing: the project (in the caller's organization and
#: scope), the prompt (by id, or by name in the project) and the label.
_EXPLAIN = """
SELECT p.id, pr.id, l.id
FROM projects p
LEFT JOIN prompts pr ON pr.project_id = p.id
     AND (%(prompt_id)s::uuid IS NULL OR pr.id = %(prompt_id)s::uuid)
     AND (%(prompt_id)s::uuid IS NOT NULL OR pr.name = %(name)s)
LEFT JOIN labels l ON l.prompt_id = pr.id AND l.name = %(label)s
WHERE p.organization_id = %(org)s
  AND (%(scope)s::uuid IS NULL OR p.id = %(scope)s::uuid)
  AND (%(project_id)s::uuid IS NULL OR p.id = %(project_id)s::uuid)
ORDER BY pr.id IS NULL, l.id IS NULL
LIMIT 1
"""

_PROJECT = """
SELECT p.id, p.organization_id, p.cache_settings,
       b.daily_usd, b.monthly_usd, b.daily_tokens, b.monthly_tokens
FROM projects p LEFT JOIN project_budgets b ON b.project_id = p.id
WHERE p.id = %(project_id)s
"""


_FIND_PROJECTS = """
SELECT p.id, p.organization_id, p.cache_settings,
       b.daily_usd, b.monthly_usd, b.daily_tokens, b.monthly_tokens, p.name
FROM projects p LEFT JOIN project_budgets b ON b.project_id = p.id
WHERE p.organization_id = %(org)s
  AND (%(scope)s::uuid IS NULL OR p.id = %(scope)s::uuid)
  AND (%(id)s::uuid IS NULL OR p.id = %(id)s::uuid)
  AND (%(name)s::text IS NULL OR p.name = %(name)s::text)
ORDER BY p.created_at LIMIT 2
"""


@dataclass(frozen=True)
class NamedProject:
    """A project found by :meth:`ServingRepository.find_projects`: its name and facts."""

    name: str
    facts: ProjectFacts

    @property
    def id(self) -> uuid.UUID:
        return self.facts.id


def _version(row: tuple[Any, ...]) -> Any:
    return ServedVersion(*row[:_N])


def _facts(row: tuple[Any, ...]) -> ProjectFacts:
    r = row[_N:]
    return ProjectFacts(
        id=r[0],
        organization_id=r[1],
        cache_settings=r[2] or {},
        budget=BudgetLimits(r[4], r[5], r[6], r[7]),
    )


class ServingRepository:
    """Raw-SQL reads of the model-call path (see :mod:`promptops.db.connection` for why)."""

    def __init__(self, db: SQL) -> None:
        self.db = db

    async def by_label(
        self,
        organization_id: uuid.UUID,
        label: str,
        *,
        environment: str | None,
        prompt_id: uuid.UUID | None = None,
        project_id: uuid.UUID | None = None,
        prompt_name: str | None = None,
        scope_project_id: uuid.UUID | None = None,
    ) -> Served | None:
        """The version under ``label`` of a prompt given by id, or by ``project_id`` + name,
        in the organization (and in ``scope_project_id`` for project-scoped callers), with the
        deployment active in ``environment``. One query; None when anything is missing."""
        row = await self.db.fetchone(
            _BY_LABEL,
            {
                "label": label,
                "environment": environment,
                "active": list(ACTIVE_DEPLOYMENT_STATUSES),
                "org": organization_id,
                "prompt_id": prompt_id,
                "project_id": project_id,
                "name": prompt_name,
                "scope": scope_project_id,
            },
        )
        if row is None:
            return None
        d = row[_N + 8 :]
        deployment = (
            ActiveDeployment(d[0], float(d[1]), d[2])
            if environment is not None and d[0] is not None
            else None
        )
        return Served(
            version=_version(row), prompt_id=row[_N + 3], project=_facts(row), deployment=deployment
        )

    async def by_version(
        self,
        organization_id: uuid.UUID,
        version_id: uuid.UUID,
        scope_project_id: uuid.UUID | None = None,
    ) -> Served | None:
        """A version by id in the organization (and project scope), with its project's facts.
        One query; None when not found."""
        row = await self.db.fetchone(
            _BY_VERSION,
            {"version_id": version_id, "org": organization_id, "scope": scope_project_id},
        )
        if row is None:
            return None
        return Served(
            version=_version(row), prompt_id=row[_N + 3], project=_facts(row), deployment=None
        )

    async def project(self, project_id: uuid.UUID) -> ProjectFacts:
        """A project's facts by id (the caller has checked access). Raises LookupError."""
        row = await self.db.fetchone(_PROJECT, {"project_id": project_id})
        if row is None:
            raise LookupError(f"project {project_id} not found")
        return ProjectFacts(
            id=row[0],
            organization_id=row[1],
            cache_settings=row[2] or {},
            budget=BudgetLimits(row[3], row[4], row[5], row[6]),
        )

    async def find_projects(
        self,
        organization_id: uuid.UUID,
        *,
        scope_project_id: uuid.UUID | None = None,
        project_id: uuid.UUID | None = None,
        name: str | None = None,
    ) -> list[NamedProject]:
        """At most two projects of the organization (oldest first), narrowed by scope, id and
        name (each None = any), with their facts. One query."""
        rows = await self.db.fetchall(
            _FIND_PROJECTS,
            {"org": organization_id, "scope": scope_project_id, "id": project_id, "name": name},
        )
        return [
            NamedProject(
                name=r[7],
                facts=ProjectFacts(
                    id=r[0],
                    organization_id=r[1],
                    cache_settings=r[2] or {},
                    budget=BudgetLimits(r[3], r[4], r[5], r[6]),
                ),
            )
            for r in rows
        ]

    async def version(self, version_id: uuid.UUID) -> Any:
        """A version by id (a ServedVersion; the caller has checked access), or None."""
        row = await self.db.fetchone(_VERSION, {"id": version_id})
        return None if row is None else ServedVersion(*row)

    async def explain_miss(
        self,
        organization_id: uuid.UUID,
        label: str,
        *,
        prompt_id: uuid.UUID | None = None,
        project_id: uuid.UUID | None = None,
        prompt_name: str | None = None,
        scope_project_id: uuid.UUID | None = None,
    ) -> str:
        """What a :meth:`by_label` miss lacked: ``"project"``, ``"prompt"`` or ``"label"``
        (``""`` when nothing is missing any more). One query."""
        row = await self.db.fetchone(
            _EXPLAIN,
            {
                "org": organization_id,
                "scope": scope_project_id,
                "project_id": project_id if prompt_id is None else None,
                "prompt_id": prompt_id,
                "name": prompt_name,
                "label": label,
            },
        )
        if row is None:
            return "prompt" if prompt_id is not None else "project"
        if row[1] is None:
            return "prompt"
        return "label" if row[2] is None else ""
