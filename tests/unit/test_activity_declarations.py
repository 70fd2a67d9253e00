"""Workflows call activities through typed declarations (``activities/<family>/declarations.py``);
the worker registers implementations (``workers.main.build_activities``). Nothing but a name
ties the two together at run time, so these tests keep them from drifting: every declaration
has an implementation registered under the same name with the same input and result types,
the worker registers nothing undeclared, and no workflow calls an activity by string name.

No database or server: the activity objects are built on an unreachable database URL (nothing
connects until an activity runs).
"""

from __future__ import annotations

import ast
import base64
import importlib
import importlib.util
import os
import pkgutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from temporalio import activity

import activities
import workflows
from promptops.llm import ModelCatalog
from promptops.settings import Settings
from workers.main import build_activities

#: The SDK's own reading of an ``@activity.defn`` callable (name, argument and result types from
#: the annotations): the same one the worker and ``workflow.execute_activity`` use. Private API;
#: if it moves, this test fails loudly rather than passing quietly.
Definition = activity._Definition


def families() -> list[str]:
    """The activity families: packages of ``activities/`` with an implementation module."""
    return sorted(
        info.name
        for info in pkgutil.iter_modules(activities.__path__)
        if info.ispkg and importlib.util.find_spec(f"activities.{info.name}.activities")
    )


def declared() -> dict[str, Definition]:
    """Activity name -> SDK definition of every declaration, over all families."""
    found: dict[str, Definition] = {}
    for family in families():
        module = importlib.import_module(f"activities.{family}.declarations")
        for value in vars(module).values():
            defn = Definition.from_callable(value) if callable(value) else None
            if defn is None or defn.name is None or value.__module__ != module.__name__:
                continue
            assert defn.name not in found, f"{defn.name} is declared twice"
            found[defn.name] = defn
    return found


@pytest.fixture(scope="module")
def registered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Definition]:
    """Activity name -> SDK definition of every activity the worker registers."""
    settings = Settings(
        PROMPTOPS_HOME=str(tmp_path_factory.mktemp("home")),
        PROMPTOPS_ENCRYPTION_KEY=base64.b64encode(os.urandom(32)).decode(),
    )
    callables: list[Callable[..., Any]] = build_activities(
        "postgresql+psycopg://promptops@127.0.0.1:1/unused",
        ModelCatalog.from_dict({}),
        settings=settings,
    )
    found: dict[str, Definition] = {}
    for fn in callables:
        defn = Definition.must_from_callable(fn)
        assert defn.name is not None, f"{fn} is a dynamic activity"
        assert defn.name not in found, f"the worker registers {defn.name} twice"
        found[defn.name] = defn
    return found


def test_every_family_has_declarations() -> None:
    assert families(), "no activity family found"
    missing = [
        f for f in families() if importlib.util.find_spec(f"activities.{f}.declarations") is None
    ]
    assert not missing, f"families without declarations.py: {missing}"


def test_every_declaration_is_registered_under_its_name(registered: dict[str, Definition]) -> None:
    missing = sorted(set(declared()) - set(registered))
    assert not missing, f"declared but not registered by workers.main: {missing}"


def test_the_worker_registers_only_declared_activities(registered: dict[str, Definition]) -> None:
    undeclared = sorted(set(registered) - set(declared()))
    assert not undeclared, f"registered without a declaration workflows can call: {undeclared}"


@pytest.mark.parametrize("name", sorted(declared()))
def test_declaration_and_implementation_agree_on_types(
    name: str,
    registered: dict[str, Definition],
) -> None:
    decl, impl = declared()[name], registered.get(name)
    assert impl is not None, f"{name} is not registered by workers.main"
    assert decl.arg_types == impl.arg_types, f"{name}: input {decl.arg_types} != {impl.arg_types}"
    assert decl.ret_type == impl.ret_type, f"{name}: result {decl.ret_type} != {impl.ret_type}"
    assert decl.is_async and impl.is_async


@pytest.mark.parametrize("name", sorted(declared()))
def test_inputs_and_results_live_in_the_family_types_module(name: str) -> None:
    """A workflow imports its inputs from ``types.py``; inside the sandbox that import is what
    lets the SDK resolve the result's annotations, so the result must live there too."""
    decl = declared()[name]
    assert decl.arg_types and decl.ret_type is not None, f"{name}: annotate input and result"
    family_types = decl.fn.__module__.replace(".declarations", ".types")
    for hint in [*decl.arg_types, decl.ret_type]:
        if hint is not type(None):
            assert hint.__module__ == family_types, f"{name}: {hint} is not in {family_types}"


def test_declarations_import_no_implementation() -> None:
    """Workflow modules import the declarations: they must stay free of implementation
    dependencies (the import contracts check the same for the whole workflow graph)."""
    for family in families():
        path = Path(activities.__path__[0]) / family / "declarations.py"
        imported = {
            node.module
            for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.ImportFrom) and node.module
        }
        allowed = {"__future__", "temporalio", f"activities.{family}.types"}
        assert imported <= allowed, f"{path}: imports {sorted(imported - allowed)}"


#: Workflow APIs whose first argument names what to run.
_CALLS = {
    "execute_activity",
    "start_activity",
    "execute_child_workflow",
    "start_child_workflow",
    "execute_local_activity",
    "start_local_activity",
}


def _string_calls(tree: ast.AST) -> list[str]:
    """``workflow.<call>("name", ...)`` and ``result_type=`` uses, as ``line: text``."""
    found: list[str] = []
    for node in ast.walk(tree):
        if not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in _CALLS
        ):
            continue
        first = node.args[0] if node.args else None
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            found.append(f"{node.lineno}: {node.func.attr}({first.value!r}, ...)")
        if any(k.arg == "result_type" for k in node.keywords):
            found.append(f"{node.lineno}: {node.func.attr}(..., result_type=...)")
    return found


def test_workflows_call_by_typed_reference() -> None:
    root = Path(workflows.__path__[0])
    offenders = {
        str(path.relative_to(root.parent)): calls
        for path in sorted(root.rglob("*.py"))
        if (calls := _string_calls(ast.parse(path.read_text())))
    }
    assert not offenders, f"activities or child workflows called by string name: {offenders}"


def test_the_string_call_check_sees_a_string_call() -> None:
    tree = ast.parse('await workflow.execute_activity("plan_evaluation", x, result_type=R)')
    assert len(_string_calls(tree)) == 2
