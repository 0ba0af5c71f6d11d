"""``Forest``: the tree members of a fitted model as flat arrays, scored one row at a time.

scikit-learn scores a gradient-boosted model one tree at a time over every row: the whole
feature matrix passes through memory once for each of the shipped model's ~950 trees. The
kernel here turns the loop inside out: a row is read once and walked down every tree while it
sits in cache, and the trees (a few MB) stay in cache across rows. Measured on 0.8M numbers and
2 threads: 10.5 s instead of 26 s.

A row's path through a member's trees depends only on where each of its values falls among the
thresholds that member compares that column with, and most rows share those places with many
others (a member reads a few columns, and splits each at a few dozen values): each member scores
one row of each such group and hands its score to the rest (:func:`raw_scores`). On the shipped
model and a 149k-number partition, 2.34M member-rows became 0.31M walks. The groups' scores
can be kept from one call to the next (:class:`~models.score_memo.ScoreMemo`): the partitions
of a run share most of them.

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

from models.score_memo import ScoreMemo


#: Rows per task when scoring in threads: large enough that a task outweighs its dispatch (a
#: task of 4k rows walks ~3M nodes), small enough that the threads finish together (3 tasks of
#: 64k rows on 2 threads left one idle for a third of a 174k-row partition: 1.09 s against 0.87).
CHUNK_ROWS = 4_096
#: A member scoring fewer rows than this walks every one of them (grouping would cost more).
FEWEST_GROUPED_ROWS = 4_096
#: A member's rows are scored one per group when the groups are at most this share of them.
GROUPED_SHARE = 0.75
#: Odd 64-bit multipliers, one per column of a member, of the hash that groups rows
#: (:func:`_bin_groups`). Fixed, so that a run groups rows the same way every time.
_HASH_STEPS = np.random.default_rng(0x5EED).integers(0, 2**63, size=64, dtype=np.uint64) * np.uint64(2) + np.uint64(1)


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
    ``bins`` tells which rows a member scores alike.
    """

    feature: np.ndarray  # int32
    threshold: np.ndarray  # float64
    missing_left: np.ndarray  # bool
    left: np.ndarray  # int32
    tree_root: np.ndarray  # int64
    member_trees: np.ndarray  # int64
    baseline: np.ndarray  # float64
    bins: ForestBins


@dataclass(frozen=True)
class ForestBins:
    """Where a value falls among the thresholds its column is split at: a row's path down a
    member's trees depends on nothing else.

    A value's bin in column ``columns[j]`` is how many of that column's thresholds in the whole
    forest, ``cuts[cut_starts[j]:cut_starts[j + 1]]`` (ascending, distinct), lie below it; NaN is
    one past them all. Member ``m`` splits on columns ``columns[member_columns[i]]`` for ``i`` in
    ``member_starts[m]`` to ``member_starts[m + 1]``, and ``tables[table_starts[i] + b]`` is the
    bin ``b`` among that member's own thresholds in that column: the same count, of fewer
    thresholds. A value is ``<=`` a threshold exactly when its count is at most the threshold's
    position, so two rows with the same member bins in every column it splits on take the same
    side at every split of its trees.
    """

    columns: np.ndarray  # int64
    cut_starts: np.ndarray  # int64
    cuts: np.ndarray  # float64
    member_starts: np.ndarray  # int64
    member_columns: np.ndarray  # int64
    table_starts: np.ndarray  # int64
    tables: np.ndarray  # int32


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
    feature = np.where(leaf, -1, np.concatenate([np.empty(0, np.int64), *features]))
    threshold = nodes["num_threshold"].astype(np.float64)
    member_trees = np.asarray(member_trees, dtype=np.int64)
    return Forest(
        feature=feature[old].astype(np.int32),
        threshold=np.where(leaf, nodes["value"], threshold)[old],
        missing_left=nodes["missing_go_to_left"].astype(bool)[old],
        left=np.where(leaf, 0, moved[left])[old].astype(np.int32),
        tree_root=moved[roots],
        member_trees=member_trees,
        baseline=np.asarray(baseline, dtype=np.float64),
        bins=_forest_bins(feature, threshold, np.append(roots, offset)[member_trees]),
    )


def _forest_bins(feature: np.ndarray, threshold: np.ndarray, member_nodes: np.ndarray) -> ForestBins:
    """The :class:`ForestBins` of the nodes ``feature`` (-1 for a leaf) and ``threshold``, member
    ``m`` owning nodes ``member_nodes[m]`` to ``member_nodes[m + 1]``."""
    split = feature >= 0
    columns, column_cuts = _distinct_cuts(feature[split], threshold[split])
    member_starts, member_columns, table_starts, tables = [0], [], [0], []
    for lo, hi in zip(member_nodes[:-1], member_nodes[1:]):
        own, own_cuts = _distinct_cuts(feature[lo:hi][split[lo:hi]], threshold[lo:hi][split[lo:hi]])
        for column, cuts in zip(own, own_cuts):
            j = int(np.searchsorted(columns, column))
            member_columns.append(j)
            # Forest bin b holds the values above the (b-1)-th forest cut and up to the b-th: the
            # member's cuts below them are those up to the (b-1)-th forest cut.
            table = np.concatenate([[0], np.searchsorted(cuts, column_cuts[j], side="right"), [cuts.size + 1]])
            tables.append(table)
            table_starts.append(table_starts[-1] + table.size)
        member_starts.append(len(member_columns))
    return ForestBins(
        columns=columns,
        cut_starts=np.concatenate([[0], np.cumsum([c.size for c in column_cuts], dtype=np.int64)]).astype(np.int64),
        cuts=np.concatenate([np.empty(0, np.float64), *column_cuts]),
        member_starts=np.asarray(member_starts, dtype=np.int64),
        member_columns=np.asarray(member_columns, dtype=np.int64),
        table_starts=np.asarray(table_starts, dtype=np.int64),
        tables=np.concatenate([np.empty(0, np.int32), *tables]).astype(np.int32),
    )


def _distinct_cuts(feature: np.ndarray, threshold: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """The distinct columns of split nodes ``feature``, and the distinct thresholds of each,
    ascending."""
    order = np.lexsort((threshold, feature))
    feature, threshold = feature[order], threshold[order]
    columns, starts = np.unique(feature, return_index=True)
    return columns.astype(np.int64), [np.unique(t) for t in np.split(threshold, starts[1:])] if columns.size else []


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


def raw_scores(forest: Forest, X: np.ndarray, n_threads: int | None = None, where: np.ndarray | None = None,
               memo: ScoreMemo | None = None) -> np.ndarray:
    """Each member's raw score (log-odds) per row of ``X``: shape (n_rows, n_members).

    Equal, bit for bit, to each model's ``_raw_predict`` on its columns. Rows are split into
    chunks scored on ``n_threads`` threads (default: the CPUs this process may use). With
    ``where`` (bool, n_rows × n_members), a member scores only the rows where it holds; the
    others are NaN and cost nothing. A member walks one row of each group of its rows that fall
    alike among its thresholds (:func:`_distinct_rows`): they take the same path down every one
    of its trees, so they have the same score. With ``memo``, a group whose score the memo has
    (from an earlier call with this forest) is not walked at all, and new groups' scores are
    added to it.
    """
    X = np.ascontiguousarray(X, dtype=np.float64)
    n_members = forest.baseline.shape[0]
    if where is None:
        where = np.ones((X.shape[0], n_members), dtype=np.bool_)
    elif where.shape != (X.shape[0], n_members):
        raise ValueError(f"where must have shape {(X.shape[0], n_members)}, got {where.shape}")
    where = np.array(where, dtype=np.bool_)  # a copy: grouped rows drop out of it but the first of each group
    grouped = []
    counts = where.sum(axis=0)
    if counts.max(initial=0) >= FEWEST_GROUPED_ROWS:
        bins = forest.bins
        column_bins = _column_bins(X, bins.columns, bins.cut_starts, bins.cuts)
        for m in np.flatnonzero(counts >= FEWEST_GROUPED_ROWS):
            rows = np.flatnonzero(where[:, m])
            groups = _distinct_rows(bins, m, column_bins, rows)
            if groups is None:
                continue
            first, inverse, patterns = groups
            if memo is None:
                known, known_scores = np.zeros(first.size, dtype=np.bool_), np.empty(0)
            else:
                known, known_scores = memo.find(int(m), patterns)
            grouped.append((m, rows, first, inverse, patterns, known, known_scores))
            where[rows, m] = False
            where[first[~known], m] = True
    out = _scores(forest, X, where, n_threads)
    for m, rows, first, inverse, patterns, known, known_scores in grouped:
        walked = ~known
        group_scores = np.empty(first.size)
        group_scores[known] = known_scores
        group_scores[walked] = out[first[walked], m]
        if memo is not None:
            memo.add(int(m), patterns[walked], group_scores[walked])
        _spread(out, m, rows, group_scores, inverse)
    return out


@njit(cache=True, nogil=True)
def _spread(out, member, rows, group_scores, inverse):
    """``out[rows, member] = group_scores[inverse]``, without numpy's fancy-index machinery
    (38 ms a partition for the members together, on a column of a row-major array)."""
    for i in range(rows.shape[0]):
        out[rows[i], member] = group_scores[inverse[i]]


def _distinct_rows(bins: ForestBins, member: int, column_bins: np.ndarray, rows: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """``(first, inverse, patterns)``: the first of ``rows`` of each group with the same
    ``member`` bins in every column it splits on (:class:`ForestBins`; ``column_bins`` from
    :func:`_column_bins`), per row its group, and each group's bins; ``None`` when the groups
    are more than :data:`GROUPED_SHARE` of the rows (grouping them would save too little)."""
    lo, hi = bins.member_starts[member], bins.member_starts[member + 1]
    most = int(GROUPED_SHARE * rows.size)
    slots = 1 << (2 * most).bit_length()  # a hash table at most half full
    first, inverse, patterns, whole = _bin_groups(column_bins, np.asarray(rows, dtype=np.int64),
                                                  bins.member_columns[lo:hi], bins.table_starts[lo:hi + 1],
                                                  bins.tables, slots, most)
    return (rows[first], inverse, patterns) if whole else None


@njit(cache=True, nogil=True)
def _column_bins(X, columns, cut_starts, cuts):
    """Each value's bin in ``X[:, columns]``, column by column (``out[j, r]`` for ``X[r,
    columns[j]]``): how many of its column's ``cuts`` (the ``j``-th column's at ``cut_starts[j]``
    to ``cut_starts[j + 1]``, ascending) lie below it (``np.searchsorted``'s left side); NaN is
    one past them all. The search halves the range with a conditional move rather than a
    branch, which the CPU cannot predict: 71 ms against 87 for ``np.searchsorted`` on a
    160k-row partition. Column by column, because each member reads a few columns of every
    row (:func:`_bin_groups`): 26 MB of rows read 19 times cost 135 ms, the columns it needs
    100."""
    out = np.empty((columns.shape[0], X.shape[0]), dtype=np.int32)
    for r in range(X.shape[0]):
        for j in range(columns.shape[0]):
            x = X[r, columns[j]]
            lo, n = cut_starts[j], cut_starts[j + 1] - cut_starts[j]
            if np.isnan(x):
                out[j, r] = n + 1
            elif n == 0:
                out[j, r] = 0
            else:
                base = lo
                while n > 1:  # cuts[lo:base] < x <= cuts[base + n:] (where they exist)
                    half = n >> 1
                    base = base + half if cuts[base + half] < x else base
                    n -= half
                out[j, r] = base - lo + (1 if cuts[base] < x else 0)
    return out


@njit(cache=True, nogil=True)
def _bin_groups(column_bins, rows, columns, table_starts, tables, slots, most):
    """Group ``rows`` by their bins in ``columns`` of ``column_bins``, each translated by its
    table (``tables[table_starts[j] + bin]`` for the ``j``-th column).

    Returns each group's first row (positions in ``rows``, ascending), each row's group, each
    group's translated bins, and whether all fit in ``most`` groups (else it stops there).
    Groups are found in a hash table of ``slots`` entries (a power of two, more than ``most``):
    the hash picks where to look, and the bins are compared in full there, so rows whose hashes
    meet are never merged. The hash adds
    up each bin times its own odd number (:data:`_HASH_STEPS`), products that the CPU works out
    side by side, and then mixes the sum once."""
    n, k = rows.shape[0], columns.shape[0]
    row_bins = np.empty(k, dtype=np.int32)
    group_bins = np.empty((most + 1, k), dtype=np.int32)
    table = np.full(slots, -1, dtype=np.int32)
    first = np.empty(n, dtype=np.int64)
    inverse = np.empty(n, dtype=np.int64)
    mask = np.uint64(slots - 1)
    groups = 0
    for r in range(n):
        h = np.uint64(0)
        row = rows[r]
        for j in range(k):
            b = tables[table_starts[j] + column_bins[columns[j], row]]
            row_bins[j] = b
            h += np.uint64(b) * _HASH_STEPS[j % _HASH_STEPS.shape[0]]
        h ^= h >> np.uint64(32)
        h *= np.uint64(0x9E3779B97F4A7C15)
        h ^= h >> np.uint64(29)
        slot = h & mask
        while True:
            g = table[slot]
            if g < 0:  # a new group
                if groups == most:
                    return first[:0], inverse, group_bins[:0], False
                table[slot] = groups
                group_bins[groups] = row_bins
                first[groups] = r
                inverse[r] = groups
                groups += 1
                break
            same = True
            for j in range(k):
                if group_bins[g, j] != row_bins[j]:
                    same = False
                    break
            if same:
                inverse[r] = g
                break
            slot = (slot + np.uint64(1)) & mask
    return first[:groups].copy(), inverse, group_bins[:groups].copy(), True


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
