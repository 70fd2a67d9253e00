"""Validation of tests/data/python_docs_qrels.jsonl, the retrieval evaluation set on the Python
3.11 documentation (method and grading scale: tests/data/python_docs_qrels.md).

The schema checks run everywhere; the checks that every judged page and anchor exists need the
corpus (Debian's ``python3.11-doc``) and are skipped with the reason when it is not installed.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from functools import cache
from pathlib import Path
from typing import Any

import lxml.html
import pytest

QRELS = Path(__file__).resolve().parents[1] / "data" / "python_docs_qrels.jsonl"
CORPUS = Path("/usr/share/doc/python3.11/html")
KINDS = {"exact", "paraphrase", "mixed"}
GRADES = {1, 2}
MIN_QUERIES = 60
MAX_QUERIES_PER_ANSWER_PAGE = 3

needs_corpus = pytest.mark.skipif(
    not CORPUS.is_dir(),
    reason=f"Python 3.11 docs not installed at {CORPUS} (apt-get install python3.11-doc)",
)

# A judged source: an HTML page relative to the corpus dir, optionally "#" and an element id.
SOURCE = re.compile(
    r"^(?P<page>(?:[A-Za-z0-9_.-]+/)*[A-Za-z0-9_.-]+\.html)(?:#(?P<anchor>[^#\s]+))?$"
)


@cache
def load_qrels() -> list[dict[str, Any]]:
    lines = QRELS.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def split_source(source: str) -> tuple[str, str | None]:
    match = SOURCE.match(source)
    assert match is not None, f"malformed source {source!r}"
    return match["page"], match["anchor"]


@cache
def element_ids(page: str) -> frozenset[str]:
    tree = lxml.html.fromstring((CORPUS / page).read_bytes())
    return frozenset(str(value) for value in tree.xpath("//@id"))


def test_every_line_follows_the_schema() -> None:
    for query in load_qrels():
        assert set(query) == {"id", "query", "relevant", "kind"}, query
        assert isinstance(query["id"], str) and re.fullmatch(r"q\d{2,}", query["id"]), query
        assert isinstance(query["query"], str) and query["query"].strip(), query
        assert query["kind"] in KINDS, query
        relevant = query["relevant"]
        assert isinstance(relevant, dict) and relevant, query
        for source, grade in relevant.items():
            split_source(source)
            assert type(grade) is int and grade in GRADES, (query["id"], source, grade)
            assert ".." not in source.split("/"), source


def test_ids_and_query_texts_are_unique() -> None:
    queries = load_qrels()
    ids = Counter(q["id"] for q in queries)
    texts = Counter(q["query"].strip().lower() for q in queries)
    assert [i for i, n in ids.items() if n > 1] == []
    assert [t for t, n in texts.items() if n > 1] == []


def test_there_are_at_least_60_queries() -> None:
    assert len(load_qrels()) >= MIN_QUERIES


def test_every_query_has_a_page_that_answers_it() -> None:
    unanswered = [q["id"] for q in load_qrels() if 2 not in q["relevant"].values()]
    assert unanswered == []


def test_every_anchored_source_has_its_page_judged_at_least_as_high() -> None:
    # Page-level scoring uses the bare page keys, so a page whose section answers must be judged.
    for query in load_qrels():
        pages: dict[str, int] = {}
        best_anchor: dict[str, int] = defaultdict(int)
        for source, grade in query["relevant"].items():
            page, anchor = split_source(source)
            if anchor is None:
                pages[page] = grade
            else:
                best_anchor[page] = max(best_anchor[page], grade)
        for page, grade in best_anchor.items():
            assert pages.get(page, 0) >= grade, (query["id"], page)


def test_kinds_are_roughly_balanced() -> None:
    queries = load_qrels()
    kinds = Counter(q["kind"] for q in queries)
    assert set(kinds) == KINDS
    assert min(kinds.values()) >= len(queries) / 4, kinds


def test_no_page_answers_more_than_three_queries() -> None:
    answering = Counter(
        page
        for query in load_qrels()
        for page in {split_source(s)[0] for s, grade in query["relevant"].items() if grade == 2}
    )
    crowded = {page: n for page, n in answering.items() if n > MAX_QUERIES_PER_ANSWER_PAGE}
    assert crowded == {}


@needs_corpus
def test_every_judged_page_exists_in_the_corpus() -> None:
    missing = sorted(
        {
            page
            for query in load_qrels()
            for page in (split_source(s)[0] for s in query["relevant"])
            if not (CORPUS / page).is_file()
        }
    )
    assert missing == []


@needs_corpus
def test_every_anchor_is_an_element_id_of_its_page() -> None:
    missing = []
    for query in load_qrels():
        for source in query["relevant"]:
            page, anchor = split_source(source)
            if anchor is not None and (CORPUS / page).is_file() and anchor not in element_ids(page):
                missing.append((query["id"], source))
    assert missing == []
