"""Row hashes of spilled rows against a Python reference: equal rows hash alike, others apart."""

import numpy as np
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from detector.engine.row_hashes import _SEEDS, row_hashes

MASK = 2**64 - 1


def _mixed(z: int) -> int:
    z = (z + 0x9E3779B97F4A7C15) & MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def _reference(rows: list[tuple]) -> list[int]:
    """The sum, modulo 2^64, of each value (null as 0, as 64-bit two's complement) mixed with
    its column's seed."""
    return [sum(_mixed(((v or 0) & MASK) ^ int(_SEEDS[j])) for j, v in enumerate(row)) & MASK for row in rows]


int64s = st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1), st.integers(-3, 3))
int8s = st.one_of(st.none(), st.integers(-128, 127))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(int64s, int8s, int64s), max_size=30), st.data())
def test_row_hashes_equal_the_reference_and_equal_rows_hash_alike(rows, data):
    """Int64 and Int8 columns with nulls, negatives and extremes; empty and single-row frames;
    some rows repeated."""
    if rows:
        rows += data.draw(st.lists(st.sampled_from(rows), max_size=5))
    frame = pl.DataFrame(rows, schema={"a": pl.Int64, "b": pl.Int8, "c": pl.Int64}, orient="row")
    hashes = row_hashes(frame)
    assert hashes.dtype == pl.UInt64 and hashes.len() == len(rows)
    assert hashes.to_list() == _reference(rows)
    seen: dict[tuple, int] = {}
    for row, h in zip(rows, hashes.to_list(), strict=True):
        assert seen.setdefault(row, h) == h


def test_frames_without_rows_or_columns_have_no_hashes():
    assert row_hashes(pl.DataFrame(schema={"a": pl.Int64})).to_list() == []
    assert row_hashes(pl.DataFrame()).to_list() == []


def test_calls_differing_in_time_and_duration_only_hash_apart():
    """Two different calls between the same numbers differ only in a few columns (time,
    duration): a million such rows on a grid, all of different hashes. A weighted sum of the
    values would be linear, and could meet on pairs whose differences cancel."""
    ts, duration = np.meshgrid(np.arange(1_000) * 1_000_000 + 1_700_000_000_000_000, np.arange(1_000))
    frame = pl.DataFrame({"caller": np.full(ts.size, 84_912_345_678), "callee": np.full(ts.size, 84_987_654_321),
                          "ts": ts.ravel(), "duration": duration.ravel()})
    assert row_hashes(frame).n_unique() == frame.height
