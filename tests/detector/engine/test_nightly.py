"""Exactly the batch answer: a window's features from the state, night by night, equal those of
reading the same days' raw files at once, value for value (issue 26, nightly.md)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from detector.engine.nightly import add_night, window_features
from detector.engine.pipeline import feature_table, read_inputs
from detector.inputs.cdr import read_cdrs
from detector.inputs.mapping import Mapping, load_mapping
from detector.inputs.registry import read_registry
from detector.simulate import generate_world
from detector.state.store import State


TWO_LEGS = Path(__file__).resolve().parents[3] / "sample_data" / "mappings" / "two_legs.toml"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("nightly")
    generate_world(root, subscribers=2000, days=3, seed=23, fmt="parquet", noise=0.5)
    return root


@pytest.fixture(scope="module")
def nights(world, tmp_path_factory):
    """The world's days added one night each (the first file delivered again on the last night)."""
    state = tmp_path_factory.mktemp("state") / "state"
    files = sorted((world / "cdr").glob("*.parquet"))
    added = [add_night(state, read_cdrs([f], Mapping()), Mapping()) for f in files]
    again = add_night(state, read_cdrs([files[0]], Mapping()), Mapping())
    return State.open(state), files, added, again


def days_of(files):
    return [dt.date.fromisoformat(f.stem.split("_")[-1]) for f in files]


@pytest.mark.parametrize("window", [3, 2, 1])
def test_a_window_from_the_state_equals_its_raw_files_read_at_once(world, nights, window):
    state, files, _, _ = nights
    as_of = days_of(files)[-1]
    registry = read_registry(world / "subscribers.csv")
    ours = window_features(state, as_of, window, registry.subscribers)
    batch = feature_table(read_inputs(files[-window:], world / "subscribers.csv"))
    assert ours.height == batch.height
    assert_frame_equal(ours, batch)


def test_a_file_delivered_again_adds_nothing(nights):
    state, files, added, again = nights
    assert again.added.rows == 0 and again.added.duplicates == added[0].added.rows
    assert state.days()["rows"].to_list() == [a.added.rows for a in added]
    assert again.latest == days_of(files)[-1]


def test_late_rows_and_rows_delivered_twice_give_the_batch_answer(world, tmp_path):
    """Deliveries that do not follow the days: a tenth of the first day comes the next night, and
    part of the first night is delivered again with the second."""
    files = sorted((world / "cdr").glob("*.parquet"))
    first, second, third = (pl.read_parquet(f) for f in files)
    cut = first.height * 9 // 10
    deliveries = [first.head(cut), pl.concat([second, first.tail(first.height - cut), first.head(500)]), third]
    state = tmp_path / "state"
    for i, rows in enumerate(deliveries):
        path = tmp_path / f"delivery_{i}.parquet"
        rows.write_parquet(path)
        add_night(state, read_cdrs([path], Mapping()), Mapping())
    held = State.open(state)
    again = tmp_path / "again.parquet"
    first.head(500).write_parquet(again)  # its parseable, distinct rows were held already
    assert held.nights()["duplicates"].sum() == read_cdrs([again], Mapping()).cdrs.height > 450
    ours = window_features(held, days_of(files)[-1], 3, read_registry(world / "subscribers.csv").subscribers)
    assert_frame_equal(ours, feature_table(read_inputs(files, world / "subscribers.csv")))


def test_the_two_legs_of_a_call_delivered_on_different_nights_are_counted_once(tmp_path):
    """A switch's file a night late, in a two-leg export: a tenth of day one's incoming legs come
    with night two (their outgoing twins held already), a tenth of day two's outgoing legs with
    night three (their incoming twins held, waiting), and some of the late legs come again."""
    world = tmp_path / "world"
    generate_world(world, subscribers=1500, days=3, seed=5, fmt="parquet", export="two-legs")
    mapping = load_mapping(TWO_LEGS)
    files = sorted((world / "cdr").glob("*.parquet"))
    first, second, third = (pl.read_parquet(f).with_row_index("i") for f in files)
    incoming = pl.col("RECORD_TYPE").is_in(["MTC", "SMS_MT"])
    late_in, late_out = (pl.col("i") % 10 == 0) & incoming, (pl.col("i") % 10 == 0) & ~incoming
    deliveries = [first.filter(~late_in), pl.concat([second.filter(~late_out), first.filter(late_in)]),
                  pl.concat([third, second.filter(late_out), first.filter(late_in).head(200)])]
    state = tmp_path / "state"
    added, within = [], []
    for i, rows in enumerate(deliveries):
        path = tmp_path / f"delivery_{i}.parquet"
        rows.drop("i").write_parquet(path)
        added.append(add_night(state, read_cdrs([path], mapping, match_legs=False), mapping).added)
        within.append(read_cdrs([path], mapping).legs_matched)
    batch = read_inputs(files, world / "subscribers.csv", mapping)
    assert sum(a.legs for a in added) == batch.batch.legs_matched
    # Nights two and three paired legs with twins of earlier nights: hundreds each.
    assert added[1].legs - within[1] > 500 and added[2].legs - within[2] > 500
    assert added[2].duplicates >= 200
    held = State.open(state)
    ours = window_features(held, days_of(files)[-1], 3, read_registry(world / "subscribers.csv", mapping).subscribers)
    assert_frame_equal(ours, feature_table(batch))


@pytest.mark.parametrize("edge", ["first", "last"])
def test_the_legs_a_window_edge_splits_are_counted_as_scoring_the_window_files_counts_them(tmp_path, edge):
    """Calls across the window's first (or last) midnight, their legs in two days' files: the
    state pairs them (one leg outside the window), a batch run over the window's files sees the
    leg inside alone and counts it. At the first edge also a leg the state left unpaired, that a
    batch run pairs with a leg inside once the one before is out of its sight: not counted."""
    from detector.engine.nightly import score_window, window_days
    from detector.engine.pipeline import Engine, score_inputs
    from models.model_file import SHIPPED_MODEL, load_model

    world = tmp_path / "world"
    generate_world(world, subscribers=1500, days=3, seed=5, fmt="parquet", export="two-legs")
    mapping = load_mapping(TWO_LEGS)
    files = sorted((world / "cdr").glob("*.parquet"))
    days = [pl.read_parquet(f) for f in files]
    # The legs of calls of day `after` move to the midnight it starts with, the earlier leg
    # into day `after - 1`'s file: the window begins with day `after` or ends with `after - 1`.
    after = 1 if edge == "first" else 2
    midnight = dt.datetime.combine(days_of(files)[after], dt.time())
    rows = days[after].with_row_index("i")
    # Answered calls with both legs: the outgoing leg (row i) and its incoming twin (row i_in).
    pairs = rows.filter((pl.col("RECORD_TYPE") == "MOC") & pl.col("ANSWERED")).join(
        rows.filter(pl.col("RECORD_TYPE") == "MTC"), left_on=["SERVED_MSISDN", "OTHER_PARTY", "DURATION"],
        right_on=["OTHER_PARTY", "SERVED_MSISDN", "DURATION"], suffix="_in")
    pairs = (pairs.filter((pl.col("EVENT_TIME_in") - pl.col("EVENT_TIME")).abs() <= dt.timedelta(seconds=3))
             .unique("i", keep="first", maintain_order=True).unique("i_in", keep="first", maintain_order=True))
    # Split: the leg outside the window (the outgoing one before the first midnight, or after
    # the last) is the one the state counts; the leg inside is its twin.
    split = pairs.slice(0, 30)
    early, late = (split["i"], split["i_in"]) if edge == "first" else (split["i_in"], split["i"])
    # Chained: the incoming leg two seconds before the first midnight, the outgoing one after,
    # and a second incoming leg of the same call four seconds later.
    chained = pairs.slice(30, 30) if edge == "first" else pairs.clear()
    early, late = pl.concat([early, chained["i_in"]]).to_list(), pl.concat([late, chained["i"]]).to_list()
    columns = days[after].columns
    at = lambda seconds: pl.lit(midnight + dt.timedelta(seconds=seconds))  # noqa: E731
    again = rows.filter(pl.col("i").is_in(chained["i_in"].to_list())).with_columns(EVENT_TIME=at(5))
    rows = rows.with_columns(pl.when(pl.col("i").is_in(early)).then(at(-2))
                             .when(pl.col("i").is_in(late)).then(at(1)).otherwise(pl.col("EVENT_TIME")).alias("EVENT_TIME"))
    moved = pl.col("i").is_in(early)
    days[after - 1] = pl.concat([days[after - 1], rows.filter(moved).select(columns)])
    days[after] = pl.concat([rows.filter(~moved).select(columns), again.select(columns)])
    delivered = []
    for i, frame in enumerate(days):
        delivered.append(tmp_path / f"day_{i}.parquet")
        frame.write_parquet(delivered[-1])
    state = tmp_path / "state"
    for path in delivered:
        add_night(state, read_cdrs([path], mapping, match_legs=False), mapping)
    held = State.open(state)
    # The legs before the midnight that the state paired with a leg after it.
    assert held.twins(days_of(files)[after - 1: after]).collect().height >= 30
    registry = read_registry(world / "subscribers.csv", mapping).subscribers
    inside = delivered[1:] if edge == "first" else delivered[:2]
    as_of = days_of(files)[2] if edge == "first" else days_of(files)[1]
    batch = read_inputs(inside, world / "subscribers.csv", mapping)
    assert_frame_equal(window_features(held, as_of, 2, registry), feature_table(batch))
    model = load_model(SHIPPED_MODEL)
    whole = score_inputs(batch, model)
    for partitions in (1, 2):
        scored = score_window(held, window_days(as_of, 2), model, model.thresholds, registry=registry,
                              engine=Engine(partitions=partitions))
        assert scored.partitions == partitions
        assert_frame_equal(scored.flags.scores, whole.scores)


def test_a_column_missing_from_some_nights_is_missing_only_where_no_file_had_it(world, tmp_path):
    files = sorted((world / "cdr").glob("*.parquet"))
    lacking = tmp_path / "lacking" / files[0].name
    lacking.parent.mkdir()
    pl.read_parquet(files[0]).drop("imei", "duration_s").write_parquet(lacking)
    state = tmp_path / "state"
    for path in (lacking, files[1]):
        add_night(state, read_cdrs([path], Mapping()), Mapping())
    held = State.open(state)
    day1, day2 = days_of(files)[:2]
    alone = window_features(held, day1, 1)
    assert alone["distinct_imeis"].null_count() == alone.height
    assert_frame_equal(alone, feature_table(read_inputs([lacking])))
    assert_frame_equal(window_features(held, day2, 2), feature_table(read_inputs([lacking, files[1]])))


def test_a_night_forgets_the_days_past_its_retention(world, tmp_path):
    from detector.engine.nightly import run_night
    from models.model_file import SHIPPED_MODEL, load_model

    model = load_model(SHIPPED_MODEL)
    files = sorted((world / "cdr").glob("*.parquet"))
    done = [run_night(tmp_path / "state", read_cdrs([f], Mapping()), Mapping(), model, window=1, keep_days=1)
            for f in files]
    assert [d.forgotten for d in done] == [0, 0, done[0].added.rows]
    assert done[-1].state.days()["day"].to_list() == days_of(files)[1:]
    assert done[-1].scores.height  # the window (one day) was scored before anything was forgotten
    kept = run_night(tmp_path / "kept", read_cdrs([files[0]], Mapping()), Mapping(), model)
    assert kept.forgotten == 0  # by default: the window and 30 days more


def flags_of(state, files, registry, engine):
    from detector.engine.nightly import score_window, window_days
    from models.model_file import SHIPPED_MODEL, load_model

    model = load_model(SHIPPED_MODEL)
    days = window_days(days_of(files)[-1], 3)
    return score_window(state, days, model, model.thresholds, registry=registry, engine=engine)


@pytest.mark.parametrize("partitions", [2, 3])
def test_a_night_scored_partition_by_partition_equals_the_night_read_whole(world, nights, partitions):
    from detector.engine.pipeline import Engine

    state, files, _, _ = nights
    registry = read_registry(world / "subscribers.csv").subscribers
    whole, split = (flags_of(state, files, registry, Engine(partitions=n)) for n in (1, partitions))
    assert whole.features is not None and split.features is None
    assert (whole.partitions, split.partitions) == (1, {2: 2, 3: 4}[partitions])
    whole, split = whole.flags, split.flags
    assert state.partitions == 4
    assert_frame_equal(split.scores, whole.scores)
    assert_frame_equal(split.flagged, whole.flagged)
    assert split.allowlisted == whole.allowlisted and whole.flagged.height > 10


def test_a_night_on_dask_equals_the_local_night(world, nights, tmp_path):
    from detector.engine.pipeline import Engine

    state, files, _, _ = nights
    registry = read_registry(world / "subscribers.csv").subscribers
    local = flags_of(state, files, registry, Engine(partitions=1)).flags
    dask = flags_of(state, files, registry, Engine(kind="dask", workers=2, tmp_dir=tmp_path)).flags
    assert_frame_equal(dask.scores, local.scores)
    assert_frame_equal(dask.flagged, local.flagged)


def test_a_tight_memory_limit_splits_the_window(nights):
    from detector.engine.nightly import night_partitions, window_days
    from detector.engine.pipeline import Engine

    state, files, _, _ = nights
    days = window_days(days_of(files)[-1], 3)
    assert night_partitions(state, days, Engine(), 0) == 1  # half this machine's memory: whole
    assert night_partitions(state, days, Engine(memory_limit=2**20), 0) == state.partitions
