"""Reasons: the explanation per flagged row, rendered from its features in the carrier's terms."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detector.contract import CATEGORIES
from features.catalogue import FEATURES
from models.reasons import NO_EVIDENCE, count, explain, percent

SPAMMER = {
    "voice_out_distinct_per_day_mean": 412.0, "voice_out_per_day_mean": 420.0, "voice_answered_ratio": 0.031,
    "reciprocity": 0.0, "voice_in": 0, "voice_out": 2940, "in_out_ratio": 0.0, "voice_short_ratio": 0.7,
    "imei_max_sims": 32, "sms_out": 0,
}


def frame(*rows: dict) -> pl.DataFrame:
    return pl.DataFrame(list(rows), infer_schema_length=None)


def test_voice_spam_exact():
    assert explain(frame(SPAMMER), "voice_spam").to_list() == [
        "412 distinct callees/day; 3% answered; no callee ever called back; no incoming calls"
    ]
    assert explain(frame(SPAMMER), "voice_spam", max_parts=6).to_list() == [
        "412 distinct callees/day; 3% answered; no callee ever called back; no incoming calls; "
        "70% of answered calls under 10 s; same handset as 31 other SIMs"
    ]


def test_calls_per_day_stand_in_when_distinct_callees_are_missing():
    row = {k: v for k, v in SPAMMER.items() if k != "voice_out_distinct_per_day_mean"}
    row |= {"voice_out_per_day_mean": 1204.4, "reciprocity": 0.02}
    assert explain(frame(row), "voice_spam", max_parts=3).to_list() == [
        "1,204 calls/day; 3% answered; no callbacks from 98% of callees"
    ]


def test_unrelated_ratio_replaces_reciprocity_when_present():
    row = SPAMMER | {"voice_unrelated_ratio": 0.97}
    assert explain(frame(row), "voice_spam", max_parts=3).to_list() == [
        "412 distinct callees/day; 3% answered; 97% of callees strangers (called once, never called or texted back)"
    ]


def test_preactivated_exact():
    row = {
        "sims_per_id": 12, "dealer_burst_1h": 48, "msisdn_run_length": 40, "days_to_first_use": 23.4,
        "voice_out": 5, "sms_out": 1, "window_days": 30, "activation_age_days": 29.5, "dealer_dormant_share": 0.2,
        "first_use_away_from_activation": 1.0,
    }
    assert explain(frame(row), "preactivated_sim", max_parts=5).to_list() == [
        "12 SIMs on one ID (legal cap 3); dealer activated 48 SIMs within the hour; one of 40 consecutive numbers; "
        "dormant for 23 days after activation; 20% of the dealer's SIMs unused"
    ]
    dormant = row | {"days_to_first_use": None, "voice_out": 0, "sms_out": 0, "msisdn_run_length": 1}
    assert explain(frame(dormant), "preactivated_sim", max_parts=3).to_list() == [
        "12 SIMs on one ID (legal cap 3); dealer activated 48 SIMs within the hour; unused in the 30 days since activation"
    ]


def test_preactivated_reasons_claim_only_what_the_input_covers():
    """One night scored alone: a SIM activated 49 days ago that first calls tonight is not
    "dormant for 49 days" (it may have called last week), and one activated 7 hours before the
    input ends is not "unused in 1 day"."""
    base = {"sims_per_id": 5, "dealer_burst_1h": None, "voice_out": 0, "sms_out": 0, "window_days": 1}
    rows = frame(
        base | {"days_to_first_use": 49.2, "activation_age_days": 49.6, "voice_out": 3},
        base | {"days_to_first_use": None, "activation_age_days": 49.6},
        base | {"days_to_first_use": None, "activation_age_days": 7 / 24},
        base | {"days_to_first_use": None, "activation_age_days": None},
    )
    assert explain(rows, "preactivated_sim", max_parts=2).to_list() == [
        "5 SIMs on one ID (legal cap 3)",
        "5 SIMs on one ID (legal cap 3); no traffic in the 1 day given; activated 49 days ago",
        "5 SIMs on one ID (legal cap 3); unused in the 7 hours since activation",
        "5 SIMs on one ID (legal cap 3); no traffic in the 1 day given",
    ]


def test_preactivated_reasons_show_the_evidence_in_its_favour():
    """An enterprise batch: many SIMs on one business registration, each in use."""
    row = {"sims_per_id": 31, "prepaid": 0.0, "voice_out": 16, "sms_out": 0, "voice_in": 26, "sms_in": 0}
    assert explain(frame(row), "preactivated_sim").to_list() == [
        "31 SIMs on one ID (legal cap 3); in its favour: postpaid or enterprise contract, "
        "in use (16 calls and SMS out, 26 in)"
    ]
    quiet = row | {"prepaid": 1.0, "voice_out": 1, "voice_in": 0}
    assert explain(frame(quiet), "preactivated_sim").to_list() == ["31 SIMs on one ID (legal cap 3)"]


def test_sms_spam_and_simbox():
    sms = {"sms_out_per_day_max": 2478, "sms_out_distinct": 4778, "sms_out": 4800, "sms_in": 3, "voice_out": 0}
    assert explain(frame(sms), "sms_spam").to_list() == [
        "2,478 SMS on the busiest day; SMS to 4,778 different numbers; only 3 SMS received for 4,800 sent; "
        "no voice calls"
    ]
    box = {"voice_out_per_day_mean": 111.0, "voice_out": 780, "voice_in": 0, "sms_out": 0, "distinct_cells": 1,
           "night_ratio": 0.19, "imei_max_sims": 2}
    assert explain(frame(box), "simbox", max_parts=5).to_list() == [
        "111 calls/day; never receives a call; never sends an SMS; never leaves one cell; "
        "19% of calls between 00:00 and 06:00"
    ]


def test_singular():
    row = {"imei_max_sims": 3, "voice_out": 1}
    assert explain(frame(row), "voice_spam").to_list() == ["same handset as 2 other SIMs"]
    row = {"sms_out": 100, "sms_in": 1, "voice_out": 1}
    assert explain(frame(row), "sms_spam").to_list() == ["only 1 SMS received for 100 sent; only 1 voice call"]


def test_nothing_noteworthy_falls_back_to_the_telling_values():
    driver = {"voice_out_per_day_mean": 34.4, "reciprocity": 0.3, "voice_answered_ratio": 0.9, "voice_in": 120,
              "voice_out": 380, "in_out_ratio": 0.4, "distinct_cells": 20, "voice_short_ratio": 0.1}
    assert explain(frame(driver), "voice_spam").to_list() == ["34 calls/day; 30% of callees called back"]
    assert explain(frame({"sms_out": 3, "sms_in": 1}), "sms_spam").to_list() == ["3 SMS sent; 1 SMS received"]


def test_every_value_null_never_gives_an_empty_reason():
    nulls = pl.DataFrame({"msisdn": ["x"], **{f: [None] for f in FEATURES}},
                         schema={"msisdn": pl.String, **{f: pl.Float64 for f in FEATURES}})
    for category in CATEGORIES:
        assert explain(nulls, category).to_list() == [NO_EVIDENCE]
    assert explain(pl.DataFrame({"msisdn": ["x"]}), "voice_spam").to_list() == [NO_EVIDENCE]
    # No statement can be made of these columns: one reason per row all the same.
    assert explain(pl.DataFrame({"msisdn": ["x", "y", "z"]}), "sms_spam").to_list() == [NO_EVIDENCE] * 3


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(st.one_of(st.none(), st.sampled_from(["a", "b c", ""])), min_size=3, max_size=3),
                max_size=8),
       st.integers(1, 4))
def test_joined_keeps_the_first_non_null_texts(rows, n):
    """Against Python: per row, the first ``n`` non-null texts (an empty one counts) joined by
    the separator, and ``""`` when all are null."""
    from models.reasons import SEPARATOR, _joined

    columns = ["t0", "t1", "t2"]
    table = pl.DataFrame(rows, schema={c: pl.String for c in columns}, orient="row")
    want = [SEPARATOR.join([t for t in row if t is not None][:n]) for row in rows]
    assert table.select(_joined(columns, n)).to_series().to_list() == want


def test_nan_is_not_noteworthy():
    row = frame({"voice_out_per_day_mean": float("nan"), "reciprocity": float("nan"), "imei_max_sims": 5})
    assert explain(row, "voice_spam").to_list() == ["same handset as 4 other SIMs"]


@pytest.mark.parametrize("category", CATEGORIES)
def test_empty_table(category):
    empty = pl.DataFrame({"msisdn": [], **{f: [] for f in FEATURES}},
                         schema={"msisdn": pl.String, **{f: pl.Float64 for f in FEATURES}})
    result = explain(empty, category)
    assert result.len() == 0 and result.dtype == pl.String and result.name == "reasons"
    with pytest.raises(ValueError, match="max_parts"):  # checked however few rows there are
        explain(empty, category, max_parts=0)


@pytest.mark.parametrize("category", CATEGORIES)
def test_one_reason_per_row_in_order(category):
    rows = frame(SPAMMER | {"sims_per_id": 9}, {"voice_out": 3, "sms_out": 2, "sims_per_id": 1}, {"voice_out": None})
    reasons = explain(rows, category)
    assert reasons.len() == 3 and reasons.null_count() == 0 and (reasons != "").all()
    assert reasons.name == "reasons"
    # the same rows in reverse give the same reasons in reverse
    assert explain(rows.reverse(), category).to_list() == reasons.to_list()[::-1]


def test_max_parts():
    assert explain(frame(SPAMMER), "voice_spam", max_parts=1).to_list() == ["412 distinct callees/day"]
    with pytest.raises(ValueError, match="max_parts"):
        explain(frame(SPAMMER), "voice_spam", max_parts=0)
    with pytest.raises(ValueError, match="unknown category"):
        explain(frame(SPAMMER), "spam")


@pytest.mark.parametrize(
    ("value", "text"),
    [(0, "0"), (7.0, "7"), (999.4, "999"), (999.5, "1,000"), (1204, "1,204"), (1_000_000, "1,000,000"),
     (12_345_678_901, "12,345,678,901"), (-1234, "-1,234"), (2.5, "3"), (None, None)],
)
def test_count(value, text):
    assert pl.select(count(pl.lit(value, pl.Float64))).item() == text


@pytest.mark.parametrize(
    ("ratio", "text"),
    [(0.0, "0%"), (0.004, "<1%"), (0.005, "1%"), (0.031, "3%"), (0.125, "13%"), (0.994, "99%"), (0.996, ">99%"),
     (1.0, "100%"), (None, None)],
)
def test_percent(ratio, text):
    assert pl.select(percent(pl.lit(ratio, pl.Float64))).item() == text
