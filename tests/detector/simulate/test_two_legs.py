"""A generated world written as a two-leg mediation export (``--export two-legs``) and read with
the shipped mapping gives the canonical export's events: the same features, in memory and out
of core, and every home-to-home call's second leg counted once."""

from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from detector.engine.pipeline import Engine, feature_table, partitioned_features, read_inputs
from detector.inputs.mapping import load_mapping
from detector.inputs.validate import summarise
from detector.simulate import generate_world

TWO_LEGS = Path(__file__).resolve().parents[3] / "sample_data" / "mappings" / "two_legs.toml"
WORLD = dict(subscribers=1200, days=2, seed=8, fmt="csv", evasion=0.3, noise=1.0)


@pytest.fixture(scope="module")
def worlds(tmp_path_factory):
    canonical, two_legs = tmp_path_factory.mktemp("canonical"), tmp_path_factory.mktemp("two_legs")
    generate_world(canonical, **WORLD)
    generate_world(two_legs, **WORLD, export="two-legs")
    return canonical, two_legs


@pytest.fixture(scope="module")
def read(worlds):
    canonical, two_legs = worlds
    return (read_inputs([canonical / "cdr"], canonical / "subscribers.csv"),
            read_inputs([two_legs / "cdr"], two_legs / "subscribers.csv", load_mapping(TWO_LEGS)))


def test_the_export_has_both_legs(worlds):
    day = pl.read_csv(next((worlds[1] / "cdr").glob("*.csv")), infer_schema=False)
    assert set(day["RECORD_TYPE"].drop_nulls().unique()) >= {"MOC", "MTC", "SMS_MO", "SMS_MT"}


def test_two_leg_export_gives_the_canonical_features(read):
    canonical, two_legs = read
    assert_frame_equal(feature_table(two_legs), feature_table(canonical))


def test_each_home_to_home_event_is_matched_once(read):
    canonical, two_legs = read
    home = canonical.registry.subscribers["msisdn"].implode()
    home_to_home = canonical.batch.cdrs.filter(pl.col("caller").is_in(home) & pl.col("callee").is_in(home)).height
    assert home_to_home > 1000
    assert two_legs.batch.legs_matched == home_to_home
    report = summarise(two_legs.batch)
    assert report.rows_read == (report.rows_kept + report.rows_rejected + report.rows_dropped
                                + report.duplicates + report.legs_matched)


def test_partitioned_two_leg_features_equal_in_memory(worlds, read, tmp_path):
    _, two_legs = worlds
    out = tmp_path / "features.parquet"
    run, _ = partitioned_features([two_legs / "cdr"], out, Engine(partitions=3), 3,
                                  subscribers=two_legs / "subscribers.csv", mapping=load_mapping(TWO_LEGS))
    assert run.legs_matched == read[1].batch.legs_matched
    assert_frame_equal(pl.read_parquet(out), feature_table(read[1]), check_dtypes=False)
