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


def test_members_that_see_few_distinct_rows_score_each_once_with_the_same_result(monkeypatch):
    """Columns with a handful of values (registry-only numbers): a member reading only those
    scores each distinct row once, and every score is still scikit-learn's."""
    import models.forest as forest_module

    rng = np.random.default_rng(6)
    n = forest_module.SAMPLE_ROWS * 3
    X = rng.normal(size=(n, 5))
    X[:, [1, 3]] = rng.integers(0, 3, size=(n, 2))  # MODELS[1] reads columns 3 and 1 only
    X[rng.random(n) < 0.3, 3] = np.nan
    X[::7, 1] = -0.0  # equal to 0.0, a different bit pattern: its own group, the same path
    forest = compile_forest(MODELS, COLUMNS)
    where = rng.random((n, len(MODELS))) < 0.9
    calls = []
    original = forest_module._distinct_rows

    def recorded(*args):
        calls.append(original(*args))
        return calls[-1]

    monkeypatch.setattr(forest_module, "_distinct_rows", recorded)
    out = raw_scores(forest, X, where=where)
    assert [c is not None for c in calls] == [False, True, False]  # only the member on the few values
    np.testing.assert_array_equal(out[where], _reference(X)[where])
    assert np.isnan(out[~where]).all()


def test_a_hash_collision_between_different_rows_only_costs_the_shortcut(monkeypatch):
    import models.forest as forest_module

    rng = np.random.default_rng(7)
    n = forest_module.SAMPLE_ROWS * 2
    X = rng.normal(size=(n, 5))
    X[:, [1, 3]] = rng.integers(0, 3, size=(n, 2))
    # Every row hashes alike: the rows grouped by hash are not all equal, so no grouping is used.
    monkeypatch.setattr(forest_module, "_row_hashes", lambda bits: np.zeros(len(bits), np.int64))
    assert forest_module._distinct_rows(X, np.arange(n), np.array([1, 3])) is None
    np.testing.assert_array_equal(raw_scores(compile_forest(MODELS, COLUMNS), X), _reference(X))


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


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(st.sampled_from([0.0, -0.0, 1.0, np.nan, 2.5]), min_size=3, max_size=3), max_size=40),
       st.lists(st.sampled_from([0, 2]), min_size=1, max_size=2))
def test_bit_groups_equal_distinct_bit_patterns(values, columns):
    """Against numpy: one group per distinct bit pattern (0.0 and -0.0 apart, NaN with NaN),
    each led by its first row; empty and single-row input included."""
    from models.forest import _bit_groups

    X = np.array(values, dtype=np.float64).reshape(len(values), 3)
    rows = np.arange(len(X))[::-1].copy()  # rows in any order, not only 0..n-1
    columns = np.array(columns)
    first, inverse = _bit_groups(X, rows, columns)
    bits = np.ascontiguousarray(X[np.ix_(rows, columns)]).view(np.uint64)
    distinct, want_first = np.unique(bits, axis=0, return_index=True)
    assert first.size == len(distinct)
    np.testing.assert_array_equal(bits[first][inverse], bits)
    np.testing.assert_array_equal(np.sort(first), np.sort(want_first))
