"""Evaluation: how well scores and a flagged list match known labels, per category.

Numbers with a label but no score (never seen in the input) count as missed: their score is 0.
A category whose scores are all null was not scored (the model was not trained for it): its row
gives its positives and nothing else (:func:`unscored_categories`).
"""

from __future__ import annotations

import numpy as np
import polars as pl
from sklearn.metrics import average_precision_score, roc_curve

from detector.contract import CATEGORIES

#: False-positive rates at which recall is reported.
FALSE_POSITIVE_RATES = (0.01, 0.001)


def evaluate(scores: pl.DataFrame, labels: pl.DataFrame, flagged: pl.DataFrame | None = None) -> pl.DataFrame:
    """One row per category: positives, PR-AUC, recall at 1% and 0.1% false-positive rate, and,
    with a flagged list, how many were flagged and that list's precision and recall.

    Parameters
    ----------
    scores:
        ``msisdn`` and ``score_<category>`` (``scores.parquet``).
    labels:
        ``msisdn`` plus a boolean column per category (:func:`detector.inputs.labels.read_labels`).
    flagged:
        ``msisdn``, ``category`` (``flagged.csv``), optional.
    """
    unscored = set(unscored_categories(scores))
    table = scores.join(labels, on="msisdn", how="full", coalesce=True).with_columns(
        [pl.col(f"score_{c}").fill_null(0.0) for c in CATEGORIES] + [pl.col(c).fill_null(False) for c in CATEGORIES]
    )
    rows = []
    for category in CATEGORIES:
        y = table[category].to_numpy().astype(np.int64)
        s = table[f"score_{category}"].to_numpy()
        row: dict[str, object] = {"category": category, "positives": int(y.sum()), "numbers": int(y.size)}
        both_classes = 0 < y.sum() < y.size and category not in unscored
        # A perfect ranking's sum of precision x recall steps can round to 1 + 2e-16: clipped.
        row["pr_auc"] = min(1.0, float(average_precision_score(y, s))) if both_classes else None
        fpr, tpr, _ = roc_curve(y, s) if both_classes else (None, None, None)
        for rate in FALSE_POSITIVE_RATES:
            row[f"recall_at_fpr_{rate:g}"] = float(tpr[fpr <= rate].max()) if both_classes else None
        if flagged is not None:
            hits = flagged.filter(pl.col("category") == category).select("msisdn").unique()
            true = hits.join(labels.filter(pl.col(category)).select("msisdn"), on="msisdn", how="semi").height
            row["flagged"] = hits.height
            row["flagged_precision"] = true / hits.height if hits.height else None
            row["flagged_recall"] = true / int(y.sum()) if y.sum() and category not in unscored else None
        rows.append(row)
    return pl.DataFrame(rows)


def unscored_categories(scores: pl.DataFrame) -> list[str]:
    """The categories whose ``score_<category>`` column holds no value (``scores.parquet`` of a
    model trained for only some categories)."""
    return [c for c in CATEGORIES if scores.height and scores[f"score_{c}"].null_count() == scores.height]


def flagged_list_precision(flagged: pl.DataFrame, labels: pl.DataFrame) -> float | None:
    """Share of the flagged list's (number, category) rows whose number carries that label."""
    if flagged.is_empty():
        return None
    long = labels.unpivot(index="msisdn", on=list(CATEGORIES), variable_name="category", value_name="label")
    right = flagged.select("msisdn", "category").join(long.filter(pl.col("label")), on=["msisdn", "category"],
                                                      how="semi")
    return right.height / flagged.height
