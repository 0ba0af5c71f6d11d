"""The score memo against a dict, and the forest's scores with a memo against scikit-learn's."""

import threading
from unittest import mock

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.ensemble import HistGradientBoostingClassifier

import models.forest as forest_module
import models.score_memo as memo_module
from models.forest import compile_forest, raw_scores
from models.score_memo import LARGEST_BIN, ScoreMemo
from tests.models.test_forest import COLUMNS, MODELS, _reference

# Few distinct bins, so that patterns repeat and meet in the hash slots; now and then one too
# large to be remembered.
bins = st.one_of(st.integers(0, 3), st.just(LARGEST_BIN), st.just(LARGEST_BIN + 1))
batches = st.lists(st.lists(st.lists(bins, min_size=3, max_size=3), max_size=30), max_size=5)


@settings(max_examples=100, deadline=None)
@given(batches, st.lists(st.lists(bins, min_size=3, max_size=3), max_size=30))
def test_find_gives_what_add_remembered(added, asked):
    """Batches added one after the other (empty and single-row ones included), into a table
    that starts with room for two patterns and grows: each pattern is found with the score it
    was first added with, and nothing else is found. A batch holding a pattern with a bin past
    LARGEST_BIN is not remembered."""
    memo, want = ScoreMemo(), {}
    with mock.patch.object(memo_module, "FIRST_CAPACITY", 2):
        for b, batch in enumerate(added):
            patterns = np.array(batch, dtype=np.int32).reshape(len(batch), 3)
            if len(np.unique(patterns, axis=0)) < len(patterns):  # raw_scores adds distinct groups
                patterns = np.unique(patterns, axis=0)
            scores = np.arange(len(patterns)) + 100.0 * b
            memo.add(7, patterns, scores)
            if len(patterns) and patterns.max() <= LARGEST_BIN:
                for pattern, score in zip(map(tuple, patterns), scores):
                    want.setdefault(pattern, score)
    patterns = np.array(asked, dtype=np.int32).reshape(len(asked), 3)
    known, scores = memo.find(7, patterns)
    np.testing.assert_array_equal(known, [tuple(p) in want for p in patterns])
    np.testing.assert_array_equal(scores, [want[tuple(p)] for p in patterns if tuple(p) in want])
    assert len(memo) == len(want)
    assert not memo.find(8, patterns)[0].any()  # another member's table


def test_the_memo_stops_remembering_at_max_bytes():
    """Past its bytes, a memo scores nothing wrong: what it holds it finds, the rest it does
    not, and it never grows past ``max_bytes``."""
    patterns = np.array(np.unravel_index(np.arange(5_000), (10, 10, 50)), dtype=np.int32).T
    memo = ScoreMemo(max_bytes=40_000)
    for batch in np.array_split(np.arange(len(patterns)), 10):
        memo.add(0, patterns[batch], batch.astype(float))
    assert 0 < memo.nbytes <= 40_000
    known, scores = memo.find(0, patterns)
    assert 0 < known.sum() == len(memo) < len(patterns)
    np.testing.assert_array_equal(scores, np.flatnonzero(known).astype(float))
    assert not ScoreMemo(max_bytes=10).find(0, patterns)[0].any()


values = st.sampled_from([0.0, -0.0, 1.0, np.nan, 2.5, -3.0, -1.5, 0.4])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.lists(values, min_size=5, max_size=5), max_size=40), min_size=1, max_size=4),
       st.integers(0, 2**32 - 1))
def test_raw_scores_with_a_memo_are_scikit_learns(batches, seed):
    """Calls one after the other sharing a memo, every member grouping its rows: every score is
    scikit-learn's, bit for bit, and a batch scored again walks no row at all."""
    forest, memo = compile_forest(MODELS, COLUMNS), ScoreMemo()
    walked = []

    def recorded(forest, X, where, n_threads):
        walked.append(where.sum())
        return original(forest, X, where, n_threads)

    original = forest_module._scores
    rng = np.random.default_rng(seed)
    with mock.patch.object(forest_module, "FEWEST_GROUPED_ROWS", 1), \
            mock.patch.object(forest_module, "GROUPED_SHARE", 1.0), \
            mock.patch.object(forest_module, "_scores", recorded):
        for rows in batches:
            X = np.array(rows, dtype=np.float64).reshape(len(rows), 5)
            where = rng.random((len(X), len(MODELS))) < 0.8
            out = raw_scores(forest, X, where=where, memo=memo)
            np.testing.assert_array_equal(out[where], _reference(X)[where])
            assert np.isnan(out[~where]).all()
            again = raw_scores(forest, X, where=where, memo=memo)
            np.testing.assert_array_equal(again, out)
            assert walked[-1] == 0


def test_threads_sharing_a_memo_score_as_scikit_learn():
    """Two threads score their own rows over and over with one memo, as two partitions in flight
    do: the scores stay scikit-learn's."""
    forest, memo = compile_forest(MODELS, COLUMNS), ScoreMemo()
    rng = np.random.default_rng(8)
    batches = [rng.choice([0.0, 1.0, np.nan, 2.5, -3.0, -1.5], size=(forest_module.FEWEST_GROUPED_ROWS * 2, 5))
               for _ in range(6)]
    failures = []

    def score(batch_numbers):
        for b in batch_numbers:
            out = raw_scores(forest, batches[b], memo=memo, n_threads=1)
            if not np.array_equal(out, _reference(batches[b])):
                failures.append(b)

    threads = [threading.Thread(target=score, args=(order,)) for order in ([0, 1, 2, 3, 4, 5] * 2, [5, 3, 1, 0, 2, 4] * 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures
    assert len(memo) > 0


def test_a_member_that_never_splits_is_remembered_too():
    """Trees of one leaf each (no leaf may hold fewer rows than most of them): the member's rows
    have patterns of no bins, all one group, and its score is still scikit-learn's."""
    rng = np.random.default_rng(9)
    X = rng.normal(size=(100, 2))
    model = HistGradientBoostingClassifier(max_iter=3, min_samples_leaf=80).fit(X, rng.random(100) > 0.5)
    assert all(predictor.nodes.shape[0] == 1 for (predictor,) in model._predictors)
    forest, memo = compile_forest([model], [np.array([0, 1])]), ScoreMemo()
    with mock.patch.object(forest_module, "FEWEST_GROUPED_ROWS", 1):
        for _ in range(2):
            np.testing.assert_array_equal(raw_scores(forest, X, memo=memo)[:, 0], model._raw_predict(X)[:, 0])
    assert len(memo) == 1
