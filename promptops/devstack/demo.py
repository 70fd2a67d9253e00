"""The main job: two prompts, two versions each, evaluated on real SpamAssassin mail.

Tasks:

- ``subject-line``: write an email's subject line from its body; the reference is the real
  subject with reply/forward/list prefixes stripped (the task of Zhang & Tetreault 2019, "This
  Email Could Save Your Life: Introducing the Task of Email Subject Line Generation"). Scored
  with ROUGE-1/2/L, BLEU and embedding similarity.
- ``spam-filter``: label an email ``spam`` or ``ham`` (JSON-schema constrained output), scored
  with accuracy / precision / recall / F1 for the ``spam`` class.

Version 1 of each prompt is the plain wording, version 2 a specific, constrained one. Both are
evaluated by ``BatchEvaluationWorkflow`` on the same examples, so the comparison is paired.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SYSTEM = "You are a helpful assistant."

SPAM_SCHEMA = {
    "type": "json_schema",
    "json_schema": {
        "name": "classification",
        "schema": {
            "type": "object",
            "properties": {"label": {"type": "string", "enum": ["spam", "ham"]}},
            "required": ["label"],
        },
    },
}


@dataclass(frozen=True)
class DemoTask:
    name: str
    prompt_name: str
    dataset_task_type: str
    metrics: list[str]
    versions: list[dict[str, Any]]
    positive_label: str | None = None
    version_names: list[str] = field(default_factory=lambda: ["v1", "v2"])


SUBJECT_TASK = DemoTask(
    name="subject-line",
    prompt_name="subject-line",
    dataset_task_type="generation",
    metrics=[
        "rouge1",
        "rouge2",
        "rougeL",
        "bleu",
        "embedding_similarity",
        "latency_ms",
        "cost_usd",
    ],
    version_names=["v1 plain", "v2 specific"],
    versions=[
        {
            "body": "Write a subject line for this email.\n\n{{ body }}",
            "system": SYSTEM,
            "variables": {"body": "str"},
            "notes": "Plain instruction.",
            "decoding": {"temperature": 0.0, "max_tokens": 48},
        },
        {
            "body": (
                "Here is an email:\n\n{{ body }}\n\n"
                "Write the subject line its sender most likely used. Use the email's own key "
                "words, at most 8 words, no quotes, no 'Subject:' prefix. "
                "Reply with the subject line only."
            ),
            "system": SYSTEM,
            "variables": {"body": "str"},
            "notes": "Specific and constrained: sender's words, length limit, output only.",
            "decoding": {"temperature": 0.0, "max_tokens": 24},
        },
    ],
)

SPAM_TASK = DemoTask(
    name="spam-filter",
    prompt_name="spam-filter",
    dataset_task_type="classification",
    metrics=["accuracy", "precision", "recall", "f1", "latency_ms", "cost_usd"],
    positive_label="spam",
    version_names=["v1 zero-shot", "v2 instructed"],
    versions=[
        {
            "body": "Is this email spam or ham?\n\nSubject: {{ subject }}\n\n{{ body }}",
            "system": SYSTEM,
            "variables": {"subject": "str", "body": "str"},
            "notes": "Zero-shot question.",
            "decoding": {"temperature": 0.0, "max_tokens": 32},
            "response_format": SPAM_SCHEMA,
        },
        {
            "body": (
                "Classify the email below.\n"
                "spam = unsolicited bulk or commercial mail: ads, offers, money, pills, "
                "mortgages, 'click here', 'remove me' links.\n"
                "ham = normal mail a person wanted: discussions, mailing lists, newsletters "
                "they subscribed to, personal or work messages.\n\n"
                "Subject: {{ subject }}\n\n{{ body }}\n\n"
                'Answer with JSON: {"label": "spam"} or {"label": "ham"}.'
            ),
            "system": SYSTEM,
            "variables": {"subject": "str", "body": "str"},
            "notes": "Instructed with definitions of both labels.",
            "decoding": {"temperature": 0.0, "max_tokens": 32},
            "response_format": SPAM_SCHEMA,
        },
    ],
)

TASKS = (SUBJECT_TASK, SPAM_TASK)


def load_golden_sets(
    cache_dir: Path, *, limit: int, seed: int = 0
) -> dict[str, list[dict[str, Any]]]:
    """Rows of both golden sets, built from the SpamAssassin corpus and cached as JSONL.

    Returns ``{"subject-line": rows, "spam-filter": rows}``. Raises
    ``promptops.evaluation.corpus.CorpusUnavailable`` when the corpus cannot be fetched.
    """
    from promptops.evaluation.corpus import build_golden_sets, fetch_corpus, write_jsonl

    cached = {t.name: cache_dir / f"{t.name}-n{limit}-s{seed}.jsonl" for t in TASKS}
    if all(p.exists() for p in cached.values()):
        return {
            name: [json.loads(line) for line in p.read_text().splitlines() if line.strip()]
            for name, p in cached.items()
        }
    data_dir = fetch_corpus(cache_dir)
    sets = build_golden_sets(data_dir, limit=limit, seed=seed)
    rows = {"subject-line": sets.subject_lines, "spam-filter": sets.spam_ham}
    for name, path in cached.items():
        write_jsonl(rows[name], path)
    return rows
