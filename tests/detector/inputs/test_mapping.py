"""The example mappings in sample_data/mappings/ read a generated day, re-exported in their
layouts, back into exactly the canonical rows."""

from pathlib import Path

import polars as pl
import pytest

from detector.inputs.cdr import read_cdrs
from detector.inputs.mapping import load_mapping
from detector.simulate import generate_world

MAPPINGS = Path(__file__).resolve().parents[3] / "sample_data" / "mappings"


@pytest.fixture(scope="module")
def canonical_day(tmp_path_factory):
    root = tmp_path_factory.mktemp("world")
    generate_world(root, subscribers=1500, days=1, seed=5, fmt="csv")
    return read_cdrs([root / "cdr"]).cdrs


def national(col: str) -> pl.Expr:
    """84… -> 0… as a mediation system writes home numbers."""
    return pl.when(pl.col(col).str.starts_with("84")).then("0" + pl.col(col).str.slice(2)).otherwise(pl.col(col))


def hms(col: str) -> pl.Expr:
    s = pl.col(col)
    return pl.format("{}:{}:{}", (s // 3600).cast(pl.Utf8).str.zfill(2),
                     (s % 3600 // 60).cast(pl.Utf8).str.zfill(2), (s % 60).cast(pl.Utf8).str.zfill(2))


def canonical_sorted(df: pl.DataFrame) -> pl.DataFrame:
    return df.sort(df.columns, nulls_last=True)


def test_mediation_moc_mtc_round_trip(tmp_path, canonical_day):
    day = canonical_day
    moc = day.select(
        national("caller").alias("A_NUMBER"),
        pl.col("callee").alias("B_NUMBER"),
        pl.when(pl.col("event_type") == "voice").then(pl.lit("MOC")).otherwise(pl.lit("SMS_MO")).alias("CALL_TYPE"),
        pl.col("start_time").dt.strftime("%d/%m/%Y").alias("START_DATE"),
        pl.col("start_time").dt.strftime("%H:%M:%S").alias("START_TIME"),
        hms("duration_s").alias("DURATION"),
        pl.col("cell_id").alias("CELL"),
        pl.col("imei").alias("IMEI"),
    )
    # The called party's legs of 500 of the same events, written from its side (A is the
    # receiver, with its own cell and handset) and stamped a second later by its switch.
    received = moc.head(500)
    mtc = received.select(
        pl.col("B_NUMBER").alias("A_NUMBER"),
        pl.col("A_NUMBER").alias("B_NUMBER"),
        pl.when(pl.col("CALL_TYPE") == "MOC").then(pl.lit("MTC")).otherwise(pl.lit("SMS_MT")).alias("CALL_TYPE"),
        "START_DATE",
        (pl.lit("2000-01-01 ") + pl.col("START_TIME")).str.to_datetime("%Y-%m-%d %H:%M:%S")
        .dt.offset_by("1s").dt.strftime("%H:%M:%S").alias("START_TIME"),
        "DURATION",
        pl.lit("99999-1").alias("CELL"),
        pl.lit("35000000000001").alias("IMEI"),
    )
    # Rows on the last second of the day would cross midnight: the date column is not shifted.
    assert not received["START_TIME"].str.starts_with("23:59:59").any()
    path = tmp_path / "mediation.csv"
    pl.concat([moc, mtc]).write_csv(path, separator=";")

    batch = read_cdrs([path], load_mapping(MAPPINGS / "mediation_moc_mtc.toml"))
    assert batch.rejects.height == 0
    assert batch.legs_matched == 500
    # This layout has no answered column: the contract's default is duration_s > 0.
    expected = day.with_columns(answered=pl.col("duration_s") > 0)
    assert canonical_sorted(batch.cdrs.select(day.columns)).equals(canonical_sorted(expected))
    # The receiver's cell and handset went to the kept outgoing legs, never to their callers.
    assert batch.cdrs["callee_cell_id"].eq("99999-1").sum() == 500
    assert not batch.cdrs["cell_id"].eq("99999-1").any()


def test_switch_epoch_utc_round_trip(tmp_path, canonical_day):
    day = canonical_day
    utc_epoch = pl.col("start_time").dt.replace_time_zone("Asia/Ho_Chi_Minh").dt.epoch("s")
    export = day.select(
        pl.format("+84 {}", pl.col("caller").str.slice(2)).alias("CALLING_NBR"),
        pl.format("0084{}", pl.col("callee").str.slice(2)).alias("CALLED_NBR"),
        pl.when(pl.col("event_type") == "voice").then(pl.lit("1")).otherwise(pl.lit("21")).alias("REC_TYPE"),
        utc_epoch.alias("EVENT_TS"),
        pl.col("duration_s").alias("CALL_DUR"),
        pl.when(pl.col("answered")).then(pl.lit("Y")).otherwise(pl.lit("N")).alias("ANS_FLAG"),
        pl.col("cell_id").alias("LAC_CI"),
        pl.col("imei").alias("IMEI_A"),
    )
    # Only home-style 84… numbers survive this re-export unchanged; keep those rows.
    home = (pl.col("caller").str.starts_with("84") & pl.col("callee").str.starts_with("84"))
    keep = day.select(home).to_series()
    path = tmp_path / "switch.csv"
    export.filter(keep).write_csv(path, separator="|")

    batch = read_cdrs([path], load_mapping(MAPPINGS / "switch_epoch_utc.toml"))
    assert batch.rejects.height == 0
    assert keep.sum() > 0.9 * day.height
    assert canonical_sorted(batch.cdrs).equals(canonical_sorted(day.filter(keep)))
