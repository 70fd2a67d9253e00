"""A small synchronous client of the PromptOps REST API (used by the CLI and the demo)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from typing import Any, Self

import httpx


class APIClientError(RuntimeError):
    """An API call answered 4xx/5xx; the message is the server's ``detail``."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(f"HTTP {status_code}: {message}")
        self.status_code = status_code
        self.message = message


def _detail(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        return response.text
    if isinstance(detail, list):
        return "; ".join(
            f"{'.'.join(str(p) for p in d.get('loc', [])[1:])}: {d.get('msg')}" for d in detail
        )
    return str(detail)


class PromptOpsClient:
    def __init__(
        self, base_url: str, *, api_key: str | None = None, timeout: float = 120.0
    ) -> None:
        """``api_key``: sent as ``Authorization: Bearer``; without one every call is 401."""
        self.base_url = base_url.rstrip("/")
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(
            base_url=f"{self.base_url}/api/v1", timeout=timeout, headers=headers
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise APIClientError(0, f"cannot reach the API at {self.base_url}: {exc}") from exc
        if response.status_code >= 400:
            raise APIClientError(response.status_code, _detail(response))
        return response.json() if response.content else None

    # Registry -------------------------------------------------------------------------------
    def ensure_project(self, name: str, description: str = "") -> dict[str, Any]:
        for project in self.request("GET", "/projects")["data"]:
            if project["name"] == name:
                return dict(project)
        return dict(
            self.request("POST", "/projects", json={"name": name, "description": description})
        )

    def ensure_prompt(self, project_id: str, name: str, description: str = "") -> dict[str, Any]:
        for prompt in self.request("GET", f"/projects/{project_id}/prompts")["data"]:
            if prompt["name"] == name:
                return dict(prompt)
        return dict(
            self.request(
                "POST",
                f"/projects/{project_id}/prompts",
                json={"name": name, "description": description},
            )
        )

    def ensure_version(self, prompt_id: str, spec: dict[str, Any]) -> dict[str, Any]:
        """Create the version unless an identical one (same content) already exists."""
        for v in self.request("GET", f"/prompts/{prompt_id}/versions")["data"]:
            if (
                v["body"],
                v.get("system"),
                v["variables"],
                v.get("response_format"),
                v.get("decoding"),
            ) == (
                spec["body"],
                spec.get("system"),
                spec["variables"],
                spec.get("response_format"),
                {k: x for k, x in spec.get("decoding", {}).items() if x is not None},
            ):
                return dict(v)
        return dict(self.request("POST", f"/prompts/{prompt_id}/versions", json=spec))

    def ensure_dataset(
        self, project_id: str, name: str, rows: Iterable[dict[str, Any]], task_type: str
    ) -> dict[str, Any]:
        ds = None
        for candidate in self._datasets(project_id):
            if candidate["name"] == name:
                ds = candidate
        if ds is None:
            ds = self.request(
                "POST",
                "/datasets",
                json={"project_id": project_id, "name": name, "task_type": task_type},
            )
            body = "\n".join(json.dumps(r) for r in rows)
            self.request(
                "POST",
                f"/datasets/{ds['id']}/examples",
                content=body.encode(),
                headers={"content-type": "application/x-ndjson"},
            )
        return dict(ds)

    def _datasets(self, project_id: str) -> list[dict[str, Any]]:
        return list(self.request("GET", "/datasets", params={"project_id": project_id})["data"])

    # Evaluations ----------------------------------------------------------------------------
    def start_evaluation(self, **body: Any) -> dict[str, Any]:
        return dict(self.request("POST", "/evals/run", json=body))

    def get_evaluation(self, evaluation_id: str, *, rows: int = 0) -> dict[str, Any]:
        return dict(self.request("GET", f"/evals/{evaluation_id}", params={"rows": rows}))

    def wait_evaluation(
        self,
        evaluation_id: str,
        *,
        on_progress: Callable[[dict[str, Any]], None] | None = None,
        poll_s: float = 1.0,
        rows: int = 0,
    ) -> dict[str, Any]:
        while True:
            ev = self.get_evaluation(evaluation_id, rows=0)
            if on_progress:
                on_progress(ev)
            if ev["status"] not in ("Running", "Pending"):
                return self.get_evaluation(evaluation_id, rows=rows)
            time.sleep(poll_s)
