"""Input and result of ``RunRollupFoldWorkflow``."""

from __future__ import annotations

from dataclasses import dataclass

#: Id of the Temporal Schedule that starts the workflow (its runs get ids
#: ``run-rollup-fold-<timestamp>``).
SCHEDULE_ID = "run-rollup-fold"


@dataclass
class RunRollupFoldInput:
    """Nothing to choose: a fold moves every delta row there is."""


@dataclass
class RunRollupFoldResult:
    """``moved``: delta rows folded into ``run_rollups``."""

    moved: int = 0
