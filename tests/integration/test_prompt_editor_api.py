"""What the web app's prompt pages need from the API, on the real app: ``POST
/api/v1/prompts/render`` (the editor's live preview of an UNSAVED template, with the same
variable checks as creating a version) and a body diff a side-by-side view can parse."""

from __future__ import annotations

import uuid

import httpx

from promptops.llm.budgets.bounds import estimate_prompt_tokens


async def test_renders_messages_and_estimates_their_tokens(api: httpx.AsyncClient) -> None:
    r = await api.post(
        "/prompts/render",
        json={
            "body": "Q: {{ question }}",
            "system": "You are {{ persona }}.",
            "variables": {"question": "str", "persona": "str"},
            "values": {"question": "why is the sky blue?", "persona": "a physicist"},
        },
    )
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["messages"] == [
        {"role": "system", "content": "You are a physicist."},
        {"role": "user", "content": "Q: why is the sky blue?"},
    ]
    assert out["errors"] == [] and out["rendered"] is True
    assert out["used_variables"] == ["persona", "question"]
    assert out["prompt_tokens"] == estimate_prompt_tokens(out["messages"])


async def test_reports_undeclared_and_unused_together_naming_the_field(
    api: httpx.AsyncClient,
) -> None:
    out = (
        await api.post(
            "/prompts/render",
            json={
                "body": "Hi {{ name }} from {{ city }}",
                "variables": {"name": "str", "age": "int"},
                "values": {"name": "Ada", "city": "Paris", "age": 36},
            },
        )
    ).json()
    problems = {(e["field"], tuple(e["names"])) for e in out["errors"]}
    assert problems == {("variables", ("city",)), ("variables", ("age",))}
    assert any("not declared" in e["message"] for e in out["errors"])
    # Every value is there, so it still renders: the author sees both.
    assert out["messages"] == [{"role": "user", "content": "Hi Ada from Paris"}]


async def test_same_rules_as_creating_a_version(api: httpx.AsyncClient) -> None:
    project = (await api.post("/projects", json={"name": f"p-{uuid.uuid4().hex[:8]}"})).json()
    prompt = (await api.post(f"/projects/{project['id']}/prompts", json={"name": "qa"})).json()
    draft = {"body": "Hi {{ name }} from {{ city }}", "variables": {"name": "str"}}
    preview = (await api.post("/prompts/render", json=draft)).json()
    saved = await api.post(f"/prompts/{prompt['id']}/versions", json=draft)
    assert saved.status_code == 422
    detail = saved.json()["detail"][0]
    assert detail["loc"][-1] == preview["errors"][0]["field"] == "variables"
    assert detail["msg"] == preview["errors"][0]["message"]


async def test_missing_values_and_syntax_errors_leave_it_unrendered(
    api: httpx.AsyncClient,
) -> None:
    out = (
        await api.post(
            "/prompts/render", json={"body": "Hi {{ name }}", "variables": {"name": "str"}}
        )
    ).json()
    assert out["rendered"] is False and out["messages"] is None
    assert out["errors"] == [
        {"field": "values", "message": "no value to render with for: name", "names": ["name"]}
    ]
    # The estimate is then of the template as written.
    assert out["prompt_tokens"] == estimate_prompt_tokens([{"content": "Hi {{ name }}"}])

    out = (
        await api.post("/prompts/render", json={"body": "ok", "system": "line\n{{ broken "})
    ).json()
    assert out["rendered"] is False
    assert [e["field"] for e in out["errors"]] == ["system"]
    assert "line 2" in out["errors"][0]["message"]


async def test_a_failing_expression_is_a_problem_not_a_crash(api: httpx.AsyncClient) -> None:
    for body in ("{{ x + 1 }}", "{{ x * 100000000000 }}", "{{ x.__class__ }}"):
        r = await api.post(
            "/prompts/render", json={"body": body, "variables": {"x": "str"}, "values": {"x": "a"}}
        )
        assert r.status_code == 200, (body, r.text)
        assert r.json()["rendered"] is False and r.json()["errors"][0]["field"] == "body"


async def test_any_role_may_preview(api: httpx.AsyncClient) -> None:
    created = (
        await api.post("/api_keys", json={"name": f"v-{uuid.uuid4().hex[:6]}", "role": "Viewer"})
    ).json()
    r = await api.post(
        "/prompts/render",
        json={"body": "Hi"},
        headers={"Authorization": f"Bearer {created['key']}"},
    )
    assert r.status_code == 200 and r.json()["messages"] == [{"role": "user", "content": "Hi"}]
    unauthenticated = await api.post(
        "/prompts/render", json={"body": "Hi"}, headers={"Authorization": ""}
    )
    assert unauthenticated.status_code == 401


async def test_diff_of_bodies_without_a_final_newline_keeps_one_line_per_change(
    api: httpx.AsyncClient,
) -> None:
    project = (await api.post("/projects", json={"name": f"p-{uuid.uuid4().hex[:8]}"})).json()
    prompt = (await api.post(f"/projects/{project['id']}/prompts", json={"name": "qa"})).json()
    for body in ("Intro\nQ: {{ q }}", "Intro\nQuestion: {{ q }}"):
        r = await api.post(
            f"/prompts/{prompt['id']}/versions", json={"body": body, "variables": {"q": "str"}}
        )
        assert r.status_code == 201, r.text
    diff = (await api.get(f"/prompts/{prompt['id']}/diff", params={"from": 1, "to": 2})).json()
    assert diff["body_diff"].splitlines()[2:] == [
        "@@ -1,2 +1,2 @@",
        " Intro",
        "-Q: {{ q }}",
        "\\ No newline at end of file",
        "+Question: {{ q }}",
        "\\ No newline at end of file",
    ]
