"""SQL of the dashboard's run rollups (migration 0006) and the latency sketch they carry.

**Where the figures come from.** ``run_rollups`` holds, per UTC hour and per UTC day (the
*grain*) and per (project, model, prompt version), the count of runs, successes and cache hits,
the sums of tokens, USD and latency, and a latency histogram. Statement triggers on ``runs``
append a signed row to ``run_rollup_deltas`` for every run inserted (+1), deleted (-1) or
changed, in the writer's own transaction; ``run_rollups_fold()`` (a database function, run by
the Temporal schedule ``run-rollup-fold``, see :class:`RunRollupRepository.fold`) moves them
into ``run_rollups``. A read adds the deltas not folded yet, so it sees every committed run,
and both happen in one snapshot, so a fold running meanwhile never counts a run twice.

**The latency sketch.** A fixed log-spaced histogram, the mapping of DDSketch (Masson, Rim and
Lee, "DDSketch: a fast and fully-mergeable quantile sketch with relative-error guarantees",
VLDB 2019) with a fixed set of bins: bin ``i`` holds the latencies in (GAMMA**(i-1), GAMMA**i]
ms, GAMMA = (1 + a) / (1 - a) with a = :data:`RELATIVE_ERROR` = 2 %, and its estimate
2 GAMMA**i / (GAMMA + 1) is within 2 % of every latency in it. Latencies are clamped to
[0.1 ms, 1 h] first (bins -57..378): below 0.1 ms reads as about 0.1 ms, above an hour as about
an hour. The 436 counts are a pgvector ``vector(436)``, whose C ``sum`` aggregate merges
thousands of histograms in milliseconds (float4: counts are exact up to 2**24 per bin and
bucket; beyond, a percentile's rank is off by less than 1e-7 of the count).

A quantile ``q`` is the estimate of the bin holding the value of rank ``floor(q * (n - 1))``
(0-based) among the ``n`` latencies: within 2 % of that value. Postgres' ``percentile_cont``
interpolates between that value and the next, so the two agree within 2 % of the interval
they span. The histogram is mergeable and subtractable: deleted runs leave the figures as if
they had never been recorded, which a t-digest could not do.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from promptops.db.models.run_rollup import LATENCY_BINS

#: The sketch's relative error bound (a): every percentile is within 2 % of a latency of the
#: right rank.
RELATIVE_ERROR = 0.02
#: (1 + a) / (1 - a): the ratio of a bin's upper bound to its lower bound.
GAMMA = 51 / 49
#: Latencies are clamped to [MIN_LATENCY_MS, MAX_LATENCY_MS] before they are binned.
MIN_LATENCY_MS = 0.1
MAX_LATENCY_MS = 3_600_000.0
#: The lowest bin (that of MIN_LATENCY_MS); bin ``i`` is at index ``i - FIRST_BIN`` of the
#: histogram (position ``i - FIRST_BIN + 1`` in SQL).
FIRST_BIN = -57

#: Dimensions a breakdown can be grouped by, and their ``run_rollups`` columns.
DIMENSIONS: dict[str, str] = {
    "project": "project_id",
    "model": "model",
    "prompt_version": "prompt_version_id",
}


def latency_bin(latency_ms: float) -> int:
    """The bin of ``latency_ms`` (the SQL function ``run_latency_bin`` computes the same)."""
    clamped = min(max(latency_ms, MIN_LATENCY_MS), MAX_LATENCY_MS)
    if math.isnan(clamped):
        clamped = MAX_LATENCY_MS
    return math.ceil(math.log(clamped) / math.log(GAMMA))


def bin_estimate_ms(bin_: int) -> float:
    """The estimate of the latencies in bin ``bin_``: 2 GAMMA**i / (GAMMA + 1) ms."""
    return 2 * GAMMA**bin_ / (GAMMA + 1)


def quantile_ms(hist: NDArray[np.float64], q: float) -> float | None:
    """The ``q``-quantile (0..1) of the latencies counted in ``hist`` (ms), or None when it
    counts none. See the module docstring for the rank and the error bound."""
    cumulative = np.cumsum(hist)
    n = cumulative[-1] if len(cumulative) else 0.0
    if n < 0.5:
        return None
    rank = math.floor(q * (round(n) - 1))
    index = int(np.searchsorted(cumulative, rank + 0.5, side="left"))
    return bin_estimate_ms(min(index, LATENCY_BINS - 1) + FIRST_BIN)


@dataclass(frozen=True, slots=True)
class RollupFigures:
    """The figures of one set of runs: counts, token sums, USD, latency sum (ms) and its
    histogram (:data:`LATENCY_BINS` counts)."""

    runs: int
    successes: int
    cache_hits: int
    tokens_in: int
    tokens_out: int
    cost_usd: Decimal
    latency_ms_sum: float
    latency_hist: NDArray[np.float64]

    def latency_ms(self, q: float) -> float | None:
        """The ``q``-quantile of the latencies (ms), or None without runs."""
        return quantile_ms(self.latency_hist, q)


@dataclass(frozen=True, slots=True)
class RollupKey:
    """A (project, model, prompt version) with runs, and the names to show it by; ``prompt_*``
    and ``version`` are None for calls made without a prompt version."""

    project_id: uuid.UUID
    project_name: str
    model: str
    prompt_version_id: uuid.UUID | None
    prompt_id: uuid.UUID | None
    prompt_name: str | None
    version: int | None


@dataclass(frozen=True, slots=True)
class RollupReport:
    """``series``: figures by bucket start (buckets without runs absent); ``groups``: by the
    values of the grouped dimensions, in :data:`DIMENSIONS` order (None where a run has no
    prompt version); ``total``: all of them (None without runs)."""

    series: dict[datetime, RollupFigures]
    groups: dict[tuple[Any, ...], RollupFigures]
    total: RollupFigures | None


def _hist(raw: bytes) -> NDArray[np.float64]:
    # pgvector's binary form (vector_send): int16 dimensions, int16 unused, float4 big-endian.
    return np.frombuffer(raw, dtype=">f4", offset=4).astype(np.float64)


#: The caller's projects: its organization, narrowed to its project scope and the filter.
_SCOPE = """
scope AS (
    SELECT id, name FROM projects
    WHERE organization_id = :org
      AND (CAST(:scope_project AS uuid) IS NULL OR id = :scope_project)
      AND (CAST(:project AS uuid) IS NULL OR id = :project)
)"""

_KEYS = f"""
WITH {_SCOPE}, keys AS (
    SELECT r.project_id, r.model, r.prompt_version_id
    FROM run_rollups r JOIN scope s ON s.id = r.project_id
    WHERE r.grain = 'day' AND r.bucket_start >= date_trunc('day', :start, 'UTC')
      AND r.bucket_start < :end
    UNION
    SELECT d.project_id, d.model, d.prompt_version_id
    FROM run_rollup_deltas d JOIN scope s ON s.id = d.project_id
    WHERE d.created_at >= :start AND d.created_at < :end
)
SELECT k.project_id, s.name, k.model, k.prompt_version_id, v.prompt_id, p.name, v.version
FROM keys k
JOIN scope s ON s.id = k.project_id
LEFT JOIN prompt_versions v ON v.id = k.prompt_version_id
LEFT JOIN prompts p ON p.id = v.prompt_id
ORDER BY s.name, k.model, p.name NULLS FIRST, v.version
"""

#: Figures by bucket, by the grouped dimensions and in all, over the rollups of one grain in
#: [start, end) plus the deltas not folded yet. ``{dims}`` is a list of whitelisted columns.
_FIGURES = f"""
WITH {_SCOPE}, src AS (
    SELECT r.bucket_start, r.project_id, r.model, r.prompt_version_id, r.runs, r.successes,
           r.cache_hits, r.tokens_in, r.tokens_out, r.cost_usd, r.latency_ms_sum,
           r.latency_hist
    FROM run_rollups r JOIN scope s ON s.id = r.project_id
    WHERE r.grain = :grain AND r.bucket_start >= :start AND r.bucket_start < :end
      AND (CAST(:model AS text) IS NULL OR r.model = :model)
      AND (CAST(:version AS uuid) IS NULL OR r.prompt_version_id = :version)
    UNION ALL
    SELECT date_trunc(:grain, d.created_at, 'UTC'), d.project_id, d.model,
           d.prompt_version_id, sum(d.sign), coalesce(sum(d.sign) FILTER (WHERE d.success), 0),
           coalesce(sum(d.sign) FILTER (WHERE d.cache_hit), 0), sum(d.sign * d.tokens_in),
           sum(d.sign * d.tokens_out), sum(d.sign * d.cost_usd), sum(d.sign * d.latency_ms),
           run_latency_hist(run_latency_bin(d.latency_ms), d.sign::bigint)
    FROM run_rollup_deltas d JOIN scope s ON s.id = d.project_id
    WHERE d.created_at >= :start AND d.created_at < :end
      AND (CAST(:model AS text) IS NULL OR d.model = :model)
      AND (CAST(:version AS uuid) IS NULL OR d.prompt_version_id = :version)
    GROUP BY 1, 2, 3, 4
)
SELECT GROUPING(bucket_start) AS all_buckets, GROUPING({{dims}}) AS all_groups, bucket_start,
       {{dims}}, sum(runs), sum(successes), sum(cache_hits), sum(tokens_in), sum(tokens_out),
       sum(cost_usd), sum(latency_ms_sum), vector_send(sum(latency_hist))
FROM src
GROUP BY GROUPING SETS ((bucket_start), ({{dims}}), ())
"""


class RunRollupRepository:
    """Reads of the rollups for dashboards, and the fold (raw SQL on the session: the figures
    need Postgres' aggregates, not objects)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def fold(self) -> int:
        """Move every delta row into ``run_rollups`` (``run_rollups_fold()``, migration 0006);
        returns how many it moved. Commits with the session's unit of work."""
        moved = await self.session.scalar(text("SELECT run_rollups_fold()"))
        return int(moved or 0)

    async def keys(
        self,
        *,
        organization_id: uuid.UUID,
        scope_project_id: uuid.UUID | None,
        project_id: uuid.UUID | None,
        start: datetime,
        end: datetime,
    ) -> list[RollupKey]:
        """The (project, model, prompt version) keys with runs in [start, end) (UTC days around
        it, so a filter list never misses one), among the organization's projects narrowed to
        ``scope_project_id`` and ``project_id``, by project, model, prompt and version. Read
        from the day rollups' unique index alone (an index-only scan): a key whose runs were
        all deleted stays listed until its rollup rows go."""
        rows = await self.session.execute(
            text(_KEYS),
            {
                "org": organization_id,
                "scope_project": scope_project_id,
                "project": project_id,
                "start": start,
                "end": end,
            },
        )
        return [RollupKey(*row) for row in rows]

    async def figures(
        self,
        *,
        organization_id: uuid.UUID,
        scope_project_id: uuid.UUID | None,
        grain: str,
        start: datetime,
        end: datetime,
        group_by: Sequence[str],
        project_id: uuid.UUID | None = None,
        model: str | None = None,
        prompt_version_id: uuid.UUID | None = None,
    ) -> RollupReport:
        """Figures of the runs in [start, end) (both on ``grain`` boundaries: ``hour`` or
        ``day``, UTC) of the organization's projects (narrowed to ``scope_project_id``), with
        the optional filters: by bucket, by the dimensions named in ``group_by`` (keys of
        :data:`DIMENSIONS`, at least one) and in all. One statement."""
        if grain not in ("hour", "day"):
            raise ValueError(f"unknown grain {grain!r}")
        dims = [DIMENSIONS[d] for d in DIMENSIONS if d in group_by]
        if not dims:
            raise ValueError("group_by names no dimension")
        rows = await self.session.execute(
            text(_FIGURES.format(dims=", ".join(dims))),
            {
                "org": organization_id,
                "scope_project": scope_project_id,
                "project": project_id,
                "grain": grain,
                "start": start,
                "end": end,
                "model": model,
                "version": prompt_version_id,
            },
        )
        series: dict[datetime, RollupFigures] = {}
        groups: dict[tuple[Any, ...], RollupFigures] = {}
        total: RollupFigures | None = None
        width = len(dims)
        for row in rows:
            all_buckets, all_groups, bucket_start = row[0], row[1], row[2]
            values = row[3 + width :]
            if values[0] is None:  # the grand total of no rows at all
                continue
            figures = RollupFigures(
                runs=int(values[0]),
                successes=int(values[1]),
                cache_hits=int(values[2]),
                tokens_in=int(values[3]),
                tokens_out=int(values[4]),
                cost_usd=Decimal(values[5]),
                latency_ms_sum=float(values[6]),
                latency_hist=_hist(values[7]),
            )
            if not all_buckets:
                series[bucket_start] = figures
            elif not all_groups:
                groups[tuple(row[3 : 3 + width])] = figures
            else:
                total = figures
        return RollupReport(series=series, groups=groups, total=total)
