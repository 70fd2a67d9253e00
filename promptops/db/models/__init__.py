"""ORM models, one per module, re-exported here (Alembic's target metadata is ``Base.metadata``)."""

from promptops.db.models.audit_log import AuditLog
from promptops.db.models.base import Base
from promptops.db.models.dataset import Dataset
from promptops.db.models.evaluation import Evaluation
from promptops.db.models.evaluation_result import EvaluationResult
from promptops.db.models.example import Example
from promptops.db.models.label import Label
from promptops.db.models.organization import Organization
from promptops.db.models.project import Project
from promptops.db.models.prompt import Prompt
from promptops.db.models.prompt_version import PromptVersion, PromptVersionStatus
from promptops.db.models.run import Run

__all__ = [
    "AuditLog", "Base", "Dataset", "Evaluation", "EvaluationResult", "Example", "Label",
    "Organization", "Project", "Prompt", "PromptVersion", "PromptVersionStatus", "Run",
]
