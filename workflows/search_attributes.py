"""Typed search attributes the workflows are started with, so operators can find them in the
Temporal UI (``EvalId = "eval-..."``, ``PromptVersion = "<uuid>"``, ``DeploymentId = ...``).

They are set by the API at start (never upserted from workflow code), so a cluster that lacks
them only needs ``PROMPTOPS_SEARCH_ATTRIBUTES=false``; the embedded dev server registers
:data:`ALL` at start (``promptops.devstack.temporal.SEARCH_ATTRIBUTES``).
"""

from temporalio.common import SearchAttributeKey

EVAL_ID = SearchAttributeKey.for_keyword("EvalId")
DATASET_ID = SearchAttributeKey.for_keyword("DatasetId")
PROMPT_VERSION = SearchAttributeKey.for_keyword("PromptVersion")
DEPLOYMENT_ID = SearchAttributeKey.for_keyword("DeploymentId")

ALL = [EVAL_ID, DATASET_ID, PROMPT_VERSION, DEPLOYMENT_ID]
