"""The case ledger's night (nightly.md, "Cases"): tonight's flags open, extend, reopen and close
cases, one per (number, category).

A case opens the first night its number is flagged in its category. While it is flagged, each
night extends it (last night flagged, nights flagged, highest score, latest reasons). A case
still ``open`` that tonight's window no longer flags is ``closed``: it was never confirmed. A
closed case flagged again is reopened (the same case: its history stays). Running a night again
gives the same ledger: a night counts once however often it runs.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from detector.state.store import CASE_COLUMNS

#: What ``changes.csv`` holds: the cases whose last change was tonight.
CHANGE_COLUMNS = ("msisdn", "category", "change", "reason")


def update_cases(cases: pl.DataFrame, flagged: pl.DataFrame, as_of: dt.date, window: int) -> pl.DataFrame:
    """The ledger after the night ``as_of``: ``cases`` (:data:`~detector.state.store.CASE_COLUMNS`)
    with tonight's ``flagged`` list (``msisdn``, ``category``, ``score``, ``source``, ``reasons``)."""
    tonight = flagged.select("msisdn", "category", pl.col("score").cast(pl.Float64), "source", "reasons")
    c = pl.col
    joined = cases.join(tonight, on=["msisdn", "category"], how="full", coalesce=True, suffix="_tonight")
    flagged_now = c("score_tonight").is_not_null()
    known = c("status").is_not_null()
    counted = known & (c("last_flagged") == as_of)  # this night ran before: it counts once
    reopened = flagged_now & known & (c("status") == "closed") & ~counted
    closes = ~flagged_now & (c("status") == "open")
    change = (pl.when(flagged_now & ~known).then(pl.lit("opened"))
              .when(reopened).then(pl.lit("reopened"))
              .when(closes).then(pl.lit("closed")))
    reason = (pl.when(flagged_now & ~known).then(pl.lit("flagged ") + c("category") + " by " + c("source_tonight"))
              .when(reopened).then(pl.lit("flagged again by ") + c("source_tonight"))
              .when(closes).then(pl.lit(f"no longer flagged in the {window}-day window, never confirmed")))
    updated = joined.with_columns(
        status=pl.when(flagged_now & (~known | reopened)).then(pl.lit("open"))
        .when(closes).then(pl.lit("closed")).otherwise(c("status")),
        first_flagged=pl.when(known).then(c("first_flagged")).otherwise(pl.lit(as_of)),
        last_flagged=pl.when(flagged_now).then(pl.lit(as_of)).otherwise(c("last_flagged")),
        nights_flagged=pl.when(flagged_now & ~counted).then(c("nights_flagged").fill_null(0) + 1)
        .otherwise(c("nights_flagged")),
        highest_score=pl.max_horizontal("highest_score", "score_tonight"),
        score=pl.when(flagged_now).then(c("score_tonight")).otherwise(c("score")),
        source=pl.when(flagged_now).then(c("source_tonight")).otherwise(c("source")),
        reasons=pl.when(flagged_now).then(c("reasons_tonight")).otherwise(c("reasons")),
        changed_on=pl.when(change.is_not_null()).then(pl.lit(as_of)).otherwise(c("changed_on")),
        change_reason=pl.when(change.is_not_null()).then(reason).otherwise(c("change_reason")),
        change=pl.when(change.is_not_null()).then(change).otherwise(c("change")),
    )
    return updated.select(*CASE_COLUMNS).cast(CASE_COLUMNS).sort("msisdn", "category")


def changes(cases: pl.DataFrame, as_of: dt.date) -> pl.DataFrame:
    """``changes.csv``: the cases opened, reopened or closed on the night ``as_of``."""
    return (cases.filter(pl.col("changed_on") == as_of)
            .select("msisdn", "category", "change", pl.col("change_reason").alias("reason")))


def with_case_columns(flagged: pl.DataFrame, cases: pl.DataFrame) -> pl.DataFrame:
    """``flagged`` with its cases' ``first_flagged``, ``nights_flagged`` and ``status``."""
    return flagged.join(cases.select("msisdn", "category", "first_flagged", "nights_flagged", "status"),
                        on=["msisdn", "category"], how="left", maintain_order="left")
