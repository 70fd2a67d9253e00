"""Tests for promptops.evaluation.metrics: SQuAD EM/F1, BLEU, ROUGE, labels and the registry."""

from __future__ import annotations

import pytest
import sacrebleu
from rouge_score import rouge_scorer

from promptops.evaluation import metrics
from promptops.evaluation.metrics import (
    METRIC_SPECS,
    bleu,
    exact_match,
    extract_label,
    label_correct,
    label_metrics,
    normalize_answer,
    rouge,
    score_example,
    token_f1,
    validate_metric_names,
)
from promptops.evaluation.qrels import RANKING_METRICS

# ----------------------------------------------------------------------------- SQuAD


def test_normalize_answer_follows_squad_v11() -> None:
    assert normalize_answer("The Cat sat.") == "cat sat"
    assert normalize_answer("  An apple,  a   day!! ") == "apple day"
    # Articles only as whole words: "theatre" keeps its "the".
    assert normalize_answer("the theatre") == "theatre"


def test_exact_match() -> None:
    assert exact_match("The Cat sat.", "cat sat") == 1.0
    assert exact_match("cat sat down", "cat sat") == 0.0
    assert exact_match("", "") == 1.0


@pytest.mark.parametrize(
    ("prediction", "reference", "expected"),
    [
        # pred {cat, sat, on, mat} vs ref {cat, sat}: P = 2/4, R = 2/2, F1 = 2/3.
        ("the cat sat on the mat", "a cat sat", 2 / 3),
        # overlap 1: P = 1/3, R = 1/2, F1 = 2 * (1/6) / (5/6) = 0.4.
        ("blue red green", "red yellow", 0.4),
        # multiset overlap min(2,1) + min(1,2) = 2: P = R = 2/3.
        ("x x y", "x y y", 2 / 3),
        ("Paris", "paris.", 1.0),
        ("nothing shared", "completely different", 0.0),
        # SQuAD v1.1 (unlike v2.0) gives 0 when both sides normalise to empty.
        ("", "", 0.0),
        ("the", "a", 0.0),
    ],
)
def test_token_f1_hand_computed(prediction: str, reference: str, expected: float) -> None:
    assert token_f1(prediction, reference) == pytest.approx(expected)


# ----------------------------------------------------------------------------- BLEU / ROUGE

PAIRS = [
    ("The quick brown fox jumps over the lazy dog.", "A quick brown fox jumped over the lazy dog."),
    ("Hello world", "Hello there world"),
    ("completely unrelated words", "The quick brown fox"),
    ("identical sentence here", "identical sentence here"),
]


@pytest.mark.parametrize(("prediction", "reference"), PAIRS)
def test_bleu_matches_sacrebleu(prediction: str, reference: str) -> None:
    expected = sacrebleu.sentence_bleu(prediction, [reference], use_effective_order=True).score
    assert bleu(prediction, reference) == pytest.approx(expected / 100.0)
    assert 0.0 <= bleu(prediction, reference) <= 1.0


def test_bleu_identical_is_one() -> None:
    assert bleu("identical sentence here", "identical sentence here") == pytest.approx(1.0)


@pytest.mark.parametrize(("prediction", "reference"), PAIRS)
def test_rouge_matches_rouge_score(prediction: str, reference: str) -> None:
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
    expected = scorer.score(reference, prediction)
    got = rouge(prediction, reference)
    assert set(got) == {"rouge1", "rouge2", "rougeL"}
    for name in ("rouge1", "rouge2", "rougeL"):
        assert got[name] == pytest.approx(expected[name].fmeasure)


def test_rouge_uses_stemmer() -> None:
    # "jumps"/"jumped" both stem to "jump": unigram overlap is perfect only with stemming.
    assert rouge("fox jumps", "fox jumped")["rouge1"] == pytest.approx(1.0)


# ----------------------------------------------------------------------------- labels

LABELS = ["positive", "negative", "neutral"]


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ('{"label": "negative", "reason": "rude"}', "negative"),
        ('{"label": "NEGATIVE"}', "negative"),  # canonical spelling from labels
        ('```json\n{"label": "neutral"}\n```', "neutral"),
        ('{"label": "other"}', "other"),  # JSON label is used even if not allowed
        ("The sentiment is Positive, not negative.", "positive"),
        ("Negative. Definitely not positive.", "negative"),
        ("The review is neutral overall", "neutral"),
        ("positively glowing", None),  # no whole-word match
        ("I cannot tell.", None),
        ('{"sentiment": "positive"}', "positive"),  # no "label" key: falls back to text
        ("", None),
    ],
)
def test_extract_label(output: str, expected: str | None) -> None:
    assert extract_label(output, LABELS) == expected


def test_extract_label_prefers_longer_label_at_same_position() -> None:
    assert extract_label("This is not spam.", ["spam", "not spam"]) == "not spam"
    assert extract_label("Answer: n/a", ["yes", "no", "n/a"]) == "n/a"


def test_label_correct_is_case_insensitive() -> None:
    assert label_correct("POSITIVE!", "Positive", LABELS) == 1.0
    assert label_correct('{"label": "negative"}', "positive", LABELS) == 0.0
    assert label_correct("no idea", "positive", LABELS) == 0.0


def test_label_metrics_binary_hand_computed() -> None:
    expected = ["pos", "pos", "pos", "pos", "neg", "neg", "neg"]
    predicted = ["pos", "pos", "neg", None, "pos", "neg", "neg"]
    # TP = 2, FN = 2 (one wrong, one None), FP = 1, correct = 4 of 7.
    got = label_metrics(predicted, expected, positive_label="pos")
    assert got["accuracy"] == pytest.approx(4 / 7)
    assert got["precision"] == pytest.approx(2 / 3)
    assert got["recall"] == pytest.approx(2 / 4)
    assert got["f1"] == pytest.approx(2 * 2 / (2 * 2 + 1 + 2))


def test_label_metrics_macro_hand_computed() -> None:
    expected = ["a", "a", "a", "b", "b", "c"]
    predicted = ["a", "b", None, "b", "c", "d"]
    # a: TP 1, predicted 1, true 3 -> P 1,   R 1/3, F1 2/4
    # b: TP 1, predicted 2, true 2 -> P 1/2, R 1/2, F1 2/4
    # c: TP 0, predicted 1, true 1 -> P 0,   R 0,   F1 0   ("d" adds no class)
    got = label_metrics(predicted, expected)
    assert got["accuracy"] == pytest.approx(2 / 6)
    assert got["precision"] == pytest.approx((1 + 0.5 + 0) / 3)
    assert got["recall"] == pytest.approx((1 / 3 + 0.5 + 0) / 3)
    assert got["f1"] == pytest.approx((0.5 + 0.5 + 0) / 3)


def test_label_metrics_zero_division_and_case() -> None:
    # Positive class never predicted and never true: every ratio is 0/0 -> 0.
    got = label_metrics(["neg", "neg"], ["NEG", "neg"], positive_label="pos")
    assert got == {"accuracy": 1.0, "precision": 0.0, "recall": 0.0, "f1": 0.0}


def test_label_metrics_errors() -> None:
    with pytest.raises(ValueError, match="same length"):
        label_metrics(["a"], ["a", "b"])
    with pytest.raises(ValueError, match="at least one"):
        label_metrics([], [])


# ----------------------------------------------------------------------------- registry


def test_registry_names_and_specs() -> None:
    assert set(METRIC_SPECS) == {
        "exact_match", "token_f1", "bleu", "rouge1", "rouge2", "rougeL",
        "embedding_similarity", "accuracy", "precision", "recall", "f1",
        "latency_ms", "cost_usd",
        "recall@1", "recall@5", "recall@10", "mrr", "ndcg@10",
    }  # fmt: skip
    assert METRIC_SPECS["latency_ms"].higher_is_better is False
    assert METRIC_SPECS["cost_usd"].kind == "cost"
    assert METRIC_SPECS["f1"].kind == "label"
    assert {n for n, s in METRIC_SPECS.items() if s.kind == "ranking"} == set(RANKING_METRICS)
    assert all(spec.name == name for name, spec in METRIC_SPECS.items())
    with pytest.raises(AttributeError):
        METRIC_SPECS["bleu"].name = "x"  # type: ignore[misc]


def test_validate_metric_names() -> None:
    assert validate_metric_names(["bleu", "token_f1", "bleu"]) == ["bleu", "token_f1"]
    with pytest.raises(ValueError) as excinfo:
        validate_metric_names(["bleu", "meteor", "rougeX"])
    message = str(excinfo.value)
    assert "'meteor'" in message and "'rougeX'" in message
    assert "token_f1" in message  # the allowed list is shown


class _FakeEmbedder:
    def embed(self, texts, batch_size=32):  # type: ignore[no-untyped-def]
        raise NotImplementedError

    def similarity(self, a: str, b: str) -> float:
        return 0.25


def test_score_example_text_and_label_metrics() -> None:
    values = score_example(
        ["exact_match", "token_f1", "bleu", "rouge1", "rougeL", "latency_ms", "cost_usd"],
        "The cat sat.",
        "cat sat",
    )
    assert set(values) == {"exact_match", "token_f1", "bleu", "rouge1", "rougeL"}
    assert values["exact_match"] == 1.0
    assert values["token_f1"] == 1.0
    assert values["bleu"] == pytest.approx(bleu("The cat sat.", "cat sat"))

    labelled = score_example(["f1", "precision"], "Negative.", "negative", labels=LABELS)
    assert labelled == {"accuracy": 1.0}

    emb = score_example(["embedding_similarity"], "a", "b", embedder=_FakeEmbedder())
    assert emb == {"embedding_similarity": 0.25}


def test_score_example_errors() -> None:
    with pytest.raises(ValueError, match="embedder"):
        score_example(["embedding_similarity"], "a", "b")
    with pytest.raises(ValueError, match="labels"):
        score_example(["accuracy"], "a", "b")
    with pytest.raises(ValueError, match="nope"):
        score_example(["nope"], "a", "b")


def test_predicted_label_alias() -> None:
    assert metrics.predicted_label is extract_label
