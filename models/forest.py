"""``Forest``: the tree members of a fitted model as flat arrays, scored one row at a time.

scikit-learn scores a gradient-boosted model one tree at a time over every row: the whole
feature matrix passes through memory once for each of the shipped model's ~950 trees. The
kernel here turns the loop inside out: a row is read once and walked down every tree while it
sits in cache, and the trees (a few MB) stay in cache across rows. Measured on 0.8M numbers and
2 threads: 10.5 s instead of 26 s.

A member whose trees split on only a few columns often sees the same few values in them on
most rows (a number with no traffic, scored on its registry); such a member scores each distinct
row once (:func:`raw_scores`).

The result is the same to the last bit: each member's raw score starts from its baseline and adds
its trees' leaf values in scikit-learn's order, and the same comparisons route each row (``NaN``
goes where the split sends missing values, else ``value <= threshold`` goes left).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from numba import njit
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.ensemble._hist_gradient_boosting.common import PREDICTOR_RECORD_DTYPE

from features.kernels import stable_argsort

#: Rows per task when scoring in threads: large enough that a task outweighs its dispatch (a
#: task of 4k rows walks ~3M nodes), small enough that the threads finish together (3 tasks of
#: 64k rows on 2 threads left one idle for a third of a 174k-row partition: 1.09 s against 0.87).
CHUNK_ROWS = 4_096
#: A member whose trees split on at most this many columns is checked for repeated rows...
FEW_COLUMNS = 8
#: ...on a sample of this many of its rows: scored once per distinct row when they are at most
#: a quarter of the rows (measured on a 174k-row partition: 5 of 15 members, 108 to 2,502
#: distinct rows each).
SAMPLE_ROWS = 4_096


@dataclass(frozen=True)
class Forest:
    """Every node of every tree of some binary :class:`HistGradientBoostingClassifier` models.

    Node arrays are indexed by a global node number. Each tree's nodes are consecutive, in
    breadth-first order from its root ``tree_root[t]``, so that a node's children are next to
    each other: the left one is ``left[node]``, the right one ``left[node] + 1``. ``feature`` is
    the column of the full feature matrix a node splits on (the member's own column mapping
    applied), or -1 for a leaf; a leaf's value is where a split node keeps its ``threshold``.
    Member ``m`` owns trees ``member_trees[m]`` to ``member_trees[m + 1]`` and starts from
    ``baseline[m]``. Three small arrays and children side by side: a step down a tree reads three
    cache lines where it read seven (1.59 s -> 1.14 s for a 174k-row partition on one thread).
    """

    feature: np.ndarray  # int32
    threshold: np.ndarray  # float64
    missing_left: np.ndarray  # bool
    left: np.ndarray  # int32
    tree_root: np.ndarray  # int64
    member_trees: np.ndarray  # int64
    baseline: np.ndarray  # float64


def compile_forest(models: Sequence[HistGradientBoostingClassifier], columns: Sequence[np.ndarray]) -> Forest:
    """Flatten fitted binary HGB models, each reading ``X[:, columns[m]]``, into one :class:`Forest`.

    Raises ``ValueError`` for a model this kernel cannot reproduce (categorical splits, more than
    one tree per iteration).
    """
    trees, features, roots, member_trees, baseline = [], [], [], [0], []
    offset = 0
    for model, cols in zip(models, columns, strict=True):
        if model.n_trees_per_iteration_ != 1 or model._preprocessor is not None:
            raise ValueError("only binary models on numeric features can be compiled")
        cols = np.asarray(cols, dtype=np.int64)
        for (predictor,) in model._predictors:
            if predictor.nodes["is_categorical"].any():
                raise ValueError("categorical splits cannot be compiled")
            trees.append(predictor.nodes)
            features.append(cols[predictor.nodes["feature_idx"]])
            roots.append(offset)
            offset += predictor.nodes.shape[0]
        member_trees.append(len(roots))
        baseline.append(float(np.ravel(model._baseline_prediction)[0]))
    nodes = np.concatenate([np.empty(0, PREDICTOR_RECORD_DTYPE), *trees])
    roots = np.asarray(roots, dtype=np.int64)
    # A tree's child indices are its own; shifted by where it starts, they index the whole forest.
    shift = np.repeat(roots, [tree.shape[0] for tree in trees])
    leaf = nodes["is_leaf"].astype(bool)
    left = nodes["left"].astype(np.int64) + shift
    moved = _breadth_first(left, nodes["right"].astype(np.int64) + shift, leaf, roots, np.append(roots[1:], offset))
    old = np.empty_like(moved)
    old[moved] = np.arange(moved.size)  # the old number of each node, in the new order
    return Forest(
        feature=np.where(leaf, -1, np.concatenate([np.empty(0, np.int64), *features]))[old].astype(np.int32),
        threshold=np.where(leaf, nodes["value"], nodes["num_threshold"]).astype(np.float64)[old],
        missing_left=nodes["missing_go_to_left"].astype(bool)[old],
        left=np.where(leaf, 0, moved[left])[old].astype(np.int32),
        tree_root=moved[roots],
        member_trees=np.asarray(member_trees, dtype=np.int64),
        baseline=np.asarray(baseline, dtype=np.float64),
    )


@njit(cache=True)
def _breadth_first(left, right, is_leaf, tree_root, tree_end):
    """The new number of each node when every tree's nodes, still from ``tree_root[t]`` to
    ``tree_end[t]``, are put in breadth-first order: the children of a node come out side by
    side. ``left``/``right`` are global node numbers (ignored for leaves)."""
    moved = np.empty(left.shape[0], dtype=np.int64)
    queue = np.empty(left.shape[0], dtype=np.int64)  # position p holds the node numbered p
    for t in range(tree_root.shape[0]):
        head, tail = tree_root[t], tree_root[t] + 1
        queue[head] = tree_root[t]
        moved[tree_root[t]] = head
        while head < tail:
            node = queue[head]
            head += 1
            if not is_leaf[node]:
                queue[tail], queue[tail + 1] = left[node], right[node]
                moved[left[node]], moved[right[node]] = tail, tail + 1
                tail += 2
        if tail != tree_end[t]:
            raise ValueError("a tree has nodes its root does not reach")
    return moved


def raw_scores(forest: Forest, X: np.ndarray, n_threads: int | None = None, where: np.ndarray | None = None
               ) -> np.ndarray:
    """Each member's raw score (log-odds) per row of ``X``: shape (n_rows, n_members).

    Equal, bit for bit, to each model's ``_raw_predict`` on its columns. Rows are split into
    chunks scored on ``n_threads`` threads (default: the CPUs this process may use). With
    ``where`` (bool, n_rows × n_members), a member scores only the rows where it holds; the
    others are NaN and cost nothing. A member that sees few distinct rows in the columns it
    splits on scores each once; equal rows take the same path, so the scores are the same.
    """
    X = np.ascontiguousarray(X, dtype=np.float64)
    n_members = forest.baseline.shape[0]
    if where is None:
        where = np.ones((X.shape[0], n_members), dtype=np.bool_)
    elif where.shape != (X.shape[0], n_members):
        raise ValueError(f"where must have shape {(X.shape[0], n_members)}, got {where.shape}")
    where = np.array(where, dtype=np.bool_)  # a copy: members scored by distinct rows drop out of it
    repeated = []
    for m in range(n_members):
        rows = np.flatnonzero(where[:, m])
        distinct = _distinct_rows(X, rows, _split_columns(forest, m))
        if distinct is not None:
            repeated.append((m, rows, *distinct))
            where[:, m] = False
    out = _scores(forest, X, where, n_threads)
    for m, rows, first, inverse in repeated:
        alone = np.zeros((first.size, n_members), dtype=np.bool_)
        alone[:, m] = True
        out[rows, m] = _scores(forest, X[first], alone, n_threads)[inverse, m]
    return out


def _split_columns(forest: Forest, member: int) -> np.ndarray:
    """The columns member ``member``'s trees split on."""
    # A member's trees are consecutive, and so are their nodes.
    roots = np.append(forest.tree_root, forest.feature.size)
    lo, hi = roots[forest.member_trees[member]], roots[forest.member_trees[member + 1]]
    return np.unique(forest.feature[lo:hi][forest.feature[lo:hi] >= 0]).astype(np.int64)


def _distinct_rows(X: np.ndarray, rows: np.ndarray, columns: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """``(first, inverse)``: the first of ``rows`` with each distinct bit pattern in ``columns``
    and, per row, which one it repeats; ``None`` when they are not few enough to be worth it."""
    if not 0 < columns.size <= FEW_COLUMNS or rows.size < SAMPLE_ROWS:
        return None
    for sample in (rows[:SAMPLE_ROWS], rows):
        groups = _bit_groups(X, sample, columns)
        if groups is None or 4 * groups[0].size > sample.size:
            return None
    first, inverse = groups
    return rows[first], inverse


def _bit_groups(X: np.ndarray, rows: np.ndarray, columns: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """``(first, inverse)`` over ``X[np.ix_(rows, columns)]``: the position in ``rows`` of the
    first row of each distinct bit pattern (bits, not values: rows grouped together are
    identical, so they score identically) and, per row, its group. Grouped by a hash of the row
    and checked, so a hash collision gives ``None`` instead of a wrong group. Read in place
    (numba), where gathering the columns and sorting in numpy took ~25 ms a member."""
    bits = _gather_bits(X.view(np.uint64), np.asarray(rows, dtype=np.int64), np.asarray(columns, dtype=np.int64))
    hashes = _row_hashes(bits)
    first, inverse, ok = _groups(bits, hashes, stable_argsort(hashes))
    return (first, inverse) if ok else None


@njit(cache=True, nogil=True)
def _gather_bits(bits, rows, columns):
    """``bits[np.ix_(rows, columns)]``, row by row (uint64)."""
    out = np.empty((rows.shape[0], columns.shape[0]), dtype=np.uint64)
    for r in range(rows.shape[0]):
        for c in range(columns.shape[0]):
            out[r, c] = bits[rows[r], columns[c]]
    return out


@njit(cache=True, nogil=True)
def _row_hashes(bits):
    """A 64-bit hash (as int64) of each row of ``bits`` (uint64)."""
    out = np.empty(bits.shape[0], dtype=np.int64)
    for r in range(bits.shape[0]):
        h = np.uint64(0x243F6A8885A308D3)
        for c in range(bits.shape[1]):
            h = (h ^ bits[r, c]) * np.uint64(0x9E3779B97F4A7C15)
            h ^= h >> np.uint64(29)
        out[r] = np.int64(h)
    return out


@njit(cache=True, nogil=True)
def _groups(bits, hashes, order):
    """Rows of ``bits`` in ``order`` (by hash, stable) cut into groups of equal hash: each
    group's first row, each row's group, and False if two rows of a group differ in a bit."""
    n = bits.shape[0]
    first = np.empty(n, dtype=np.int64)
    inverse = np.empty(n, dtype=np.int64)
    groups = 0
    for i in range(n):
        at = order[i]
        if i == 0 or hashes[at] != hashes[order[i - 1]]:
            first[groups] = at
            groups += 1
        else:
            lead = first[groups - 1]
            for c in range(bits.shape[1]):
                if bits[at, c] != bits[lead, c]:
                    return first[:0], inverse, False
        inverse[at] = groups - 1
    return first[:groups].copy(), inverse, True


def _scores(forest: Forest, X: np.ndarray, where: np.ndarray, n_threads: int | None) -> np.ndarray:
    """:func:`raw_scores` of every member where ``where`` holds, in row chunks on threads."""
    out = np.empty((X.shape[0], forest.baseline.shape[0]), dtype=np.float64)
    starts = range(0, X.shape[0], CHUNK_ROWS)
    n_threads = n_threads or len(os.sched_getaffinity(0))

    def score(start: int) -> None:
        stop = min(start + CHUNK_ROWS, X.shape[0])
        _raw_scores(X, start, stop, forest.feature, forest.threshold, forest.missing_left, forest.left,
                    forest.tree_root, forest.member_trees, forest.baseline, where, out)

    if n_threads <= 1 or len(starts) <= 1:
        for start in starts:
            score(start)
    else:
        # The kernel releases the GIL, so threads score their chunks side by side.
        with ThreadPoolExecutor(n_threads) as pool:
            list(pool.map(score, starts))
    return out


@njit(cache=True, nogil=True)
def _raw_scores(X, start, stop, feature, threshold, missing_left, left, tree_root, member_trees, baseline,
                where, out):
    """Fill ``out[start:stop]`` (float64, rows × members) with each member's raw score.

    ``X`` float64 rows × columns (NaN = missing); node arrays as in :class:`Forest`. Per row and
    member: the baseline, plus each of the member's trees' leaf value in tree order; NaN where
    ``where`` (bool, rows × members) does not hold. ``x <= threshold`` goes left, and so does
    NaN where the split sends missing values left (NaN compares false, so it is checked second).
    """
    for i in range(start, stop):
        for m in range(baseline.shape[0]):
            if not where[i, m]:
                out[i, m] = np.nan
                continue
            total = baseline[m]
            for t in range(member_trees[m], member_trees[m + 1]):
                node = tree_root[t]
                column = feature[node]
                while column >= 0:
                    x = X[i, column]
                    if x <= threshold[node] or (np.isnan(x) and missing_left[node]):
                        node = left[node]
                    else:
                        node = left[node] + 1
                    column = feature[node]
                total += threshold[node]  # a leaf keeps its value there
            out[i, m] = total
