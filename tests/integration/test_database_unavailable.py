"""The HTTP answer of every transport when the database cannot be reached at all (a socket with no
server behind it): 503 naming the database, in FastAPI's shape or OpenAI's under ``/v1``, once
the pools' bounded wait (``PROMPTOPS_DB_POOL_TIMEOUT_S``, 1 s here) is over; the gateway's hot
path (``api/hotpath.py``) included.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from promptops.governance.security import generate_api_key
from promptops.llm import ModelCatalog
from promptops.settings import get_settings
from tests.support.apps import hot_and_plain

UNAVAILABLE = "the database is unavailable ("
GENERATE = {"prompt_version_id": "00000000-0000-0000-0000-000000000001", "variables": {"q": "x"}}
CHAT = {"model": "stub", "messages": [{"role": "user", "content": "x"}]}


@pytest.fixture
def short_pool_wait(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Pools made during the test wait 1 s for a connection (the process settings are cached:
    cleared before and after so no other test sees this)."""
    monkeypatch.setenv("PROMPTOPS_DB_POOL_TIMEOUT_S", "1")
    get_settings.cache_clear()
    try:
        yield
    finally:
        monkeypatch.delenv("PROMPTOPS_DB_POOL_TIMEOUT_S")
        get_settings.cache_clear()


@pytest.fixture
async def clients(
    tmp_path: Path, catalog: ModelCatalog, monkeypatch: pytest.MonkeyPatch, short_pool_wait: None
) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    """The app with the hot path on and off, on a database URL nothing listens at, sending a
    well-formed API key (its lookup is the first statement of every authenticated request)."""
    url = f"postgresql+psycopg://postgres@/promptops?host={tmp_path}"
    headers = {"Authorization": f"Bearer {generate_api_key().key}"}
    async with hot_and_plain(url, catalog, monkeypatch, headers=headers) as (_, built):
        yield built


def assert_unavailable(r: httpx.Response) -> None:
    assert r.status_code == 503, (r.request.url, r.status_code, r.text)
    body: dict[str, Any] = r.json()
    message = body["error"]["message"] if "error" in body else body["detail"]
    assert message.startswith(UNAVAILABLE), message


@pytest.mark.parametrize("path", ["/api/v1/projects", "/healthz"])
async def test_routes_answer_503(clients: dict[str, httpx.AsyncClient], path: str) -> None:
    assert_unavailable(await clients["plain"].get(path))


async def test_model_calls_answer_503_in_each_shape(
    clients: dict[str, httpx.AsyncClient],
) -> None:
    assert_unavailable(await clients["plain"].post("/api/v1/generate", json=GENERATE))
    r = await clients["plain"].post("/v1/chat/completions", json=CHAT)
    assert_unavailable(r)
    assert r.json()["error"]["type"] == "ServiceUnavailable"


@pytest.mark.parametrize(
    "path,body", [("/api/v1/generate", GENERATE), ("/v1/chat/completions", CHAT)]
)
async def test_the_hot_path_answers_503(
    clients: dict[str, httpx.AsyncClient], path: str, body: dict[str, Any]
) -> None:
    assert_unavailable(await clients["hot"].post(path, json=body))
