"""promptops.retrieval.dedup on real Python docs pages (and fixed text without the corpus)."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest

from promptops.retrieval.dedup import NearDuplicateFilter, shingles

LIBRARY = Path("/usr/share/doc/python3.11/html/_sources/library")


@pytest.fixture(scope="module")
def pages() -> dict[str, str]:
    if not LIBRARY.is_dir():
        pytest.skip(f"{LIBRARY} missing: `apt-get install python3.11-doc` provides the corpus")
    paths = sorted(LIBRARY.glob("*.rst.txt"))[::6]
    return {path.name: path.read_text(encoding="utf-8") for path in paths}


def _near_copy(text: str, changes: int = 5) -> str:
    """The page with ``changes`` words, spread over it, replaced."""
    words = text.split()
    for index in range(0, len(words), len(words) // changes)[:changes]:
        words[index] = "CHANGED"
    return " ".join(words)


def _jaccard(a: str, b: str) -> float:
    """Exact Jaccard similarity of word 5-gram sets, computed here independently."""

    def grams(text: str) -> set[tuple[str, ...]]:
        words = text.lower().split()
        return {tuple(words[i : i + 5]) for i in range(len(words) - 4)}

    left, right = grams(a), grams(b)
    return len(left & right) / len(left | right)


def test_a_near_copy_of_a_page_is_reported_and_not_kept(pages: dict[str, str]) -> None:
    dedup = NearDuplicateFilter()
    assert dedup.add("functools", (LIBRARY / "functools.rst.txt").read_text()) is None
    copy = _near_copy((LIBRARY / "functools.rst.txt").read_text())
    assert 0.9 < _jaccard(copy, (LIBRARY / "functools.rst.txt").read_text()) < 1.0
    assert dedup.add("functools-copy", copy) == "functools"
    assert "functools-copy" not in dedup and len(dedup) == 1


def test_distinct_pages_are_all_kept(pages: dict[str, str]) -> None:
    assert len(pages) > 30
    dedup = NearDuplicateFilter()
    assert {name: dedup.add(name, text) for name, text in pages.items()} == dict.fromkeys(pages)
    assert len(dedup) == len(pages)


def test_the_estimate_tracks_the_exact_jaccard(pages: dict[str, str]) -> None:
    dedup = NearDuplicateFilter(num_perm=256)
    text = next(iter(pages.values()))
    words = text.split(" ")
    for keep in (0.5, 0.8, 0.95):
        # A prefix-swap: the first `keep` of the page, then other words.
        other = " ".join(words[: int(len(words) * keep)] + ["filler"] * 5 + list(reversed(words)))
        exact = _jaccard(text, other)
        error = math.sqrt(exact * (1 - exact) / 256)
        assert abs(dedup.similarity(text, other) - exact) <= 4 * error + 1e-9


def test_sketches_are_the_same_in_another_process() -> None:
    text = "The quick brown fox jumps over the lazy dog near the river bank today."
    here = NearDuplicateFilter().minhash(text).digest().tolist()
    program = (
        "from promptops.retrieval.dedup import NearDuplicateFilter;"
        f"print(NearDuplicateFilter().minhash({text!r}).digest().tolist())"
    )
    there = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=True, cwd="."
    ).stdout
    assert there.strip() == str(here)


def test_adding_a_key_twice_is_refused() -> None:
    dedup = NearDuplicateFilter()
    dedup.add("a", "one two three four five six")
    with pytest.raises(ValueError, match="'a'"):
        dedup.add("a", "something else entirely, not a duplicate at all")


def test_the_most_similar_kept_text_is_reported() -> None:
    def words(start: int, stop: int) -> str:
        return " ".join(f"w{i}" for i in range(start, stop))

    dedup = NearDuplicateFilter(threshold=0.4, num_perm=256)
    assert _jaccard(words(0, 100), words(60, 160)) < 0.3
    assert dedup.add("a", words(0, 100)) is None
    assert dedup.add("b", words(60, 160)) is None
    query = words(35, 135)
    assert _jaccard(query, words(0, 100)) < _jaccard(query, words(60, 160))
    assert dedup.add("query", query) == "b"


def test_shingles_are_word_five_grams() -> None:
    assert shingles("A b c d e F") == {"a b c d e", "b c d e f"}
    assert shingles("too short") == {"too short"}
    assert shingles("   ") == set()


@pytest.mark.parametrize(
    "kwargs", [{"threshold": 0.0}, {"threshold": 1.5}, {"num_perm": 1}, {"shingle_size": 0}]
)
def test_invalid_parameters_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        NearDuplicateFilter(**kwargs)


def test_a_stored_sketch_comes_back_equal_and_still_finds_its_near_copies() -> None:
    """What ingestion stores beside a chunk (to_bytes) and reloads in another worker
    (from_bytes) is the same sketch: it finds the same near-duplicates."""
    filt = NearDuplicateFilter()
    text = " ".join(f"word{i}" for i in range(1000))
    sketch = filt.minhash(text)
    data = NearDuplicateFilter.to_bytes(sketch)
    assert len(data) == 4 * filt.num_perm
    restored = filt.from_bytes(data)
    assert list(restored.hashvalues) == list(sketch.hashvalues)
    other = NearDuplicateFilter()
    other.keep("stored", other.from_bytes(data))
    near_copy = text.replace("word500", "changed", 1)  # Jaccard ~0.99
    assert other.find(other.minhash(near_copy)) == "stored"
    assert other.find(other.minhash(" ".join(f"other{i}" for i in range(200)))) is None
    with pytest.raises(ValueError, match="expected 128"):
        other.from_bytes(data[:8])
