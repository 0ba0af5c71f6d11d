"""Enterprise batches are not pre-activated SIMs. A company's SIMs, many on one business
registration, consecutive numbers activated together, look like a dealer's batch at activation;
what tells them apart is the contract (postpaid or enterprise, not prepaid) and that each is then
in an employee's use (domain.md). The shipped model must leave them alone: on a generated world it
never saw, and on a row like a carrier's case, 31 SIMs on one enterprise ID in use with 16 calls
out and 26 in over a week."""

from __future__ import annotations

import polars as pl
import pytest

from detector.engine.pipeline import feature_table, read_inputs
from detector.inputs.labels import read_allowlist
from detector.simulate import generate_world
from models.model_file import SHIPPED_MODEL, load_model
from models.rules import load_rules
from models.scoring import flag_numbers, score_numbers


@pytest.fixture(scope="module")
def model():
    return load_model(SHIPPED_MODEL)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A world none of the shipped model's seeds made: features, its enterprise SIMs, allowlist."""
    root = tmp_path_factory.mktemp("enterprise")
    generate_world(root, subscribers=4000, days=3, seed=61, fmt="parquet", evasion=0.5, noise=0.0)
    features = feature_table(read_inputs([root / "cdr"], root / "subscribers.csv"))
    personas = pl.read_csv(root / "personas.csv", schema_overrides={"msisdn": pl.Utf8})
    enterprise = personas.filter(pl.col("persona") == "enterprise_employee")["msisdn"]
    return features, enterprise, read_allowlist(root / "allowlist.csv")


def test_no_enterprise_sim_is_flagged(world, model):
    features, enterprise, allowlist = world
    theirs = features.filter(pl.col("msisdn").is_in(enterprise.implode()))
    assert theirs.height >= 20 and (theirs["prepaid"] == 0).all() and (theirs["sims_per_id"] > 3).all()
    _, flagged, _ = flag_numbers(score_numbers(model, features), features, model.thresholds, load_rules(), allowlist)
    preactivated = flagged.filter(pl.col("category") == "preactivated_sim")
    assert preactivated.height  # the world's dealer batches are found ...
    assert not preactivated["msisdn"].is_in(enterprise.implode()).any()  # ... the company's SIMs are not
    assert not flagged["msisdn"].is_in(enterprise.implode()).any()  # nor in another category


def the_case(row: pl.DataFrame, *, days_in_use: int, activated_before_window: bool) -> pl.DataFrame:
    """An enterprise SIM's row made into the carrier's case: 31 SIMs on its enterprise ID, all
    activated within the hour with consecutive numbers; 16 calls out and 26 in (no SMS) over a
    7-day window, the calls out on ``days_in_use`` days of it; activated months before the window
    (as generated), or the day before it (a new company's batch)."""
    window, out, incoming = 7, 16, 26
    values = {
        "sims_per_id": 31, "dealer_burst_1h": 31, "msisdn_run_length": 31, "window_days": window,
        "days_active": days_in_use, "voice_out": out, "voice_in": incoming, "sms_out": 0, "sms_in": 0,
        "voice_out_per_day_mean": out / days_in_use, "sms_out_per_day_mean": 0.0,
        "voice_in_per_day_mean": incoming / window, "sms_in_per_day_mean": 0.0, "in_out_ratio": incoming / out,
        "active_day_share": days_in_use / window,
    }
    if activated_before_window:
        values |= {"activation_age_days": window + 1.0, "days_to_first_use": 1.5}
    return row.with_columns(pl.lit(v).cast(row.schema[c]).alias(c) for c, v in values.items())


@pytest.mark.parametrize("days_in_use", [7, 3])
@pytest.mark.parametrize("activated_before_window", [False, True])
def test_a_batch_of_31_enterprise_sims_in_use_is_not_preactivated(world, model, days_in_use,
                                                                   activated_before_window):
    features, enterprise, _ = world
    row = the_case(features.filter(pl.col("msisdn").is_in(enterprise.implode())).head(1), days_in_use=days_in_use,
                   activated_before_window=activated_before_window)
    assert row["prepaid"].item() == 0
    scores = score_numbers(model, row)
    assert scores["score_preactivated_sim"].item() < model.thresholds["preactivated_sim"], scores.to_dicts()
    _, flagged, _ = flag_numbers(scores, row, model.thresholds, load_rules())
    assert not (flagged["category"] == "preactivated_sim").any()  # by the model or by a rule
