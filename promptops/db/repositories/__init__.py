"""All SQL of the API lives here; repositories never commit (the unit of work does)."""

from promptops.db.repositories.approvals import ApprovalRepository
from promptops.db.repositories.audit import AuditRepository
from promptops.db.repositories.budgets import BudgetRepository
from promptops.db.repositories.datasets import DatasetRepository
from promptops.db.repositories.deployments import DeploymentRepository
from promptops.db.repositories.evaluations import EvaluationRepository
from promptops.db.repositories.identity import IdentityRepository
from promptops.db.repositories.projects import ProjectRepository
from promptops.db.repositories.prompts import PromptRepository
from promptops.db.repositories.runs import RunRepository

__all__ = [
    "ApprovalRepository",
    "AuditRepository",
    "BudgetRepository",
    "DatasetRepository",
    "DeploymentRepository",
    "EvaluationRepository",
    "IdentityRepository",
    "ProjectRepository",
    "PromptRepository",
    "RunRepository",
]
