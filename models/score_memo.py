"""``ScoreMemo``: the raw scores a forest's members gave to bin patterns, kept from one call of
:func:`~models.forest.raw_scores` to the next.

A member's score of a row depends only on the row's pattern: its bins in the columns the member
splits on (:class:`~models.forest.ForestBins`). A partitioned run scores dozens of partitions
with one model, and they share most patterns: of the ~323k patterns the shipped model's members
met in a partition of the 50M-row week, partition 8 brought only 104k that partitions 1-7 had
not. The memo hands back what an earlier partition walked, so that only new patterns are walked.
It is exact: the same pattern takes the same path down the same trees.

Per member, an open-addressing hash table of patterns (one byte a bin) and their scores. It
grows by doubling until the memo holds ``max_bytes``; past that, new patterns are scored but no
longer remembered, so memory stays bounded on any input. Two partitions score at once on threads,
so a lock guards the tables. On partitions of the 50M-row week, after a first one: walking
took 130 ms a partition instead of 263, finding and adding the patterns ~55 ms; 58 MB held
1.6M patterns after 12 partitions.
"""

from __future__ import annotations

import threading

import numpy as np
from numba import njit

#: What a memo holds at most, in bytes (patterns, scores and hash slots).
MEMO_BYTES = 64 * 2**20
#: Patterns a member's table holds at first.
FIRST_CAPACITY = 1_024
#: The largest bin a remembered pattern can have (they are kept one byte a bin). A tree model
#: of scikit-learn has at most 255 bins a feature, so its member bins never pass it.
LARGEST_BIN = 255


class ScoreMemo:
    """Raw scores of bin patterns, per member, up to ``max_bytes`` in all.

    Thread-safe. Patterns are ``int32`` rows of bins, one per column the member splits on; a
    pattern with a bin above :data:`LARGEST_BIN` is never remembered (nor found).
    """

    def __init__(self, max_bytes: int = MEMO_BYTES) -> None:
        self.max_bytes = max_bytes
        self._tables: dict[int, _Table] = {}
        self._lock = threading.Lock()

    @property
    def nbytes(self) -> int:
        """The bytes the memo's tables take."""
        return sum(table.nbytes for table in self._tables.values())

    def __len__(self) -> int:
        return sum(table.count for table in self._tables.values())

    def find(self, member: int, patterns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(known, scores)``: whether each of ``patterns`` (int32, n × columns) is remembered
        for ``member``, and the scores of those that are, in order."""
        with self._lock:
            table = self._tables.get(member)
            if table is None or not table.count:
                return np.zeros(patterns.shape[0], dtype=np.bool_), np.empty(0)
            at = _find(np.ascontiguousarray(patterns, dtype=np.int32), table.patterns, table.slots)
            known = at >= 0
            return known, table.scores[at[known]]

    def add(self, member: int, patterns: np.ndarray, scores: np.ndarray) -> None:
        """Remember ``scores`` (float64, one per pattern) of ``patterns`` for ``member``, as many
        as fit; patterns already remembered are left as they are."""
        patterns = np.ascontiguousarray(patterns, dtype=np.int32)
        # A member that never splits has patterns of no bins: one pattern, remembered like any other.
        if not patterns.shape[0] or patterns.min(initial=0) < 0 or patterns.max(initial=0) > LARGEST_BIN:
            return
        with self._lock:
            table = self._tables.get(member)
            if table is None:
                if self.nbytes + _Table.bytes_for(FIRST_CAPACITY, patterns.shape[1]) > self.max_bytes:
                    return
                table = self._tables[member] = _Table(FIRST_CAPACITY, patterns.shape[1])
            if patterns.shape[1] != table.patterns.shape[1]:
                raise ValueError(f"member {member} has patterns of {table.patterns.shape[1]} bins, "
                                 f"got {patterns.shape[1]}")
            capacity = table.capacity
            while table.count + patterns.shape[0] > capacity:
                capacity *= 2
            grown = _Table.bytes_for(capacity, patterns.shape[1]) - table.nbytes
            if capacity > table.capacity and self.nbytes + grown <= self.max_bytes:
                table.grow(capacity)
            room = table.capacity - table.count
            table.count = _insert(patterns[:room], np.asarray(scores[:room], dtype=np.float64), table.count,
                                  table.patterns, table.scores, table.slots)


class _Table:
    """One member's patterns and scores, ``count`` of ``capacity`` used, and hash slots (twice
    the capacity, so at most half full) holding an entry's position plus one, or 0 if empty."""

    def __init__(self, capacity: int, width: int) -> None:
        self.count = 0
        self.patterns = np.empty((capacity, width), dtype=np.uint8)
        self.scores = np.empty(capacity, dtype=np.float64)
        self.slots = np.zeros(2 * capacity, dtype=np.int32)

    @property
    def capacity(self) -> int:
        return self.scores.shape[0]

    @staticmethod
    def bytes_for(capacity: int, width: int) -> int:
        return capacity * (width + 8 + 2 * 4)

    @property
    def nbytes(self) -> int:
        return self.bytes_for(self.capacity, self.patterns.shape[1])

    def grow(self, capacity: int) -> None:
        """Hold up to ``capacity`` entries, keeping those there (in their positions)."""
        patterns = np.empty((capacity, self.patterns.shape[1]), dtype=np.uint8)
        patterns[:self.count] = self.patterns[:self.count]
        scores = np.empty(capacity, dtype=np.float64)
        scores[:self.count] = self.scores[:self.count]
        self.patterns, self.scores = patterns, scores
        self.slots = _slots(patterns, self.count, 2 * capacity)


@njit(cache=True, nogil=True, inline="always")
def _hash(pattern):
    h = np.uint64(0x243F6A8885A308D3)
    for j in range(pattern.shape[0]):
        h = (h ^ np.uint64(pattern[j])) * np.uint64(0x9E3779B97F4A7C15)
        h ^= h >> np.uint64(29)
    return h


@njit(cache=True, nogil=True, inline="always")
def _same(stored, pattern):
    for j in range(pattern.shape[0]):
        if stored[j] != pattern[j]:
            return False
    return True


@njit(cache=True, nogil=True)
def _find(patterns, stored, slots):
    """Per row of ``patterns``, the position of the same row in ``stored`` (found through
    ``slots``), or -1."""
    at = np.full(patterns.shape[0], -1, dtype=np.int64)
    mask = np.uint64(slots.shape[0] - 1)
    for r in range(patterns.shape[0]):
        slot = _hash(patterns[r]) & mask
        while slots[slot]:
            e = slots[slot] - 1
            if _same(stored[e], patterns[r]):
                at[r] = e
                break
            slot = (slot + np.uint64(1)) & mask
    return at


@njit(cache=True, nogil=True)
def _insert(patterns, scores, count, stored, stored_scores, slots):
    """Add each row of ``patterns`` not yet in ``stored`` (its first ``count`` rows, found through
    ``slots``) at the end, with its score; returns the new count. The caller leaves room."""
    mask = np.uint64(slots.shape[0] - 1)
    for r in range(patterns.shape[0]):
        slot = _hash(patterns[r]) & mask
        while slots[slot] and not _same(stored[slots[slot] - 1], patterns[r]):
            slot = (slot + np.uint64(1)) & mask
        if not slots[slot]:
            for j in range(patterns.shape[1]):
                stored[count, j] = patterns[r, j]
            stored_scores[count] = scores[r]
            count += 1
            slots[slot] = count
    return count


@njit(cache=True, nogil=True)
def _slots(stored, count, size):
    """Hash slots (``size``, a power of two) for the first ``count`` rows of ``stored``."""
    slots = np.zeros(size, dtype=np.int32)
    mask = np.uint64(size - 1)
    for e in range(count):
        slot = _hash(stored[e]) & mask
        while slots[slot]:
            slot = (slot + np.uint64(1)) & mask
        slots[slot] = e + 1
    return slots
