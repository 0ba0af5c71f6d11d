"""``CategoryClassifier``: gradient-boosted tree models per fraud category.

Each category reads its own subset of the feature table: the traffic categories (voice spam, SMS
spam, SIM-box) look at behaviour only, so a carrier that hands no registry scores them the same;
pre-activated SIMs look at the registry features and first-use behaviour, and also score registry
SIMs that made no call at all.

Why groups: on textbook fraud any one giveaway (volume, say) separates fraud perfectly, so a single
tree model learns that one and nothing else; fraud that hides it then scores like everyone else.
With ``feature_groups``, a category's score is the mean of its full model and one model per group
of features (how much, whom, how the calls go, where and on what handset), each of which had to
find the fraud on its own evidence. Fraud that hides one kind of evidence still shows in others.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping, Sequence

import numpy as np
from numba import njit
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted, validate_data

from detector.contract import CATEGORIES
from models.forest import Forest, compile_forest, raw_scores
from models.score_memo import ScoreMemo

#: Rows the linear members score at a time (:meth:`CategoryClassifier._linear_probabilities`).
LINEAR_ROWS = 8_192
#: Each classifier's compiled tree members and their score memo, with the fitted list they were
#: compiled from (:meth:`CategoryClassifier._forest`).
_COMPILED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


class CategoryClassifier(ClassifierMixin, BaseEstimator):
    """One :class:`~sklearn.ensemble.HistGradientBoostingClassifier` per category, each on its
    own columns of ``X``.

    Parameters
    ----------
    feature_sets : mapping of str to sequence of int, default=None
        For each category, the column indices of ``X`` it may use. ``None``: every category uses
        every column. Categories are those of ``CATEGORIES``, in that order.
    feature_groups : mapping of str to sequence of sequence of int, default=None
        For each category, groups of column indices; each group gets a model of its own, and the
        category's score is the mean over its full model and its group models.
    linear : bool, default=False
        Add, per category, a logistic regression on the logarithms of its features. Trees cannot
        score beyond what they saw (a spammer at a tenth of the textbook volume looks like
        nobody); a linear model extrapolates, so fraud halfway to honest scores halfway.
    C : float, default=0.1
        Inverse regularisation strength of the logistic regressions.
    max_iter, learning_rate, max_leaf_nodes, min_samples_leaf, l2_regularization :
        Passed to each tree model.
    class_weight : "balanced" or None, default="balanced"
        Fraud is rare (well under 1% of numbers): weighting the classes keeps each model from
        learning that "nobody is a spammer" is nearly always right.
    mixup : float or mapping of str to float, default=0.0
        Extra training rows, as a share of ``X``'s rows, that blend a random positive of the
        category with a random negative (mixup); a mapping gives it per category (absent: 0).
        Textbook fraud sits far from everyone; a tree puts its cut anywhere in the empty gap
        between them and scores all of the gap like the honest side, so fraud that moves
        halfway (lower volume, a little cover traffic) is missed. Blends fill the gap with rows
        whose label is as much fraud as they hold, so the score rises gradually across it.
    categories : sequence of str, default=None
        The categories to fit (a subset of ``CATEGORIES``): labels may name only some of them
        (cli.md). ``None``: all four. ``Y`` still has a column per category of ``CATEGORIES``;
        the others' columns are ignored, and their scores are NaN (not scored).
    random_state : int or None, default=None

    Attributes
    ----------
    estimators_ : list of HistGradientBoostingClassifier
        Every member model: per category its full model, then one per group.
    columns_ : list of ndarray of int
        The columns each member reads.
    member_category_ : ndarray of int
        The category (index into ``CATEGORIES``) each member scores; a category without members
        was not fitted.
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
        feature_groups: Mapping[str, Sequence[Sequence[int]]] | None = None,
        *,
        linear: bool = False,
        C: float = 0.1,
        max_iter: int = 300,
        learning_rate: float = 0.08,
        max_leaf_nodes: int = 31,
        min_samples_leaf: int = 20,
        l2_regularization: float = 1.0,
        class_weight: str | None = "balanced",
        mixup: float | Mapping[str, float] = 0.0,
        categories: Sequence[str] | None = None,
        random_state: int | None = None,
    ) -> None:
        self.feature_sets = feature_sets
        self.feature_groups = feature_groups
        self.linear = linear
        self.C = C
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.class_weight = class_weight
        self.mixup = mixup
        self.categories = categories
        self.random_state = random_state

    def fit(self, X: np.ndarray, Y: np.ndarray) -> CategoryClassifier:
        """Fit one model per category on its columns of ``X`` (NaN = missing)."""
        X = validate_data(self, X, ensure_all_finite="allow-nan", dtype=np.float64)
        Y = np.asarray(Y)
        if Y.ndim != 2 or Y.shape != (X.shape[0], len(CATEGORIES)):
            raise ValueError(f"Y must have shape (n_samples, {len(CATEGORIES)}), got {Y.shape}")
        fitted = self._fitted_categories()
        self.columns_, members = [], []
        for k, category in enumerate(CATEGORIES):
            if category not in fitted:
                continue
            groups = (self.feature_groups or {}).get(category, ())
            full = self._columns(category, X.shape[1])
            for columns in (full, *(self._checked(g, X.shape[1]) for g in groups), *([full] if self.linear else [])):
                self.columns_.append(columns)
                members.append(k)
        self.member_category_ = np.asarray(members, dtype=np.int64)
        self.estimators_ = []
        rng = np.random.default_rng(self.random_state)
        for k, category in enumerate(CATEGORIES):
            if category not in fitted:
                continue
            y = Y[:, k].astype(np.int64)
            if np.unique(y).size < 2:
                raise ValueError(f"category {category!r} needs positive and negative examples")
            # One set of blends per category, shared by its members and dropped before the next.
            share = self.mixup.get(category, 0.0) if isinstance(self.mixup, Mapping) else self.mixup
            Xk, yk, weight = _blend(X, y, share, rng)
            own = np.flatnonzero(self.member_category_ == k)
            for m in own:
                self.estimators_.append(self._fit_member(Xk[:, self.columns_[m]], yk, weight,
                                                         linear=self.linear and m == own[-1]))
        self.classes_ = np.array([0, 1])
        return self

    def _fit_member(self, X: np.ndarray, y: np.ndarray, weight: np.ndarray, *, linear: bool) -> object:
        """One member on its columns: a tree model, or the category's linear model (its last)."""
        if linear:
            model = make_pipeline(
                SimpleImputer(strategy="constant", fill_value=0.0, add_indicator=True, keep_empty_features=True),
                StandardScaler(),
                LogisticRegression(C=self.C, class_weight=self.class_weight, max_iter=300, tol=1e-3),
            )
            return model.fit(_log_scale(X), y, logisticregression__sample_weight=weight)
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
        return model.fit(X, y, sample_weight=weight)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Per category, the probability that each number belongs to it: (n_samples, n_categories)."""
        return self.predict_proba_where(X)

    def predict_proba_where(self, X: np.ndarray, where: np.ndarray | None = None) -> np.ndarray:
        """:meth:`predict_proba`, computed only where ``where`` (bool, n_samples × n_categories)
        holds and 0 elsewhere: a caller that knows it will discard some scores (a number with no
        traffic of a kind) does not pay for them. Where it holds, equal to :meth:`predict_proba`."""
        check_is_fitted(self)
        X = validate_data(self, X, ensure_all_finite="allow-nan", dtype=np.float64, reset=False)
        n_categories = len(CATEGORIES)
        if where is None:
            where = np.ones((X.shape[0], n_categories), dtype=bool)
        elif where.shape != (X.shape[0], n_categories):
            raise ValueError(f"where must have shape {(X.shape[0], n_categories)}, got {where.shape}")
        if not X.shape[0]:
            return np.zeros((0, n_categories))
        # Category by category, contiguous: each member adds a whole row of it.
        scores = np.zeros((n_categories, X.shape[0]))
        # Row-major once for all members: the kernels read a row's values together.
        X = np.ascontiguousarray(X)
        trees = [m for m, model in enumerate(self.estimators_) if not isinstance(model, Pipeline)]
        # All tree members in one pass over the rows; equal to each model's predict_proba, bit for bit.
        forest, memo = self._forest(trees)
        raw = raw_scores(forest, X, where=where[:, self.member_category_[trees]], memo=memo)
        raw = dict(zip(trees, np.ascontiguousarray(raw.T)))
        linear = self._linear_probabilities(X, where)
        for m, (k, model) in enumerate(zip(self.member_category_, self.estimators_, strict=True)):
            rows = where[:, k]
            if not rows.any():
                continue
            # 0.0 outside rows (added in member order, it leaves each score's sum as it was).
            if isinstance(model, Pipeline):
                probability = linear[m]
            else:
                probability = np.where(rows, expit(raw[m]), 0.0)  # raw is NaN outside rows
            scores[k] += probability
        members = np.bincount(self.member_category_, minlength=n_categories)
        # A category that was not fitted (no members) has no score: NaN, not 0.
        return np.where(members > 0, scores.T / np.maximum(members, 1), np.nan)

    def _forest(self, trees: list[int]) -> tuple[Forest, ScoreMemo]:
        """The tree members ``trees`` compiled (:func:`~models.forest.compile_forest`), and the
        scores they gave so far (:class:`~models.score_memo.ScoreMemo`), once per fit: a run
        scores dozens of partitions with the same model (16 ms a partition to compile, and most
        of the patterns a partition's members walk, the partitions before it walked). Kept beside
        the model, not in it, so that a saved model holds only what scikit-learn fitted."""
        cached = _COMPILED.get(self)
        if cached is None or cached[0] is not self.estimators_ or cached[1] != trees:
            forest = compile_forest([self.estimators_[m] for m in trees], [self.columns_[m] for m in trees])
            cached = _COMPILED[self] = (self.estimators_, trees, forest, ScoreMemo())
        return cached[2], cached[3]

    def _linear_probabilities(self, X: np.ndarray, where: np.ndarray) -> dict[int, np.ndarray]:
        """Each linear member's probability on the rows where its category holds (0.0 elsewhere),
        by blocks of :data:`LINEAR_ROWS` rows: the logarithms of a block are taken once for all
        the members, and a block's arrays are small enough to be reused from one block to the
        next, where whole-matrix temporaries (~250 MB a 174k-row partition) were faulted in anew
        every time. Each row's value comes from that row alone, so blocks do not change it."""
        linear = {m: np.zeros(X.shape[0]) for m, model in enumerate(self.estimators_) if isinstance(model, Pipeline)}
        for start in range(0, X.shape[0] if linear else 0, LINEAR_ROWS):
            block = where[start:start + LINEAR_ROWS]
            logs = _log_scale(X[start:start + LINEAR_ROWS])
            for m, probability in linear.items():
                rows = np.flatnonzero(block[:, self.member_category_[m]])
                if rows.size:
                    probability[start + rows] = _linear_probability(self.estimators_[m], logs, rows, self.columns_[m])
        return linear

    def predict(self, X: np.ndarray) -> np.ndarray:
        """0/1 per category at probability 0.5 (the shipped thresholds live in the model file)."""
        return (self.predict_proba(X) >= 0.5).astype(np.int64)

    def _fitted_categories(self) -> frozenset[str]:
        """The categories ``fit`` fits: ``categories``, checked, or all of ``CATEGORIES``."""
        if self.categories is None:
            return frozenset(CATEGORIES)
        chosen = list(self.categories)
        unknown = [c for c in chosen if c not in CATEGORIES]
        if unknown or not chosen:
            raise ValueError(f"categories must be a non-empty subset of {', '.join(CATEGORIES)}, got {chosen}")
        return frozenset(chosen)

    def _columns(self, category: str, n_features: int) -> np.ndarray:
        if self.feature_sets is None:
            return np.arange(n_features)
        return self._checked(self.feature_sets[category], n_features)

    @staticmethod
    def _checked(columns: Sequence[int], n_features: int) -> np.ndarray:
        columns = np.asarray(columns, dtype=np.int64)
        if columns.size == 0 or columns.min() < 0 or columns.max() >= n_features:
            raise ValueError(f"feature sets and groups must index columns 0..{n_features - 1}, got {columns.tolist()}")
        return columns


def _linear_probability(model: Pipeline, X: np.ndarray, rows: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """The fitted scaler + logistic regression's probability of the positive class on
    ``X[np.ix_(rows, columns)]``, each row's from that row alone. scikit-learn's matrix product
    (BLAS) can round a row differently depending on the other rows of the batch (last bits,
    ~1e-18), and a number's score must not depend on which partition of a run it was scored in."""
    standardised = _standardised(model, X, rows, columns)
    return expit(np.einsum("ij,j->i", standardised, model[-1].coef_[0]) + model[-1].intercept_[0])


def _standardised(model: Pipeline, X: np.ndarray, rows: np.ndarray | None = None,
                  columns: np.ndarray | None = None) -> np.ndarray:
    """``model[:-1].transform(X[np.ix_(rows, columns)])`` (constant imputer with missing
    indicators, then the scaler; ``None``: every row, every column), the same values to the last
    bit in one pass that reads the rows and columns in place, instead of scikit-learn's five
    passes and checks over a gathered copy (the copies were 4 x 37 MB a partition)."""
    rows = np.arange(X.shape[0]) if rows is None else np.asarray(rows, dtype=np.int64)
    columns = np.arange(X.shape[1]) if columns is None else np.asarray(columns, dtype=np.int64)
    imputer, scaler = model[0], model[1]
    if not (imputer.strategy == "constant" and scaler.with_mean and scaler.with_std):
        return model[:-1].transform(X[np.ix_(rows, columns)])  # not as CategoryClassifier builds it
    # statistics_ is an object array for the constant strategy; its values go into a float X.
    indicators = imputer.indicator_.features_ if imputer.indicator_ is not None else np.empty(0, np.int64)
    return _standardise(np.asarray(X, dtype=np.float64), rows, columns, imputer.statistics_.astype(np.float64),
                        np.asarray(indicators, dtype=np.int64), scaler.mean_, scaler.scale_)


@njit(cache=True, nogil=True)
def _standardise(X, rows, columns, fill, indicators, mean, scale):
    """Of ``X[rows][:, columns]``: missing values filled, a 0/1 column per indicated column
    appended, each column less its mean and divided by its scale (in that order, as
    StandardScaler does): one pass. Serial: scoring runs beside the next partition's feature
    kernels, which hold numba's thread pool."""
    n, p = rows.shape[0], columns.shape[0]
    out = np.empty((n, p + indicators.shape[0]))
    for r in range(n):
        i = rows[r]
        for j in range(p):
            x = X[i, columns[j]]
            out[r, j] = ((fill[j] if np.isnan(x) else x) - mean[j]) / scale[j]
        for k in range(indicators.shape[0]):
            missing = np.isnan(X[i, columns[indicators[k]]])
            out[r, p + k] = ((1.0 if missing else 0.0) - mean[p + k]) / scale[p + k]
    return out


def _log_scale(X: np.ndarray) -> np.ndarray:
    """log(1 + x) of non-negative features (NaN stays NaN): rates and counts span orders of
    magnitude, and a linear model should weigh a tenfold rise the same at any level."""
    logs = np.maximum(X, 0.0)
    return np.log1p(logs, out=logs)  # in place: one array of the matrix's size, not two


def _blend(
    X: np.ndarray, y: np.ndarray, share: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``X`` and ``y`` plus ``share * len(y)`` blends of a random positive with a random negative,
    and the sample weights: each blend is entered once as positive with weight ``lam`` and once
    as negative with weight ``1 - lam``, where ``lam`` is how much of the positive it holds.

    Blends are taken on the log scale (a geometric mean of counts: a spammer at a quarter of the
    volume, not a quarter of a spammer plus three quarters of a person)."""
    n = int(round(share * y.size))
    if n == 0:
        return X, y, np.ones(y.size)
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    a, b = X[rng.choice(pos, n)], X[rng.choice(neg, n)]
    lam = rng.uniform(0.0, 1.0, n)
    mixed = np.expm1(lam[:, None] * _log_scale(a) + (1 - lam[:, None]) * _log_scale(b))
    # Where one side is missing (no calls at all), the nearer side decides.
    mixed = np.where(np.isnan(a) | np.isnan(b), np.where(lam[:, None] >= 0.5, a, b), mixed)
    Xb = np.concatenate([X, mixed, mixed])
    yb = np.concatenate([y, np.ones(n, np.int64), np.zeros(n, np.int64)])
    wb = np.concatenate([np.ones(y.size), lam, 1 - lam])
    return Xb, yb, wb
