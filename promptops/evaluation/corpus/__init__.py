"""Public mail corpora turned into golden sets (see
:mod:`promptops.evaluation.corpus.spamassassin`)."""

from promptops.evaluation.corpus.spamassassin import (
    DEFAULT_VERSION,
    CorpusUnavailable,
    GoldenSets,
    ParsedEmail,
    RawEmail,
    build_golden_sets,
    clean_body,
    clean_subject,
    fetch_corpus,
    html_to_text,
    iter_raw_emails,
    parse_email,
    truncate_words,
    write_jsonl,
)

__all__ = [
    "DEFAULT_VERSION",
    "CorpusUnavailable",
    "GoldenSets",
    "ParsedEmail",
    "RawEmail",
    "build_golden_sets",
    "clean_body",
    "clean_subject",
    "fetch_corpus",
    "html_to_text",
    "iter_raw_emails",
    "parse_email",
    "truncate_words",
    "write_jsonl",
]
