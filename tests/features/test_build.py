"""The whole core feature table against an independent implementation (DuckDB SQL)."""


import datetime as dt

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from bench.duckdb_peer import core_features_duckdb
from detector.inputs.cdr import read_cdrs
from detector.inputs.numbers import DEFAULT_COUNTRY_CODE
from features.build import (
    HAS_IMEI,
    Partition,
    build_features,
    build_partition_features,
    event_columns,
    feature_context,
    number_id,
    text_names,
)
from features.catalogue import CORE_FEATURES, FEATURES
from tests.detector.foreign import write_foreign_week


def assert_same_table(ours: pl.DataFrame, ref: pl.DataFrame):
    assert ours.columns == ["msisdn", *CORE_FEATURES]
    assert ours["msisdn"].to_list() == ref["msisdn"].to_list()
    for c in CORE_FEATURES:
        a, r = ours[c].cast(pl.Float64), ref[c].cast(pl.Float64)
        assert (a.is_null() == r.is_null()).all(), c
        both = a.is_not_null()
        np.testing.assert_allclose(a.filter(both).to_numpy(), r.filter(both).to_numpy(),
                                   rtol=1e-6, atol=1e-9, err_msg=c)


def random_registry(numbers, rng) -> pl.DataFrame:
    base = np.datetime64("2026-09-01T08:00:00", "us")
    minutes = rng.integers(0, 6 * 60, len(numbers)).astype("timedelta64[m]")
    return pl.DataFrame(
        {
            "msisdn": numbers,
            "activation_time": base + minutes,
            "dealer_id": pl.Series(rng.choice(["D1", "D2", "D3", None], len(numbers)).tolist(), dtype=pl.Utf8),
            "id_number": pl.Series(rng.choice(["A", "B", "C", None], len(numbers)).tolist(), dtype=pl.Utf8),
            "subscription_type": ["prepaid"] * len(numbers),
        }
    )


@pytest.fixture(scope="module")
def foreign_world(tmp_path_factory):
    root = tmp_path_factory.mktemp("foreign")
    write_foreign_week(root / "week", numbers=250)
    cdrs = read_cdrs([root / "week"]).cdrs
    # Two numbers that only receive: one registered (its incoming counts must show), one not
    # (it must not get a row).
    callers = cdrs["caller"].unique().sort()
    receive_only = cdrs.head(6).with_columns(
        pl.Series("callee", ["84939999999"] * 3 + ["84938888888"] * 3),
        pl.Series("event_type", ["voice", "voice", "sms"] * 2, dtype=cdrs["event_type"].dtype),
    )
    cdrs = pl.concat([cdrs, receive_only])
    cdrs.write_parquet(root / "cdrs.parquet")
    rng = np.random.default_rng(1)
    # Registry: most callers, some numbers with no traffic, a run of consecutive numbers.
    numbers = callers.to_list()[:200] + [str(84_930_000_000 + i) for i in range(12)] + ["VIETTEL", "84939999999"]
    registry = random_registry(numbers, rng)
    registry.write_parquet(root / "registry.parquet")
    return root, cdrs, registry


def test_core_features_equal_duckdb(foreign_world):
    root, cdrs, registry = foreign_world
    ours = build_features(cdrs, registry, core_only=True)
    ref = core_features_duckdb(str(root / "cdrs.parquet"), str(root / "registry.parquet"))
    assert ours.height == cdrs["caller"].n_unique() + 14
    received = ours.filter(pl.col("msisdn") == "84939999999").row(0, named=True)
    assert (received["voice_out"], received["voice_in"], received["sms_in"]) == (0, 2, 1)
    assert "84938888888" not in ours["msisdn"].to_list()
    assert_same_table(ours, ref)


def test_core_features_equal_duckdb_without_registry(foreign_world):
    root, cdrs, _ = foreign_world
    assert_same_table(build_features(cdrs, core_only=True), core_features_duckdb(str(root / "cdrs.parquet")))


def test_full_table_is_the_core_table_plus_the_catalogue(foreign_world):
    _, cdrs, registry = foreign_world
    full = build_features(cdrs, registry)
    assert full.columns == ["msisdn", *FEATURES]
    assert full.select("msisdn", *CORE_FEATURES).equals(build_features(cdrs, registry, core_only=True))


def test_behaviour_features_by_hand():
    t0 = dt.datetime(2026, 11, 2, 9, 0)
    minute = dt.timedelta(minutes=1)
    rows = [  # A: 3 calls within 10 minutes on day 1 (2, 5 and 0 s), one on day 2, one SMS on day 2
        ("84900000001", "84900000002", t0, 2, "voice", True),
        ("84900000001", "84900000003", t0 + 4 * minute, 5, "voice", True),
        ("84900000001", "84900000004", t0 + 9 * minute, 0, "voice", False),
        ("84900000001", "84900000005", t0 + dt.timedelta(days=1), 3, "voice", True),
        ("84900000001", "84900000005", t0 + dt.timedelta(days=1, hours=1), 0, "sms", False),
        ("84900000002", "84900000001", t0 + 30 * minute, 60, "voice", True),  # B calls A back
    ]
    cdrs = pl.DataFrame(rows, schema=["caller", "callee", "start_time", "duration_s", "event_type", "answered"],
                        orient="row").with_columns(
        pl.col("event_type").cast(pl.Enum(["voice", "sms"])), pl.lit(None, pl.Utf8).alias("cell_id"),
        pl.lit(None, pl.Utf8).alias("imei"),
    )
    a = build_features(cdrs).filter(pl.col("msisdn") == "84900000001").row(0, named=True)
    assert a["days_active"] == 2
    assert a["voice_out_per_day_max"] == 3 and a["sms_out_per_day_max"] == 1
    assert a["voice_out_per_day_mean"] == 2.0
    assert a["voice_burst_10m_max"] == 3
    assert a["voice_very_short_ratio"] == 2 / 3  # 2 s and 3 s of the 3 answered calls
    assert a["in_out_ratio"] == 1 / 5
    # Distinct voice callees: 3 on day 1, 1 on day 2.
    assert a["voice_out_distinct_per_day_mean"] == 2.0 and a["voice_out_distinct_per_day_max"] == 3
    assert a["voice_out_new_callee_ratio"] == 1.0
    assert a["sms_out_per_day_mean"] == 0.5 and a["active_day_share"] == 1.0
    assert a["sms_out_distinct_per_day_mean"] == 0.5 and a["sms_reciprocity"] == 0.0 and a["sms_reply_ratio"] == 0.0
    assert a["voice_in_per_day_mean"] == 0.5 and a["sms_in_per_day_mean"] == 0.0  # B's one call over 2 days
    # Each callee called once; B called back, 5 was only texted by A: 3 of 4 unrelated.
    assert a["voice_unrelated_ratio"] == 3 / 4
    assert a["voice_callee_block_ratio"] == 1 / 4  # four callees in one block of 1,000
    assert a["voice_dur_entropy"] == pytest.approx(-(2 / 3) * np.log2(2 / 3) - (1 / 3) * np.log2(1 / 3))
    assert a["intl_out_ratio"] == 0.0
    assert a["active_span_days"] == pytest.approx(25 / 24)
    assert a["first_out_time"] == t0 and a["last_out_time"] == t0 + dt.timedelta(days=1, hours=1)
    b = build_features(cdrs).filter(pl.col("msisdn") == "84900000002").row(0, named=True)
    assert b["voice_unrelated_ratio"] == 0.0  # A had called B first


def test_international_and_short_code_callees():
    t0 = dt.datetime(2026, 11, 2, 9, 0)
    cdrs = pl.DataFrame(
        {
            "caller": ["84900000001"] * 4,
            "callee": ["84911111111", "14155550100", "1900", "84911111112"],
            "start_time": [t0 + dt.timedelta(minutes=m) for m in range(4)],
            "duration_s": [0, 0, 0, 0],
            "event_type": ["voice", "voice", "sms", "voice"],
            "answered": [False] * 4,
            "cell_id": [None] * 4,
            "imei": [None] * 4,
        }
    ).with_columns(pl.col("event_type").cast(pl.Enum(["voice", "sms"])), pl.col("cell_id", "imei").cast(pl.Utf8))
    row = build_features(cdrs).row(0, named=True)
    assert row["intl_out_ratio"] == 2 / 4
    assert row["voice_dur_entropy"] is None  # no answered call
    assert build_features(cdrs, country_code="14")["intl_out_ratio"][0] == 3 / 4


def test_counts_zero_ratios_null_for_registry_only_numbers(foreign_world):
    _, cdrs, registry = foreign_world
    row = build_features(cdrs, registry).filter(pl.col("msisdn") == "84930000005").row(0, named=True)
    assert row["voice_out"] == 0 and row["sms_in"] == 0 and row["imei_max_sims"] == 0
    assert row["voice_answered_ratio"] is None and row["night_ratio"] is None
    assert row["window_days"] == 7


def test_number_id_round_trips_and_separates_text():
    s = pl.Series(["84912345678", "VIETTEL", "0123", "1900", "viettel"])
    ids = pl.select(number_id(pl.lit(s))).to_series().to_list()
    assert ids[0] == 84912345678 and ids[3] == 1900
    assert all(i < 0 for i in (ids[1], ids[2], ids[4]))
    assert len(set(ids)) == 5


def test_registry_behaviour_features_by_hand():
    t0 = dt.datetime(2026, 11, 2, 9, 0)
    cdrs = pl.DataFrame(
        {
            "caller": ["84900000001", "84900000001", "84900000002"],
            "callee": ["84911111111", "84911111112", "84911111111"],
            "start_time": [t0 + dt.timedelta(hours=1), t0, t0],
            "duration_s": [10, 20, 30],
            "event_type": ["voice", "voice", "sms"],
            "answered": [True, True, False],
            "cell_id": ["FAR", None, "SHOP"],
            "imei": [None, None, None],
        }
    ).with_columns(pl.col("event_type").cast(pl.Enum(["voice", "sms"])), pl.col("imei").cast(pl.Utf8))
    registry = pl.DataFrame(
        {
            "msisdn": ["84900000001", "84900000002", "84900000003", "84900000004"],
            "activation_time": [t0 - dt.timedelta(days=3)] * 4,
            "dealer_id": ["D1", "D1", "D1", "D2"],
            "id_number": ["X", "X", "X", "X"],  # four SIMs on one ID: all over the cap
            "subscription_type": ["prepaid"] * 4,
            "activation_cell": ["SHOP", "SHOP", "SHOP", None],
        }
    )
    rows = {r["msisdn"]: r for r in build_features(cdrs, registry).to_dicts()}
    one, two, dormant = rows["84900000001"], rows["84900000002"], rows["84900000003"]
    # First use: t0 (the earlier call, without a cell); the first event with a cell was at FAR.
    assert one["days_to_first_use"] == 3.0
    assert one["first_use_away_from_activation"] == 1.0
    assert two["first_use_away_from_activation"] == 0.0
    assert dormant["days_to_first_use"] is None and dormant["first_use_away_from_activation"] is None
    assert one["dealer_dormant_share"] == 1 / 3 and rows["84900000004"]["dealer_dormant_share"] == 1.0
    assert one["dealer_over_id_cap_share"] == 1.0
    assert one["activation_age_days"] == pytest.approx(3 + 1 / 24)  # to the last event of the input
    assert rows["84900000003"]["activation_age_days"] == pytest.approx(3 + 1 / 24)
    assert one["prepaid"] == 1.0
    assert one["dealer_sims"] == 3 and rows["84900000004"]["dealer_sims"] == 1
    assert one["dealer_burst_1h_max"] == 3 and rows["84900000004"]["dealer_burst_1h_max"] == 1
    # Without a registry the registry-linked features are null.
    assert build_features(cdrs)["days_to_first_use"].null_count() == 2


def test_sms_reciprocity_and_replies():
    t0 = dt.datetime(2026, 11, 2, 9, 0)
    texts = [("84900000001", "84900000002"), ("84900000001", "84900000003"), ("84900000001", "84900000003"),
             ("84900000002", "84900000001")]  # 1 texts 2 and 3 (twice); only 2 texts back
    cdrs = pl.DataFrame(
        {
            "caller": [a for a, _ in texts],
            "callee": [b for _, b in texts],
            "start_time": [t0 + dt.timedelta(minutes=m) for m in range(4)],
            "duration_s": [0] * 4,
            "event_type": ["sms"] * 4,
            "answered": [False] * 4,
            "cell_id": [None] * 4,
            "imei": [None] * 4,
        }
    ).with_columns(pl.col("event_type").cast(pl.Enum(["voice", "sms"])), pl.col("cell_id", "imei").cast(pl.Utf8))
    rows = {r["msisdn"]: r for r in build_features(cdrs).to_dicts()}
    assert rows["84900000001"]["sms_reciprocity"] == 0.5 and rows["84900000001"]["sms_reply_ratio"] == 1 / 3
    assert rows["84900000001"]["sms_out_distinct_per_day_mean"] == 2.0
    assert rows["84900000002"]["sms_reciprocity"] == 1.0
    assert rows["84900000001"]["reciprocity"] is None  # no voice callees


@pytest.fixture(scope="module")
def simulated_world(tmp_path_factory):
    """A noisy generated carrier: SIM boxes share IMEIs, dealers hold dormant SIMs."""
    from detector.engine.pipeline import read_inputs
    from detector.simulate import generate_world

    root = tmp_path_factory.mktemp("simulated")
    generate_world(root, subscribers=3000, days=3, seed=11, evasion=0.3, noise=1.0)
    inputs = read_inputs([root / "cdr"], root / "subscribers.csv")
    return root, inputs.batch.cdrs, inputs.registry.subscribers


@pytest.mark.parametrize("count", [1, 3, 7, 64])
@pytest.mark.parametrize("world", ["foreign_world", "simulated_world", "simulated_world_without_registry"])
def test_partitions_together_equal_the_whole_table(request, world, count):
    """Each partition holds the rows naming one of its numbers as caller or callee; with the
    context of the whole input, the partitions' rows together are the whole table, value for value."""
    _, cdrs, registry = request.getfixturevalue(world.removesuffix("_without_registry"))
    registry = None if world.endswith("_without_registry") else registry
    whole = build_features(cdrs, registry)
    events = event_columns(cdrs, DEFAULT_COUNTRY_CODE)
    imei_callers = events.filter(pl.col("flags") & HAS_IMEI != 0).select("imei", "caller_id")
    context = feature_context(days=cdrs["start_time"].dt.date().n_unique(), end=cdrs["start_time"].max(),
                              imei_callers=imei_callers, callers=events["caller_id"], registry=registry,
                              names=text_names(events["caller_id"], cdrs["caller"]))
    parts = []
    for index in range(count):
        partition = Partition(index, count)
        mine = partition.holds(pl.col("caller_id")) | partition.holds(pl.col("callee_id"))
        parts.append(build_partition_features(events.filter(mine), context, partition))
    assert sum(p.height for p in parts) == whole.height
    assert_frame_equal(pl.concat(parts).sort("msisdn"), whole)
