"""Scoring an evaluation example as its run is recorded: the run sink of evaluation calls.

The model-call pipeline's record stage hands the run to :class:`ScoredRun`, which scores the
answer against the example's expected output (an answer that failed non-retryably scores as
the empty string) and writes the run and its metric values in ONE statement keyed by the
run's idempotency key ``{evaluation_id}:{version_id}:{example_id}``
(:meth:`promptops.db.repositories.runs.RunWriter.insert_once`), inside the call's atomic batch
with its budget settlement: a retried chunk can never record an example or a score twice.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from typing import Any

from promptops.db.repositories.runs import RunWriter
from promptops.evaluation.metrics import METRIC_SPECS, extract_label, score_example
from promptops.llm.pipeline import CallOutcome, ModelCall


class ScoredRun:
    """The sink of one example: ``metrics`` to score (registry names, latency and cost left
    out: they are the run's own), ``expected`` output, ``labels`` for label metrics and the
    ``embedder`` for ``embedding_similarity``. After the write, :attr:`values`,
    :attr:`success`, :attr:`latency_ms` and :attr:`cost_usd` describe the recorded run."""

    def __init__(
        self,
        evaluation_id: str,
        metrics: Sequence[str],
        expected: str,
        labels: Sequence[str],
        embedder: Any,
    ) -> None:
        self.evaluation_id = evaluation_id
        self.metrics = list(metrics)
        self.expected = expected
        self.labels = list(labels)
        self.embedder = embedder
        self.values: dict[str, float] = {}
        self.success = False
        self.latency_ms = 0.0
        self.cost_usd = 0.0

    async def write(self, call: ModelCall, run: Any, outcome: CallOutcome | None) -> None:
        output = (outcome.text if outcome is not None else "") or ""
        labels = self.labels or None
        if self.embedder is not None:
            # The embedding model releases the GIL: worth a thread.
            values = await asyncio.to_thread(
                score_example,
                self.metrics,
                output,
                self.expected,
                labels=labels,
                embedder=self.embedder,
            )
        else:
            # The other metrics are sub-millisecond pure Python (a thread would only add a
            # hand-off: they hold the GIL anyway).
            values = score_example(self.metrics, output, self.expected, labels=labels)
        predicted = extract_label(output, self.labels) if self.labels else None
        await RunWriter(call.db).insert_once(
            run,
            [
                {
                    "id": str(uuid.uuid4()),
                    "evaluation_id": self.evaluation_id,
                    "metric": name,
                    "value": float(value),
                    "details": predicted if METRIC_SPECS[name].kind == "label" else None,
                }
                for name, value in values.items()
            ],
        )
        self.values = values
        self.success = bool(run.success)
        self.latency_ms = float(run.latency_ms)
        self.cost_usd = float(run.cost_usd or 0)
