"""``GET /dashboards/metrics`` on the real app and Postgres: its figures equal one plain
``GROUP BY`` over ``runs`` (:mod:`tests.support.dashboard_baseline`) on the same data, whether
the runs are still deltas, folded into the rollups or half and half, after deletes and updates,
for every bucket, grouping and filter; latency percentiles within the sketch's 2 %; tenants
and project scopes see only their own runs; the migration backfills runs recorded before it;
the SQL sketch mapping is the Python one.
"""

from __future__ import annotations

import math
import random
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Hashable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from alembic import command
from sqlalchemy import delete, insert, text, update

from promptops.db.migrate import alembic_config
from promptops.db.models import Role, Run
from promptops.db.repositories.rollups import (
    FIRST_BIN,
    RELATIVE_ERROR,
    RunRollupRepository,
    bin_estimate_ms,
    latency_bin,
    quantile_ms,
)
from promptops.db.session import get_session_factory
from promptops.llm import ModelCatalog
from tests.support.apps import RunningApp, issue_key, running_app
from tests.support.dashboard_baseline import baseline

#: The data's window: three UTC days in the past (other tests write runs "now").
T0 = datetime(2026, 3, 1, tzinfo=UTC)
T1 = T0 + timedelta(days=3)
MODELS = ("alpha-model", "beta-model")


@dataclass
class Tenant:
    running: RunningApp
    client: httpx.AsyncClient
    pg_url: str
    org: uuid.UUID
    projects: list[str]
    versions: list[str]  # versions[0:2] in projects[0], versions[2] in projects[1]
    rows: list[dict[str, Any]] = field(default_factory=list)


async def _ok(r: httpx.Response) -> Any:
    assert r.status_code < 300, r.text
    return r.json()


@pytest.fixture
async def tenant(pg_url: str, catalog: ModelCatalog, task_queue: str) -> AsyncIterator[Tenant]:
    """A fresh organization with two projects, three prompt versions and no runs yet."""
    key = await issue_key(
        pg_url, organization=f"dash-{uuid.uuid4().hex[:8]}", email="dash@d.example"
    )
    async with (
        running_app(pg_url, None, catalog, task_queue) as running,
        running.client(key.key) as c,
    ):
        projects, versions = [], []
        for name, n_versions in (("checkout", 2), ("support", 1)):
            project = await _ok(await c.post("/projects", json={"name": name}))
            projects.append(project["id"])
            prompt = await _ok(
                await c.post(f"/projects/{project['id']}/prompts", json={"name": f"{name}-p"})
            )
            for i in range(n_versions):
                v = await _ok(
                    await c.post(
                        f"/prompts/{prompt['id']}/versions",
                        json={"body": f"v{i} {{{{ q }}}}", "variables": {"q": "str"}},
                    )
                )
                versions.append(v["id"])
        yield Tenant(running, c, pg_url, key.organization_id, projects, versions)


def _runs(t: Tenant, n: int, seed: int) -> list[dict[str, Any]]:
    """``n`` runs spread over [T0, T1): both projects, both models, every version and calls
    without a version; lognormal latencies (~800 ms), failures, cache hits, tokens, USD."""
    rng = random.Random(seed)
    keys = [
        (t.projects[0], t.versions[0]),
        (t.projects[0], t.versions[1]),
        (t.projects[0], None),
        (t.projects[1], t.versions[2]),
    ]
    rows = []
    for _ in range(n):
        project, version = rng.choice(keys)
        hit = rng.random() < 0.15
        rows.append(
            {
                "id": uuid.uuid4(),
                "project_id": uuid.UUID(project),
                "prompt_version_id": uuid.UUID(version) if version else None,
                "source": "generate",
                "model": rng.choice(MODELS),
                "variables": {},
                "rendered_input": [],
                "success": rng.random() < 0.9,
                "cache_hit": hit,
                "tokens_in": rng.randint(5, 900),
                "tokens_out": rng.randint(0, 400),
                "cost_usd": Decimal(rng.randint(0, 50_000)) / Decimal(10**8),
                "latency_ms": 0.4 + rng.random() if hit else rng.lognormvariate(math.log(800), 0.8),
                "created_at": T0 + timedelta(seconds=rng.uniform(0, (T1 - T0).total_seconds())),
            }
        )
    return rows


async def _insert(t: Tenant, rows: list[dict[str, Any]]) -> None:
    """Plain INSERTs into ``runs``, as any writer might: the triggers must cover them."""
    async with get_session_factory(t.pg_url)() as session:
        await session.execute(insert(Run), rows)
        await session.commit()
    t.rows.extend(rows)


async def _fold(pg_url: str) -> int:
    async with get_session_factory(pg_url)() as session:
        moved = await RunRollupRepository(session).fold()
        await session.commit()
    return moved


async def _metrics(t: Tenant, **params: Any) -> dict[str, Any]:
    query = {"start": T0.isoformat(), "end": T1.isoformat(), **params}
    return dict(await _ok(await t.client.get("/dashboards/metrics", params=query)))


def _rank_value(latencies: list[float], q: float) -> float:
    """The latency of 0-based rank floor(q (n - 1)): what the sketch estimates."""
    ordered = sorted(latencies)
    return ordered[math.floor(q * (len(ordered) - 1))]


def _by(rows: list[dict[str, Any]], key: Callable[[dict[str, Any]], Hashable]) -> dict[Any, list]:
    out: dict[Any, list[float]] = defaultdict(list)
    for r in rows:
        out[key(r)].append(r["latency_ms"])
    return out


def _same(got: dict[str, Any], want: dict[str, Any], latencies: list[float], where: str) -> None:
    for name in ("runs", "successes", "cache_hits", "tokens_in", "tokens_out"):
        assert got[name] == want[name], f"{where}: {name}"
    assert got["tokens"] == want["tokens_in"] + want["tokens_out"], where
    assert got["cost_usd"] == pytest.approx(want["cost_usd"], rel=1e-12, abs=1e-12), where
    assert got["latency_mean_ms"] == pytest.approx(want["latency_mean_ms"], rel=1e-9), where
    assert got["success_rate"] == pytest.approx(want["successes"] / want["runs"]), where
    assert got["cache_hit_rate"] == pytest.approx(want["cache_hits"] / want["runs"]), where
    for q, name in ((0.5, "latency_p50_ms"), (0.95, "latency_p95_ms")):
        exact = _rank_value(latencies, q)
        assert abs(got[name] - exact) <= RELATIVE_ERROR * exact * (1 + 1e-9), (
            f"{where}: {name} {got[name]} vs {exact} (percentile_cont {want[name]})"
        )
        # percentile_cont interpolates between that latency and the next one.
        ordered = sorted(latencies)
        rank = q * (len(ordered) - 1)
        assert ordered[math.floor(rank)] <= want[name] <= ordered[math.ceil(rank)], where


async def _check(
    t: Tenant, *, bucket: str = "hour", group_by: list[str] | None = None, **filters: Any
) -> dict[str, Any]:
    """The endpoint's figures equal the GROUP BY baseline's on ``t``'s data."""
    group_by = group_by or ["project", "model", "prompt_version"]
    got = await _metrics(t, bucket=bucket, group_by=group_by, **filters)
    async with get_session_factory(t.pg_url)() as session:
        want = await baseline(
            session,
            organization_id=t.org,
            grain=bucket,
            start=T0,
            end=T1,
            group_by=group_by,
            project_id=filters.get("project_id"),
            model=filters.get("model"),
            prompt_version_id=filters.get("prompt_version_id"),
        )
    rows = [
        r
        for r in t.rows
        if all(
            str(r[k]) == str(v)
            for k, v in filters.items()
            if k in ("project_id", "model", "prompt_version_id")
        )
    ]
    assert got["totals"]["runs"] == len(rows) > 0
    _same(got["totals"], want["totals"], [r["latency_ms"] for r in rows], "totals")

    step = timedelta(hours=1) if bucket == "hour" else timedelta(days=1)
    assert [datetime.fromisoformat(p["bucket_start"]) for p in got["series"]] == [
        T0 + i * step for i in range((T1 - T0) // step)
    ]
    series_latencies = _by(
        rows,
        lambda r: (
            r["created_at"].replace(minute=0, second=0, microsecond=0, tzinfo=UTC)
            if bucket == "hour"
            else r["created_at"].replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=UTC)
        ),
    )
    for point in got["series"]:
        at = datetime.fromisoformat(point["bucket_start"])
        if at in want["series"]:
            _same(point, want["series"][at], series_latencies[at], f"series {at}")
        else:
            assert point["runs"] == 0 and point["latency_p50_ms"] is None

    columns = {"project": "project_id", "model": "model", "prompt_version": "prompt_version_id"}
    dims = [columns[d] for d in columns if d in group_by]
    group_latencies = _by(rows, lambda r: tuple(str(r[c]) if r[c] else None for c in dims))
    want_groups = {
        tuple(str(v) if v is not None else None for v in key): f
        for key, f in want["groups"].items()
    }
    got_groups = {tuple(g[c] for c in dims): g for g in got["groups"]}
    assert got_groups.keys() == want_groups.keys()
    for key, g in got_groups.items():
        _same(g, want_groups[key], group_latencies[key], f"group {key}")
        for c in set(columns.values()) - set(dims):
            assert g[c] is None
    return got


async def test_figures_equal_a_group_by_over_runs_before_and_after_the_fold(
    tenant: Tenant,
) -> None:
    await _insert(tenant, _runs(tenant, 400, seed=1))
    await _check(tenant)  # every run still a delta
    await _fold(tenant.pg_url)
    await _check(tenant)  # all folded
    await _insert(tenant, _runs(tenant, 250, seed=2))
    await _check(tenant)  # half folded, half deltas
    await _check(tenant, bucket="day")
    await _fold(tenant.pg_url)
    got = await _check(tenant, bucket="day")
    assert got["latency_relative_error"] == RELATIVE_ERROR
    assert len(got["series"]) == 3


@pytest.mark.parametrize(
    "group_by", [["project"], ["model"], ["prompt_version"], ["project", "model"]]
)
async def test_groupings(tenant: Tenant, group_by: list[str]) -> None:
    await _insert(tenant, _runs(tenant, 200, seed=3))
    await _check(tenant, group_by=group_by)
    await _fold(tenant.pg_url)
    await _check(tenant, group_by=group_by, bucket="day")


async def test_filters(tenant: Tenant) -> None:
    await _insert(tenant, _runs(tenant, 300, seed=4))
    await _fold(tenant.pg_url)
    await _insert(tenant, _runs(tenant, 100, seed=5))
    await _check(tenant, project_id=tenant.projects[0])
    await _check(tenant, model=MODELS[1])
    got = await _check(tenant, prompt_version_id=tenant.versions[1], bucket="day")
    assert {g["prompt_version_id"] for g in got["groups"]} == {tenant.versions[1]}
    await _check(tenant, project_id=tenant.projects[0], model=MODELS[0], group_by=["model"])
    # The options ignore the model and version filters (the filter lists stay whole).
    options = got["options"]
    assert {p["id"] for p in options["projects"]} == set(tenant.projects)
    assert options["models"] == sorted(MODELS)
    assert {v["id"] for v in options["prompt_versions"]} == set(tenant.versions)
    narrowed = await _metrics(tenant, project_id=tenant.projects[1])
    assert [p["id"] for p in narrowed["options"]["projects"]] == [tenant.projects[1]]


async def test_names_of_groups(tenant: Tenant) -> None:
    await _insert(tenant, _runs(tenant, 80, seed=6))
    got = await _metrics(tenant)
    for g in got["groups"]:
        assert g["project_name"] in ("checkout", "support")
        if g["prompt_version_id"] is None:
            assert g["prompt_name"] is None and g["version"] is None
        else:
            assert g["prompt_name"] in ("checkout-p", "support-p")
            assert g["version"] in (1, 2)
    runs = [g["runs"] for g in got["groups"]]
    assert runs == sorted(runs, reverse=True)


async def test_deleted_and_changed_runs_leave_the_figures(tenant: Tenant) -> None:
    rows = _runs(tenant, 300, seed=7)
    await _insert(tenant, rows)
    await _fold(tenant.pg_url)
    gone = [r["id"] for r in rows[:60]]
    changed = rows[60:90]
    async with get_session_factory(tenant.pg_url)() as session:
        await session.execute(delete(Run).where(Run.id.in_(gone)))
        await session.execute(
            update(Run)
            .where(Run.id.in_([r["id"] for r in changed]))
            .values(latency_ms=Run.latency_ms * 3, success=False)
        )
        await session.commit()
    tenant.rows = [r for r in tenant.rows if r["id"] not in set(gone)]
    for r in changed:
        r["latency_ms"] *= 3
        r["success"] = False
    await _check(tenant)  # the deletes and updates still deltas
    await _fold(tenant.pg_url)
    await _check(tenant)
    await _check(tenant, bucket="day")


async def test_a_window_without_runs(tenant: Tenant) -> None:
    got = await _metrics(tenant, bucket="day")
    assert got["totals"]["runs"] == 0
    assert got["totals"]["latency_p95_ms"] is None and got["totals"]["success_rate"] is None
    assert [p["runs"] for p in got["series"]] == [0, 0, 0]
    assert got["groups"] == [] and got["options"]["models"] == []


async def test_tenant_isolation_and_project_scope(
    tenant: Tenant, pg_url: str, catalog: ModelCatalog, task_queue: str
) -> None:
    await _insert(tenant, _runs(tenant, 120, seed=8))
    other = await issue_key(
        pg_url, organization=f"dash-b-{uuid.uuid4().hex[:8]}", email="b@d.example"
    )
    async with tenant.running.client(other.key) as b:
        project_b = await _ok(await b.post("/projects", json={"name": "secret-b"}))
        before = await _ok(
            await b.get(
                "/dashboards/metrics", params={"start": T0.isoformat(), "end": T1.isoformat()}
            )
        )
        assert before["totals"]["runs"] == 0
        await _insert(
            tenant,
            [
                {**r, "id": uuid.uuid4(), "project_id": uuid.UUID(project_b["id"])}
                for r in _runs(tenant, 50, seed=9)
            ],
        )
        tenant.rows = [r for r in tenant.rows if str(r["project_id"]) != project_b["id"]]
        seen_b = await _ok(
            await b.get(
                "/dashboards/metrics", params={"start": T0.isoformat(), "end": T1.isoformat()}
            )
        )
        assert seen_b["totals"]["runs"] == 50
        assert {g["project_id"] for g in seen_b["groups"]} == {project_b["id"]}
        # B cannot name A's project, nor A B's.
        r = await b.get("/dashboards/metrics", params={"project_id": tenant.projects[0]})
        assert r.status_code == 404
    r = await tenant.client.get("/dashboards/metrics", params={"project_id": project_b["id"]})
    assert r.status_code == 404
    got = await _check(tenant)  # B's 50 runs are nowhere in A's figures
    assert "secret-b" not in str(got)
    await _fold(pg_url)
    await _check(tenant)

    viewer = await issue_key(
        pg_url,
        organization=await _org_name(pg_url, tenant.org),
        email=f"viewer-{uuid.uuid4().hex[:6]}@d.example",
        role=Role.VIEWER,
        project_id=uuid.UUID(tenant.projects[1]),
    )
    async with tenant.running.client(viewer.key) as v:
        seen = await _ok(
            await v.get(
                "/dashboards/metrics",
                params={"start": T0.isoformat(), "end": T1.isoformat(), "bucket": "day"},
            )
        )
        want = [r for r in tenant.rows if str(r["project_id"]) == tenant.projects[1]]
        assert seen["totals"]["runs"] == len(want)
        assert {g["project_id"] for g in seen["groups"]} == {tenant.projects[1]}
        assert [p["id"] for p in seen["options"]["projects"]] == [tenant.projects[1]]
        r = await v.get("/dashboards/metrics", params={"project_id": tenant.projects[0]})
        assert r.status_code == 404


async def _org_name(pg_url: str, org: uuid.UUID) -> str:
    async with get_session_factory(pg_url)() as session:
        name = await session.scalar(
            text("SELECT name FROM organizations WHERE id = :id"), {"id": org}
        )
    assert name
    return str(name)


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"start": "2026-03-02T00:00:00Z", "end": "2026-03-01T00:00:00Z"}, "start", "before end"),
        ({"start": "2020-01-01T00:00:00Z", "end": "2026-01-01T00:00:00Z"}, "start", "at most"),
        ({"start": "1969-12-31T00:00:00Z"}, "start", "between 1970"),
        ({"end": "9999-12-31T23:59:59Z"}, "end", "between 1970"),
        ({"bucket": "week"}, "bucket", ""),
        ({"group_by": "prompt"}, "group_by", ""),
        ({"model": "x" * 201}, "model", ""),
    ],
)
async def test_bad_windows_name_the_field(
    tenant: Tenant, params: dict[str, str], field: str, message: str
) -> None:
    r = await tenant.client.get("/dashboards/metrics", params=params)
    assert r.status_code == 422, r.text
    [error] = [e for e in r.json()["detail"] if e["loc"][:2] == ["query", field]]
    assert message in error["msg"]


async def test_a_viewer_reads_the_dashboard(tenant: Tenant, pg_url: str) -> None:
    viewer = await issue_key(
        pg_url,
        organization=await _org_name(pg_url, tenant.org),
        email=f"v2-{uuid.uuid4().hex[:6]}@d.example",
        role=Role.VIEWER,
    )
    async with tenant.running.client(viewer.key) as v:
        assert (await v.get("/dashboards/metrics")).status_code == 200
    async with tenant.running.client(None) as anonymous:
        assert (await anonymous.get("/dashboards/metrics")).status_code == 401


# The sketch: the SQL mapping is the Python one, and the quantile is the documented rank's.


async def test_sql_and_python_bins_agree(pg_url: str) -> None:
    gamma = 51 / 49
    values = [0.0, -5.0, 1e-6, 0.05, 0.1, 0.1000001, 1.0, 3_599_999.0, 3_600_000.0, 1e12]
    values += [gamma**i for i in range(-60, 382, 7)]
    values += [gamma**i * (1 + 1e-9) for i in range(-57, 379, 11)]
    values += [random.Random(10).lognormvariate(5, 3) for _ in range(300)]
    async with get_session_factory(pg_url)() as session:
        rows = await session.execute(
            text(
                "SELECT v, run_latency_bin(v) FROM unnest(CAST(:values AS float8[])) AS v "
                "UNION ALL SELECT 'NaN'::float8, run_latency_bin('NaN') "
                "UNION ALL SELECT 'Infinity'::float8, run_latency_bin('Infinity')"
            ),
            {"values": values},
        )
        for value, sql_bin in rows:
            assert sql_bin == latency_bin(value), value
            assert FIRST_BIN <= sql_bin <= FIRST_BIN + 435
            clamped = min(max(value, 0.1), 3_600_000.0) if not math.isnan(value) else 3.6e6
            assert abs(bin_estimate_ms(sql_bin) - clamped) <= RELATIVE_ERROR * clamped * 1.000001


def test_quantile_is_the_rank_value_within_the_bound() -> None:
    import numpy as np

    rng = random.Random(11)
    for n in (1, 2, 3, 10, 101, 5000):
        latencies = [rng.lognormvariate(6, 1.5) for _ in range(n)]
        hist = np.zeros(436)
        for v in latencies:
            hist[latency_bin(v) - FIRST_BIN] += 1
        for q in (0.0, 0.5, 0.95, 1.0):
            exact = _rank_value(latencies, q)
            got = quantile_ms(hist, q)
            assert got is not None and abs(got - exact) <= RELATIVE_ERROR * exact * 1.000001
    assert quantile_ms(np.zeros(436), 0.5) is None


async def test_the_migration_backfills_runs_recorded_before_it(pg_url: str) -> None:
    """A database at revision 0005 with runs: ``upgrade head`` folds them into the rollups."""
    from promptops.devstack.postgres import start_postgres
    from tests.conftest import STATE

    url = start_postgres(STATE / "pgdata", database=f"mig_{uuid.uuid4().hex[:10]}")
    command.upgrade(alembic_config(url), "0005")
    org, project = uuid.uuid4(), uuid.uuid4()
    rng = random.Random(12)
    latencies = [rng.lognormvariate(7, 1) for _ in range(500)]
    async with get_session_factory(url)() as session:
        await session.execute(
            text("INSERT INTO organizations (id, name) VALUES (:id, 'm')"), {"id": org}
        )
        await session.execute(
            text(
                "INSERT INTO projects (id, organization_id, name, description) "
                "VALUES (:id, :org, 'p', '')"
            ),
            {"id": project, "org": org},
        )
        await session.execute(
            text(
                "INSERT INTO runs (id, project_id, source, model, variables, rendered_input, "
                "success, tokens_in, tokens_out, cost_usd, latency_ms, created_at) "
                "SELECT gen_random_uuid(), :project, 'execute', 'm', '{}', '[]', i % 4 <> 0, i, "
                "2 * i, 0.001, l, :t0 + i * interval '5 minutes' "
                "FROM unnest(CAST(:latencies AS float8[])) WITH ORDINALITY AS u(l, i)"
            ),
            {"project": project, "latencies": latencies, "t0": T0},
        )
        await session.commit()
    command.upgrade(alembic_config(url), "head")
    async with get_session_factory(url)() as session:
        assert await session.scalar(text("SELECT count(*) FROM run_rollup_deltas")) == 0
        totals = (
            await session.execute(
                text(
                    "SELECT grain, sum(runs), sum(successes), sum(tokens_in), "
                    "sum(tokens_out) FROM run_rollups GROUP BY grain ORDER BY grain"
                )
            )
        ).all()
        n = len(latencies)
        per = (n, n - n // 4, n * (n + 1) // 2, n * (n + 1))
        assert [tuple(r) for r in totals] == [("day", *per), ("hour", *per)]
        report = await RunRollupRepository(session).figures(
            organization_id=org,
            scope_project_id=None,
            grain="day",
            start=T0,
            end=T0 + timedelta(days=3),
            group_by=["model"],
        )
    assert report.total is not None
    for q in (0.5, 0.95):
        exact = _rank_value(latencies, q)
        got = report.total.latency_ms(q)
        assert got is not None and abs(got - exact) <= RELATIVE_ERROR * exact * 1.000001
