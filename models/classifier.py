"""``CategoryClassifier``: one gradient-boosted tree model per fraud category.

Each category reads its own subset of the feature table: the traffic categories (voice spam, SMS
spam, SIM-box) look at behaviour only, so a carrier that hands no registry scores them the same;
pre-activated SIMs look at the registry features and first-use behaviour, and also score registry
SIMs that made no call at all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.utils.validation import check_is_fitted, validate_data

#: The four categories of data-contract.md, in the order of every score array.
CATEGORIES: tuple[str, ...] = ("voice_spam", "sms_spam", "simbox", "preactivated_sim")


class CategoryClassifier(ClassifierMixin, BaseEstimator):
    """One :class:`~sklearn.ensemble.HistGradientBoostingClassifier` per category, each on its
    own columns of ``X``.

    Parameters
    ----------
    feature_sets : mapping of str to sequence of int, default=None
        For each category, the column indices of ``X`` it may use. ``None``: every category uses
        every column. Categories are those of ``CATEGORIES``, in that order.
    max_iter, learning_rate, max_leaf_nodes, min_samples_leaf, l2_regularization :
        Passed to each tree model.
    class_weight : "balanced" or None, default="balanced"
        Fraud is rare (well under 1% of numbers): weighting the classes keeps each model from
        learning that "nobody is a spammer" is nearly always right.
    random_state : int or None, default=None

    Attributes
    ----------
    estimators_ : list of HistGradientBoostingClassifier
        One per category.
    columns_ : list of ndarray of int
        The columns each estimator reads.
    n_features_in_ : int

    Notes
    -----
    ``fit`` takes ``Y`` of shape (n_samples, n_categories), one 0/1 column per category (a
    number may carry several labels). ``predict_proba`` returns, per category, the probability of
    the positive class, shape (n_samples, n_categories): the scores of data-contract.md.
    """

    def __init__(
        self,
        feature_sets: Mapping[str, Sequence[int]] | None = None,
        *,
        max_iter: int = 300,
        learning_rate: float = 0.08,
        max_leaf_nodes: int = 31,
        min_samples_leaf: int = 20,
        l2_regularization: float = 1.0,
        class_weight: str | None = "balanced",
        random_state: int | None = None,
    ) -> None:
        self.feature_sets = feature_sets
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.class_weight = class_weight
        self.random_state = random_state

    def fit(self, X: np.ndarray, Y: np.ndarray) -> CategoryClassifier:
        """Fit one model per category on its columns of ``X`` (NaN = missing)."""
        X = validate_data(self, X, ensure_all_finite="allow-nan", dtype=np.float64)
        Y = np.asarray(Y)
        if Y.ndim != 2 or Y.shape != (X.shape[0], len(CATEGORIES)):
            raise ValueError(f"Y must have shape (n_samples, {len(CATEGORIES)}), got {Y.shape}")
        self.columns_ = [self._columns(category, X.shape[1]) for category in CATEGORIES]
        self.estimators_ = []
        for k, columns in enumerate(self.columns_):
            y = Y[:, k].astype(np.int64)
            if np.unique(y).size < 2:
                raise ValueError(f"category {CATEGORIES[k]!r} needs positive and negative examples")
            model = HistGradientBoostingClassifier(
                max_iter=self.max_iter,
                learning_rate=self.learning_rate,
                max_leaf_nodes=self.max_leaf_nodes,
                min_samples_leaf=self.min_samples_leaf,
                l2_regularization=self.l2_regularization,
                class_weight=self.class_weight,
                early_stopping=False,
                random_state=self.random_state,
            )
            self.estimators_.append(model.fit(X[:, columns], y))
        self.classes_ = np.array([0, 1])
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Per category, the probability that each number belongs to it: (n_samples, n_categories)."""
        check_is_fitted(self)
        X = validate_data(self, X, ensure_all_finite="allow-nan", dtype=np.float64, reset=False)
        scores = np.empty((X.shape[0], len(CATEGORIES)))
        for k, (model, columns) in enumerate(zip(self.estimators_, self.columns_)):
            scores[:, k] = model.predict_proba(X[:, columns])[:, 1] if X.shape[0] else 0.0
        return scores

    def predict(self, X: np.ndarray) -> np.ndarray:
        """0/1 per category at probability 0.5 (the shipped thresholds live in the model file)."""
        return (self.predict_proba(X) >= 0.5).astype(np.int64)

    def _columns(self, category: str, n_features: int) -> np.ndarray:
        if self.feature_sets is None:
            return np.arange(n_features)
        columns = np.asarray(self.feature_sets[category], dtype=np.int64)
        if columns.size == 0 or columns.min() < 0 or columns.max() >= n_features:
            raise ValueError(f"feature_sets[{category!r}] must index columns 0..{n_features - 1}")
        return columns
