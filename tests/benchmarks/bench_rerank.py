"""Reranking latency: 50 candidates of ~100 words through CrossEncoderReranker.

    python -m tests.benchmarks.bench_rerank [--candidates 50] [--words 100] [--repeats 30] [--json]

The model is the tiny cross-encoder the unit tests build (tests/support/tiny_cross_encoder.py:
a one-hot embedding and a masked mean, no transformer layers), so its figure is the reranker's
own overhead: tokenising the pairs, building the feeds, one onnxruntime call per batch,
ordering. Reported (milliseconds, median and p90 over ``--repeats`` after one warm-up call):

- ``rerank_ms`` for batch sizes 8, 32 (the default) and all candidates in one batch;
- ``tokenize_ms``: ``encode_batch`` of the same pairs alone, with the reranker's settings;
- ``minilm_proxy_ms``: the int8 all-MiniLM-L6-v2 ONNX encoder the project ships
  (promptops.embeddings) run over the same 50 "query passage" texts: a MiniLM-L6 cross-encoder
  (e.g. ms-marco-MiniLM-L-6-v2) has the same 6 layers x 384 hidden, so this is the order of
  magnitude a real small reranker would cost on this machine (int8; a fp32 export is slower).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tokenizers import Tokenizer

from promptops.retrieval.rerank import CrossEncoderReranker
from tests.benchmarks._common import machine
from tests.support.tiny_cross_encoder import WORDS, build_tiny_cross_encoder

QUERY = "how to sort a list of tuples by the second value in python"


def passages(count: int, words: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    pool = [*WORDS, "zebra", "kettle", "orbit"]  # a few out-of-vocabulary words
    return [
        " ".join(rng.choice(pool) for _ in range(rng.randint(words - 10, words + 10)))
        for _ in range(count)
    ]


def timed(fn: Callable[[], object], repeats: int) -> dict[str, float]:
    fn()  # warm-up: first-run allocations and thread-pool start
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    samples.sort()
    return {
        "median_ms": round(statistics.median(samples), 3),
        "p90_ms": round(samples[int(0.9 * (len(samples) - 1))], 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=50)
    parser.add_argument("--words", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    texts = passages(args.candidates, args.words)
    result: dict[str, Any] = {"machine": machine(), "candidates": len(texts)}
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = build_tiny_cross_encoder(Path(tmp) / "tiny")
        t0 = time.perf_counter()
        reranker = CrossEncoderReranker(model_dir)
        result["load_ms"] = round((time.perf_counter() - t0) * 1000, 1)

        tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        tokenizer.enable_truncation(max_length=reranker.max_length)
        tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        pairs = [(QUERY, p) for p in texts]
        lengths = [len(e.ids) for e in tokenizer.encode_batch(pairs)]
        result["tokens_per_pair_max"] = max(lengths)  # padded to the longest
        result["words_per_passage_mean"] = round(statistics.mean(len(p.split()) for p in texts), 1)
        result["tokenize_ms"] = timed(lambda: tokenizer.encode_batch(pairs), args.repeats)
        result["rerank_ms"] = {
            str(size): timed(
                lambda size=size: reranker.rerank(QUERY, texts, batch_size=size), args.repeats
            )
            for size in (8, 32, len(texts))
        }

    try:
        from promptops.embeddings import Embedder, find_tokenizer_path

        embedder = Embedder()
        joined = [f"{QUERY} {p}" for p in texts]
        wordpiece = Tokenizer.from_file(str(find_tokenizer_path()))
        wordpiece.no_padding()
        wordpiece.no_truncation()
        result["minilm_proxy_tokens_mean"] = round(
            statistics.mean(len(e.ids) for e in wordpiece.encode_batch(joined)), 1
        )
        result["minilm_proxy_ms"] = timed(
            lambda: embedder.embed(joined, batch_size=32), max(3, args.repeats // 5)
        )
    except RuntimeError as exc:  # the model packages are not installed
        result["minilm_proxy_ms"] = f"skipped: {exc}"

    if args.json:
        json.dump(result, sys.stdout, indent=2)
        print()
        return
    print(
        f"{result['candidates']} candidates, ~{result['words_per_passage_mean']} words each, "
        f"{result['tokens_per_pair_max']} tokens per padded pair"
    )
    print(f"load: {result['load_ms']} ms")
    print(f"tokenize only: {result['tokenize_ms']}")
    for size, figures in result["rerank_ms"].items():
        print(f"rerank, batch_size={size}: {figures}")
    print(
        f"MiniLM-L6 int8 proxy (same texts, "
        f"{result.get('minilm_proxy_tokens_mean', '?')} WordPiece tokens each): "
        f"{result['minilm_proxy_ms']}"
    )
    print(f"load average at start: {result['machine']['loadavg_1m_at_start']}")


if __name__ == "__main__":
    main()
