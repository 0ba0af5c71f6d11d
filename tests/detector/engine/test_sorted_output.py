"""A table written sorted range by range equals the table sorted whole."""

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from detector.engine.sorted_output import cut_points, range_count, sink_ranges, write_ranges


def test_cut_points_split_the_sample_evenly_and_skip_nulls():
    sample = pl.Series("k", [f"{i:04d}" for i in range(100)] + [None] * 50)
    assert cut_points(sample.shuffle(seed=1), 4).to_list() == ["0025", "0050", "0075"]
    assert cut_points(sample, 1).is_empty()
    assert cut_points(pl.Series("k", [None, None], pl.Utf8), 3).is_empty()
    # A sample with few distinct values gives fewer, distinct cuts.
    assert cut_points(pl.Series("k", ["a"] * 10 + ["b"] * 10), 4).to_list() == ["a", "b"]


def test_range_count_follows_rows_and_budget():
    assert range_count(1000, 100, 10**9) == 1
    assert range_count(1000, 100, 100_000) == 3  # 1000 rows x 100 bytes x 3 (sort and write) / 100 kB
    assert range_count(10**9, 500, 1) == 1024  # never more than `most`


@pytest.mark.parametrize("ranges", [1, 2, 7])
def test_parts_cut_in_ranges_and_sunk_equal_the_whole_sorted(tmp_path, ranges):
    rng = np.random.default_rng(ranges)
    n = 5000
    keys = [f"84{k:09d}" for k in rng.choice(10**9, n, replace=False)]
    keys[17] = None  # a null key goes first, as a sort puts it
    table = pl.DataFrame({"msisdn": keys, "x": rng.normal(size=n), "n": rng.integers(0, 9, n)})
    cuts = cut_points(table["msisdn"].sample(500, seed=0), ranges)
    # Parts as hash partitions give them: any rows, each part sorted by its writer.
    part = rng.integers(0, 4, n)
    for p in range(4):
        write_ranges(table.filter(pl.Series(part == p)), "msisdn", cuts, tmp_path, f"part-{p:05d}")
    assert len(list(tmp_path.glob("range-*"))) == cuts.len() + 1
    sink_ranges(tmp_path, "msisdn", tmp_path / "out.parquet")
    assert_frame_equal(pl.read_parquet(tmp_path / "out.parquet"), table.sort("msisdn"), check_exact=True)


def test_an_empty_table_still_sinks_its_columns(tmp_path):
    empty = pl.DataFrame(schema={"msisdn": pl.Utf8, "x": pl.Float64})
    write_ranges(empty, "msisdn", pl.Series("msisdn", ["5"]), tmp_path, "part-00000")
    sink_ranges(tmp_path, "msisdn", tmp_path / "out.parquet")
    assert_frame_equal(pl.read_parquet(tmp_path / "out.parquet"), empty)
