"""Per-example evaluation metrics, corpus-level label metrics and the metric registry.

Every per-example metric maps ``(prediction: str, reference: str)`` to a ``float``; the
text-overlap ones lie in ``[0, 1]`` and higher is better. Latency and cost are recorded by
the caller (the evaluation activity), not computed here; they only appear in the registry so
that experiment definitions can be validated in one place.

Sources of the formulas:

* ``normalize_answer``, ``exact_match``, ``token_f1``: the official SQuAD v1.1 evaluation
  script ``evaluate-v1.1.py`` (Rajpurkar et al., 2016,
  https://rajpurkar.github.io/SQuAD-explorer/).
* ``bleu``: sentence-level BLEU (Papineni et al., 2002) as implemented by sacreBLEU
  (Post, 2018), ``sacrebleu.sentence_bleu`` with effective order.
* ``rouge``: ROUGE-1/2/L F-measure (Lin, 2004) as implemented by Google's ``rouge-score``.
* ``label_metrics``: accuracy / precision / recall / F1 with the definitions of
  ``sklearn.metrics.precision_recall_fscore_support(..., zero_division=0)``.
"""

from __future__ import annotations

import json
import re
import string
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from rouge_score import rouge_scorer


if TYPE_CHECKING:
    from promptops.embeddings import TextEmbedder

__all__ = [
    "LABEL_METRIC_NAMES",
    "METRIC_SPECS",
    "RANKING_METRIC_NAMES",
    "MetricKind",
    "MetricSpec",
    "bleu",
    "exact_match",
    "extract_label",
    "label_correct",
    "label_metrics",
    "normalize_answer",
    "normalize_label",
    "predicted_label",
    "rouge",
    "score_example",
    "stored_metric_names",
    "token_f1",
    "validate_metric_names",
]

MetricKind = Literal["text", "label", "embedding", "latency", "cost", "ranking"]


# --------------------------------------------------------------------------- SQuAD EM / F1

_PUNCTUATION = frozenset(string.punctuation)
_ARTICLES_RE = re.compile(r"\b(a|an|the)\b")


def normalize_answer(s: str) -> str:
    """Normalise an answer string the way the official SQuAD v1.1 script does.

    Lower-cases, removes ASCII punctuation (``string.punctuation``), removes the articles
    ``a``/``an``/``the`` as whole words and collapses whitespace to single spaces — in that
    order, copied from ``normalize_answer`` in SQuAD's ``evaluate-v1.1.py``.

    Args:
        s: Any text.

    Returns:
        The normalised text (possibly empty).
    """
    text = s.lower()
    text = "".join(ch for ch in text if ch not in _PUNCTUATION)
    text = _ARTICLES_RE.sub(" ", text)
    return " ".join(text.split())


def exact_match(prediction: str, reference: str) -> float:
    """SQuAD v1.1 exact match: 1.0 if the normalised strings are equal, else 0.0.

    Source: ``exact_match_score`` in SQuAD ``evaluate-v1.1.py``.

    Returns:
        ``1.0`` or ``0.0``.
    """
    return float(normalize_answer(prediction) == normalize_answer(reference))


def token_f1(prediction: str, reference: str) -> float:
    """SQuAD v1.1 token-level F1 between prediction and reference.

    Tokens are the whitespace-split words of :func:`normalize_answer`; overlap is the size of
    the multiset intersection. ``precision = overlap / |pred|``, ``recall = overlap / |ref|``,
    ``F1 = 2PR / (P + R)``. Source: ``f1_score`` in SQuAD ``evaluate-v1.1.py``; as there,
    no overlap (including two empty strings) gives 0.0 — SQuAD v2.0 would give 1.0 for two
    empty strings, v1.1 does not.

    Returns:
        A float in ``[0, 1]``.
    """
    prediction_tokens = normalize_answer(prediction).split()
    reference_tokens = normalize_answer(reference).split()
    common = Counter(prediction_tokens) & Counter(reference_tokens)
    num_same = sum(common.values())
    if num_same == 0:
        return 0.0
    precision = num_same / len(prediction_tokens)
    recall = num_same / len(reference_tokens)
    return (2 * precision * recall) / (precision + recall)


# --------------------------------------------------------------------------- BLEU / ROUGE


def bleu(prediction: str, reference: str) -> float:
    """Sentence-level BLEU on a 0..1 scale.

    ``sacrebleu.sentence_bleu(prediction, [reference], use_effective_order=True).score / 100``
    with sacreBLEU's defaults otherwise (13a tokenisation, case-sensitive, ``exp`` smoothing).
    Effective order is sacreBLEU's recommended setting for single sentences: n-gram orders
    with no possible match in a short hypothesis are dropped instead of zeroing the score.
    Source: Papineni et al. (2002); Post (2018), "A Call for Clarity in Reporting BLEU Scores".

    Returns:
        A float in ``[0, 1]``.
    """
    import sacrebleu  # imported on first use: it is slow to import and workers start often

    result = sacrebleu.sentence_bleu(prediction, [reference], use_effective_order=True)
    # exp(mean(log p_n)) can land a few ulps above 100 for identical strings; clamp so the
    # documented range holds exactly.
    return min(1.0, max(0.0, float(result.score) / 100.0))


_ROUGE_TYPES: tuple[str, ...] = ("rouge1", "rouge2", "rougeL")
_rouge_scorer: rouge_scorer.RougeScorer | None = None
_rouge_lock = threading.Lock()


def _get_rouge_scorer() -> rouge_scorer.RougeScorer:
    # Building the scorer loads the Porter stemmer; do it once per process, not per example.
    global _rouge_scorer
    if _rouge_scorer is None:
        with _rouge_lock:
            if _rouge_scorer is None:
                from rouge_score import rouge_scorer as _rs

                _rouge_scorer = _rs.RougeScorer(list(_ROUGE_TYPES), use_stemmer=True)
    return _rouge_scorer


def rouge(prediction: str, reference: str) -> dict[str, float]:
    """ROUGE-1, ROUGE-2 and ROUGE-L F-measures (Lin, 2004).

    Computed by ``rouge_score.rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"],
    use_stemmer=True).score(reference, prediction)`` (one cached scorer). Note that
    rouge-score's default tokenizer lower-cases and keeps only ``[a-z0-9]`` runs, so text in
    non-Latin scripts scores 0.

    Returns:
        ``{"rouge1": f, "rouge2": f, "rougeL": f}`` with each ``f`` in ``[0, 1]``.
    """
    scores = _get_rouge_scorer().score(reference, prediction)
    return {name: float(scores[name].fmeasure) for name in _ROUGE_TYPES}


# --------------------------------------------------------------------------- labels

_CODE_FENCE_RE = re.compile(r"^```[A-Za-z0-9_-]*\s*\n?(.*?)\n?```$", re.DOTALL)


def normalize_label(label: str | None) -> str | None:
    """Canonical form used to compare labels: stripped and case-folded; ``None`` stays ``None``."""
    if label is None:
        return None
    return label.strip().casefold()


def _json_label(output: str) -> str | None:
    """The ``"label"`` value if ``output`` (optionally inside a Markdown code fence) is a JSON
    object that has one, else ``None``."""
    text = output.strip()
    fenced = _CODE_FENCE_RE.match(text)
    if fenced:
        # Chat models often wrap JSON in ```json fences even when asked not to.
        text = fenced.group(1).strip()
    if not text.startswith("{"):
        return None
    try:
        obj = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        return None
    if not isinstance(obj, dict) or "label" not in obj:
        return None
    value = obj["label"]
    if value is None or isinstance(value, (dict, list)):
        return None
    return str(value).strip()


def extract_label(output: str, labels: Sequence[str]) -> str | None:
    """Extract a class label from a model output.

    Rules, in order:

    1. If ``output`` (stripped, optionally inside a Markdown code fence) parses as a JSON
       object with a ``"label"`` key, that value is returned (as a stripped string). If it
       equals one of ``labels`` case-insensitively, the spelling from ``labels`` is returned.
    2. Otherwise the allowed label whose first whole-word, case-insensitive occurrence is
       earliest in the text is returned (spelling from ``labels``). "Whole word" means not
       preceded or followed by a word character, so labels containing punctuation such as
       ``"n/a"`` work too. Ties at the same position go to the longer label (so
       ``"not spam"`` beats ``"not"``), then to the earlier entry in ``labels``.
    3. ``None`` when nothing is found.

    Args:
        output: Raw model output.
        labels: Allowed labels; may be empty (then only rule 1 can match).

    Returns:
        The extracted label or ``None``.
    """
    from_json = _json_label(output)
    if from_json is not None:
        folded = from_json.casefold()
        for label in labels:
            if label.strip().casefold() == folded:
                return label
        return from_json

    best: tuple[int, int, int] | None = None  # (position, -length, index in labels)
    for index, label in enumerate(labels):
        needle = label.strip()
        if not needle:
            continue
        pattern = re.compile(r"(?<!\w)" + re.escape(needle) + r"(?!\w)", re.IGNORECASE)
        match = pattern.search(output)
        if match is None:
            continue
        key = (match.start(), -len(needle), index)
        if best is None or key < best:
            best = key
    return labels[best[2]] if best is not None else None


#: Alias kept for readability at call sites that store the predicted label per example.
predicted_label = extract_label


def label_correct(output: str, expected: str, labels: Sequence[str]) -> float:
    """1.0 if :func:`extract_label` of ``output`` equals ``expected`` case-insensitively.

    Returns:
        ``1.0`` or ``0.0`` (``0.0`` when no label could be extracted).
    """
    predicted = extract_label(output, labels)
    if predicted is None:
        return 0.0
    return float(normalize_label(predicted) == normalize_label(expected))


def _safe_div(numerator: float, denominator: float) -> float:
    # sklearn's zero_division=0: an undefined ratio counts as 0.
    return numerator / denominator if denominator else 0.0


def label_metrics(
    predicted: Sequence[str | None],
    expected: Sequence[str],
    positive_label: str | None = None,
) -> dict[str, float]:
    """Corpus-level accuracy, precision, recall and F1 for classification outputs.

    Labels are compared after :func:`normalize_label` (strip + case-fold), consistently with
    :func:`label_correct`. A ``None`` prediction never equals any label, so it is wrong for
    accuracy and a false negative for its true class.

    * ``positive_label`` given: binary precision/recall/F1 of that class, i.e.
      ``precision_recall_fscore_support(y_true, y_pred, pos_label=positive_label,
      average="binary", zero_division=0)``; ``F1 = 2TP / (2TP + FP + FN)``.
    * otherwise: the unweighted (macro) mean over the classes that occur in ``expected`` of
      per-class precision, recall and F1, i.e. ``precision_recall_fscore_support(y_true,
      y_pred, labels=sorted(set(y_true)), average="macro", zero_division=0)``. Predicted
      labels outside the expected set are therefore wrong predictions but do not add classes.

    Accuracy is always the fraction of exact (normalised) matches.

    Args:
        predicted: Predicted labels, ``None`` where extraction failed; length ``n``.
        expected: Gold labels; length ``n``.
        positive_label: Class to score in binary mode.

    Returns:
        ``{"accuracy", "precision", "recall", "f1"}``, each a float in ``[0, 1]``.

    Raises:
        ValueError: If the sequences are empty or of different lengths.
    """
    if len(predicted) != len(expected):
        raise ValueError(
            f"predicted and expected must have the same length, got {len(predicted)} "
            f"and {len(expected)}"
        )
    if not expected:
        raise ValueError("label_metrics needs at least one example")

    pred = [normalize_label(p) for p in predicted]
    gold = [normalize_label(e) for e in expected]
    accuracy = sum(p == g for p, g in zip(pred, gold, strict=True)) / len(gold)

    if positive_label is not None:
        pos = normalize_label(positive_label)
        tp = sum(p == pos and g == pos for p, g in zip(pred, gold, strict=True))
        fp = sum(p == pos and g != pos for p, g in zip(pred, gold, strict=True))
        fn = sum(p != pos and g == pos for p, g in zip(pred, gold, strict=True))
        return {
            "accuracy": accuracy,
            "precision": _safe_div(tp, tp + fp),
            "recall": _safe_div(tp, tp + fn),
            "f1": _safe_div(2 * tp, 2 * tp + fp + fn),
        }

    true_counts = Counter(gold)
    pred_counts = Counter(pred)
    tp_counts = Counter(g for p, g in zip(pred, gold, strict=True) if p == g)
    precisions: list[float] = []
    recalls: list[float] = []
    f1s: list[float] = []
    for cls in true_counts:
        tp = tp_counts[cls]
        precisions.append(_safe_div(tp, pred_counts[cls]))
        recalls.append(_safe_div(tp, true_counts[cls]))
        f1s.append(_safe_div(2 * tp, pred_counts[cls] + true_counts[cls]))
    k = len(true_counts)
    return {
        "accuracy": accuracy,
        "precision": sum(precisions) / k,
        "recall": sum(recalls) / k,
        "f1": sum(f1s) / k,
    }


# --------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class MetricSpec:
    """Static description of a metric an experiment may request.

    Attributes:
        name: Registry key, e.g. ``"token_f1"``.
        kind: ``"text"`` (string overlap), ``"label"`` (classification), ``"embedding"``
            (needs an embedder), ``"latency"`` or ``"cost"`` (recorded by the caller),
            ``"ranking"`` (retrieval evaluations only: :mod:`promptops.evaluation.qrels`).
        higher_is_better: Direction used when comparing prompt versions.
        description: One line for UIs and CLI help, including the unit.
    """

    name: str
    kind: MetricKind
    higher_is_better: bool
    description: str


_SPECS: tuple[MetricSpec, ...] = (
    MetricSpec("exact_match", "text", True, "SQuAD v1.1 normalised exact match (0/1)."),
    MetricSpec("token_f1", "text", True, "SQuAD v1.1 token-overlap F1 (0..1)."),
    MetricSpec("bleu", "text", True, "sacreBLEU sentence BLEU, effective order, 0..1 scale."),
    MetricSpec("rouge1", "text", True, "ROUGE-1 F-measure with Porter stemming (0..1)."),
    MetricSpec("rouge2", "text", True, "ROUGE-2 F-measure with Porter stemming (0..1)."),
    MetricSpec("rougeL", "text", True, "ROUGE-L (LCS) F-measure with Porter stemming (0..1)."),
    MetricSpec(
        "embedding_similarity",
        "embedding",
        True,
        "Cosine similarity of all-MiniLM-L6-v2 sentence embeddings (-1..1).",
    ),
    MetricSpec(
        "accuracy",
        "label",
        True,
        "Label accuracy; per example the 0/1 correctness of the extracted label.",
    ),
    MetricSpec("precision", "label", True, "Corpus precision (binary or macro), 0..1."),
    MetricSpec("recall", "label", True, "Corpus recall (binary or macro), 0..1."),
    MetricSpec("f1", "label", True, "Corpus F1 (binary or macro), 0..1."),
    MetricSpec("latency_ms", "latency", False, "Model call latency in milliseconds."),
    MetricSpec("cost_usd", "cost", False, "Model call cost in US dollars."),
    MetricSpec(
        "recall@1",
        "ranking",
        True,
        "Retrieval only: relevant ids in the first result / all relevant ones (0..1).",
    ),
    MetricSpec(
        "recall@5",
        "ranking",
        True,
        "Retrieval only: relevant ids in the first 5 results / all relevant ones (0..1).",
    ),
    MetricSpec(
        "recall@10",
        "ranking",
        True,
        "Retrieval only: relevant ids in the first 10 results / all relevant ones (0..1).",
    ),
    MetricSpec(
        "mrr",
        "ranking",
        True,
        "Retrieval only: reciprocal rank of the first relevant result, mean = MRR (0..1).",
    ),
    MetricSpec(
        "ndcg@10",
        "ranking",
        True,
        "Retrieval only: nDCG@10 with graded relevance, linear gain (0..1).",
    ),
)

#: All metrics an experiment may request, keyed by name.
METRIC_SPECS: dict[str, MetricSpec] = {spec.name: spec for spec in _SPECS}

#: Ranking metrics of retrieval evaluations (computed by :mod:`promptops.evaluation.qrels`,
#: never by :func:`score_example`).
RANKING_METRIC_NAMES: frozenset[str] = frozenset(
    name for name, spec in METRIC_SPECS.items() if spec.kind == "ranking"
)

#: Names whose corpus value comes from :func:`label_metrics`.
LABEL_METRIC_NAMES: frozenset[str] = frozenset(
    name for name, spec in METRIC_SPECS.items() if spec.kind == "label"
)


def validate_metric_names(names: Iterable[str]) -> list[str]:
    """Check metric names against :data:`METRIC_SPECS`.

    Args:
        names: Requested names; a single ``str`` is treated as one name. Duplicates are
            dropped, first occurrence wins.

    Returns:
        The names as a de-duplicated list in request order.

    Raises:
        ValueError: If any name is unknown; the message lists the unknown names and the
            allowed ones.
    """
    if isinstance(names, str):
        names = [names]
    result = list(dict.fromkeys(names))
    unknown = [name for name in result if name not in METRIC_SPECS]
    if unknown:
        raise ValueError(
            f"unknown metric(s): {', '.join(repr(n) for n in unknown)}; "
            f"allowed: {', '.join(METRIC_SPECS)}"
        )
    return result


def stored_metric_names(metric_names: Iterable[str]) -> list[str]:
    """The per-example values :func:`score_example` stores for ``metric_names``, in request
    order: text, embedding and ranking metrics under their own names, ``accuracy`` once for any
    label metric (precision/recall/F1 exist only for the corpus); latency and cost are not
    scores (they are columns of the run).

    Raises:
        ValueError: On unknown names (see :func:`validate_metric_names`).
    """
    out: list[str] = []
    for name in validate_metric_names(metric_names):
        kind = METRIC_SPECS[name].kind
        stored = (
            "accuracy"
            if kind == "label"
            else name
            if kind in ("text", "embedding", "ranking")
            else None
        )
        if stored and stored not in out:
            out.append(stored)
    return out


def score_example(
    metric_names: Iterable[str],
    output: str,
    expected: str,
    *,
    labels: Sequence[str] | None = None,
    embedder: TextEmbedder | None = None,
) -> dict[str, float]:
    """Per-example values of the requested metrics.

    * text metrics: stored under their own names;
    * ``embedding_similarity``: ``embedder.similarity(output, expected)``;
    * any label metric (``accuracy``/``precision``/``recall``/``f1``): only
      ``{"accuracy": label_correct(output, expected, labels)}`` is stored, because
      precision/recall/F1 are corpus-level and come from :func:`label_metrics` over the
      predicted labels (see :func:`predicted_label`);
    * ``latency_ms``/``cost_usd``: skipped, the caller records them.

    Args:
        metric_names: Names from :data:`METRIC_SPECS`.
        output: Model output.
        expected: Reference answer or gold label.
        labels: Allowed labels, required for label metrics.
        embedder: Required for ``embedding_similarity`` (e.g.
            ``promptops.embeddings.get_embedder()``).

    Returns:
        Mapping metric name -> float.

    Raises:
        ValueError: On unknown names, label metrics without ``labels``, or
            ``embedding_similarity`` without an embedder.
    """
    names = validate_metric_names(metric_names)
    values: dict[str, float] = {}
    if "exact_match" in names:
        values["exact_match"] = exact_match(output, expected)
    if "token_f1" in names:
        values["token_f1"] = token_f1(output, expected)
    if "bleu" in names:
        values["bleu"] = bleu(output, expected)
    requested_rouge = [name for name in _ROUGE_TYPES if name in names]
    if requested_rouge:
        rouge_values = rouge(output, expected)
        for name in requested_rouge:
            values[name] = rouge_values[name]
    if "embedding_similarity" in names:
        if embedder is None:
            raise ValueError(
                "embedding_similarity needs an embedder (e.g. promptops.embeddings.get_embedder())"
            )
        values["embedding_similarity"] = float(embedder.similarity(output, expected))
    if any(name in LABEL_METRIC_NAMES for name in names):
        if not labels:
            raise ValueError("label metrics (accuracy/precision/recall/f1) need the allowed labels")
        values["accuracy"] = label_correct(output, expected, labels)
    return values
