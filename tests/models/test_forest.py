"""The compiled forest against scikit-learn's own prediction: equal to the last bit."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.ensemble import HistGradientBoostingClassifier

from models.forest import CHUNK_ROWS, compile_forest, raw_scores


def _fitted(seed: int, n_features: int, max_iter: int = 15) -> HistGradientBoostingClassifier:
    """A small model on random data with missing values, so splits send NaN both ways."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(400, n_features))
    y = (X[:, 0] + rng.normal(scale=0.5, size=400) > 0).astype(int)
    X[rng.random(X.shape) < 0.2] = np.nan
    X[:40, -1] = np.nan  # a block of missing values that predicts the class
    y[:40] = 1
    return HistGradientBoostingClassifier(max_iter=max_iter, max_leaf_nodes=7, random_state=seed).fit(X, y)


MODELS = [_fitted(0, 3), _fitted(1, 2), _fitted(2, 4, max_iter=1)]
COLUMNS = [np.array([0, 2, 4]), np.array([3, 1]), np.array([4, 0, 1, 2])]


def _reference(X: np.ndarray) -> np.ndarray:
    """Each model's raw score on its columns, the way scikit-learn computes it."""
    if not len(X):  # scikit-learn refuses an empty matrix
        return np.empty((0, len(MODELS)))
    return np.column_stack([m._raw_predict(X[:, c])[:, 0] for m, c in zip(MODELS, COLUMNS)]).reshape(len(X), -1)


values = st.one_of(st.floats(-4, 4), st.just(np.nan), st.just(np.inf), st.just(-np.inf), st.just(0.0))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(values, min_size=5, max_size=5), min_size=0, max_size=40))
def test_raw_scores_equal_scikit_learn_bit_for_bit(rows):
    X = np.array(rows, dtype=np.float64).reshape(len(rows), 5)
    forest = compile_forest(MODELS, COLUMNS)
    np.testing.assert_array_equal(raw_scores(forest, X), _reference(X))


@pytest.mark.parametrize("X", [np.empty((0, 5)), np.full((1, 5), np.nan), np.full((7, 5), np.nan),
                               np.random.default_rng(3).normal(size=(1, 5))])
def test_empty_single_row_and_all_missing(X):
    forest = compile_forest(MODELS, COLUMNS)
    out = raw_scores(forest, X)
    assert out.shape == (len(X), len(MODELS))
    np.testing.assert_array_equal(out, _reference(X))


def test_threads_and_chunks_do_not_change_a_score():
    X = np.random.default_rng(4).normal(size=(CHUNK_ROWS * 2 + 17, 5))
    X[::5, 1] = np.nan
    forest = compile_forest(MODELS, COLUMNS)
    one = raw_scores(forest, X, n_threads=1)
    np.testing.assert_array_equal(raw_scores(forest, X, n_threads=2), one)
    np.testing.assert_array_equal(raw_scores(forest, X[-1:], n_threads=2), one[-1:])
    np.testing.assert_array_equal(one, _reference(X))


def test_models_the_kernel_cannot_reproduce_are_refused():
    rng = np.random.default_rng(5)
    X = rng.integers(0, 3, size=(200, 2)).astype(float)
    y = rng.integers(0, 3, size=200)
    multiclass = HistGradientBoostingClassifier(max_iter=2).fit(X, y)
    with pytest.raises(ValueError, match="binary"):
        compile_forest([multiclass], [np.array([0, 1])])
    categorical = HistGradientBoostingClassifier(max_iter=2, categorical_features=[0]).fit(X, X[:, 0] == 1)
    with pytest.raises(ValueError, match="categorical|binary"):
        compile_forest([categorical], [np.array([0, 1])])


@settings(max_examples=30, deadline=None)
@given(st.lists(st.lists(values, min_size=5, max_size=5), min_size=0, max_size=30), st.integers(0, 2**32 - 1))
def test_a_member_scores_only_where_asked(rows, seed):
    """Where ``where`` holds, the score is scikit-learn's; elsewhere NaN."""
    X = np.array(rows, dtype=np.float64).reshape(len(rows), 5)
    where = np.random.default_rng(seed).random((len(X), len(MODELS))) < 0.5
    out = raw_scores(compile_forest(MODELS, COLUMNS), X, where=where)
    np.testing.assert_array_equal(out[where], _reference(X)[where])
    assert np.isnan(out[~where]).all()
    with pytest.raises(ValueError, match="where"):
        raw_scores(compile_forest(MODELS, COLUMNS), X, where=where[:, :1])


def test_rows_that_fall_alike_among_a_members_thresholds_are_walked_once(monkeypatch):
    """Columns with a handful of values (registry-only numbers): a member reading only those
    walks one row per group, and every score is still scikit-learn's."""
    import models.forest as forest_module

    rng = np.random.default_rng(6)
    n = forest_module.FEWEST_GROUPED_ROWS * 3
    X = rng.normal(size=(n, 5))
    X[:, [1, 3]] = rng.integers(0, 3, size=(n, 2))  # MODELS[1] reads columns 3 and 1 only
    X[rng.random(n) < 0.3, 3] = np.nan
    X[::7, 1] = -0.0  # equal to 0.0: the same bins, the same path
    forest = compile_forest(MODELS, COLUMNS)
    where = rng.random((n, len(MODELS))) < 0.9
    walked = []
    original = forest_module._scores

    def recorded(forest, X, where, n_threads):
        walked.append(where.sum(axis=0))
        return original(forest, X, where, n_threads)

    monkeypatch.setattr(forest_module, "_scores", recorded)
    out = raw_scores(forest, X, where=where)
    assert walked[0][1] <= 3 * 4  # 3 x (3 values or NaN) of MODELS[1]'s two columns
    np.testing.assert_array_equal(out[where], _reference(X)[where])
    assert np.isnan(out[~where]).all()


def _member_bins(forest, X: np.ndarray, member: int) -> tuple[np.ndarray, np.ndarray]:
    """Each row's bins among ``member``'s thresholds (:class:`ForestBins`), and its columns."""
    from models.forest import _column_bins

    bins = forest.bins
    column_bins = _column_bins(X, bins.columns, bins.cut_starts, bins.cuts)
    own = range(bins.member_starts[member], bins.member_starts[member + 1])
    translated = [bins.tables[bins.table_starts[i] + column_bins[bins.member_columns[i]]] for i in own]
    return np.column_stack(translated).reshape(len(X), len(own)), bins.columns[bins.member_columns[list(own)]]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(values, min_size=5, max_size=5), min_size=0, max_size=40))
def test_a_members_bins_say_which_side_of_each_of_its_splits_a_value_takes(rows):
    """For every split of a member's trees on column c at threshold t: x <= t exactly when x's
    bin is at most t's position among the member's thresholds on c, and NaN has a bin of its
    own, past them all."""
    X = np.array(rows, dtype=np.float64).reshape(len(rows), 5)
    forest = compile_forest(MODELS, COLUMNS)
    roots = np.append(forest.tree_root, forest.feature.size)
    for m in range(len(MODELS)):
        bins, columns = _member_bins(forest, X, m)
        nodes = np.arange(roots[forest.member_trees[m]], roots[forest.member_trees[m + 1]])
        nodes = nodes[forest.feature[nodes] >= 0]
        for j, column in enumerate(columns):
            cuts = np.unique(forest.threshold[nodes[forest.feature[nodes] == column]])
            x = X[:, column]
            assert (bins[np.isnan(x), j] == cuts.size + 1).all()
            for position, t in enumerate(cuts):
                np.testing.assert_array_equal((bins[:, j] <= position)[~np.isnan(x)], (x <= t)[~np.isnan(x)])


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(st.sampled_from([0.0, -0.0, 1.0, np.nan, 2.5, -3.0]), min_size=5, max_size=5), max_size=60),
       st.integers(0, 2**32 - 1))
def test_bin_groups_are_the_distinct_bins_led_by_their_first_row(values, seed):
    """Against numpy's distinct rows of the bins, in a hash table as small as allowed (so that
    rows meet in the same slots): one group per distinct bin row, led by its first row, in
    rows given in any order, with each group's bins; empty and single-row input included. Past
    ``most`` groups it says so."""
    from models.forest import _bin_groups, _column_bins

    X = np.array(values, dtype=np.float64).reshape(len(values), 5)
    forest = compile_forest(MODELS, COLUMNS)
    bins = forest.bins
    column_bins = _column_bins(X, bins.columns, bins.cut_starts, bins.cuts)
    rows = np.random.default_rng(seed).permutation(len(X))
    for m in range(len(MODELS)):
        lo, hi = bins.member_starts[m], bins.member_starts[m + 1]
        want = _member_bins(forest, X, m)[0][rows]
        distinct, want_first = np.unique(want, axis=0, return_index=True)
        most = len(rows)
        first, inverse, patterns, whole = _bin_groups(column_bins, rows, bins.member_columns[lo:hi],
                                                      bins.table_starts[lo:hi + 1], bins.tables,
                                                      1 << most.bit_length(), most)
        assert whole and first.size == len(distinct)
        np.testing.assert_array_equal(first, np.sort(want_first))
        np.testing.assert_array_equal(want[first][inverse], want)
        np.testing.assert_array_equal(patterns, want[first].reshape(first.size, hi - lo))
        if len(distinct) > 1:
            fewer = len(distinct) - 1
            assert not _bin_groups(column_bins, rows, bins.member_columns[lo:hi], bins.table_starts[lo:hi + 1],
                                   bins.tables, 1 << fewer.bit_length(), fewer)[3]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(st.sampled_from([-2.0, -0.5, 0.0, 1.0, 3.0]), unique=True, max_size=5).map(sorted),
                min_size=1, max_size=4),
       st.lists(values, max_size=40))
def test_column_bins_are_numpys_searchsorted(cuts, xs):
    """Each value's bin is ``np.searchsorted(cuts, x)`` (how many cuts lie below it) and NaN's
    is one past them all, for columns of zero to five cuts and values on, between and beyond
    them (infinities, -0.0 against a cut at 0.0); empty input included."""
    from models.forest import _column_bins

    X = np.array(xs, dtype=np.float64)[:, None].repeat(len(cuts), axis=1)
    flat = np.array([c for column in cuts for c in column], dtype=np.float64)
    starts = np.concatenate([[0], np.cumsum([len(c) for c in cuts])]).astype(np.int64)
    out = _column_bins(X, np.arange(len(cuts), dtype=np.int64), starts, flat)
    for j, column in enumerate(cuts):
        want = np.where(np.isnan(X[:, j]), len(column) + 1, np.searchsorted(np.array(column, dtype=np.float64), X[:, j]))
        np.testing.assert_array_equal(out[j], want)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(0, 12), min_size=0, max_size=6), st.integers(0, 2**32 - 1))
def test_breadth_first_puts_each_nodes_children_side_by_side(splits, seed):
    """Random trees in scikit-learn's depth-first numbering (a single leaf included): the new
    numbering is a permutation within each tree, roots stay first, and right = left + 1."""
    from models.forest import _breadth_first

    rng = np.random.default_rng(seed)
    left, right, leaf, roots, ends = [], [], [], [], []
    for n_splits in splits:
        roots.append(len(left))

        def grow(budget: int) -> int:  # depth-first: the node, its left subtree, then its right
            node = len(left)
            left.append(-1), right.append(-1), leaf.append(budget == 0)
            if budget:
                share = int(rng.integers(0, budget))
                left[node] = grow(share)
                right[node] = grow(budget - 1 - share)
            return node

        grow(n_splits)
        ends.append(len(left))
    as_array = [np.asarray(a, dtype=np.int64) for a in (left, right, roots, ends)]
    moved = _breadth_first(as_array[0], as_array[1], np.asarray(leaf, dtype=bool), as_array[2], as_array[3])
    for root, end in zip(roots, ends):
        assert sorted(moved[root:end]) == list(range(root, end)) and moved[root] == root
    for node in np.flatnonzero(~np.asarray(leaf, dtype=bool)):
        assert moved[right[node]] == moved[left[node]] + 1
