"""CategoryClassifier on small synthetic problems: the sklearn contract and what mixup is for."""

import numpy as np
import pytest
from sklearn.base import clone

from detector.contract import CATEGORIES
from models.classifier import CategoryClassifier, _blend


def _gap_problem(rng, n=2000):
    """One feature: honest rows at 0-5 (a few calls a day), fraud at 100-600, nothing between."""
    y = (rng.random(n) < 0.05).astype(np.int64)
    x = np.where(y == 1, rng.uniform(100, 600, n), rng.uniform(0, 5, n))
    X = np.column_stack([x, rng.random(n)])  # plus a column of pure noise
    return X, np.tile(y[:, None], (1, len(CATEGORIES)))


def test_blend_adds_weighted_rows_between_a_positive_and_a_negative():
    X = np.array([[100.0, 50.0], [1.0, np.nan]])  # one positive, one negative: every blend pairs them
    y = np.array([1, 0])
    Xb, yb, wb = _blend(X, y, 3.0, np.random.default_rng(0))
    assert Xb.shape == (2 + 2 * 6, 2) and yb.shape == wb.shape == (14,)
    np.testing.assert_array_equal(Xb[:2], X)
    np.testing.assert_array_equal(yb, [1, 0] + [1] * 6 + [0] * 6)
    # Each blend is entered as positive with weight lam and as negative with weight 1 - lam.
    lam = wb[2:8]
    np.testing.assert_array_equal(Xb[2:8], Xb[8:])
    np.testing.assert_allclose(wb[8:], 1 - lam)
    assert ((lam >= 0) & (lam <= 1)).all() and (wb[:2] == 1).all()
    # Counts blend on the log scale; a value missing on one side comes from the side the blend
    # holds more of.
    np.testing.assert_allclose(Xb[2:8, 0], np.expm1(lam * np.log1p(100.0) + (1 - lam) * np.log1p(1.0)))
    np.testing.assert_array_equal(Xb[2:8, 1], np.where(lam >= 0.5, 50.0, np.nan))


def test_no_mixup_leaves_the_training_rows_alone():
    X, y = np.ones((4, 2)), np.array([1, 0, 0, 1])
    Xb, yb, wb = _blend(X, y, 0.0, np.random.default_rng(0))
    assert Xb is X and yb is y and (wb == 1).all()


def test_mixup_scores_rise_across_the_gap_between_honest_and_fraud():
    """Fraud halfway to honest (20 calls a day, between 5 and 100) must outrank honest people.
    Without blends, every tree cuts somewhere in the empty gap and 20 can land on either side."""
    X, Y = _gap_problem(np.random.default_rng(1))
    model = CategoryClassifier(mixup=0.5, max_iter=60, random_state=0).fit(X, Y)
    probe = np.column_stack([[2.0, 5.0, 10.0, 20.0, 50.0, 300.0], np.full(6, 0.5)])
    score = model.predict_proba(probe)[:, 0]
    assert np.all(np.diff(score) >= -1e-9), score
    assert score[3] > score[1] + 0.1 and score[4] > score[3], score


def test_mixup_is_reproducible_and_clonable():
    X, Y = _gap_problem(np.random.default_rng(2), n=600)
    a = CategoryClassifier(mixup=0.2, max_iter=10, random_state=3).fit(X, Y).predict_proba(X)
    b = clone(CategoryClassifier(mixup=0.2, max_iter=10, random_state=3)).fit(X, Y).predict_proba(X)
    np.testing.assert_array_equal(a, b)


def test_fit_rejects_a_category_without_positives():
    X, Y = _gap_problem(np.random.default_rng(4), n=200)
    Y[:, 2] = 0
    with pytest.raises(ValueError, match="simbox"):
        CategoryClassifier(max_iter=5).fit(X, Y)


def test_fits_only_the_categories_asked_for_and_scores_the_others_nan():
    X, Y = _gap_problem(np.random.default_rng(4), n=200)
    Y[:, 2] = 0  # no simbox positives: not asked for, so no error
    model = CategoryClassifier(max_iter=5, categories=["voice_spam", "preactivated_sim"]).fit(X, Y)
    assert set(model.member_category_.tolist()) == {0, 3}
    scores = model.predict_proba(X)
    assert np.isnan(scores[:, [1, 2]]).all() and ((scores[:, [0, 3]] >= 0) & (scores[:, [0, 3]] <= 1)).all()
    with pytest.raises(ValueError, match="categories must be"):
        CategoryClassifier(categories=["spam"]).fit(X, Y)


@pytest.mark.parametrize("block", [8_192, 64])
def test_a_rows_score_does_not_depend_on_the_rest_of_the_batch(block, monkeypatch):
    """Partitions of a run score different batches: every row's score must be bit-identical
    however the rows are batched (BLAS rounds a matrix product's rows by the batch's shape),
    and however the linear members cut them in blocks."""
    monkeypatch.setattr("models.classifier.LINEAR_ROWS", block)
    rng = np.random.default_rng(4)
    X, Y = _gap_problem(rng, n=3000)
    X = np.column_stack([X, rng.normal(size=(len(X), 30))])  # enough columns for BLAS to block
    model = CategoryClassifier(linear=True, max_iter=10, random_state=0).fit(X, Y)
    whole = model.predict_proba(X)
    for size in (1, 7, 777):
        parts = np.concatenate([model.predict_proba(X[i:i + size]) for i in range(0, len(X), size)])
        np.testing.assert_array_equal(parts, whole)


def test_scores_only_where_asked_equal_the_full_scores_there():
    rng = np.random.default_rng(5)
    X, Y = _gap_problem(rng, n=600)
    model = CategoryClassifier(linear=True, feature_groups={"voice_spam": [[0], [1]]}, max_iter=10,
                               random_state=0).fit(X, Y)
    whole = model.predict_proba(X)
    for where in (rng.random(whole.shape) < 0.3, np.zeros(whole.shape, bool), np.ones(whole.shape, bool)):
        some = model.predict_proba_where(X, where)
        np.testing.assert_array_equal(some[where], whole[where])
        assert (some[~where] == 0).all()
    with pytest.raises(ValueError, match="where"):
        model.predict_proba_where(X, np.ones((len(X), 2), bool))


@pytest.mark.parametrize("rows", [0, 1, 500])
def test_the_linear_members_transform_equals_scikit_learns_to_the_last_bit(rows):
    """The linear members skip scikit-learn's transform for speed: the values must not move."""
    from models.classifier import _log_scale, _standardised

    rng = np.random.default_rng(6)
    X, Y = _gap_problem(rng, n=600)
    X[rng.random(X.shape) < 0.2] = np.nan
    model = CategoryClassifier(linear=True, max_iter=5, random_state=0).fit(X, Y)
    assert any(hasattr(member, "steps") for member in model.estimators_)
    new = np.abs(rng.normal(size=(rows, X.shape[1]))) * 100
    new[rng.random(new.shape) < 0.3] = np.nan
    if rows:
        new[:, 0] = np.nan  # a column missing in every row
    some = np.flatnonzero(rng.random(rows) < 0.5)
    for member, columns in zip(model.estimators_, model.columns_):
        if hasattr(member, "steps"):
            logs = _log_scale(new[:, columns])
            if rows:
                np.testing.assert_array_equal(_standardised(member, logs), member[:-1].transform(logs))
                # Rows and columns read in place from the whole matrix, as the scores do.
                every = _log_scale(new)
                np.testing.assert_array_equal(_standardised(member, every, some, columns),
                                              member[:-1].transform(every[np.ix_(some, columns)]))
            else:  # scikit-learn refuses an empty batch; the shape is what there is to check
                assert _standardised(member, logs).shape == (0, member[-1].coef_.shape[1])


def test_a_refitted_model_scores_with_its_new_trees():
    """The compiled trees are kept between calls (a run scores many partitions), and a fit
    replaces them: scores after a refit equal a fresh model's."""
    X, Y = _gap_problem(np.random.default_rng(4), n=600)
    X2, Y2 = _gap_problem(np.random.default_rng(5), n=600)
    model = CategoryClassifier(max_iter=10, random_state=0).fit(X, Y)
    first = model.predict_proba(X)
    np.testing.assert_array_equal(model.predict_proba(X), first)
    refitted = model.fit(X2, Y2).predict_proba(X)
    np.testing.assert_array_equal(refitted, CategoryClassifier(max_iter=10, random_state=0).fit(X2, Y2).predict_proba(X))
    assert not np.array_equal(refitted, first)
    assert not any("forest" in name.lower() or "compiled" in name for name in vars(model))
