"""Per-key rate limits through the real app on the real Postgres: 429 with Retry-After past the
limit, exact counting under concurrency, unlimited keys untouched, window reset, validation."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select

from promptops.db.connection import side_connection
from promptops.db.models.gateway import RateLimitWindow
from promptops.db.session import get_session_factory
from promptops.governance.ratelimit import hit
from promptops.llm import ModelCatalog
from tests.support.apps import RunningApp, issue_key, running_app


@pytest.fixture
async def app(pg_url: str, catalog: ModelCatalog, task_queue: str) -> AsyncIterator[RunningApp]:
    async with running_app(pg_url, None, catalog, task_queue) as running:
        yield running


@pytest.fixture
async def admin(app: RunningApp, pg_url: str) -> AsyncIterator[httpx.AsyncClient]:
    key = await issue_key(
        pg_url,
        organization=f"org-rl-{uuid.uuid4().hex[:8]}",
        email=f"adm-{uuid.uuid4().hex[:6]}@rl.example",
    )
    async with app.client(key.key) as client:
        yield client


async def _new_key(admin: httpx.AsyncClient, rpm: int | None) -> dict[str, object]:
    r = await admin.post(
        "/api_keys", json={"name": "limited", "role": "Viewer", "rate_limit_rpm": rpm}
    )
    assert r.status_code == 201, r.text
    assert r.json()["rate_limit_rpm"] == rpm
    return dict(r.json())


async def _away_from_window_edge(margin_s: float = 4.0) -> None:
    """Wait until the current minute has more than ``margin_s`` left, so a burst of requests
    falls in one window."""
    now = datetime.now(UTC)
    left = 60 - now.second - now.microsecond / 1e6
    if left < margin_s:
        await asyncio.sleep(left + 0.2)


async def _windows(pg_url: str, key_id: str) -> list[RateLimitWindow]:
    async with get_session_factory(pg_url)() as session:
        return list(
            (
                await session.execute(
                    select(RateLimitWindow).where(RateLimitWindow.api_key_id == uuid.UUID(key_id))
                )
            ).scalars()
        )


async def test_sixth_request_in_a_window_gets_429(
    app: RunningApp, admin: httpx.AsyncClient
) -> None:
    created = await _new_key(admin, 5)
    await _away_from_window_edge()
    async with app.client(str(created["key"])) as client:
        for _ in range(5):
            r = await client.get("/projects")
            assert r.status_code == 200, r.text
        r = await client.get("/projects")
    assert r.status_code == 429, r.text
    retry = int(r.headers["Retry-After"])
    assert 1 <= retry <= 60
    assert r.headers["X-RateLimit-Limit"] == "5"
    assert r.headers["X-RateLimit-Remaining"] == "0"
    assert r.json()["detail"] == (
        f"API key po_{created['prefix']} exceeded its rate limit of 5 requests per minute; "
        f"retry in {retry} s"
    )
    # The key listing shows the limit.
    listed = {k["id"]: k for k in (await admin.get("/api_keys")).json()["data"]}
    assert listed[created["id"]]["rate_limit_rpm"] == 5


async def test_concurrent_requests_are_counted_exactly(
    app: RunningApp, admin: httpx.AsyncClient
) -> None:
    created = await _new_key(admin, 10)
    await _away_from_window_edge(margin_s=10)
    async with app.client(str(created["key"])) as client:
        responses = await asyncio.gather(*(client.get("/projects") for _ in range(20)))
    codes = sorted(r.status_code for r in responses)
    assert codes.count(200) == 10, codes
    assert codes.count(429) == 10, codes


async def test_unlimited_key_never_touches_the_table(
    app: RunningApp, admin: httpx.AsyncClient, pg_url: str
) -> None:
    created = await _new_key(admin, None)
    async with app.client(str(created["key"])) as client:
        for _ in range(15):
            assert (await client.get("/projects")).status_code == 200
    assert await _windows(pg_url, str(created["id"])) == []


async def test_a_new_window_resets_the_count(admin: httpx.AsyncClient, pg_url: str) -> None:
    created = await _new_key(admin, 3)
    key_id = uuid.UUID(str(created["id"]))
    t0 = datetime(2030, 1, 1, 12, 0, 45, tzinfo=UTC)
    async with side_connection(pg_url) as db:
        decisions = [await hit(db, key_id, 3, now=t0) for _ in range(4)]
        assert [d.allowed for d in decisions] == [True, True, True, False]
        assert [d.remaining for d in decisions] == [2, 1, 0, 0]
        assert decisions[-1].reset_s == 15
        nxt = await hit(db, key_id, 3, now=t0 + timedelta(seconds=15))
        assert (nxt.allowed, nxt.count, nxt.remaining, nxt.reset_s) == (True, 1, 2, 60)
        # Opening a window 3 minutes later drops the windows older than 2 minutes.
        await hit(db, key_id, 3, now=t0 + timedelta(minutes=3))
    starts = sorted(w.window_start for w in await _windows(pg_url, str(key_id)))
    assert starts == [
        datetime(2030, 1, 1, 12, 1, tzinfo=UTC),
        datetime(2030, 1, 1, 12, 3, tzinfo=UTC),
    ]


async def test_update_and_validation(
    app: RunningApp, admin: httpx.AsyncClient, pg_url: str
) -> None:
    r = await admin.post("/api_keys", json={"name": "x", "role": "Viewer", "rate_limit_rpm": 0})
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"][-1] == "rate_limit_rpm"
    created = await _new_key(admin, None)
    r = await admin.patch(f"/api_keys/{created['id']}", json={"rate_limit_rpm": 0})
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"][-1] == "rate_limit_rpm"
    r = await admin.patch(f"/api_keys/{created['id']}", json={"rate_limit_rpm": 1})
    assert r.status_code == 200, r.text
    assert r.json()["rate_limit_rpm"] == 1
    await _away_from_window_edge()
    async with app.client(str(created["key"])) as client:
        assert (await client.get("/projects")).status_code == 200
        assert (await client.get("/projects")).status_code == 429
    r = await admin.patch(f"/api_keys/{created['id']}", json={"rate_limit_rpm": None})
    assert r.json()["rate_limit_rpm"] is None
    async with app.client(str(created["key"])) as client:
        assert (await client.get("/projects")).status_code == 200
    async with get_session_factory(pg_url)() as session:
        total = (
            await session.execute(
                select(func.count())
                .select_from(RateLimitWindow)
                .where(RateLimitWindow.api_key_id == uuid.UUID(str(created["id"])))
            )
        ).scalar_one()
    assert total == 1
