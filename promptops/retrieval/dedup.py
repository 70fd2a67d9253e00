"""Near-duplicate filtering of chunks with MinHash and locality-sensitive hashing.

The resemblance of two texts is the Jaccard similarity ``|S(a) & S(b)| / |S(a) | S(b)|`` of
their sets of word shingles (here 5-grams of lower-cased words). MinHash estimates it without
comparing the sets: under a random permutation of the shingle universe, the probability that
both sets have the same minimum equals their Jaccard similarity, so the fraction of
``num_perm`` independent permutations on which the two minima agree is an unbiased estimate
with standard error ``sqrt(J (1 - J) / num_perm)`` (A. Z. Broder, "On the resemblance and
containment of documents", Compression and Complexity of Sequences 1997). MinHashLSH (banding:
Leskovec, Rajaraman & Ullman, *Mining of Massive Datasets*, ch. 3.4) finds the candidates
whose estimate is likely above the threshold without comparing against every stored text;
each candidate is then checked with the MinHash estimate itself.

The sketches are datasketch's (``affine32`` permutations, SHA-1 based 32-bit shingle hashes,
a fixed ``seed``), so results are the same in every process and on every run.
"""

from __future__ import annotations

import numpy as np
from datasketch import LeanMinHash, MinHash, MinHashLSH

__all__ = ["NearDuplicateFilter", "shingles"]


def shingles(text: str, size: int = 5) -> set[str]:
    """Word ``size``-grams of ``text`` (lower-cased, split on whitespace, joined by a space).

    A text of fewer than ``size`` words gives its whole word sequence as one shingle; an
    empty text gives the empty set.
    """
    words = text.lower().split()
    if len(words) <= size:
        return {" ".join(words)} if words else set()
    return {" ".join(words[i : i + size]) for i in range(len(words) - size + 1)}


class NearDuplicateFilter:
    """Keeps the first of each group of near-identical texts.

    Args:
        threshold: Estimated Jaccard similarity of word shingle sets at or above which a
            text is a near-duplicate of an earlier one (0 < threshold <= 1).
        num_perm: Permutations per MinHash (more: smaller estimation error, more memory).
        shingle_size: Words per shingle.
        seed: Seed of the permutations; sketches are only comparable with the same seed.

    Raises:
        ValueError: For a threshold outside ``(0, 1]``, ``num_perm < 2`` or
            ``shingle_size < 1``.
    """

    def __init__(
        self,
        threshold: float = 0.9,
        num_perm: int = 128,
        shingle_size: int = 5,
        seed: int = 1,
    ) -> None:
        if not 0 < threshold <= 1:
            raise ValueError(f"threshold must be in (0, 1], got {threshold}")
        if num_perm < 2:
            raise ValueError(f"num_perm must be >= 2, got {num_perm}")
        if shingle_size < 1:
            raise ValueError(f"shingle_size must be >= 1, got {shingle_size}")
        self.threshold = threshold
        self.num_perm = num_perm
        self.shingle_size = shingle_size
        self.seed = seed
        self._template = MinHash(num_perm=num_perm, seed=seed, scheme="affine32")
        self._lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
        self._sketches: dict[str, tuple[int, LeanMinHash]] = {}

    def __len__(self) -> int:
        """Number of texts kept."""
        return len(self._sketches)

    def __contains__(self, key: object) -> bool:
        return key in self._sketches

    def minhash(self, text: str) -> MinHash:
        """MinHash of the text's word shingles (see :func:`shingles`)."""
        sketch = MinHash(
            num_perm=self.num_perm,
            seed=self.seed,
            permutations=self._template.permutations,
            scheme="affine32",
        )
        sketch.update_batch(
            [shingle.encode("utf-8") for shingle in shingles(text, self.shingle_size)]
        )
        return sketch

    def similarity(self, a: str, b: str) -> float:
        """Estimated Jaccard similarity of two texts' shingle sets, in ``[0, 1]``."""
        return float(self.minhash(a).jaccard(self.minhash(b)))

    def add(self, key: str, text: str) -> str | None:
        """Keep ``text`` under ``key`` unless it nearly duplicates a kept text.

        Returns:
            The key of the most similar kept text whose estimated similarity is at least
            ``threshold`` (``text`` is then not kept), or ``None`` (``text`` is kept).

        Raises:
            ValueError: If ``key`` is already kept.
        """
        if key in self._sketches:
            raise ValueError(f"key {key!r} was already added")
        sketch = self.minhash(text)
        best: tuple[float, int, str] | None = None
        for candidate in self._lsh.query(sketch):
            order, kept = self._sketches[candidate]
            similarity = float(sketch.jaccard(kept))
            # Ties go to the earliest kept text, whatever order the LSH buckets give.
            if similarity >= self.threshold and (best is None or (similarity, -order) > best[:2]):
                best = (similarity, -order, str(candidate))
        if best is not None:
            return best[2]
        self._lsh.insert(key, sketch)
        self._sketches[key] = (len(self._sketches), LeanMinHash(sketch))
        return None

    # ----------------------------------------------------------- stored sketches (ingestion)

    def find(self, sketch: MinHash) -> str | None:
        """The key of the earliest kept sketch whose estimated similarity to ``sketch`` is at
        least ``threshold`` and is highest, or None (nothing is kept)."""
        best: tuple[float, int, str] | None = None
        for candidate in self._lsh.query(sketch):
            order, kept = self._sketches[candidate]
            similarity = float(sketch.jaccard(kept))
            if similarity >= self.threshold and (best is None or (similarity, -order) > best[:2]):
                best = (similarity, -order, str(candidate))
        return best[2] if best is not None else None

    def keep(self, key: str, sketch: MinHash | LeanMinHash) -> None:
        """Keep ``sketch`` under ``key`` (no check). Raises ValueError if ``key`` is kept."""
        if key in self._sketches:
            raise ValueError(f"key {key!r} was already added")
        lean = sketch if isinstance(sketch, LeanMinHash) else LeanMinHash(sketch)
        self._lsh.insert(key, lean)
        self._sketches[key] = (len(self._sketches), lean)

    def discard(self, key: str) -> None:
        """Forget ``key`` (nothing when it is not kept)."""
        if key in self._sketches:
            self._lsh.remove(key)
            del self._sketches[key]

    @staticmethod
    def to_bytes(sketch: MinHash | LeanMinHash) -> bytes:
        """The sketch's hash values as little-endian uint32 (``affine32`` values are below
        2**32): ``4 * num_perm`` bytes, for storage beside the chunk."""
        return np.asarray(sketch.hashvalues, dtype="<u4").tobytes()

    def from_bytes(self, data: bytes) -> LeanMinHash:
        """The sketch stored by :meth:`to_bytes` (same ``seed`` and ``num_perm``). Raises
        ValueError for data of the wrong length."""
        values = np.frombuffer(data, dtype="<u4")
        if len(values) != self.num_perm:
            raise ValueError(f"a stored sketch has {len(values)} values, expected {self.num_perm}")
        return LeanMinHash(seed=self.seed, hashvalues=values.astype(np.uint64), scheme="affine32")
