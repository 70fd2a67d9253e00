"""API steps the browser tests share: waiting for a workflow's state, an approval done through
the API (the setup of a test about something else), simulated production users."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx

#: Generous waits for the workflows on a busy 2-core machine (waits, not assertions on time).
WAIT_MS = 180_000
POLL_S = 0.5


async def until(
    api: httpx.AsyncClient, path: str, done: Callable[[Any], bool], what: str
) -> dict[str, Any]:
    """Poll ``GET path`` until ``done(body)``; fails naming ``what`` after ``WAIT_MS``."""
    body: dict[str, Any] = {}
    for _ in range(int(WAIT_MS / 1000 / POLL_S)):
        r = await api.get(path)
        if r.status_code == 200:
            body = r.json()
            if done(body):
                return body
        await asyncio.sleep(POLL_S)
    raise AssertionError(f"{what}: still {body}")


async def approve_through_api(
    author: httpx.AsyncClient, reviewer: httpx.AsyncClient, version_id: str
) -> None:
    """Submit ``version_id`` as ``author`` and approve it as ``reviewer``; returns once the
    version is Approved."""
    r = await author.post(f"/prompt_versions/{version_id}/submit_for_approval")
    assert r.status_code in (200, 201, 202), r.text
    path = f"/prompt_versions/{version_id}/approval"
    await until(author, path, lambda a: a["phase"] == "waiting", "approval waits for reviews")
    r = await reviewer.post(f"/prompt_versions/{version_id}/approve", json={"comment": "ok"})
    assert r.status_code == 200, r.text
    await until(author, path, lambda a: a["status"] == "Approved", "version approved")


@contextlib.asynccontextmanager
async def production_traffic(
    api: httpx.AsyncClient, project_id: str, prompt: str, variables: dict[str, str]
) -> AsyncIterator[None]:
    """Simulated users of ``prod`` while the block runs: two at a time, sticky subject ids, a
    thumbs-up on each answer, so both arms of a canary get runs and feedback."""
    stop = asyncio.Event()

    async def user(seed: int) -> None:
        i = seed
        while not stop.is_set():
            i += 2
            r = await api.post(
                "/generate",
                json={
                    "project_id": project_id,
                    "prompt": prompt,
                    "environment": "prod",
                    "subject_id": f"user-{i % 40}",
                    "variables": variables,
                },
            )
            if r.status_code == 200:
                await api.post(f"/runs/{r.json()['run_id']}/feedback", json={"thumbs": True})

    tasks = [asyncio.create_task(user(seed)) for seed in range(2)]
    try:
        yield
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
