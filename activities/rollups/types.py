"""Input and result of ``fold_run_rollups`` (one dataclass each, so fields can be added without
breaking running workflows)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class FoldRunRollupsInput:
    """Nothing to choose yet: a fold moves every delta row there is."""


@dataclass
class FoldRunRollupsResult:
    """``moved``: delta rows folded into ``run_rollups`` (0 when nothing was written since)."""

    moved: int = 0
