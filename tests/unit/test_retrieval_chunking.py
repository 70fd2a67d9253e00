"""promptops.retrieval.chunking with the embedding model's real tokenizer, on real Python docs
pages and on documents built here."""

from __future__ import annotations

import hashlib
import itertools
import unicodedata
from collections.abc import Sequence
from pathlib import Path

import pytest
from tokenizers import Tokenizer

from promptops.embeddings import find_tokenizer_path
from promptops.retrieval.chunking import (
    Chunk,
    ChunkingSettings,
    HFTokenCounter,
    chunk_document,
    content_hash,
    embedding_text,
)
from promptops.retrieval.parsing import ParsedDocument, Section, parse_document

SOURCES = Path("/usr/share/doc/python3.11/html/_sources")
LARGE_PAGES = ("library/functools", "library/stdtypes", "tutorial/controlflow")


@pytest.fixture(scope="module")
def counter() -> HFTokenCounter:
    return HFTokenCounter()


@pytest.fixture(scope="module")
def raw_tokenizer() -> Tokenizer:
    """The same tokenizer file, read without the counter (an oracle for token boundaries)."""
    tokenizer = Tokenizer.from_file(str(find_tokenizer_path()))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


@pytest.fixture(scope="module")
def corpus_docs() -> list[ParsedDocument]:
    if not SOURCES.is_dir():
        pytest.skip(f"{SOURCES} missing: `apt-get install python3.11-doc` provides the corpus")
    paths = [SOURCES / f"{page}.rst.txt" for page in LARGE_PAGES]
    return [parse_document(str(path), path.read_bytes()) for path in paths]


def _prose() -> list[str]:
    """Real paragraphs: the tutorial's prose if the corpus is there, else a fixed text."""
    path = SOURCES / "tutorial/controlflow.rst.txt"
    if path.is_file():
        doc = parse_document(str(path), path.read_bytes())
        return [b for s in doc.sections for b in s.text.split("\n\n") if len(b.split()) > 8]
    return [f"Paragraph {i} says that the loop runs over items number {i}." for i in range(200)]


def _overlap(previous: str, following: str) -> str:
    """Longest end of ``previous`` that starts ``following`` (outside the code under test)."""
    for start in range(len(previous)):
        if following.startswith(previous[start:]) and previous[start:].strip():
            return previous[start:]
    return ""


def _continues(previous: Chunk, following: Chunk) -> bool:
    same_place = (previous.heading_path, previous.anchor) == (
        following.heading_path,
        following.anchor,
    )
    return same_place and bool(_overlap(previous.text, following.text).strip())


# --------------------------------------------------------------------------- settings, counter


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"min_tokens": 0}, "min_tokens"),
        ({"min_tokens": 500, "max_tokens": 400}, "max_tokens"),
        ({"overlap": 0.5}, "overlap"),
        ({"overlap": -0.1}, "overlap"),
    ],
)
def test_settings_are_validated_naming_the_field(kwargs: dict[str, float], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        ChunkingSettings(**kwargs)


def test_counter_counts_without_special_tokens_or_truncation(
    counter: HFTokenCounter, raw_tokenizer: Tokenizer
) -> None:
    long_text = " ".join(["retrieval"] * 600)
    assert counter.count(long_text) == len(
        raw_tokenizer.encode(long_text, add_special_tokens=False).ids
    )
    assert counter.count(long_text) > 256  # the file's own truncation (128) is off
    assert counter.count("hello") == len(raw_tokenizer.encode("hello").ids) - 2  # no CLS/SEP
    texts = ["one two", "three", "", long_text]
    assert counter.count_batch(texts) == [counter.count(text) for text in texts]


def test_counter_leaves_a_shared_tokenizer_untouched() -> None:
    shared = Tokenizer.from_file(str(find_tokenizer_path()))
    shared.enable_truncation(max_length=16)
    HFTokenCounter(shared)
    assert shared.truncation is not None and shared.truncation["max_length"] == 16


def test_split_cuts_on_token_boundaries(counter: HFTokenCounter, raw_tokenizer: Tokenizer) -> None:
    # No whitespace at all: cuts must fall between the tokenizer's own tokens.
    text = "functools.reduce(lambda,acc:acc+item,items,initializer)" * 20
    pieces = counter.split(text, 25)
    assert len(pieces) > 1 and "".join(pieces) == text
    whole = raw_tokenizer.encode(text, add_special_tokens=False).ids
    ids = [i for piece in pieces for i in raw_tokenizer.encode(piece, add_special_tokens=False).ids]
    assert ids == whole
    assert all(counter.count(piece) <= 25 for piece in pieces)


def test_split_prefers_whitespace(counter: HFTokenCounter) -> None:
    text = " ".join(f"word{i}" for i in range(300))
    pieces = counter.split(text, 40)
    assert " ".join(pieces) == text  # every cut replaced exactly one space
    assert all(counter.count(piece) <= 40 for piece in pieces)


# --------------------------------------------------------------------------- chunking


def test_chunks_of_one_long_section_are_within_bounds_and_overlap(counter: HFTokenCounter) -> None:
    paragraphs = _prose()
    doc = ParsedDocument(
        "t.txt", "T", "text/plain", (Section(("T", "S"), "s", "\n\n".join(paragraphs)),)
    )
    settings = ChunkingSettings(min_tokens=60, max_tokens=120, overlap=0.12)
    chunks = chunk_document(doc, counter, settings)
    assert len(chunks) > 10
    assert [chunk.ordinal for chunk in chunks] == list(range(len(chunks)))
    for chunk in chunks:
        assert chunk.token_count == counter.count(chunk.text)
        assert chunk.heading_path == ("T", "S") and chunk.anchor == "s"
    for chunk in chunks[:-1]:
        assert settings.min_tokens <= chunk.token_count <= settings.max_tokens
    assert chunks[-1].token_count <= settings.max_tokens
    for previous, following in itertools.pairwise(chunks):
        shared = _overlap(previous.text, following.text)
        target = round(settings.overlap * previous.token_count)
        assert target // 2 <= counter.count(shared) <= target, (previous.text, following.text)


def test_chunks_cover_the_section_text_exactly_once_beyond_overlaps(
    counter: HFTokenCounter,
) -> None:
    text = "\n\n".join(_prose())
    doc = ParsedDocument("t.txt", "T", "text/plain", (Section(("T",), None, text),))
    chunks = chunk_document(doc, counter, ChunkingSettings(min_tokens=50, max_tokens=90))
    rebuilt = chunks[0].text
    for previous, following in itertools.pairwise(chunks):
        rebuilt += " " + following.text[len(_overlap(previous.text, following.text)) :]
    assert rebuilt.split() == text.split()


def test_chunk_boundaries_never_fall_inside_a_token(
    counter: HFTokenCounter, raw_tokenizer: Tokenizer
) -> None:
    # One "paragraph" with no sentence, line or whitespace break forces token-level cuts.
    text = "os.path.join(base,name,ext)+" * 120
    doc = ParsedDocument("t.txt", "T", "text/plain", (Section(("T",), None, text),))
    chunks = chunk_document(doc, counter, ChunkingSettings(20, 40, overlap=0.0))
    assert len(chunks) > 5 and "".join(chunk.text for chunk in chunks) == text
    ids = [i for c in chunks for i in raw_tokenizer.encode(c.text, add_special_tokens=False).ids]
    assert ids == raw_tokenizer.encode(text, add_special_tokens=False).ids


@pytest.mark.parametrize(("low", "high"), [(300, 800), (60, 120)])
def test_real_pages_respect_the_bounds(
    corpus_docs: list[ParsedDocument], counter: HFTokenCounter, low: int, high: int
) -> None:
    settings = ChunkingSettings(min_tokens=low, max_tokens=high)
    for doc in corpus_docs:
        chunks = chunk_document(doc, counter, settings)
        anchors = {section.anchor for section in doc.sections}
        for chunk in chunks:
            assert chunk.token_count <= high and chunk.text.strip()
            assert chunk.heading_path[0] == doc.title and chunk.anchor in anchors
        # A chunk that another chunk of its section continues is never short.
        for previous, following in itertools.pairwise(chunks):
            if _continues(previous, following):
                assert previous.token_count >= low, (doc.source, previous.text)


def test_small_sections_merge_under_their_common_heading(counter: HFTokenCounter) -> None:
    sections = (
        Section(("Mod", "Objects"), "objects", "Objects of this module are callable."),
        Section(("Mod", "Objects", "a"), "mod.a", "The a attribute holds the first value."),
        Section(("Mod", "Objects", "b"), "mod.b", "The b attribute holds the second value."),
        Section(("Mod", "Long"), "long", "\n\n".join(_prose()[:12])),
        Section(("Mod", "Tail"), "tail", "A short closing note."),
    )
    doc = ParsedDocument("m.rst", "Mod", "text/x-rst", sections)
    chunks = chunk_document(doc, counter, ChunkingSettings(min_tokens=40, max_tokens=300))
    first = chunks[0]
    assert (first.heading_path, first.anchor) == (("Mod", "Objects"), "objects")
    assert first.text == "\n\n".join(section.text for section in sections[:3])
    assert {chunk.heading_path for chunk in chunks[1:-1]} == {("Mod", "Long")}
    assert (chunks[-1].heading_path, chunks[-1].text) == (("Mod", "Tail"), "A short closing note.")


def test_hashes_are_sha256_of_normalised_text_and_deterministic(
    corpus_docs: list[ParsedDocument],
) -> None:
    doc = corpus_docs[0]
    first = chunk_document(doc, HFTokenCounter(), ChunkingSettings())
    second = chunk_document(doc, HFTokenCounter(), ChunkingSettings())
    assert [c.content_hash for c in first] == [c.content_hash for c in second]
    for chunk in first:
        normalised = unicodedata.normalize("NFC", " ".join(chunk.text.split()))
        assert chunk.content_hash == hashlib.sha256(normalised.encode()).hexdigest()
    assert content_hash("a  b\n\nc ") == content_hash("a b c")
    assert content_hash("Cafe\u0301") == content_hash("Caf\u00e9")  # NFC
    assert len({c.content_hash for c in first}) == len(first)


def test_embedding_text_prefixes_the_heading_path() -> None:
    chunk = Chunk(0, "Body.", 1, ("Title", "Part", "Sub"), "sub", content_hash("Body."))
    assert embedding_text(chunk) == "Title > Part > Sub\n\nBody."
    assert embedding_text(Chunk(0, "Body.", 1, (), None, "h")) == "Body."


class WordCounter:
    """A counter with only the protocol's two methods: whitespace-separated words."""

    def count(self, text: str) -> int:
        return len(text.split())

    def split(self, text: str, max_tokens: int) -> list[str]:
        words = text.split()
        return [" ".join(words[i : i + max_tokens]) for i in range(0, len(words), max_tokens)]


def test_any_token_counter_of_the_protocol_works() -> None:
    text = "\n\n".join(_prose())
    doc = ParsedDocument("t.txt", "T", "text/plain", (Section(("T",), None, text),))
    counter = WordCounter()
    settings = ChunkingSettings(min_tokens=40, max_tokens=80, overlap=0.2)
    chunks = chunk_document(doc, counter, settings)
    assert all(40 <= chunk.token_count <= 80 for chunk in chunks[:-1])
    for previous, following in itertools.pairwise(chunks):
        shared = _overlap(previous.text, following.text)
        assert 0 < counter.count(shared) <= round(0.2 * previous.token_count)


def _texts(chunks: Sequence[Chunk]) -> list[str]:
    return [chunk.text for chunk in chunks]


def test_empty_document_gives_no_chunks(counter: HFTokenCounter) -> None:
    doc = ParsedDocument("e.txt", "e", "text/plain", ())
    assert _texts(chunk_document(doc, counter, ChunkingSettings())) == []
