"""Token-aware chunking of a :class:`~promptops.retrieval.parsing.ParsedDocument`.

Rules, per section (in document order):

1. A section's blocks (paragraphs, code blocks, tables: its ``"\\n\\n"``-separated parts) are
   packed greedily into chunks of at most ``max_tokens`` tokens.
2. A chunk is closed only once it holds at least ``min_tokens``; if the next block does not fit
   before that, the block is split - on line breaks when it has several lines (code, tables,
   hard-wrapped text), else on sentence boundaries (sentencex, Wikimedia's rule-based
   segmenter), else on token boundaries (:meth:`TokenCounter.split`) - to fill the chunk.
   So every chunk of a section but its last holds ``min_tokens``-``max_tokens`` tokens.
3. Each further chunk of the same section starts with the tail of the previous one: about
   ``overlap`` x (previous chunk's tokens), cut at a token boundary (preferably between words),
   and counted within ``max_tokens``.
4. Sections shorter than ``min_tokens`` are merged with the small sections that follow them,
   while the merged chunk stays within ``max_tokens`` and until it reaches ``min_tokens``. The
   merged chunk takes the longest common prefix of their heading paths (what it is really
   under) and the first section's anchor (where it starts). Why merge rather than keep them
   apart: API references (the Python docs give every function its own section) are mostly
   sections of 30-200 tokens; alone, each is a chunk too small to carry its context and
   crowds the index, while neighbouring entries of one module are what a question about
   one usually needs. Sections are never merged into a larger section's chunks, so a long
   section's chunks keep its own heading path.

Token counts come from a :class:`TokenCounter`; :class:`HFTokenCounter` uses the embedding
model's own WordPiece tokenizer (all-MiniLM-L6-v2), so ``max_tokens`` is what the embedder
sees (its window is 256 tokens including ``[CLS]``/``[SEP]``; longer chunks are truncated
when embedded). Packing adds block counts, which is exact for tokenizers whose
pre-tokenizer splits on whitespace (BERT's); ``Chunk.token_count`` is always measured on the
final text.
"""

from __future__ import annotations

import hashlib
import itertools
import unicodedata
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from sentencex import segment

from promptops.retrieval.parsing import ParsedDocument, Section

if TYPE_CHECKING:
    import tokenizers

__all__ = [
    "Chunk",
    "ChunkingSettings",
    "HFTokenCounter",
    "TokenCounter",
    "chunk_document",
    "content_hash",
    "embedding_text",
    "normalize_text",
]


class TokenCounter(Protocol):
    """Counts and splits text in tokens of some tokenizer."""

    def count(self, text: str) -> int:
        """Number of tokens in ``text`` (no special tokens)."""
        ...

    def split(self, text: str, max_tokens: int) -> list[str]:
        """Consecutive pieces of ``text`` of at most ``max_tokens`` tokens each, cut at token
        boundaries, stripped of the whitespace at the cuts; no empty pieces."""
        ...


@runtime_checkable
class _BatchCounter(Protocol):
    def count_batch(self, texts: Sequence[str]) -> list[int]: ...


@runtime_checkable
class _TailCutter(Protocol):
    def tail(self, text: str, max_tokens: int) -> str: ...


class HFTokenCounter:
    """:class:`TokenCounter` over a Hugging Face ``tokenizers.Tokenizer``.

    Counts exclude special tokens (``[CLS]``/``[SEP]``); truncation and padding configured in
    the tokenizer file are switched off on a private copy, so a shared tokenizer (the
    :class:`~promptops.embeddings.Embedder`'s) is left untouched. Cuts fall where whitespace
    precedes a token when one lies in the last half of the allowed span, else at a
    pre-tokenizer word start, else after exactly ``max_tokens`` tokens.

    Args:
        tokenizer: The tokenizer to copy; default: all-MiniLM-L6-v2's ``tokenizer.json``
            (:func:`promptops.embeddings.find_tokenizer_path`).

    Raises:
        RuntimeError: When no tokenizer is given and the model's file cannot be found.
    """

    def __init__(self, tokenizer: tokenizers.Tokenizer | None = None) -> None:
        from tokenizers import Tokenizer

        from promptops.embeddings import find_tokenizer_path

        if tokenizer is None:
            own = Tokenizer.from_file(str(find_tokenizer_path()))
        else:
            own = Tokenizer.from_str(tokenizer.to_str())
        own.no_truncation()
        own.no_padding()
        self._tokenizer = own

    @classmethod
    def from_file(cls, path: str | Path) -> HFTokenCounter:
        """A counter for the ``tokenizer.json`` at ``path``."""
        from tokenizers import Tokenizer

        return cls(Tokenizer.from_file(str(path)))

    def count(self, text: str) -> int:
        """Tokens in ``text``, special tokens excluded."""
        return len(self._tokenizer.encode(text, add_special_tokens=False).ids)

    def count_batch(self, texts: Sequence[str]) -> list[int]:
        """:meth:`count` of each text, in one ``encode_batch`` call (parallel in Rust)."""
        if not texts:
            return []
        encodings = self._tokenizer.encode_batch(list(texts), add_special_tokens=False)
        return [len(encoding.ids) for encoding in encodings]

    def _cut_points(self, text: str) -> tuple[list[int], list[bool], list[bool]]:
        """Per token: start offset (chars), whitespace before it, starts a word."""
        encoding = self._tokenizer.encode(text, add_special_tokens=False)
        starts = [start for start, _ in encoding.offsets]
        spaced = [start > 0 and text[start - 1].isspace() for start in starts]
        words = encoding.word_ids
        word_start = [i == 0 or words[i] != words[i - 1] for i in range(len(words))]
        return starts, spaced, word_start

    def split(self, text: str, max_tokens: int) -> list[str]:
        """See :meth:`TokenCounter.split`.

        Raises:
            ValueError: If ``max_tokens < 1``.
        """
        if max_tokens < 1:
            raise ValueError(f"max_tokens must be >= 1, got {max_tokens}")
        starts, spaced, word_start = self._cut_points(text)
        if len(starts) <= max_tokens:
            return [text.strip()] if text.strip() else []
        cuts = [0]
        while len(starts) - cuts[-1] > max_tokens:
            first, limit = cuts[-1] + max(1, max_tokens // 2), cuts[-1] + max_tokens
            window = range(limit, first - 1, -1)
            cut = next((b for b in window if spaced[b]), None)
            cut = cut if cut is not None else next((b for b in window if word_start[b]), limit)
            cuts.append(cut)
        offsets = [0, *(starts[cut] for cut in cuts[1:]), len(text)]
        pieces = (text[a:b].strip() for a, b in itertools.pairwise(offsets))
        return [piece for piece in pieces if piece]

    def tail(self, text: str, max_tokens: int) -> str:
        """The longest end of ``text`` of at most ``max_tokens`` tokens that starts after
        whitespace (else at a word start, else at a token boundary); ``""`` for 0."""
        if max_tokens < 1:
            return ""
        # Tokenize only the end of a long text: a window that starts after whitespace
        # tokenizes exactly as the same characters do within the whole text.
        window_start = len(text) - (16 * max_tokens + 64)
        if window_start > 0:
            spaces = (text.find(c, window_start) for c in " \n")
            window_start = min((i + 1 for i in spaces if i >= 0), default=0)
            end = text[window_start:]
            if self.count(end) > max_tokens:
                text = end
        starts, spaced, word_start = self._cut_points(text)
        if len(starts) <= max_tokens:
            return text.strip()
        first = len(starts) - max_tokens
        window = range(first, min(len(starts), first + max(1, max_tokens // 2)))
        cut = next((b for b in window if spaced[b]), None)
        cut = cut if cut is not None else next((b for b in window if word_start[b]), first)
        return text[starts[cut] :].strip()


@dataclass(frozen=True)
class ChunkingSettings:
    """Chunk sizes in tokens of the :class:`TokenCounter` and the overlap as a fraction.

    Raises:
        ValueError: Naming the field, unless ``0 < min_tokens <= max_tokens`` and
            ``0 <= overlap < 0.5``.
    """

    min_tokens: int = 300
    max_tokens: int = 800
    overlap: float = 0.12

    def __post_init__(self) -> None:
        if not 0 < self.min_tokens:
            raise ValueError(f"min_tokens must be > 0, got {self.min_tokens}")
        if self.max_tokens < self.min_tokens:
            raise ValueError(
                f"max_tokens must be >= min_tokens ({self.min_tokens}), got {self.max_tokens}"
            )
        if not 0 <= self.overlap < 0.5:
            raise ValueError(f"overlap must be in [0, 0.5), got {self.overlap}")


@dataclass(frozen=True)
class Chunk:
    """One unit of retrieval.

    Attributes:
        ordinal: Position in the document, from 0.
        text: The chunk's text (no heading prefix; see :func:`embedding_text`).
        token_count: Tokens in ``text`` by the counter used (no special tokens).
        heading_path: Title down to the chunk's section (common prefix for merged sections).
        anchor: The section's anchor (the first section's for merged sections).
        content_hash: :func:`content_hash` of ``text``.
    """

    ordinal: int
    text: str
    token_count: int
    heading_path: tuple[str, ...]
    anchor: str | None
    content_hash: str


def normalize_text(text: str) -> str:
    """Unicode NFC with every whitespace run made one space, stripped: what hashes compare."""
    return unicodedata.normalize("NFC", " ".join(text.split()))


def content_hash(text: str) -> str:
    """SHA-256 (FIPS 180-4) hex digest of the UTF-8 bytes of :func:`normalize_text`."""
    return hashlib.sha256(normalize_text(text).encode("utf-8")).hexdigest()


def embedding_text(chunk: Chunk) -> str:
    """What to embed for ``chunk``: ``"Title > Heading > ...\\n\\ntext"`` (just the text if
    it has no heading path)."""
    if not chunk.heading_path:
        return chunk.text
    return " > ".join(chunk.heading_path) + "\n\n" + chunk.text


# --------------------------------------------------------------------------- packing


@dataclass(frozen=True)
class _Unit:
    """A piece of a section: its text, tokens and the whitespace before it in the source."""

    text: str
    tokens: int
    sep: str


def _count_all(counter: TokenCounter, texts: Sequence[str]) -> list[int]:
    if isinstance(counter, _BatchCounter):
        return counter.count_batch(texts)
    return [counter.count(text) for text in texts]


def _tail(counter: TokenCounter, text: str, max_tokens: int) -> str:
    """Longest whitespace-started end of ``text`` within ``max_tokens`` (binary search on
    word starts for counters without a ``tail`` method)."""
    if max_tokens < 1:
        return ""
    if isinstance(counter, _TailCutter):
        return counter.tail(text, max_tokens)
    starts = [0]
    for word in text.split(" ")[:-1]:
        starts.append(starts[-1] + len(word) + 1)
    low, high = 0, len(starts)  # find the first start whose suffix fits
    while low < high:
        middle = (low + high) // 2
        if counter.count(text[starts[middle] :]) <= max_tokens:
            high = middle
        else:
            low = middle + 1
    return text[starts[low] :].strip() if low < len(starts) else ""


def _locate(text: str, parts: Sequence[str], sep: str) -> list[tuple[str, str]]:
    """``(whitespace before, part)`` for consecutive stripped ``parts`` of ``text``; the first
    part gets ``sep`` (what preceded the whole text)."""
    located: list[tuple[str, str]] = []
    position = 0
    for part in parts:
        part = part.strip()
        if not part:
            continue
        found = text.find(part, position)
        before = text[position:found] if found >= 0 else " "
        located.append((sep if not located else before, part))
        position = found + len(part) if found >= 0 else position
    return located


def _finer(unit: _Unit, room: int, later_room: int, counter: TokenCounter) -> list[_Unit]:
    """Split ``unit`` one level finer: lines, else sentences, else tokens (a first piece of
    ``room`` tokens, then pieces of ``later_room``, what a continuation chunk has room for;
    cutting all at once keeps one long line linear rather than re-encoding its rest)."""
    for parts in (
        unit.text.split("\n") if "\n" in unit.text else [],
        list(segment("en", unit.text)),
    ):
        located = _locate(unit.text, parts, unit.sep)
        if len(located) > 1:
            counts = _count_all(counter, [part for _, part in located])
            return [_Unit(p, c, s) for (s, p), c in zip(located, counts, strict=True)]
    pieces = counter.split(unit.text, room)
    if len(pieces) < 2:  # the counter disagrees with its own count: take the unit whole
        return [_Unit(unit.text, min(unit.tokens, room), unit.sep)]
    head = pieces[0]
    rest = unit.text[unit.text.find(head) + len(head) :]
    parts = [head, *counter.split(rest, later_room)]
    located = _locate(unit.text, parts, unit.sep)
    counts = _count_all(counter, [part for _, part in located])
    return [_Unit(p, c, s) for (s, p), c in zip(located, counts, strict=True)]


def _join(lead: str, units: Sequence[_Unit]) -> str:
    parts = [lead] if lead else []
    for unit in units:
        if parts:
            parts.append(unit.sep)
        parts.append(unit.text)
    return "".join(parts).strip()


def _pack(units: Sequence[_Unit], counter: TokenCounter, settings: ChunkingSettings) -> list[str]:
    """Chunk texts of one section (rules 1-3 of the module docstring)."""
    queue = deque(units)
    # The most a continuation chunk's overlap can take (the overlap of a full chunk).
    later_room = max(1, settings.max_tokens - round(settings.overlap * settings.max_tokens))
    chunks: list[str] = []
    current: list[_Unit] = []
    used = 0
    lead, lead_tokens = "", 0
    while queue:
        unit = queue.popleft()
        room = settings.max_tokens - lead_tokens - used
        if unit.tokens <= room:
            current.append(unit)
            used += unit.tokens
            continue
        if current and lead_tokens + used >= settings.min_tokens:
            text = _join(lead, current)
            chunks.append(text)
            lead = _tail(counter, text, round(settings.overlap * (lead_tokens + used)))
            lead_tokens = counter.count(lead) if lead else 0
            current, used = [], 0
            queue.appendleft(unit)
            continue
        queue.extendleft(reversed(_finer(unit, room, later_room, counter)))
    if current:
        chunks.append(_join(lead, current))
    return chunks


def _common_prefix(paths: Sequence[tuple[str, ...]]) -> tuple[str, ...]:
    prefix = paths[0]
    for path in paths[1:]:
        size = 0
        while size < min(len(prefix), len(path)) and prefix[size] == path[size]:
            size += 1
        prefix = prefix[:size]
    return prefix


def _groups(
    sections: Sequence[Section], units: Sequence[list[_Unit]], settings: ChunkingSettings
) -> list[tuple[tuple[str, ...], str | None, list[_Unit]]]:
    """Sections as packing groups: large ones alone, runs of small ones merged (rule 4)."""
    groups: list[tuple[tuple[str, ...], str | None, list[_Unit]]] = []
    run: list[int] = []
    run_tokens = 0

    def close_run() -> None:
        if run:
            merged = [unit for index in run for unit in units[index]]
            path = _common_prefix([sections[index].heading_path for index in run])
            groups.append((path, sections[run[0]].anchor, merged))
            run.clear()

    for index, section in enumerate(sections):
        tokens = sum(unit.tokens for unit in units[index])
        if tokens >= settings.min_tokens:
            close_run()
            run_tokens = 0
            groups.append((section.heading_path, section.anchor, units[index]))
            continue
        if run and (run_tokens >= settings.min_tokens or run_tokens + tokens > settings.max_tokens):
            close_run()
            run_tokens = 0
        if units[index]:
            run.append(index)
            run_tokens += tokens
    close_run()
    return groups


def chunk_document(
    doc: ParsedDocument, counter: TokenCounter, settings: ChunkingSettings
) -> list[Chunk]:
    """Cut ``doc`` into chunks (rules in the module docstring).

    Args:
        doc: The parsed document.
        counter: Token counter (:class:`HFTokenCounter` for the default embedder).
        settings: Sizes in tokens and overlap.

    Returns:
        Chunks in document order, ``ordinal`` 0..n-1; every chunk has at most
        ``settings.max_tokens`` tokens (for counters whose counts add up over whitespace-
        joined pieces, as :class:`HFTokenCounter`), and every chunk that another chunk of the
        same section follows has at least ``settings.min_tokens``.
    """
    sections = [section for section in doc.sections if section.text.strip()]
    blocks = [[b.strip() for b in s.text.split("\n\n") if b.strip()] for s in sections]
    counts = iter(_count_all(counter, [block for section in blocks for block in section]))
    units = [[_Unit(block, next(counts), "\n\n") for block in section] for section in blocks]
    texts: list[tuple[str, tuple[str, ...], str | None]] = []
    for path, anchor, group in _groups(sections, units, settings):
        texts.extend((text, path, anchor) for text in _pack(group, counter, settings))
    token_counts = _count_all(counter, [text for text, _, _ in texts])
    return [
        Chunk(ordinal, text, tokens, path, anchor, content_hash(text))
        for ordinal, ((text, path, anchor), tokens) in enumerate(
            zip(texts, token_counts, strict=True)
        )
    ]
