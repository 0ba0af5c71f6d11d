"""The state store: what a night adds is held exactly once, late rows join their day, a night is
committed whole or not at all, and one run writes at a time."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from detector.state.store import EVENT_COLUMNS, State, StateError, create_state, writing

DAY = dt.date(2026, 11, 2)


def rows(n: int, day: dt.date = DAY, seed: int = 0) -> pl.DataFrame:
    """``n`` compact CDR rows of ``day``, all different."""
    rng = np.random.default_rng(seed)
    start = int(dt.datetime.combine(day, dt.time()).timestamp() * 1_000_000)
    frame = pl.DataFrame({name: rng.integers(1, 10**6, n) for name in EVENT_COLUMNS}).with_columns(
        pl.col("caller_id") + 84_900_000_000, pl.col("callee_id") + 84_900_000_000,
        (pl.lit(start) + pl.int_range(n) * 1_000_000).alias("ts"), (pl.col("flags") % 8).cast(pl.Int16))
    return frame.with_columns(pl.lit(day).alias("day"))


def held(state: State) -> pl.DataFrame:
    return state.events().collect().drop("part").select("day", *EVENT_COLUMNS).sort(pl.all())


@pytest.fixture
def state(tmp_path):
    return create_state(tmp_path / "state", partitions=4, country_code="84")


def test_a_new_state_is_empty_and_says_what_it_is(state):
    assert state.night == 0 and state.days().height == 0 and state.events().collect().height == 0
    layout = json.loads((state.root / "state.json").read_text())
    assert layout == {"format": 1, "partitions": 4, "country_code": "84", "home_prefixes": [],
                      "timezone": "Asia/Ho_Chi_Minh", "leg_tolerance_s": 5}
    assert {p.name for p in state.root.iterdir()} == {"events", "names", "columns", "cases", "flags", "surveys",
                                                      "incoming", "twins", "nights", "state.json"}


def test_rows_are_held_once_and_a_night_run_twice_changes_nothing(state):
    tonight = rows(500)
    with writing(state.root) as night:
        added = night.add_events(tonight)
        first = night.commit(DAY)
    assert (added.rows, added.duplicates, added.days) == (500, 0, (DAY,))
    assert_frame_equal(held(first), tonight.select("day", *EVENT_COLUMNS).sort(pl.all()))
    with writing(state.root) as night:  # the same file delivered again, and the night re-run
        again = night.add_events(pl.concat([tonight, tonight.head(10)]))
        second = night.commit(DAY)
    assert (again.rows, again.duplicates) == (0, 510)
    assert_frame_equal(held(second), held(first))
    assert second.nights()["duplicates"].to_list() == [0, 0, 510]
    assert second.days().to_dicts() == [{"day": DAY, "rows": 500, "numbers": tonight["caller_id"].n_unique()}]


def test_late_rows_join_their_day_and_each_row_keeps_its_partition(state):
    monday, tuesday = rows(300, DAY, seed=1), rows(200, DAY + dt.timedelta(days=1), seed=2)
    with writing(state.root) as night:
        night.add_events(monday)
        night.commit(DAY)
    late = rows(50, DAY, seed=3)
    with writing(state.root) as night:
        added = night.add_events(pl.concat([tuesday, late, monday.head(5)]))
        after = night.commit(DAY + dt.timedelta(days=1))
    assert (added.rows, added.duplicates) == (250, 5)
    assert after.days()["rows"].to_list() == [350, 200]
    parts = after.events().select("caller_id", "part").collect()
    assert parts["part"].is_between(0, 3).all()
    assert parts.group_by("caller_id").agg(pl.col("part").n_unique())["part"].max() == 1


def test_a_night_that_fails_before_its_commit_leaves_the_state_as_it_was(state):
    with writing(state.root) as night:
        night.add_events(rows(100))
        before = night.commit(DAY)
    with pytest.raises(RuntimeError), writing(state.root) as night:
        night.add_events(rows(100, DAY + dt.timedelta(days=1), seed=5))
        night.add_names(pl.DataFrame({"id": [-5], "text": ["VIETTEL"]}))
        raise RuntimeError("killed before the commit")
    reopened = State.open(state.root)
    assert reopened.versions == before.versions and reopened.night == before.night
    assert_frame_equal(held(reopened), held(before))
    assert reopened.names().collect().height == 0
    with writing(state.root) as night:  # the next writer restores the tables, then adds anew
        assert night.add_events(rows(100, DAY + dt.timedelta(days=1), seed=5)).rows == 100
        after = night.commit(DAY + dt.timedelta(days=1))
    assert after.days()["rows"].to_list() == [100, 100] and after.names().collect().height == 0


def test_a_run_killed_before_its_commit_is_undone_by_the_next_writer(state, tmp_path):
    code = f"""
import datetime as dt, os, polars as pl
from detector.state.store import writing
with writing({str(state.root)!r}) as night:
    night.add_events(pl.read_parquet({str(tmp_path / 'rows.parquet')!r}))
    os._exit(9)  # as SIGKILL: no cleanup, the lock and the new version stay
"""
    rows(80).write_parquet(tmp_path / "rows.parquet")
    killed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert killed.returncode == 9, killed.stderr
    assert (state.root / "writer.lock").exists()  # left by a process that is gone: taken over
    assert State.open(state.root).events().collect().height == 0
    with writing(state.root) as night:
        assert night.add_events(rows(80)).rows == 80
        assert night.commit(DAY).days()["rows"].to_list() == [80]


def test_a_second_writer_is_refused_and_touches_nothing(state):
    with writing(state.root) as night:
        night.add_events(rows(10))
        with pytest.raises(StateError, match="being written by pid"), writing(state.root):
            pass
        assert (state.root / "writer.lock").exists()  # still the first writer's
        night.commit(DAY)
    assert not (state.root / "writer.lock").exists()


def test_names_are_held_once(state):
    with writing(state.root) as night:
        assert night.add_names(pl.DataFrame({"id": [-1, -2, -1], "text": ["VIETTEL", "Shopee", "VIETTEL"]})) == 2
        assert night.add_names(pl.DataFrame({"id": [-2, -3], "text": ["Shopee", "1900"]})) == 1
        done = night.commit(None)
    assert sorted(done.names().collect()["text"].to_list()) == ["1900", "Shopee", "VIETTEL"]


def test_what_is_not_a_state_of_this_format_is_refused_in_one_line(tmp_path, state):
    with pytest.raises(StateError, match="is not a detector state"):
        State.open(tmp_path / "nothing")
    layout = json.loads((state.root / "state.json").read_text()) | {"format": 0}
    (state.root / "state.json").write_text(json.dumps(layout))
    with pytest.raises(StateError, match="format 0.*reads format 1 only"):
        State.open(state.root)
    with pytest.raises(StateError, match="not an empty directory"):
        create_state(state.root, partitions=4, country_code="84")


def test_rows_added_twice_in_one_night_are_held_once(state):
    tonight = rows(120)
    with writing(state.root) as night:
        assert night.add_events(tonight.head(80)).rows == 80
        second = night.add_events(tonight.tail(60))  # 20 of them came in the first file
        done = night.commit(DAY)
    assert (second.rows, second.duplicates) == (40, 20)
    assert done.nights().tail(1).select("rows_added", "duplicates").row(0) == (120, 20)


def test_the_columns_each_day_had_are_remembered(state):
    with writing(state.root) as night:
        night.add_columns([DAY], ["duration_s", "imei"])
        night.add_columns([DAY, DAY + dt.timedelta(days=1)], ["duration_s"])
        done = night.commit(None)
    assert done.present([DAY]) == {"duration_s", "imei"}
    assert done.present([DAY + dt.timedelta(days=1)]) == {"duration_s"}
    assert done.present([DAY - dt.timedelta(days=1)]) == frozenset()


def test_days_before_the_retention_are_forgotten_in_one_commit(state):
    with writing(state.root) as night:
        for back in range(3):
            night.add_events(rows(20, DAY + dt.timedelta(days=back), seed=back))
        night.add_columns([DAY, DAY + dt.timedelta(days=2)], ["imei"])
        assert night.view().days()["rows"].to_list() == [20, 20, 20]  # tonight's, before the commit
        assert State.open(state.root).days().height == 0  # ... which nobody else sees yet
        night.commit(DAY + dt.timedelta(days=2))
    with writing(state.root) as night:
        assert night.forget_before(DAY + dt.timedelta(days=1)) == 20
        done = night.commit(None)
    assert done.days()["day"].to_list() == [DAY + dt.timedelta(days=1), DAY + dt.timedelta(days=2)]
    assert done.present([DAY]) == frozenset() and done.present([DAY + dt.timedelta(days=2)]) == {"imei"}


def _as_before_flags_and_surveys(state: State) -> None:
    """Rewrite ``state`` as the engine wrote it before the layout gained ``flags``, ``surveys`` and
    ``incoming``."""
    import shutil

    from deltalake import write_deltalake

    nights = pl.read_delta(str(state.root / "nights")).drop("flags_version", "surveys_version", "incoming_version")
    shutil.rmtree(state.root / "nights")
    write_deltalake(str(state.root / "nights"), nights.to_arrow())
    for name in ("flags", "surveys", "incoming"):
        shutil.rmtree(state.root / name)


def test_a_state_from_before_the_flags_and_surveys_tables_is_read_then_upgraded(state):
    with writing(state.root) as night:
        night.add_events(rows(500))
        night.commit(DAY)
    incoming = State.open(state.root).incoming().collect().sort(pl.all())
    assert incoming.height > 300  # with 4 partitions, about 3 rows in 4 cross
    _as_before_flags_and_surveys(state)
    older = State.open(state.root)
    assert older.versions["flags"] is None and older.flags().height == 0
    assert older.surveys().collect().height == 0 and held(older).height == 500
    assert older.incoming().collect().height == 0 and older.unrecorded == {"flags", "surveys", "incoming"}

    flags = pl.DataFrame({"msisdn": ["84900000001"], "category": ["voice_spam"], "score": [0.9],
                          "source": ["model"], "new": [True]})
    with writing(state.root) as night:
        night.set_flags(DAY, flags)
        upgraded = night.commit(DAY)
    assert upgraded.flags().drop("as_of").equals(flags) and held(upgraded).height == 500
    assert upgraded.incoming().collect().sort(pl.all()).equals(incoming) and not upgraded.unrecorded
    assert State.open(state.root).nights()["flags_version"].to_list()[:2] == [None, None]


def test_a_night_run_again_replaces_its_own_flags_and_surveys(state):
    def night_of(day: dt.date, numbers: list[str]) -> None:
        with writing(state.root) as night:
            night.set_flags(day, pl.DataFrame({"msisdn": numbers, "category": "sms_spam", "score": 0.8,
                                               "source": "model", "new": True}))
            night.set_surveys(day, pl.DataFrame({"flagged_msisdn": numbers, "category": "sms_spam",
                                                 "callee": [n + "9" for n in numbers]}))
            night.commit(day)

    night_of(DAY, ["849001", "849002"])
    night_of(DAY + dt.timedelta(days=1), ["849003"])
    night_of(DAY, ["849001"])
    again = State.open(state.root)
    assert again.flags().select("as_of", "msisdn").rows() == [(DAY, "849001"), (DAY + dt.timedelta(days=1), "849003")]
    assert sorted(again.surveys().collect()["callee"]) == ["8490019", "8490039"]


def test_incoming_holds_the_rows_that_cross_partitions_under_the_callees(state):
    from features.build import partition_of

    with writing(state.root) as night:
        night.add_events(rows(400))
        night.add_events(rows(50, DAY + dt.timedelta(days=1), seed=3))
        after = night.commit(DAY)
    events = after.events().with_columns(partition_of(pl.col("callee_id"), 4).alias("callee_part")).collect()
    crossing = events.filter(pl.col("callee_part") != pl.col("part"))
    assert_frame_equal(after.incoming().collect().sort(pl.all()),
                       crossing.select("day", pl.col("callee_part").alias("part"), "caller_id", "callee_id", "flags")
                       .sort(pl.all()))
    files = after.files("events", [DAY], [1, 2])
    assert files and pl.read_parquet(files).height == events.filter((pl.col("day") == DAY) & pl.col("part").is_in([1, 2])).height
    assert after.rows_held([DAY])["rows"].to_list() == [400]
    assert after.rows_held().rows() == [(DAY, 400), (DAY + dt.timedelta(days=1), 50)]


def test_legs_are_paired_across_nights_as_at_once_and_held_rows_move_when_the_pairing_does(state):
    """Greedy pairing in time order (:func:`detector.inputs.legs.leg_pairs`), seconds after
    23:59: an outgoing leg at 55 and its incoming twin at 57; a later night brings an incoming
    leg of the same key at 54, which takes the outgoing leg, so the one at 57 counts again; then
    an outgoing leg at 61 (the next day) takes that one. ``incoming`` follows ``events``."""
    from features.build import INCOMING_LEG, VOICE, partition_of

    base = int(dt.datetime.combine(DAY, dt.time(23, 59)).timestamp() * 1_000_000)

    def leg(second: int, incoming: bool) -> pl.DataFrame:
        flags = VOICE + INCOMING_LEG * incoming
        return pl.DataFrame({"caller_id": [84_900_000_001], "callee_id": [84_900_000_002],
                             "ts": [base + second * 1_000_000], "duration_s": [30], "flags": [flags],
                             "cell": [second], "imei": [7], "callee_key": [84_900_000_002]},
                            schema=EVENT_COLUMNS).with_columns(
            pl.lit(DAY + dt.timedelta(days=int(second >= 60))).alias("day"))

    def night(*legs: pl.DataFrame):
        with writing(state.root) as writer:
            added = writer.add_events(pl.concat(legs), leg_tolerance_s=5)
            after = writer.commit(None)
        counted = after.events().collect().sort("ts")["ts"].to_list()
        twins = pl.scan_delta(str(after.root / "twins")).collect().sort("ts")["ts"].to_list()
        crossing = (after.events().filter(partition_of(pl.col("callee_id"), 4) != pl.col("part")).select(pl.len())
                    .collect().item())
        assert after.incoming().select(pl.len()).collect().item() == crossing
        return added.legs, [(t - base) // 1_000_000 for t in counted], [(t - base) // 1_000_000 for t in twins]

    assert night(leg(55, False), leg(57, True)) == (1, [55], [57])
    assert night(leg(54, True)) == (0, [55, 57], [54])
    assert night(leg(61, False)) == (1, [55, 61], [54, 57])
    assert night(leg(57, True)) == (0, [55, 61], [54, 57])  # delivered again: a duplicate
