"""A tiny cross-encoder the tests build: ``tokenizer.json`` + ``model.onnx`` + ``config.json``.

No reranker ships in a package here, so the reranker's loading and scoring code is tested on
this one, whose score is a known function of the texts:

- Tokenizer: ``tokenizers`` WordLevel over ``[PAD] [UNK] [CLS] [SEP]`` + :data:`WORDS`,
  lower-cased, split on whitespace/punctuation, pairs as BERT does:
  ``[CLS] query [SEP] passage [SEP]`` with token type 0 for the query part, 1 for the rest.
- Graph (``onnx`` helper API): a one-hot embedding (``Gather``; special and unknown tokens
  embed to 0), a masked mean over each segment, then ``MatMul`` to the logits::

      q = counts of each word in the query   / (query tokens + 2)     # [CLS], [SEP]
      p = counts of each word in the passage / (passage tokens + 1)   # [SEP]
      s = q . p
      logits = [SCALE * s + BIAS]                   (num_labels=1, shape [batch, 1])
             = [-SCALE * s, SCALE * s + BIAS]        (num_labels=2; class 1 is "relevant")

  Without ``token_type_ids`` the graph has no segments: ``s`` is the masked mean over every
  token of :data:`WORD_WEIGHTS` (0 for special/unknown tokens), so ``s = sum of the word
  weights / (all tokens + 3)``.

``build_tiny_cross_encoder(path)`` writes the default model; keyword arguments make the
variants the error tests need. tests/benchmarks/bench_rerank.py reuses it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]
_WORD_TEXT = (
    "python list dict set tuple string bytes file path module package import class function "
    "method argument return value type error exception raise try except finally with loop "
    "for while if else iterator generator async await thread process socket server client "
    "request response json csv sql database table index query search rank score vector "
    "embedding model token text document passage answer question time date number integer "
    "float decimal random math statistics regex pattern match parse format print log debug "
    "test assert mock config option flag default the a of to in and is it on that"
)
#: The content vocabulary (ids 4, 5, ... in this order).
WORDS = _WORD_TEXT.split()
FIRST_WORD_ID = len(SPECIAL)
VOCAB_SIZE = len(SPECIAL) + len(WORDS)
SCALE = 20.0
BIAS = -2.0
#: Per-word weights of the variant without token types (deterministic, both signs).
WORD_WEIGHTS = np.round(np.sin(np.arange(len(WORDS)) * 1.7), 3).astype(np.float32)

OPSET = 17
IR_VERSION = 8  # readable by every onnxruntime the project admits (>= 1.17)


def _tokenizer() -> Tokenizer:
    vocab = {token: i for i, token in enumerate([*SPECIAL, *WORDS])}
    tokenizer = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.Lowercase()
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])],
    )
    return tokenizer


def _const(name: str, value: np.ndarray) -> TensorProto:
    return numpy_helper.from_array(value, name=name)


def _masked_mean(prefix: str, embedded: str, mask: str) -> list[onnx.NodeProto]:
    """Nodes computing ``sum_s embedded[b, s, :] * mask[b, s] / max(sum_s mask[b, s], eps)``."""
    return [
        helper.make_node("Unsqueeze", [mask, "axis2"], [f"{prefix}_mask3"]),
        helper.make_node("Mul", [embedded, f"{prefix}_mask3"], [f"{prefix}_masked"]),
        helper.make_node("ReduceSum", [f"{prefix}_masked", "axis1"], [f"{prefix}_sum"], keepdims=0),
        helper.make_node("ReduceSum", [mask, "axis1"], [f"{prefix}_count"], keepdims=1),
        helper.make_node("Max", [f"{prefix}_count", "eps"], [f"{prefix}_safe"]),
        helper.make_node("Div", [f"{prefix}_sum", f"{prefix}_safe"], [f"{prefix}_mean"]),
    ]


def _graph(
    *, num_labels: int, squeeze: bool, token_type_ids: bool, output_name: str
) -> onnx.ModelProto:
    batch_seq = ["batch", "sequence"]
    inputs = [
        helper.make_tensor_value_info("input_ids", TensorProto.INT64, batch_seq),
        helper.make_tensor_value_info("attention_mask", TensorProto.INT64, batch_seq),
    ]
    one_hot = np.zeros((VOCAB_SIZE, len(WORDS)), dtype=np.float32)
    one_hot[FIRST_WORD_ID:] = np.eye(len(WORDS), dtype=np.float32)
    if num_labels == 1:
        head_w, head_b = np.array([[SCALE]]), np.array([BIAS])
    elif num_labels == 2:
        head_w, head_b = np.array([[-SCALE, SCALE]]), np.array([0.0, BIAS])
    else:
        head_w, head_b = np.ones((1, num_labels)), np.zeros(num_labels)
    initializers = [
        _const("embedding", one_hot),
        _const("axis1", np.array([1], dtype=np.int64)),
        _const("axis2", np.array([2], dtype=np.int64)),
        _const("eps", np.array([1e-9], dtype=np.float32)),
        _const("head_w", head_w.astype(np.float32)),
        _const("head_b", head_b.astype(np.float32)),
    ]
    nodes = [
        helper.make_node("Gather", ["embedding", "input_ids"], ["embedded"]),
        helper.make_node("Cast", ["attention_mask"], ["mask"], to=TensorProto.FLOAT),
    ]
    if token_type_ids:
        inputs.append(helper.make_tensor_value_info("token_type_ids", TensorProto.INT64, batch_seq))
        nodes += [
            helper.make_node("Cast", ["token_type_ids"], ["types"], to=TensorProto.FLOAT),
            helper.make_node("Mul", ["mask", "types"], ["mask_b"]),
            helper.make_node("Sub", ["mask", "mask_b"], ["mask_a"]),
            *_masked_mean("a", "embedded", "mask_a"),
            *_masked_mean("b", "embedded", "mask_b"),
            helper.make_node("Mul", ["a_mean", "b_mean"], ["product"]),
            helper.make_node("ReduceSum", ["product", "axis1"], ["feature"], keepdims=1),
        ]
    else:
        initializers.append(_const("word_weights", WORD_WEIGHTS.reshape(-1, 1)))
        nodes += [
            *_masked_mean("all", "embedded", "mask"),
            helper.make_node("MatMul", ["all_mean", "word_weights"], ["feature"]),
        ]
    head = "head" if squeeze else output_name
    nodes += [
        helper.make_node("MatMul", ["feature", "head_w"], ["head_raw"]),
        helper.make_node("Add", ["head_raw", "head_b"], [head]),
    ]
    out_shape: list[str | int] = ["batch", num_labels]
    if squeeze:
        nodes.append(helper.make_node("Squeeze", ["head", "axis1"], [output_name]))
        out_shape = ["batch"]
    outputs = [helper.make_tensor_value_info(output_name, TensorProto.FLOAT, out_shape)]
    graph = helper.make_graph(nodes, "tiny_cross_encoder", inputs, outputs, initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model, full_check=True)
    return model


def build_tiny_cross_encoder(
    path: Path,
    *,
    num_labels: int = 1,
    squeeze: bool = False,
    token_type_ids: bool = True,
    output_name: str = "logits",
    max_position_embeddings: int | None = 512,
) -> Path:
    """Write the tiny cross-encoder into directory ``path`` (created) and return ``path``.

    Args:
        path: Target directory; gets ``model.onnx``, ``tokenizer.json`` and ``config.json``.
        num_labels: Width of the logits (1, 2, or anything else for an unusable head).
        squeeze: Emit logits of shape ``[batch]`` (``num_labels`` must be 1).
        token_type_ids: Declare the ``token_type_ids`` input (the two-segment score);
            without it the score is the word-weight mean over the whole pair.
        output_name: Name of the graph output (``logits`` for a usable model).
        max_position_embeddings: Written to ``config.json``; ``None`` writes no config.
    """
    if squeeze and num_labels != 1:
        raise ValueError("squeeze needs num_labels=1")
    path.mkdir(parents=True, exist_ok=True)
    model = _graph(
        num_labels=num_labels,
        squeeze=squeeze,
        token_type_ids=token_type_ids,
        output_name=output_name,
    )
    onnx.save(model, str(path / "model.onnx"))
    _tokenizer().save(str(path / "tokenizer.json"))
    if max_position_embeddings is not None:
        config = {
            "architectures": ["TinyCrossEncoder"],
            "num_labels": num_labels,
            "max_position_embeddings": max_position_embeddings,
        }
        (path / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    return path
