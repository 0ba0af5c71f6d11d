"""Training: from a feature table and labels to a :class:`~models.model_file.DetectorModel`.

What the model reads is chosen for carriers it has never seen: rates per day, shapes and ratios
(answer rate, call-length spread, callbacks, strangers, bursts), not totals over the window or
absolute dates, so a model trained on a week scores a single night's file too, and a carrier ten
times our size gets the same scores for the same behaviour. Dealer size is left out for the same
reason (it grows with the carrier).

Thresholds come from out-of-fold scores: each number is scored by a model that never saw it, and
each category's threshold is the lowest one whose held-out precision reaches the target.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import polars as pl
from sklearn.metrics import average_precision_score, precision_recall_curve
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

from detector.contract import CATEGORIES
from models.classifier import CategoryClassifier
from models.model_file import DEFAULT_PRECISION, DetectorModel

#: Traffic behaviour: what voice spam, SMS spam and SIM-box SIMs are scored on.
BEHAVIOUR: tuple[str, ...] = (
    "voice_answered_ratio", "voice_dur_mean", "voice_dur_median", "voice_short_ratio", "voice_very_short_ratio",
    "voice_dur_entropy", "gap_cv", "seq_callee_ratio", "reciprocity", "voice_unrelated_ratio",
    "voice_out_new_callee_ratio", "voice_callee_block_ratio", "night_ratio", "active_hours", "distinct_cells",
    "distinct_imeis", "imei_max_sims", "voice_out_per_day_mean", "voice_out_per_day_max",
    "voice_out_distinct_per_day_mean", "voice_out_distinct_per_day_max", "voice_burst_10m_max",
    "sms_out_per_day_mean", "sms_out_per_day_max", "sms_out_distinct_per_day_mean", "sms_reciprocity",
    "sms_reply_ratio", "voice_in_per_day_mean", "sms_in_per_day_mean", "in_out_ratio",
    "active_day_share", "intl_out_ratio",
)
#: Registration and first use: what pre-activated SIMs are scored on (null without a registry).
REGISTRATION: tuple[str, ...] = (
    "prepaid", "sims_per_id", "dealer_burst_1h", "msisdn_run_length", "days_to_first_use", "activation_age_days",
    "first_use_away_from_activation", "dealer_dormant_share", "dealer_over_id_cap_share", "active_day_share",
    "voice_out_per_day_mean", "sms_out_per_day_mean", "voice_in_per_day_mean", "in_out_ratio", "reciprocity",
    "voice_unrelated_ratio",
)
FEATURE_SETS: dict[str, tuple[str, ...]] = {
    "voice_spam": BEHAVIOUR,
    "sms_spam": BEHAVIOUR,
    "simbox": BEHAVIOUR,
    "preactivated_sim": REGISTRATION,
}
#: Kinds of evidence, each of which must find the fraud on its own (see models/classifier.py).
TRAFFIC_GROUPS: tuple[tuple[str, ...], ...] = (
    # Whom: strangers, callbacks, replies.
    ("reciprocity", "voice_unrelated_ratio", "voice_out_new_callee_ratio", "in_out_ratio", "voice_in_per_day_mean",
     "sms_in_per_day_mean", "sms_reciprocity", "sms_reply_ratio"),
    # How the calls go: answered, how long, how varied.
    ("voice_answered_ratio", "voice_dur_mean", "voice_dur_median", "voice_short_ratio", "voice_very_short_ratio",
     "voice_dur_entropy"),
    # How much and when.
    ("voice_out_per_day_mean", "voice_out_per_day_max", "voice_out_distinct_per_day_mean",
     "voice_out_distinct_per_day_max", "voice_burst_10m_max", "sms_out_per_day_mean", "sms_out_per_day_max",
     "sms_out_distinct_per_day_mean", "gap_cv", "night_ratio", "active_hours", "active_day_share"),
    # Which numbers, from where, on what handset.
    ("seq_callee_ratio", "voice_callee_block_ratio", "intl_out_ratio", "distinct_cells", "distinct_imeis",
     "imei_max_sims"),
)
REGISTRATION_GROUPS: tuple[tuple[str, ...], ...] = (
    ("prepaid", "sims_per_id", "dealer_over_id_cap_share"),
    ("prepaid", "dealer_burst_1h", "msisdn_run_length", "dealer_dormant_share"),
    ("prepaid", "days_to_first_use", "activation_age_days", "first_use_away_from_activation", "active_day_share",
     "voice_out_per_day_mean", "sms_out_per_day_mean", "voice_in_per_day_mean", "in_out_ratio"),
)
FEATURE_GROUPS: dict[str, tuple[tuple[str, ...], ...]] = {
    "voice_spam": TRAFFIC_GROUPS,
    "sms_spam": TRAFFIC_GROUPS,
    "simbox": TRAFFIC_GROUPS,
    "preactivated_sim": REGISTRATION_GROUPS,
}
#: Blends of fraud with honest rows added to training, as a share of the rows, per category (see
#: ``CategoryClassifier(mixup=...)``). Trained on textbook fraud alone and scored on careful fraud
#: (two pairs of 20k-subscriber weeks, through ``models.scoring``), 0.1 took PR-AUC from
#: 0.77-0.80 / 0.53-0.94 / 0.79-0.85 (voice / SMS / SIM-box) to 0.94-0.99 / 0.99-1.00 / 0.94-0.99.
#: None for pre-activation: its registration evidence has a legal line (3 SIMs per ID), and a
#: blend halfway to it is a lawful family, not half a fraud. With blends its careful PR-AUC fell
#: (0.97-0.98 without; 0.96 at 0.1, 0.80 at 0.02 on one pair) and families and enterprise batches
#: were flagged on a held-out world (flagged precision 1.0 -> 0.62 at 0.1).
MIXUP: dict[str, float] = {"voice_spam": 0.1, "sms_spam": 0.1, "simbox": 0.1}
#: Every column the model reads, in the order of its ``X``.
MODEL_FEATURES: list[str] = list(dict.fromkeys(BEHAVIOUR + REGISTRATION))


def feature_matrix(features: pl.DataFrame, names: Sequence[str] = MODEL_FEATURES) -> np.ndarray:
    """The model's ``X``: the named columns as float64, nulls as NaN (the trees route them)."""
    return features.select(pl.col(n).cast(pl.Float64).fill_null(np.nan) for n in names).to_numpy()


def label_matrix(features: pl.DataFrame, labels: pl.DataFrame) -> np.ndarray:
    """The model's ``Y``: per row of ``features``, 0/1 per category (numbers without a label row
    are negatives). ``labels`` as from :func:`detector.inputs.labels.read_labels`."""
    joined = features.select("msisdn").join(labels, on="msisdn", how="left", maintain_order="left")
    return joined.select(pl.col(c).fill_null(False).cast(pl.Int64) for c in CATEGORIES).to_numpy()


def train_model(
    features: pl.DataFrame,
    labels: pl.DataFrame,
    *,
    precision: float = DEFAULT_PRECISION,
    folds: int = 4,
    params: Mapping[str, object] | None = None,
    random_state: int = 0,
    summary: Mapping[str, object] | None = None,
    grouped: bool = True,
    sources: np.ndarray | None = None,
    progress: Callable[[str], None] | None = None,
    columns: Sequence[str] | None = None,
    copies: np.ndarray | None = None,
) -> DetectorModel:
    """Fit the classifier on every labelled row and pick each category's threshold for
    ``precision`` from out-of-fold scores.

    Parameters
    ----------
    features:
        The feature table (:func:`features.build.build_features`), with every column of
        :data:`MODEL_FEATURES`; or, with ``columns``, a table of the user's own.
    labels:
        ``msisdn`` plus a boolean column per category.
    folds:
        Folds of the out-of-fold scores the thresholds and curves come from.
    params:
        Extra :class:`CategoryClassifier` parameters (``max_iter``, ``learning_rate``...).
    summary:
        Extra facts for the model file's training summary (worlds, seeds...).
    sources:
        Per row, the dataset it came from (a carrier, a world). Given, the folds hold whole
        datasets out, so thresholds reflect how the model does on data it has never seen, not on
        more of the same; this is what the shipped model uses.
    grouped:
        Average each category's full model with one model per kind of evidence
        (:data:`FEATURE_GROUPS`), so fraud that hides one giveaway is still found by the others.

    progress:
        Called with a short line as each of the ``folds + 1`` fits starts (``fold 2 of 4``,
        ``final model``): training takes minutes on a carrier's numbers.
    columns:
        The columns to read, of a table of the user's own (a carrier's aggregates, cli.md
        ``--features``): every category reads all of them, without groups (which column is which
        kind of evidence is not known), blends or linear members (both take logarithms, made for
        non-negative rates and counts). ``None``: the engine's own table, read as
        :data:`MODEL_FEATURES` by :data:`FEATURE_SETS`, :data:`FEATURE_GROUPS` and :data:`MIXUP`.
    copies:
        Per row (bool), whether it is a copy of another row made only to be fitted on (the
        shipped model's rows with the columns an export may lack masked: models/train_shipped.py).
        Copies are fitted and scored out of fold like every row (keep a copy in its original's
        ``sources``), but the curves, thresholds, held-out PR-AUC and counts of positives come
        from the other rows: a copy is not another number, and the thresholds are for the
        numbers as they were.

    A category with fewer than ``folds`` positives is not trained (labels may name only some
    categories, cli.md): the model has no threshold or curve for it, and ``summary["positives"]``
    says how many it had. Raises ``ValueError`` when no category has enough.
    """
    names = list(MODEL_FEATURES) if columns is None else list(columns)
    missing = [n for n in names if n not in features.columns]
    if missing:
        raise ValueError(f"the feature table lacks {', '.join(missing)}")
    X = feature_matrix(features, names)
    Y = label_matrix(features, labels)
    if copies is not None and len(copies) != X.shape[0]:
        raise ValueError(f"copies has {len(copies)} values for {X.shape[0]} rows")
    own = np.ones(X.shape[0], dtype=bool) if copies is None else ~np.asarray(copies, dtype=bool)
    positives = {c: int(Y[own, k].sum()) for k, c in enumerate(CATEGORIES)}
    trained = [c for c in CATEGORIES if positives[c] >= folds]
    if not trained:
        counts = ", ".join(f"{c} {n}" for c, n in positives.items())
        raise ValueError(f"too few labelled numbers in every category to train on ({counts}; need at least {folds} "
                         "in one)")
    # A column with no value in any row (a call graph has no per-day or handset features) says
    # nothing to learn from, and the trees cannot bin it: the model reads the others.
    known = {n for k, n in enumerate(names) if not np.isnan(X[:, k]).all()}
    if not known:
        raise ValueError("no feature column has a value in any row")
    wanted_sets = FEATURE_SETS if columns is None else dict.fromkeys(CATEGORIES, tuple(names))
    sets = {c: [names.index(n) for n in wanted_sets[c] if n in known] for c in trained}
    groups = ({c: [g for g in ([names.index(n) for n in group if n in known] for group in FEATURE_GROUPS[c])
                   if g] for c in trained}
              if grouped and columns is None else None)
    make = dict(params or {})
    make.setdefault("random_state", random_state)
    make["feature_groups"] = groups
    make.setdefault("linear", grouped and columns is None)
    make.setdefault("mixup", MIXUP if columns is None else 0.0)
    # None when all four are trained: the estimator as it was before labels could name some.
    make["categories"] = None if len(trained) == len(CATEGORIES) else trained
    # The few positives of a category not trained would only unbalance the folds' strata.
    Y[:, [k for k, c in enumerate(CATEGORIES) if c not in trained]] = 0

    held_out = _out_of_fold_scores(lambda: CategoryClassifier(sets, **make), X, Y, folds, random_state, sources,
                                   progress)
    curves, thresholds, pr_auc = {}, {}, {}
    for k, category in enumerate(CATEGORIES):
        if category not in trained:
            continue
        curves[category] = _thin_curve(*precision_recall_curve(Y[own, k], held_out[own, k]))
        pr_auc[category] = float(average_precision_score(Y[own, k], held_out[own, k]))
    if progress is not None:
        progress("final model")
    estimator = CategoryClassifier(sets, **make).fit(X, Y)
    model = DetectorModel(
        estimator=estimator,
        features=names,
        thresholds={},
        precision=precision,
        curves=curves,
        summary={
            "trained": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "rows": int(own.sum()),
            **({"copies": int(X.shape[0] - own.sum())} if copies is not None else {}),
            "positives": positives,
            "held_out_pr_auc": pr_auc,
            "folds": folds,
            "grouped": grouped,
            **dict(summary or {}),
        },
        categories=trained,
    )
    for category in trained:
        thresholds[category] = model.threshold_for(category, precision)
    model.thresholds = thresholds
    return model


def _thin_curve(precision: np.ndarray, recall: np.ndarray, threshold: np.ndarray, *, keep_above: float = 0.5,
                max_points: int = 500) -> dict[str, np.ndarray]:
    """A precision-recall curve small enough to ship: every point whose precision reaches
    ``keep_above`` (where thresholds are picked) and at most ``max_points`` of the rest. A full
    curve has a point per distinct score, hundreds of thousands on a carrier's data."""
    n = threshold.size
    keep = precision[:n] >= keep_above
    rest = np.flatnonzero(~keep)
    if rest.size > max_points:
        rest = rest[np.linspace(0, rest.size - 1, max_points).astype(np.int64)]
    keep[rest] = True
    points = np.flatnonzero(keep)
    # The final (precision 1, recall 0) point has no threshold; it stays.
    return {"precision": np.append(precision[points], precision[-1]),
            "recall": np.append(recall[points], recall[-1]), "threshold": threshold[points]}


def _out_of_fold_scores(make, X: np.ndarray, Y: np.ndarray, folds: int, random_state: int,
                        sources: np.ndarray | None = None,
                        progress: Callable[[str], None] | None = None) -> np.ndarray:
    """Each row's scores from the fold model that did not see it. Folds are stratified on the
    row's first category, so every fold holds some of each kind of fraud; with ``sources``, whole
    sources are held out together."""
    strata = np.where(Y.any(axis=1), Y.argmax(axis=1) + 1, 0)
    scores = np.zeros(Y.shape, dtype=np.float64)
    splitter = (StratifiedKFold(folds, shuffle=True, random_state=random_state).split(X, strata) if sources is None
                else StratifiedGroupKFold(folds, shuffle=True, random_state=random_state).split(X, strata, sources))
    for fold, (fit_rows, test_rows) in enumerate(splitter, 1):
        if progress is not None:
            progress(f"fold {fold} of {folds}")
        scores[test_rows] = make().fit(X[fit_rows], Y[fit_rows]).predict_proba(X[test_rows])
    return scores
