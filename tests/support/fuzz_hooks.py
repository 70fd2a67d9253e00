"""schemathesis hooks of the API fuzz test (``tests/integration/test_api_fuzz.py``), loaded by
the ``schemathesis run`` process through its ``hooks`` setting.

- ``before_load_schema``: OpenAPI links (:data:`LINKS`) from every operation that creates or
  lists something to the operations that take its id (in the path, the query or the body), so
  the stateful phase chains ``POST /projects`` -> ``POST /projects/{id}/prompts`` ->
  ``POST /prompts/{id}/versions`` -> ``POST /runs/execute`` -> ``GET /runs/{id}`` ... and
  reaches every operation with ids that exist.
- ``before_call``: every other call takes the ids of the things the test seeded
  (``PROMPTOPS_FUZZ_SEEDED_IDS``, JSON ``{parameter name: [ids]}``) wherever it takes an id,
  so operations behind ids are reached with ids that exist even when no chain of links leads
  there within the stateful budget. And the fuzzer must not cut its own branch: a case that
  would revoke, rotate, rate-limit or demote the fuzzer's own API key or membership (ids in
  ``PROMPTOPS_FUZZ_OWN_IDS``, same JSON shape) gets the nil UUID instead (an ordinary 404), so
  every later call still authenticates.
- ``after_call``: each answer is appended to ``PROMPTOPS_FUZZ_LOG`` as one line
  ``<METHOD path-template>\\t<status>``, from which the test counts the operations reached.
"""

from __future__ import annotations

import itertools
import json
import os
from typing import Any

import schemathesis

NIL_UUID = "00000000-0000-0000-0000-000000000000"

P = "/api/v1"

#: The operations that take each kind of id: (method, path, where), ``where`` a path or query
#: parameter's name, or ``body.<field>``.
TAKES: dict[str, list[tuple[str, str, str]]] = {
    "project": [
        *(
            (method, f"{P}/projects/{{project_id}}{tail}", "project_id")
            for method, tail in (
                ("get", ""),
                ("get", "/prompts"),
                ("post", "/prompts"),
                ("get", "/approval_policy"),
                ("put", "/approval_policy"),
                ("get", "/budgets"),
                ("put", "/budgets"),
                ("get", "/cache"),
                ("put", "/cache"),
                ("get", "/routing_policies"),
                ("put", "/routing_policies/{name}"),
            )
        ),
        ("get", f"{P}/datasets", "project_id"),
        ("get", f"{P}/evals", "project_id"),
        ("post", f"{P}/datasets", "body.project_id"),
        ("get", f"{P}/deployments", "project_id"),
        ("get", f"{P}/approvals", "project_id"),
        ("post", f"{P}/cache/purge", "body.project_id"),
        ("get", f"{P}/runs", "project_id"),
    ],
    "prompt": [
        *(
            (method, f"{P}/prompts/{{prompt_id}}{tail}", "prompt_id")
            for method, tail in (
                ("get", ""),
                ("get", "/versions"),
                ("post", "/versions"),
                ("get", "/diff"),
                ("get", "/labels"),
            )
        ),
        ("get", f"{P}/runs", "prompt_id"),
    ],
    "version": [
        *(
            (method, f"{P}/prompt_versions/{{version_id}}{tail}", "version_id")
            for method, tail in (
                ("get", ""),
                ("post", "/render"),
                ("post", "/submit_for_approval"),
                ("post", "/approve"),
                ("post", "/reject"),
                ("get", "/approval"),
            )
        ),
        ("get", f"{P}/approvals", "prompt_version_id"),
        ("get", f"{P}/runs", "prompt_version_id"),
        *(
            ("post", f"{P}{path}", "body.prompt_version_id")
            for path in ("/runs/execute", "/generate", "/deployments", "/cache/purge")
        ),
    ],
    "dataset": [
        ("get", f"{P}/datasets/{{dataset_id}}", "dataset_id"),
        ("get", f"{P}/datasets/{{dataset_id}}/examples", "dataset_id"),
        ("post", f"{P}/datasets/{{dataset_id}}/examples", "dataset_id"),
        ("post", f"{P}/evals/run", "body.dataset_id"),
    ],
    "run": [
        ("get", f"{P}/runs/{{run_id}}", "run_id"),
        ("post", f"{P}/runs/{{run_id}}/feedback", "run_id"),
        ("post", f"{P}/outcomes", "body.run_id"),
    ],
    "evaluation": [
        ("get", f"{P}/evals/{{evaluation_id}}", "evaluation_id"),
        ("get", f"{P}/evals/{{evaluation_id}}/examples", "evaluation_id"),
        ("get", f"{P}/evals/{{evaluation_id}}/rows.csv", "evaluation_id"),
        ("post", f"{P}/evals/{{evaluation_id}}/cancel", "evaluation_id"),
    ],
    "approval": [("get", f"{P}/approvals/{{approval_id}}", "approval_id")],
    "deployment": [
        ("get", f"{P}/deployments/{{deployment_id}}", "deployment_id"),
        ("get", f"{P}/deployments/{{deployment_id}}/checks", "deployment_id"),
        *(
            ("post", f"{P}/deployments/{{deployment_id}}/{action}", "deployment_id")
            for action in ("pause", "resume", "promote", "abort")
        ),
    ],
    "key": [
        ("post", f"{P}/api_keys/{{key_id}}/rotate", "key_id"),
        ("patch", f"{P}/api_keys/{{key_id}}", "key_id"),
        ("delete", f"{P}/api_keys/{{key_id}}", "key_id"),
    ],
    "member": [
        ("patch", f"{P}/members/{{user_id}}", "user_id"),
        ("delete", f"{P}/members/{{user_id}}", "user_id"),
    ],
    "credential": [
        ("put", f"{P}/provider_keys/{{credential_id}}", "credential_id"),
        ("delete", f"{P}/provider_keys/{{credential_id}}", "credential_id"),
    ],
    "index": [
        ("get", f"{P}/retrieval/indexes/{{index_id}}", "index_id"),
        ("get", f"{P}/retrieval/indexes/{{index_id}}/documents", "index_id"),
        ("post", f"{P}/retrieval/indexes/{{index_id}}/ingest", "index_id"),
        ("delete", f"{P}/retrieval/indexes/{{index_id}}", "index_id"),
        ("post", f"{P}/retrieval/query", "body.index_id"),
    ],
    "ingestion": [("get", f"{P}/retrieval/ingestions/{{ingestion_id}}", "ingestion_id")],
}

#: What answers with ids: (method, path, status, kind of id, JSON pointer to it).
GIVES: list[tuple[str, str, str, str, str]] = [
    ("post", f"{P}/projects", "201", "project", "/id"),
    ("get", f"{P}/projects", "200", "project", "/data/0/id"),
    ("post", f"{P}/projects/{{project_id}}/prompts", "201", "prompt", "/id"),
    ("get", f"{P}/projects/{{project_id}}/prompts", "200", "prompt", "/data/0/id"),
    ("post", f"{P}/prompts/{{prompt_id}}/versions", "201", "version", "/id"),
    ("get", f"{P}/prompts/{{prompt_id}}/versions", "200", "version", "/data/0/id"),
    ("get", f"{P}/approvals", "200", "version", "/data/0/prompt_version_id"),
    ("get", f"{P}/approvals", "200", "approval", "/data/0/id"),
    (
        "post",
        f"{P}/prompt_versions/{{version_id}}/submit_for_approval",
        "202",
        "approval",
        "/approval_id",
    ),
    ("post", f"{P}/datasets", "201", "dataset", "/id"),
    ("get", f"{P}/datasets", "200", "dataset", "/data/0/id"),
    ("post", f"{P}/runs/execute", "200", "run", "/run_id"),
    ("post", f"{P}/generate", "200", "run", "/run_id"),
    ("get", f"{P}/runs", "200", "run", "/data/0/id"),
    ("post", f"{P}/evals/run", "202", "evaluation", "/id"),
    ("get", f"{P}/evals", "200", "evaluation", "/data/0/id"),
    ("post", f"{P}/deployments", "202", "deployment", "/deployment/id"),
    ("get", f"{P}/deployments", "200", "deployment", "/data/0/id"),
    ("post", f"{P}/api_keys", "201", "key", "/id"),
    ("get", f"{P}/api_keys", "200", "key", "/data/0/id"),
    ("post", f"{P}/members", "201", "member", "/user_id"),
    ("get", f"{P}/members", "200", "member", "/data/0/user_id"),
    ("post", f"{P}/provider_keys", "201", "credential", "/id"),
    ("get", f"{P}/provider_keys", "200", "credential", "/data/0/id"),
    ("post", f"{P}/retrieval/indexes", "201", "index", "/id"),
    ("get", f"{P}/retrieval/indexes", "200", "index", "/data/0/id"),
    ("post", f"{P}/retrieval/indexes/{{index_id}}/ingest", "202", "ingestion", "/id"),
]

#: Operations that must not get a seeded id (they would destroy what the seeded ids of other
#: operations point at: a deleted index takes its ingestions and chunks with it). They are
#: reached along links instead (create, then delete).
DESTRUCTIVE = {f"DELETE {P}/retrieval/indexes/{{index_id}}"}

#: Links that take more than one value from the same answer: (method, path, status,
#: target method, target path, {parameter: pointer} with ``body`` for body fields).
COMPOUND: list[tuple[str, str, str, str, str, dict[str, Any]]] = [
    *(
        (
            "post" if source == "versions" else "get",
            f"{P}/prompts/{{prompt_id}}/versions",
            status,
            "put",
            f"{P}/prompts/{{prompt_id}}/labels/{{name}}",
            {"prompt_id": f"{item}/prompt_id", "body": {"prompt_version_id": f"{item}/id"}},
        )
        for source, status, item in (("versions", "201", ""), ("list", "200", "/data/0"))
    ),
    (
        "post",
        f"{P}/prompts/{{prompt_id}}/versions",
        "201",
        "post",
        f"{P}/evals/run",
        {"body": {"prompt_version_ids": ["/id"]}},
    ),
    *(
        (
            method,
            f"{P}/projects/{{project_id}}/routing_policies{tail}",
            status,
            target,
            f"{P}/projects/{{project_id}}/routing_policies/{{name}}{suffix}",
            {"project_id": f"{item}/project_id", "name": f"{item}/name"},
        )
        for method, tail, status, item in (
            ("put", "/{name}", "200", ""),
            ("get", "", "200", "/data/0"),
        )
        for target, suffix in (("get", ""), ("delete", ""), ("post", "/preview"))
    ),
]


def _expression(value: Any) -> Any:
    """A link's runtime expressions: JSON pointers into the answer's body, at any depth."""
    if isinstance(value, str):
        return f"$response.body#{value}"
    if isinstance(value, list):
        return [_expression(v) for v in value]
    return {k: _expression(v) for k, v in value.items()}


def _reference(method: str, path: str) -> str:
    return "#/paths/" + path.replace("~", "~0").replace("/", "~1") + "/" + method


def add_links(raw_schema: dict[str, Any]) -> int:
    """Add the links of :data:`GIVES` x :data:`TAKES` and :data:`COMPOUND` to ``raw_schema``
    (an OpenAPI document); returns how many."""
    links: list[tuple[str, str, str, str, str, dict[str, Any]]] = [*COMPOUND]
    for method, path, status, kind, pointer in GIVES:
        for target_method, target_path, where in TAKES[kind]:
            field = where.removeprefix("body.")
            params = {"body": {field: pointer}} if field != where else {where: pointer}
            links.append((method, path, status, target_method, target_path, params))
    for method, path, status, target_method, target_path, params in links:
        response = raw_schema["paths"][path][method]["responses"][status]
        named = response.setdefault("links", {})
        link: dict[str, Any] = {"operationRef": _reference(target_method, target_path)}
        if "body" in params:
            link["requestBody"] = _expression(params["body"])
        parameters = {k: _expression(v) for k, v in params.items() if k != "body"}
        if parameters:
            link["parameters"] = parameters
        name = f"{target_method.upper()} {target_path}"
        named[name if name not in named else f"{name} ({len(named)})"] = link
    return len(links)


def _ids(variable: str) -> dict[str, list[str]]:
    data: dict[str, list[str]] = json.loads(os.environ.get(variable) or "{}")
    return {name: [str(v).lower() for v in values] for name, values in data.items()}


#: The fuzzer's own key and membership ({"key_id": [...], "user_id": [...]}): never touched.
OWN_IDS = _ids("PROMPTOPS_FUZZ_OWN_IDS")
#: Ids of the seeded things by parameter name ({"run_id": [...], "version_id": [...]}).
SEEDED_IDS = _ids("PROMPTOPS_FUZZ_SEEDED_IDS")
#: Body fields that take the seeded ids of a parameter name.
BODY_FIELDS = {
    "project_id": "project_id",
    "prompt_version_id": "version_id",
    "dataset_id": "dataset_id",
    "run_id": "run_id",
    "index_id": "index_id",
}
LOG = os.environ.get("PROMPTOPS_FUZZ_LOG")
_calls = itertools.count()


@schemathesis.hook
def before_load_schema(context: schemathesis.HookContext, raw_schema: dict[str, Any]) -> None:
    add_links(raw_schema)


@schemathesis.hook
def before_call(
    context: schemathesis.HookContext, case: schemathesis.Case[Any], kwargs: dict[str, Any]
) -> None:
    """Every other call gets
    seeded ids where it takes an id (path, query, top-level body fields): the generated ones
    hardly ever exist, so without this the operations behind ids would see little but their
    404. The other calls keep what schemathesis generated (or extracted along a link). Then the
    fuzzer's own key and membership are swapped out."""
    n = next(_calls)
    if n % 2 == 0 and case.operation.label not in DESTRUCTIVE:
        pick = n // 2
        for params in (case.path_parameters, case.query):
            for name in params or ():
                if name in SEEDED_IDS:
                    params[name] = _choose(SEEDED_IDS[name], pick)
        if isinstance(case.body, dict):
            for field, name in BODY_FIELDS.items():
                if field in case.body and name in SEEDED_IDS:
                    case.body[field] = _choose(SEEDED_IDS[name], pick)
            if isinstance(case.body.get("prompt_version_ids"), list) and "version_id" in SEEDED_IDS:
                case.body["prompt_version_ids"] = [_choose(SEEDED_IDS["version_id"], pick)]
    for params in (case.path_parameters, case.query):
        for name in params or ():
            if str(params[name]).lower() in OWN_IDS.get(name, ()):
                params[name] = NIL_UUID
            destroys_seeded = case.operation.label in DESTRUCTIVE
            if destroys_seeded and str(params[name]).lower() in SEEDED_IDS.get(name, ()):
                params[name] = NIL_UUID


def _choose(values: list[str], n: int) -> str:
    return values[n % len(values)]


@schemathesis.hook
def after_call(
    context: schemathesis.HookContext, case: schemathesis.Case[Any], response: schemathesis.Response
) -> None:
    if LOG:
        with open(LOG, "a", encoding="utf-8") as log:
            log.write(f"{case.operation.label}\t{response.status_code}\n")
