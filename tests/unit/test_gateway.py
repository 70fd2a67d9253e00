from __future__ import annotations

import pytest

from promptops.llm import GatewayError, LLMGateway, ModelCatalog, UnknownModelError
from tests.support.stub_llm import StubConfig, StubLLMServer


def test_catalog_prices_and_default() -> None:
    cat = ModelCatalog.from_dict(
        {
            "model_list": [
                {
                    "model_name": "a",
                    "litellm_params": {"model": "openai/a"},
                    "model_info": {"input_cost_per_token": 1e-6, "output_cost_per_token": 3e-6},
                },
                {"model_name": "b", "litellm_params": {"model": "openai/b"}},
            ]
        }
    )
    assert cat.default_model == "a"
    assert cat.get(None).cost_usd(100, 10) == pytest.approx(100e-6 + 30e-6)
    assert cat.get("b").cost_usd(100, 10) == 0
    with pytest.raises(UnknownModelError, match="configured models: a, b"):
        cat.get("zzz")
    with pytest.raises(ValueError, match=r"model_list\[0\]"):
        ModelCatalog.from_dict({"model_list": [{"model_name": "x"}]})


async def test_gateway_meters_and_classifies_errors() -> None:
    stub = StubLLMServer(StubConfig()).start()
    try:
        gw = LLMGateway(ModelCatalog.from_dict(stub.model_list(input_cost=1e-6, output_cost=2e-6)))
        c = await gw.complete([{"role": "user", "content": "one two three"}])
        assert c.output == "one two three" and (c.tokens_in, c.tokens_out) == (3, 3)
        assert c.cost_usd == pytest.approx(3e-6 + 6e-6) and c.latency_ms > 0
        stub.cfg.fail_next, stub.cfg.fail_status = 1, 503
        with pytest.raises(GatewayError) as e:
            await gw.complete([{"role": "user", "content": "x"}])
        assert e.value.retryable
        stub.cfg.fail_next, stub.cfg.fail_status = 1, 400
        with pytest.raises(GatewayError) as e:
            await gw.complete([{"role": "user", "content": "x"}])
        assert not e.value.retryable
    finally:
        stub.stop()
