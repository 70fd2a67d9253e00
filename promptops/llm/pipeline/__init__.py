"""The model-call pipeline (see :mod:`promptops.llm.pipeline.pipeline`)."""

from promptops.llm.pipeline.call import (
    CallOutcome,
    CallRequest,
    ModelCall,
    Next,
    PromptTarget,
    Route,
    RunLink,
    RunSink,
    Stage,
    around,
)
from promptops.llm.pipeline.pipeline import Pipeline, default_stages

__all__ = [
    "CallOutcome",
    "CallRequest",
    "ModelCall",
    "Next",
    "Pipeline",
    "PromptTarget",
    "Route",
    "RunLink",
    "RunSink",
    "Stage",
    "around",
    "default_stages",
]
