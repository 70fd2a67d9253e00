"""Shapes of ``GET /dashboards/metrics``: the query (window, bucket, filters, grouping) and the
figures (counts, rates, tokens, USD, latency percentiles in ms) in all, per bucket and per
group."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from api.schemas.common import NAME_MAX, check_storable

Bucket = Literal["hour", "day"]
Dimension = Literal["project", "model", "prompt_version"]
DIMENSIONS: tuple[Dimension, ...] = ("project", "model", "prompt_version")

#: Length of one bucket.
BUCKET_LENGTH: dict[str, timedelta] = {"hour": timedelta(hours=1), "day": timedelta(days=1)}
#: Window used when ``start`` is not given: the last 24 hours by hour, the last 30 days by day.
DEFAULT_SPAN: dict[str, timedelta] = {"hour": timedelta(hours=24), "day": timedelta(days=30)}
#: Most buckets one answer covers (100 days of hours).
MAX_BUCKETS = 2400
#: Times accepted in the window (the rollups are UTC hours and days of real traffic).
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)


def _utc(value: datetime) -> datetime:
    """``value`` as an aware UTC time (a naive one is read as UTC), within [1970, 9000)."""
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if not EARLIEST <= value < LATEST:
        raise PydanticCustomError("time_range", "must be between 1970 and 9000 (UTC)")
    return value


UtcTime = Annotated[datetime, AfterValidator(_utc)]


def floor_to(value: datetime, bucket: str) -> datetime:
    """The start of the UTC ``bucket`` (hour or day) holding ``value``."""
    value = value.replace(minute=0, second=0, microsecond=0)
    return value.replace(hour=0) if bucket == "day" else value


def ceil_to(value: datetime, bucket: str) -> datetime:
    """The first UTC ``bucket`` boundary at or after ``value``."""
    floor = floor_to(value, bucket)
    return floor if floor == value else floor + BUCKET_LENGTH[bucket]


class DashboardQuery(BaseModel):
    """The window ``[start, end)`` widened to whole UTC buckets, the bucket size, the filters
    and the dimensions of the breakdown."""

    bucket: Bucket = Field("hour", description="bucket size of the series: UTC `hour` or UTC `day`")
    end: UtcTime | None = Field(
        None, description="end of the window (exclusive, ISO 8601; naive = UTC); default now"
    )
    start: UtcTime | None = Field(
        None,
        description="start of the window (inclusive); default 24 hours before `end` by hour, "
        f"30 days by day; at most {MAX_BUCKETS} buckets",
    )
    project_id: uuid.UUID | None = Field(None, description="only this project")
    model: Annotated[str, Field(max_length=NAME_MAX), AfterValidator(check_storable)] | None = (
        Field(None, description="only calls answered by this model")
    )
    prompt_version_id: uuid.UUID | None = Field(None, description="only this prompt version")
    group_by: list[Dimension] = Field(
        default_factory=lambda: list(DIMENSIONS),
        min_length=1,
        max_length=3,
        description="dimensions of the breakdown (`groups`), repeated: "
        "`group_by=project&group_by=model`",
    )

    @field_validator("start")
    @classmethod
    def _window(cls, start: datetime | None, info: ValidationInfo) -> datetime | None:
        bucket = info.data.get("bucket", "hour")
        end = ceil_to(info.data.get("end") or datetime.now(UTC), bucket)
        if start is None:
            return None
        first = floor_to(start, bucket)
        if first >= end:
            raise PydanticCustomError("window", "must be before end")
        buckets = (end - first) // BUCKET_LENGTH[bucket]
        if buckets > MAX_BUCKETS:
            raise PydanticCustomError(
                "window",
                "the window spans {buckets} {bucket} buckets; at most {most} (choose day "
                "buckets or a shorter window)",
                {"buckets": buckets, "bucket": bucket, "most": MAX_BUCKETS},
            )
        return start

    def window(self, now: datetime | None = None) -> tuple[datetime, datetime]:
        """``(start, end)`` on UTC bucket boundaries, the defaults filled in (``now``: default
        the current time)."""
        end = ceil_to(self.end or now or datetime.now(UTC), self.bucket)
        start = floor_to(self.start, self.bucket) if self.start else end - DEFAULT_SPAN[self.bucket]
        return start, end


class DashboardFigures(BaseModel):
    """Figures of a set of runs. Rates are 0..1 (None without runs); USD; tokens as the
    providers counted them; latency in ms from the call's start to its recorded end, p50/p95
    from the rollups' histogram (within `latency_relative_error` of a latency of that rank)."""

    runs: int
    successes: int
    success_rate: float | None
    cache_hits: int
    cache_hit_rate: float | None
    tokens_in: int
    tokens_out: int
    tokens: int
    cost_usd: float
    cost_per_run_usd: float | None
    latency_mean_ms: float | None
    latency_p50_ms: float | None
    latency_p95_ms: float | None


class DashboardPoint(DashboardFigures):
    """One bucket of the series (every bucket of the window is listed, empty ones too)."""

    bucket_start: datetime


class DashboardGroup(DashboardFigures):
    """One row of the breakdown. The dimensions not in `group_by` are null; with
    `prompt_version` grouped, a null `prompt_version_id` is the calls made without a prompt
    version (free text, `/v1` with a plain model)."""

    project_id: uuid.UUID | None
    project_name: str | None
    model: str | None
    prompt_version_id: uuid.UUID | None
    prompt_id: uuid.UUID | None
    prompt_name: str | None
    version: int | None


class DashboardProject(BaseModel):
    id: uuid.UUID
    name: str


class DashboardVersion(BaseModel):
    id: uuid.UUID
    project_id: uuid.UUID
    prompt_id: uuid.UUID
    prompt_name: str
    version: int


class DashboardOptions(BaseModel):
    """What the filters can choose from: the projects, models and prompt versions with runs
    in the window's UTC days (narrowed by `project_id`, not by the other filters)."""

    projects: list[DashboardProject]
    models: list[str]
    prompt_versions: list[DashboardVersion]


class DashboardMetricsPublic(BaseModel):
    """The dashboard: the window actually covered (whole UTC buckets), `totals`, the `series`
    by bucket and the `groups` of the breakdown (most runs first), from the pre-aggregated
    run rollups (and the runs recorded since their last fold)."""

    start: datetime
    end: datetime
    bucket: Bucket
    group_by: list[Dimension]
    project_id: uuid.UUID | None
    model: str | None
    prompt_version_id: uuid.UUID | None
    latency_relative_error: float
    totals: DashboardFigures
    series: list[DashboardPoint]
    groups: list[DashboardGroup]
    options: DashboardOptions
