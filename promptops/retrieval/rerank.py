"""Cross-encoder reranking of retrieved passages with onnxruntime, from a configured path.

A cross-encoder reads the query and one passage together, as a sentence pair
(``[CLS] query [SEP] passage [SEP]`` for BERT-style models), and outputs one relevance logit
per pair (Nogueira & Cho, "Passage Re-ranking with BERT", 2019). No reranker ships in a
package, so the model is a directory the operator provides, holding an ONNX export (e.g.
Hugging Face Optimum's ``optimum-cli export onnx --task text-classification``):

- ``model.onnx``: inputs among ``input_ids``, ``attention_mask``, ``token_type_ids``
  (int64 or int32, shape ``[batch, sequence]``); output ``logits`` of shape ``[batch, 1]``,
  ``[batch]`` or ``[batch, 2]`` (two classes: class 1 is "relevant");
- ``tokenizer.json``: the model's ``tokenizers`` file, with its pair template;
- ``config.json`` (optional): Hugging Face config; ``max_position_embeddings`` caps the
  truncation length.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import onnxruntime as ort
from numpy.typing import NDArray
from tokenizers import Tokenizer

from promptops.errors import Misconfigured

__all__ = ["Activation", "CrossEncoderReranker", "RerankerLoadError"]

logger = logging.getLogger(__name__)

Activation = Literal["sigmoid", "none"]

MODEL_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"
CONFIG_FILE = "config.json"
_INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")
_INPUT_DTYPES: dict[str, type[np.signedinteger[Any]]] = {
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
}
_OUTPUT_NAME = "logits"


class RerankerLoadError(Misconfigured, RuntimeError):
    """The cross-encoder directory cannot be loaded or its graph does not fit: a file is
    missing or unreadable, or the graph lacks the inputs/outputs a cross-encoder has. The
    message names the path. A server misconfiguration (500, not retryable)."""


def _position_limit(config_path: Path) -> int | None:
    """Longest input the model's position embeddings admit, from ``config.json``.

    RoBERTa-family models (XLM-R, e.g. bge-reranker) number positions from
    ``pad_token_id + 1``, so ``max_position_embeddings = 514`` admits 512 tokens.

    Raises:
        RerankerLoadError: The file is not a JSON object.
    """
    if not config_path.is_file():
        return None
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RerankerLoadError(f"cannot read {config_path}: {exc}") from exc
    if not isinstance(config, dict):
        raise RerankerLoadError(f"{config_path} is not a JSON object")
    limit = config.get("max_position_embeddings")
    if not isinstance(limit, int) or limit <= 0:
        return None
    if "roberta" in str(config.get("model_type", "")):
        pad = config.get("pad_token_id", 1)
        limit -= (pad if isinstance(pad, int) else 1) + 1
    return limit


def _pad_token(tokenizer: Tokenizer) -> tuple[int, str]:
    """The padding token: the tokenizer's own setting, else ``[PAD]`` / ``<pad>``, else id 0."""
    if tokenizer.padding is not None:
        return int(tokenizer.padding["pad_id"]), str(tokenizer.padding["pad_token"])
    for token in ("[PAD]", "<pad>"):
        token_id = tokenizer.token_to_id(token)
        if token_id is not None:
            return token_id, token
    return 0, "[PAD]"


class CrossEncoderReranker:
    """Scores (query, passage) pairs with a cross-encoder ONNX model on CPU.

    Loads eagerly, so a wrong path fails at start-up rather than on the first request. One
    instance may be shared between threads (``InferenceSession.run`` is thread-safe and the
    tokenizer's settings are fixed at load time).

    Args:
        model_dir: Directory with ``model.onnx``, ``tokenizer.json`` and optionally
            ``config.json``.
        max_length: Truncation length in tokens for the pair, special tokens included
            (default 512); lowered to what ``config.json``'s ``max_position_embeddings``
            admits. The longer of query and passage is cut first ("longest first").
        activation: ``"none"`` returns the raw logit; ``"sigmoid"`` maps it to ``(0, 1)``
            (what sentence-transformers' ``CrossEncoder.predict`` does for one-logit
            models), e.g. to feed :func:`promptops.retrieval.fusion.maximal_marginal_relevance`.
        intra_op_threads: onnxruntime intra-op threads.

    Raises:
        ValueError: ``max_length < 2``, ``intra_op_threads < 1`` or an unknown ``activation``.
        RerankerLoadError: Naming the path, when the directory or a required file is missing
            or unreadable, or the graph lacks ``input_ids`` or the ``logits`` output, declares
            another input, or has logits of an unusable shape.
    """

    def __init__(
        self,
        model_dir: str | Path,
        *,
        max_length: int = 512,
        activation: Activation = "none",
        intra_op_threads: int = 2,
    ) -> None:
        if max_length < 2:
            raise ValueError(f"max_length must be >= 2, got {max_length}")
        if intra_op_threads < 1:
            raise ValueError(f"intra_op_threads must be >= 1, got {intra_op_threads}")
        if activation not in ("sigmoid", "none"):
            raise ValueError(f"activation must be 'sigmoid' or 'none', got {activation!r}")
        self.model_dir = Path(model_dir)
        self.activation: Activation = activation
        if not self.model_dir.is_dir():
            raise RerankerLoadError(f"cross-encoder directory not found: {self.model_dir}")
        model_path = self.model_dir / MODEL_FILE
        tokenizer_path = self.model_dir / TOKENIZER_FILE
        for required in (model_path, tokenizer_path):
            if not required.is_file():
                raise RerankerLoadError(f"cross-encoder file missing: {required}")

        limit = _position_limit(self.model_dir / CONFIG_FILE)
        self.max_length = max_length if limit is None else min(max_length, limit)
        self._tokenizer = self._load_tokenizer(tokenizer_path)
        self._session = self._load_session(model_path, intra_op_threads)
        self._input_dtypes = self._check_inputs(model_path)
        self._check_output(model_path)
        logger.info("cross-encoder loaded from %s (max_length=%d)", self.model_dir, self.max_length)

    # ------------------------------------------------------------------ loading

    def _load_tokenizer(self, path: Path) -> Tokenizer:
        try:
            tokenizer = Tokenizer.from_file(str(path))
        except Exception as exc:  # tokenizers raises plain Exception on a bad file
            raise RerankerLoadError(f"cannot load tokenizer {path}: {exc}") from exc
        needed = tokenizer.num_special_tokens_to_add(is_pair=True) + 2
        if self.max_length < needed:
            raise RerankerLoadError(
                f"max_length {self.max_length} leaves no room for a query and a passage with "
                f"the {needed - 2} special tokens of {path}"
            )
        # Settings stored in tokenizer.json (often a fixed padding length) are replaced by a
        # cross-encoder's: truncate the pair to max_length, pad to the batch's longest.
        tokenizer.enable_truncation(max_length=self.max_length, strategy="longest_first")
        pad_id, pad_token = _pad_token(tokenizer)
        tokenizer.enable_padding(pad_id=pad_id, pad_token=pad_token, pad_type_id=0)
        return tokenizer

    @staticmethod
    def _load_session(path: Path, threads: int) -> ort.InferenceSession:
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        try:
            return ort.InferenceSession(
                str(path), sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own non-public exception types
            raise RerankerLoadError(f"cannot load ONNX model {path}: {exc}") from exc

    def _check_inputs(self, path: Path) -> dict[str, type[np.signedinteger[Any]]]:
        declared = {i.name: i.type for i in self._session.get_inputs()}
        unknown = sorted(set(declared) - set(_INPUT_NAMES))
        if "input_ids" not in declared or unknown:
            raise RerankerLoadError(
                f"{path} declares inputs {sorted(declared)}; a cross-encoder takes "
                f"'input_ids' and optionally 'attention_mask', 'token_type_ids'"
            )
        dtypes: dict[str, type[np.signedinteger[Any]]] = {}
        for name, onnx_type in declared.items():
            if onnx_type not in _INPUT_DTYPES:
                raise RerankerLoadError(f"{path} input {name!r} is {onnx_type}, not an integer")
            dtypes[name] = _INPUT_DTYPES[onnx_type]
        return dtypes

    def _check_output(self, path: Path) -> None:
        outputs = {o.name: o.shape for o in self._session.get_outputs()}
        if _OUTPUT_NAME not in outputs:
            raise RerankerLoadError(
                f"{path} has no '{_OUTPUT_NAME}' output (outputs: {sorted(outputs)})"
            )
        shape = outputs[_OUTPUT_NAME]
        width = shape[1] if len(shape) == 2 else None
        if len(shape) not in (1, 2) or (isinstance(width, int) and width not in (1, 2)):
            raise RerankerLoadError(
                f"{path} output '{_OUTPUT_NAME}' has shape {shape}; expected [batch], "
                "[batch, 1] or [batch, 2]"
            )

    # ------------------------------------------------------------------ scoring

    def _logits_to_scores(self, logits: NDArray[Any], batch: int) -> NDArray[np.float64]:
        if logits.ndim == 1 and logits.shape[0] == batch:
            raw = logits
        elif logits.ndim == 2 and logits.shape[0] == batch and logits.shape[1] in (1, 2):
            raw = logits[:, -1]  # the only logit, or class 1's of two
        else:
            raise RerankerLoadError(
                f"{self.model_dir / MODEL_FILE} returned logits of shape {logits.shape} for "
                f"{batch} pairs; expected [batch], [batch, 1] or [batch, 2]"
            )
        scores = raw.astype(np.float64)
        if self.activation == "sigmoid":
            # 1 / (1 + e^-x) without overflow for large |x|.
            scores = np.exp(-np.logaddexp(0.0, -scores))
        return scores

    def score(
        self, query: str, passages: Sequence[str], batch_size: int = 32
    ) -> NDArray[np.float32]:
        """Relevance score of each passage for ``query``.

        Pairs are batched by length (less padding); the attention mask makes each score
        independent of its batch, so only speed depends on ``batch_size``.

        Args:
            query: The query text.
            passages: Candidate passages (a single ``str`` is rejected).
            batch_size: Pairs per onnxruntime call, ``>= 1``.

        Returns:
            Shape ``(len(passages),)`` float32, in the order of ``passages``: the logit
            (class 1's for two-class models), or its sigmoid in ``(0, 1)`` with
            ``activation="sigmoid"``.

        Raises:
            TypeError: ``passages`` is a single string.
            ValueError: ``batch_size < 1``.
            RerankerLoadError: The model returns logits of an unusable shape.
        """
        if isinstance(passages, str):
            raise TypeError("score() takes a sequence of passages, not a single string")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        items = list(passages)
        result = np.empty(len(items), dtype=np.float32)
        order = sorted(range(len(items)), key=lambda i: len(items[i]))
        for start in range(0, len(order), batch_size):
            index = order[start : start + batch_size]
            encodings = self._tokenizer.encode_batch([(query, items[i]) for i in index])
            columns = {
                "input_ids": [e.ids for e in encodings],
                "attention_mask": [e.attention_mask for e in encodings],
                "token_type_ids": [e.type_ids for e in encodings],
            }
            feeds = {
                name: np.array(columns[name], dtype=dtype)
                for name, dtype in self._input_dtypes.items()
            }
            logits = np.asarray(self._session.run([_OUTPUT_NAME], feeds)[0])
            result[index] = self._logits_to_scores(logits, len(index))
        return result

    def rerank(
        self,
        query: str,
        passages: Sequence[str],
        top_k: int | None = None,
        batch_size: int = 32,
    ) -> list[tuple[int, float]]:
        """Passages ordered by :meth:`score`, best first.

        Args:
            query: The query text.
            passages: Candidate passages.
            top_k: Keep the best ``top_k`` (``>= 0``); ``None`` keeps all.
            batch_size: As in :meth:`score`.

        Returns:
            ``(index into passages, score)`` pairs, best first; equal scores keep the input
            order.

        Raises:
            ValueError: ``top_k < 0`` or ``batch_size < 1``.
            TypeError, RerankerLoadError: As :meth:`score`.
        """
        if top_k is not None and top_k < 0:
            raise ValueError(f"top_k must be >= 0, got {top_k}")
        scores = self.score(query, passages, batch_size=batch_size)
        order = np.argsort(-scores, kind="stable")[:top_k]
        return [(int(i), float(scores[i])) for i in order]
