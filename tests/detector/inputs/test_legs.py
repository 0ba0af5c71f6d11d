"""Two legs of one call: the pairing kernel against a plain maximum matching, and read_cdrs on a
small two-leg export (parties swapped, the receiver's cell kept off the caller, twins counted once)."""

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detector.errors import InputError
from detector.inputs.cdr import read_cdrs
from detector.inputs.legs import leg_pairs, match_sorted
from detector.inputs.mapping import load_mapping


def max_matching(ts: list[int], incoming: list[bool], tolerance: int) -> int:
    """Size of a maximum matching of outgoing with incoming legs within ``tolerance`` (Kuhn's
    augmenting paths: slow, obviously right)."""
    outs = [i for i, x in enumerate(incoming) if not x]
    ins = [j for j, x in enumerate(incoming) if x]
    owner: dict[int, int] = {}

    def augment(i: int, seen: set[int]) -> bool:
        for j in ins:
            if abs(ts[i] - ts[j]) <= tolerance and j not in seen:
                seen.add(j)
                if j not in owner or augment(owner[j], seen):
                    owner[j] = i
                    return True
        return False

    return sum(augment(i, set()) for i in outs)


groups = st.lists(
    st.lists(st.tuples(st.integers(0, 30), st.booleans()), min_size=0, max_size=8),
    min_size=0, max_size=6,
)


@settings(max_examples=300, deadline=None)
@given(groups=groups, tolerance=st.integers(0, 6))
def test_match_sorted_is_a_maximum_matching_within_each_group(groups, tolerance):
    ts, incoming, starts = [], [], [0]
    for rows in groups:
        for t, is_in in sorted(rows):
            ts.append(t)
            incoming.append(is_in)
        starts.append(len(ts))
    partner = match_sorted(np.array(starts), np.array(ts, dtype=np.int64), np.array(incoming, dtype=bool), tolerance)
    group_of = np.repeat(np.arange(len(groups)), np.diff(starts))
    for i, j in enumerate(partner):
        if j < 0:
            continue
        assert partner[j] == i  # one-to-one
        assert incoming[i] != incoming[j]  # an outgoing with an incoming leg
        assert group_of[i] == group_of[j]  # of the same call's key
        assert abs(ts[i] - ts[j]) <= tolerance
    for g in range(len(groups)):
        lo, hi = starts[g], starts[g + 1]
        pairs = int((partner[lo:hi] >= 0).sum()) // 2
        assert pairs == max_matching(ts[lo:hi], incoming[lo:hi], tolerance)


def test_match_sorted_empty_and_single_row():
    empty = match_sorted(np.array([0]), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=bool), 5)
    assert empty.shape == (0,)
    for is_in in (True, False):
        assert match_sorted(np.array([0, 1]), np.array([7]), np.array([is_in]), 5).tolist() == [-1]


@settings(max_examples=50, deadline=None)
@given(rows=st.lists(st.tuples(st.sampled_from("abc"), st.integers(0, 20), st.booleans()), max_size=30),
       seed=st.integers(0, 2**16))
def test_leg_pairs_do_not_depend_on_row_order(rows, seed):
    frame = pl.DataFrame(rows, schema=["key", "ts", "incoming"], orient="row")
    shuffled = frame.sample(fraction=1.0, shuffle=True, seed=seed)

    def pairs(df):
        inc, out = leg_pairs(df, ["key"], pl.col("ts"), pl.col("incoming"), 2)
        assert np.all(np.diff(inc) > 0)
        assert df["incoming"].to_numpy()[inc].all() and not df["incoming"].to_numpy()[out].any()
        # Which legs pair may differ between equal rows; the multiset of pairs may not.
        return sorted(zip(df[inc.tolist()].rows(), df[out.tolist()].rows()))

    assert pairs(frame) == pairs(shuffled)


def test_leg_pairs_all_null_incoming_pairs_nothing():
    frame = pl.DataFrame({"key": ["a", "a"], "ts": [1, 1], "incoming": [None, None]}, schema_overrides={"incoming": pl.Boolean})
    inc, out = leg_pairs(frame, ["key"], pl.col("ts"), pl.col("incoming"), 5)
    assert inc.size == out.size == 0


MAPPING = """
[columns]
caller = "SERVED"
callee = "OTHER"
start_time = "TIME"
duration_s = "DURATION"
event_type = "TYPE"
cell_id = "CELL"
imei = "IMEI"

[values.event_type]
MOC = "voice"
MTC = "voice_in"
SMS_MO = "sms"
SMS_MT = "sms_in"

[format]
timestamp = "%Y-%m-%d %H:%M:%S"
leg_tolerance_s = 5
"""

A, B, OFFNET = "84912000001", "84912000002", "84988000003"
LEGS = [
    # A calls B: both legs, B's switch 5 s later: one call, B's cell on the callee side.
    (A, B, "2026-11-02 08:00:00", 60, "MOC", "cellA", "imeiA"),
    (B, A, "2026-11-02 08:00:05", 60, "MTC", "cellB", "imeiB"),
    # A calls B again: the incoming leg 6 s later is not this call's twin.
    (A, B, "2026-11-02 09:00:00", 30, "MOC", "cellA", "imeiA"),
    (B, A, "2026-11-02 09:00:06", 30, "MTC", "cellB", "imeiB"),
    # Same time, another duration: another call.
    (A, B, "2026-11-02 10:00:00", 40, "MOC", "cellA", "imeiA"),
    (B, A, "2026-11-02 10:00:01", 41, "MTC", "cellB", "imeiB"),
    # An off-net number calls A: only the incoming leg exists, and it is kept.
    (A, OFFNET, "2026-11-02 11:00:00", 20, "MTC", "cellA", "imeiA"),
    # An SMS seen as both legs.
    (A, B, "2026-11-02 12:00:00", 0, "SMS_MO", "cellA", "imeiA"),
    (B, A, "2026-11-02 12:00:02", 0, "SMS_MT", "cellB", "imeiB"),
]


@pytest.fixture
def two_leg_batch(tmp_path):
    path = tmp_path / "legs.csv"
    pl.DataFrame(LEGS, schema=["SERVED", "OTHER", "TIME", "DURATION", "TYPE", "CELL", "IMEI"], orient="row").write_csv(path)
    (tmp_path / "m.toml").write_text(MAPPING)
    return read_cdrs([path], load_mapping(tmp_path / "m.toml"))


def test_read_cdrs_swaps_incoming_legs_and_counts_twins_once(two_leg_batch):
    batch = two_leg_batch
    assert batch.legs_matched == 2
    assert batch.cdrs.height == len(LEGS) - 2
    rows = batch.cdrs.sort("start_time").select(
        "caller", "callee", pl.col("start_time").dt.strftime("%H:%M:%S"), "duration_s", "event_type",
        "cell_id", "imei", "callee_cell_id", "callee_imei", "incoming_leg").rows()
    assert rows == [
        (A, B, "08:00:00", 60, "voice", "cellA", "imeiA", "cellB", "imeiB", False),
        (A, B, "09:00:00", 30, "voice", "cellA", "imeiA", None, None, False),
        (A, B, "09:00:06", 30, "voice", None, None, "cellB", "imeiB", True),
        (A, B, "10:00:00", 40, "voice", "cellA", "imeiA", None, None, False),
        (A, B, "10:00:01", 41, "voice", None, None, "cellB", "imeiB", True),
        (OFFNET, A, "11:00:00", 20, "voice", None, None, "cellA", "imeiA", True),
        (A, B, "12:00:00", 0, "sms", "cellA", "imeiA", "cellB", "imeiB", False),
    ]


def test_a_receivers_cell_never_lands_on_its_caller(two_leg_batch):
    cdrs = two_leg_batch.cdrs
    assert not cdrs.filter(pl.col("caller") == OFFNET)["cell_id"].is_not_null().any()
    assert not cdrs["cell_id"].eq("cellB").any()


@pytest.mark.parametrize("value, says", [("-1", "leg_tolerance_s"), ('"five"', "leg_tolerance_s")])
def test_bad_leg_tolerance_is_one_clear_error(tmp_path, value, says):
    (tmp_path / "m.toml").write_text(MAPPING.replace("leg_tolerance_s = 5", f"leg_tolerance_s = {value}"))
    with pytest.raises(InputError, match=says):
        load_mapping(tmp_path / "m.toml")
