"""CrossEncoderReranker on the tiny cross-encoder of tests/support/tiny_cross_encoder.py.

The expected scores are computed here in numpy from the model's definition (bag-of-words
overlap of query and passage, see the builder's docstring), not by the code under test.
"""

from __future__ import annotations

import random
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from promptops.errors import Misconfigured
from promptops.retrieval.rerank import CrossEncoderReranker, RerankerLoadError
from tests.support.tiny_cross_encoder import (
    BIAS,
    SCALE,
    WORD_WEIGHTS,
    WORDS,
    build_tiny_cross_encoder,
)

WORD_INDEX = {w: i for i, w in enumerate(WORDS)}
OUT_OF_VOCABULARY = ["zebra", "quux", "kettle"]


def bag(tokens: list[str]) -> np.ndarray:
    v = np.zeros(len(WORDS))
    for t in tokens:
        if t in WORD_INDEX:
            v[WORD_INDEX[t]] += 1
    return v


def expected_logit(query: str, passage: str) -> float:
    """The tiny model's logit: SCALE * (q_bag / (n_q + 2)) . (p_bag / (n_p + 1)) + BIAS."""
    q, p = query.lower().split(), passage.lower().split()
    return SCALE * float(bag(q) / (len(q) + 2) @ (bag(p) / (len(p) + 1))) + BIAS


def expected_logit_without_segments(query: str, passage: str) -> float:
    tokens = query.lower().split() + passage.lower().split()
    return SCALE * float(bag(tokens) @ WORD_WEIGHTS / (len(tokens) + 3)) + BIAS


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def random_text(rng: random.Random, low: int, high: int) -> str:
    pool = WORDS[:20] + OUT_OF_VOCABULARY  # a small pool so query and passage overlap
    words = [rng.choice(pool) for _ in range(rng.randint(low, high))]
    return " ".join(w.upper() if rng.random() < 0.1 else w for w in words)


QUERY = "python list sort error"


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_cross_encoder(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture(scope="module")
def passages() -> list[str]:
    rng = random.Random(3)
    return [random_text(rng, 1, 60) for _ in range(40)]


def test_scores_are_the_models_function_of_each_pair(model_dir: Path, passages: list[str]) -> None:
    reranker = CrossEncoderReranker(model_dir)
    scores = reranker.score(QUERY, passages, batch_size=7)  # several batches, length-sorted
    assert scores.dtype == np.float32 and scores.shape == (len(passages),)
    expected = np.array([expected_logit(QUERY, p) for p in passages])
    np.testing.assert_allclose(scores, expected, atol=1e-5)
    assert np.ptp(expected) > 0.5  # the passages really differ


def test_scores_do_not_depend_on_batching(model_dir: Path, passages: list[str]) -> None:
    reranker = CrossEncoderReranker(model_dir)
    np.testing.assert_allclose(
        reranker.score(QUERY, passages, batch_size=1),
        reranker.score(QUERY, passages, batch_size=64),
        atol=1e-6,
    )


def test_sigmoid_activation(model_dir: Path, passages: list[str]) -> None:
    scores = CrossEncoderReranker(model_dir, activation="sigmoid").score(QUERY, passages)
    expected = sigmoid(np.array([expected_logit(QUERY, p) for p in passages]))
    np.testing.assert_allclose(scores, expected, atol=1e-6)
    assert np.all((scores > 0) & (scores < 1))


@pytest.mark.parametrize(
    ("variant", "reference"),
    [
        ({"num_labels": 2}, expected_logit),  # class 1's logit, not class 0's (-SCALE * s)
        ({"squeeze": True}, expected_logit),  # logits of shape [batch]
        ({"token_type_ids": False}, expected_logit_without_segments),
    ],
)
def test_output_shapes_and_optional_inputs(
    tmp_path: Path,
    passages: list[str],
    variant: dict[str, object],
    reference: Callable[[str, str], float],
) -> None:
    reranker = CrossEncoderReranker(build_tiny_cross_encoder(tmp_path / "m", **variant))
    expected = np.array([reference(QUERY, p) for p in passages])
    np.testing.assert_allclose(reranker.score(QUERY, passages), expected, atol=1e-5)


def test_pairs_are_truncated_longest_first(model_dir: Path) -> None:
    # 9 tokens: [CLS] + 2 query words + [SEP] + 4 passage words + [SEP]; the passage, longer,
    # is the one cut.
    query = "python list"
    passage = "string bytes list python list python python list"
    reranker = CrossEncoderReranker(model_dir, max_length=9)
    assert reranker.score(query, [passage])[0] == pytest.approx(
        expected_logit(query, "string bytes list python"), abs=1e-5
    )
    assert expected_logit(query, passage) != pytest.approx(
        expected_logit(query, "string bytes list python"), abs=1e-3
    )


def test_config_caps_the_truncation_length(tmp_path: Path, model_dir: Path) -> None:
    capped = build_tiny_cross_encoder(tmp_path / "m", max_position_embeddings=9)
    query, passage = "python list", "string bytes list python list python python list"
    reranker = CrossEncoderReranker(capped)
    assert reranker.max_length == 9
    assert reranker.score(query, [passage])[0] == pytest.approx(
        CrossEncoderReranker(model_dir, max_length=9).score(query, [passage])[0]
    )
    assert (
        CrossEncoderReranker(
            build_tiny_cross_encoder(tmp_path / "n", max_position_embeddings=None)
        ).max_length
        == 512
    )


def test_rerank_orders_best_first_and_cuts_at_top_k(model_dir: Path, passages: list[str]) -> None:
    reranker = CrossEncoderReranker(model_dir)
    expected = [expected_logit(QUERY, p) for p in passages]
    ranked = reranker.rerank(QUERY, passages, top_k=5)
    assert len(ranked) == 5
    assert [i for i, _ in ranked] == sorted(range(len(passages)), key=lambda i: -expected[i])[:5]
    for index, score in ranked:
        assert score == pytest.approx(expected[index], abs=1e-5)
    assert len(reranker.rerank(QUERY, passages)) == len(passages)
    assert reranker.rerank(QUERY, passages, top_k=0) == []


def test_rerank_keeps_input_order_for_equal_scores(model_dir: Path) -> None:
    reranker = CrossEncoderReranker(model_dir)
    ranked = reranker.rerank("python", ["zebra", "python list", "quux", "zebra"])
    assert [i for i, _ in ranked] == [1, 0, 2, 3]


def test_empty_passages(model_dir: Path) -> None:
    reranker = CrossEncoderReranker(model_dir)
    assert reranker.score(QUERY, []).shape == (0,)
    assert reranker.rerank(QUERY, []) == []


def test_bad_arguments(model_dir: Path) -> None:
    reranker = CrossEncoderReranker(model_dir)
    with pytest.raises(TypeError):
        reranker.score(QUERY, "a single passage")
    with pytest.raises(ValueError, match="batch_size"):
        reranker.score(QUERY, ["x"], batch_size=0)
    with pytest.raises(ValueError, match="top_k"):
        reranker.rerank(QUERY, ["x"], top_k=-1)
    with pytest.raises(ValueError, match="max_length"):
        CrossEncoderReranker(model_dir, max_length=1)
    with pytest.raises(ValueError, match="activation"):
        CrossEncoderReranker(model_dir, activation="softmax")  # type: ignore[arg-type]  # the wrong value on purpose


def copy_without(model_dir: Path, dest: Path, name: str) -> Path:
    shutil.copytree(model_dir, dest)
    (dest / name).unlink()
    return dest


def test_load_errors_name_the_path(tmp_path: Path, model_dir: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(RerankerLoadError, match=str(missing)):
        CrossEncoderReranker(missing)
    for name in ("model.onnx", "tokenizer.json"):
        broken = copy_without(model_dir, tmp_path / f"no-{name}", name)
        with pytest.raises(RerankerLoadError, match=str(broken / name)):
            CrossEncoderReranker(broken)
    # config.json is optional
    CrossEncoderReranker(copy_without(model_dir, tmp_path / "no-config", "config.json"))


@pytest.mark.parametrize(
    ("variant", "message"),
    [
        ({"output_name": "scores"}, "no 'logits' output"),
        ({"num_labels": 3}, "shape"),
    ],
)
def test_graphs_without_a_usable_head_are_refused(
    tmp_path: Path, variant: dict[str, object], message: str
) -> None:
    path = build_tiny_cross_encoder(tmp_path / "m", **variant)
    with pytest.raises(RerankerLoadError, match=message) as raised:
        CrossEncoderReranker(path)
    assert str(path / "model.onnx") in str(raised.value)


def test_unreadable_files_are_load_errors(tmp_path: Path, model_dir: Path) -> None:
    for name, content in [
        ("model.onnx", b"not a protobuf"),
        ("tokenizer.json", b"{"),
        ("config.json", b"[1, 2"),
    ]:
        broken = tmp_path / f"bad-{name}"
        shutil.copytree(model_dir, broken)
        (broken / name).write_bytes(content)
        with pytest.raises(RerankerLoadError, match=str(broken / name)):
            CrossEncoderReranker(broken)


def test_load_error_is_a_runtime_error_and_a_misconfiguration() -> None:
    assert issubclass(RerankerLoadError, RuntimeError)
    assert issubclass(RerankerLoadError, Misconfigured)
