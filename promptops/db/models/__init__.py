"""ORM models, one per module, re-exported here (Alembic's target metadata is ``Base.metadata``)."""

from promptops.db.models.api_key import ApiKey
from promptops.db.models.approval import Approval, ApprovalDecision
from promptops.db.models.audit_log import AuditLog
from promptops.db.models.base import Base
from promptops.db.models.budget import BudgetUsage, ProjectBudget
from promptops.db.models.dataset import Dataset
from promptops.db.models.deployment import (
    ACTIVE_DEPLOYMENT_STATUSES,
    ENVIRONMENT_LABELS,
    ENVIRONMENTS,
    Deployment,
)
from promptops.db.models.deployment_check import DeploymentCheck
from promptops.db.models.evaluation import Evaluation
from promptops.db.models.evaluation_result import EvaluationResult
from promptops.db.models.example import Example
from promptops.db.models.feedback import Feedback, Outcome
from promptops.db.models.gateway import (
    CACHE_EMBEDDING_DIM,
    ROUTING_STRATEGIES,
    CacheEntry,
    ProviderHealthCheck,
    RateLimitWindow,
    RoutingPolicy,
    SemanticCacheEntry,
)
from promptops.db.models.label import Label
from promptops.db.models.label_history import LabelHistory
from promptops.db.models.membership import Membership, Role
from promptops.db.models.organization import Organization
from promptops.db.models.project import Project
from promptops.db.models.prompt import Prompt
from promptops.db.models.prompt_version import PromptVersion, PromptVersionStatus
from promptops.db.models.protected_label import (
    ALWAYS_PROTECTED_LABELS,
    PROTECTABLE_LABELS,
    ProtectedLabel,
)
from promptops.db.models.provider_credential import ProviderCredential
from promptops.db.models.retrieval import (
    TEXT_SEARCH_CONFIG,
    RetrievalChunk,
    RetrievalDocument,
    RetrievalIndex,
    RetrievalSource,
)
from promptops.db.models.retrieval_eval_result import RetrievalEvalResult
from promptops.db.models.run import Run
from promptops.db.models.run_rollup import ROLLUP_GRAINS, RunRollup, RunRollupDelta
from promptops.db.models.user import User

__all__ = [
    "ACTIVE_DEPLOYMENT_STATUSES",
    "ALWAYS_PROTECTED_LABELS",
    "CACHE_EMBEDDING_DIM",
    "ENVIRONMENTS",
    "ENVIRONMENT_LABELS",
    "PROTECTABLE_LABELS",
    "ROLLUP_GRAINS",
    "ROUTING_STRATEGIES",
    "TEXT_SEARCH_CONFIG",
    "ApiKey",
    "Approval",
    "ApprovalDecision",
    "AuditLog",
    "Base",
    "BudgetUsage",
    "CacheEntry",
    "Dataset",
    "Deployment",
    "DeploymentCheck",
    "Evaluation",
    "EvaluationResult",
    "Example",
    "Feedback",
    "Label",
    "LabelHistory",
    "Membership",
    "Organization",
    "Outcome",
    "Project",
    "ProjectBudget",
    "Prompt",
    "PromptVersion",
    "PromptVersionStatus",
    "ProtectedLabel",
    "ProviderCredential",
    "ProviderHealthCheck",
    "RateLimitWindow",
    "RetrievalChunk",
    "RetrievalDocument",
    "RetrievalEvalResult",
    "RetrievalIndex",
    "RetrievalSource",
    "Role",
    "RoutingPolicy",
    "Run",
    "RunRollup",
    "RunRollupDelta",
    "SemanticCacheEntry",
    "User",
]
