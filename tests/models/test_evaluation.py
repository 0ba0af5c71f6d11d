"""detector evaluate's measures stay within their ranges, whatever the rounding."""

from __future__ import annotations

import numpy as np
import polars as pl
from sklearn.metrics import average_precision_score

from detector.contract import CATEGORIES
from models.evaluation import evaluate


def test_a_perfect_ranking_has_a_pr_auc_of_exactly_one():
    # 9 positives ranked above 2 negatives: scikit-learn's sum of steps rounds to 1 + 2e-16.
    y = np.r_[np.ones(9, dtype=bool), np.zeros(2, dtype=bool)]
    s = np.linspace(1, 0, y.size)
    assert average_precision_score(y, s) > 1
    numbers = [f"8490000{i:04d}" for i in range(y.size)]
    scores = pl.DataFrame({"msisdn": numbers, **{f"score_{c}": s for c in CATEGORIES}})
    labels = pl.DataFrame({"msisdn": numbers, **{c: y for c in CATEGORIES}})
    report = evaluate(scores, labels)
    assert report["pr_auc"].to_list() == [1.0] * len(CATEGORIES)
