"""The ``promptops`` command line (typer + rich).

Each command group lives in its own module and registers itself on :data:`app` through a
``register(app)`` function; heavy imports (LiteLLM, SQLAlchemy, Temporal) happen inside commands so
``promptops --help`` stays fast.
"""

from __future__ import annotations

import typer

app = typer.Typer(
    name="promptops",
    help="PromptOps: versioned prompts, durable evaluations and safe rollouts on Temporal.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)


def _register_all() -> None:
    import importlib

    for name in (
        "stack",
        "evals",
        "demo",
        "approvals",
        "rollouts",
        "labels",
        "keys",
        "routing",
        "retrieval",
    ):
        try:
            module = importlib.import_module(f"promptops.cli.{name}")
        except ModuleNotFoundError as exc:  # a command group not written yet
            if exc.name != f"promptops.cli.{name}":
                raise
            continue
        module.register(app)


_register_all()


def main() -> None:
    app()
