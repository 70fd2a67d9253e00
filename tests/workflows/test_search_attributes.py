"""A Temporal database created before a search attribute existed gets it when the stack starts
(``start-dev --search-attribute`` registers attributes only in a database it creates)."""

from __future__ import annotations

import asyncio

from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.testing import WorkflowEnvironment

from promptops.devstack.temporal import (
    SEARCH_ATTRIBUTES,
    ensure_search_attributes,
    temporal_binary,
)
from workflows.search_attributes import EVAL_ID


async def test_missing_search_attributes_are_registered_once() -> None:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_binary(), search_attributes=[EVAL_ID]
    )
    try:
        address = env.client.service_client.config.target_host
        added = await asyncio.to_thread(ensure_search_attributes, address)
        assert added == sorted(set(SEARCH_ATTRIBUTES) - {"EvalId"})
        known = await env.client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace="default")
        )
        assert set(SEARCH_ATTRIBUTES) <= set(known.custom_attributes)
        assert await asyncio.to_thread(ensure_search_attributes, address) == []
    finally:
        await env.shutdown()
