"""The prompt registry through the HTTP API on the embedded Postgres."""

from __future__ import annotations

import json
import uuid

import httpx


async def _project(api: httpx.AsyncClient) -> str:
    r = await api.post("/projects", json={"name": f"p-{uuid.uuid4().hex[:8]}"})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def _prompt(api: httpx.AsyncClient, project_id: str) -> str:
    r = await api.post(f"/projects/{project_id}/prompts", json={"name": "qa"})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def test_versions_numbered_hashed_and_listed(api: httpx.AsyncClient) -> None:
    prompt_id = await _prompt(api, await _project(api))
    body = {"body": "Q: {{question}}\nA:", "variables": {"question": "str"}, "notes": "v1"}
    r1 = await api.post(f"/prompts/{prompt_id}/versions", json=body)
    assert r1.status_code == 201, r1.text
    v1 = r1.json()
    assert v1["version"] == 1 and v1["status"] == "Draft" and len(v1["content_hash"]) == 64
    r2 = await api.post(
        f"/prompts/{prompt_id}/versions",
        json={**body, "body": "Answer briefly.\nQ: {{ question }}\nA:"},
    )
    assert r2.json()["version"] == 2
    assert r2.json()["content_hash"] != v1["content_hash"]
    listed = (await api.get(f"/prompts/{prompt_id}/versions")).json()
    assert [v["version"] for v in listed["data"]] == [1, 2]
    diff = (await api.get(f"/prompts/{prompt_id}/diff", params={"from": 1, "to": 2})).json()
    assert "+Answer briefly." in diff["body_diff"]
    # Bodies end without a newline: their last lines still come out as lines of their own.
    r3 = await api.post(f"/prompts/{prompt_id}/versions", json={**body, "body": "Say {{question}}"})
    assert r3.status_code == 201, r3.text
    diff = (await api.get(f"/prompts/{prompt_id}/diff", params={"from": 1, "to": 3})).json()
    assert diff["body_diff"].splitlines()[-5:] == [
        "-Q: {{question}}",
        "-A:",
        "\\ No newline at end of file",
        "+Say {{question}}",
        "\\ No newline at end of file",
    ]


async def test_undeclared_and_unused_variables_rejected_with_names(api: httpx.AsyncClient) -> None:
    prompt_id = await _prompt(api, await _project(api))
    r = await api.post(
        f"/prompts/{prompt_id}/versions",
        json={"body": "Hi {{ name }} from {{ city }}", "variables": {"name": "str"}},
    )
    assert r.status_code == 422
    assert "city" in r.text and r.json()["detail"][0]["loc"][-1] == "variables"
    r = await api.post(
        f"/prompts/{prompt_id}/versions",
        json={"body": "Hi {{ name }}", "variables": {"name": "str", "age": "int"}},
    )
    assert r.status_code == 422 and "age" in r.text
    r = await api.post(
        f"/prompts/{prompt_id}/versions", json={"body": "Hi {{ name ", "variables": {"name": "str"}}
    )
    assert r.status_code == 422 and "syntax" in r.text
    assert (await api.get(f"/prompts/{prompt_id}/versions")).json()["count"] == 0


async def test_sandbox_blocks_unsafe_template(api: httpx.AsyncClient) -> None:
    prompt_id = await _prompt(api, await _project(api))
    r = await api.post(
        f"/prompts/{prompt_id}/versions",
        json={"body": "{{ x.__class__.__mro__ }}", "variables": {"x": "str"}},
    )
    assert r.status_code == 201
    r = await api.post(f"/prompt_versions/{r.json()['id']}/render", json={"variables": {"x": "a"}})
    assert r.status_code == 422 and "unsafe" in r.text


async def test_label_move_and_rollback_audited_and_generate_follows(api: httpx.AsyncClient) -> None:
    """An unprotected label (``staging`` unless an Admin protects it) moves by PUT, back and
    forth; ``production`` is protected (tests/integration/test_protected_labels.py)."""
    project_id = await _project(api)
    prompt_id = await _prompt(api, project_id)
    ids = []
    for text in ("one {{ q }}", "two {{ q }}"):
        r = await api.post(
            f"/prompts/{prompt_id}/versions", json={"body": text, "variables": {"q": "str"}}
        )
        ids.append(r.json()["id"])
    r = await api.post("/generate", json={"prompt_id": prompt_id, "variables": {"q": "x"}})
    assert r.status_code == 404 and "production" in r.text
    for vid in (ids[0], ids[1], ids[0]):
        r = await api.put(f"/prompts/{prompt_id}/labels/staging", json={"prompt_version_id": vid})
        assert r.status_code == 200, r.text
        assert r.json()["protected"] is False
    r = await api.post(
        "/generate",
        json={
            "project_id": project_id,
            "prompt": "qa",
            "environment": "staging",
            "variables": {"q": "hello world"},
        },
    )
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["prompt_version_id"] == ids[0]
    assert out["output"].startswith("one hello world")
    assert out["metrics"]["tokens"]["prompt"] > 0 and out["metrics"]["cost_usd"] > 0
    audit = (
        await api.get(
            "/audit", params={"action": "label.move", "entity_id": f"{prompt_id}:staging"}
        )
    ).json()
    moves = [a["after"]["prompt_version_id"] for a in reversed(audit["data"])]
    assert moves == [ids[0], ids[1], ids[0]]
    assert audit["data"][0]["before"]["prompt_version_id"] == ids[1]


async def test_execute_records_tokens_cost_latency(api: httpx.AsyncClient) -> None:
    prompt_id = await _prompt(api, await _project(api))
    vid = (
        await api.post(
            f"/prompts/{prompt_id}/versions",
            json={"body": "Say {{ w }}", "variables": {"w": "str"}},
        )
    ).json()["id"]
    r = await api.post("/runs/execute", json={"prompt_version_id": vid, "variables": {"w": "hi"}})
    assert r.status_code == 200, r.text
    m = r.json()["metrics"]
    assert m["tokens"] == {"prompt": 2, "completion": 2}
    assert abs(m["cost_usd"] - (2 * 1e-6 + 2 * 2e-6)) < 1e-12
    assert m["latency_ms"] > 0
    r = await api.post("/runs/execute", json={"prompt_version_id": vid, "variables": {}})
    assert r.status_code == 422 and "w" in r.text


async def test_dataset_import_jsonl_csv_and_all_or_nothing(api: httpx.AsyncClient) -> None:
    project_id = await _project(api)
    ds = (await api.post("/datasets", json={"project_id": project_id, "name": "golden"})).json()
    lines = [
        json.dumps({"id": f"e{i}", "input": {"q": f"question {i}"}, "expected": f"a{i}"})
        for i in range(3)
    ]
    r = await api.post(
        f"/datasets/{ds['id']}/examples",
        content="\n".join(lines),
        headers={"content-type": "application/x-ndjson"},
    )
    assert r.status_code == 201 and r.json()["imported"] == 3, r.text
    bad = "\n".join(
        [
            json.dumps({"id": "e9", "input": {"q": "x"}}),
            "{not json",
            json.dumps({"id": "e10", "input": {"q": "y"}}),
        ]
    )
    r = await api.post(
        f"/datasets/{ds['id']}/examples",
        content=bad,
        headers={"content-type": "application/x-ndjson"},
    )
    assert r.status_code == 422 and "row 2" in r.text
    r = await api.post(
        f"/datasets/{ds['id']}/examples",
        content=lines[0],
        headers={"content-type": "application/x-ndjson"},
    )
    assert r.status_code == 409 and "e0" in r.text
    csv_text = 'id,input,expected,metadata\nc1,"{""q"": ""from csv""}",yes,"{""k"": 1}"\n'
    r = await api.post(
        f"/datasets/{ds['id']}/examples", files={"file": ("g.csv", csv_text.encode(), "text/csv")}
    )
    assert r.status_code == 201, r.text
    got = (await api.get(f"/datasets/{ds['id']}/examples")).json()
    assert got["count"] == 4
    assert got["data"][3]["input"] == {"q": "from csv"} and got["data"][3]["metadata"] == {"k": 1}


async def test_unknown_ids_are_404(api: httpx.AsyncClient) -> None:
    missing = uuid.uuid4()
    assert (await api.get(f"/projects/{missing}")).status_code == 404
    assert (await api.get(f"/prompts/{missing}")).status_code == 404
    assert (await api.get(f"/datasets/{missing}")).status_code == 404
    assert (await api.get("/evals/eval-nope")).status_code == 404


async def test_docs_page_served_without_a_cdn(api: httpx.AsyncClient) -> None:
    base = "http://test"
    r = await api.get(f"{base}/docs")
    assert r.status_code == 200 and "/_swagger/swagger-ui-bundle.js" in r.text
    assert "cdn.jsdelivr" not in r.text
    js = await api.get(f"{base}/_swagger/swagger-ui-bundle.js")
    assert js.status_code == 200 and len(js.content) > 100_000
