"""A table larger than memory, written as one Parquet file sorted by its key.

A partitioned run produces the feature table in parts, one per hash partition of the numbers,
each sorted by ``msisdn``. Sorting their union at the end held the whole table (a 4M-number
table peaked at 3.5 GB on its own). Instead every part is cut at the same values of the key
(:func:`cut_points`, from a sample of the keys) into ranges and spilled range by range
(:func:`write_ranges`); the output is then written range after range, each sorted
(:func:`sink_ranges`). Memory holds one range at a time, and each row is read back once.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import polars as pl
from polars.io.plugins import register_io_source

from detector.engine.spill_files import write_ipc

#: Memory per row of a range while it is read back, sorted and encoded, as a multiple of the
#: row's own size: measured 2.4x for ranges of 0.5M rows of the feature table (454 bytes a row).
SINK_OVERHEAD = 3


def range_count(rows: int, bytes_per_row: int, budget: int, most: int = 1024) -> int:
    """How many ranges keep ``rows`` of ``bytes_per_row`` (times :data:`SINK_OVERHEAD`) within
    ``budget`` bytes a range; at most ``most``."""
    return max(1, min(most, -(-rows * bytes_per_row * SINK_OVERHEAD // max(budget, 1))))


def cut_points(sample: pl.Series, ranges: int) -> pl.Series:
    """Up to ``ranges - 1`` distinct values that split the (non-null) values of ``sample`` into
    ``ranges`` parts of about equal size, sorted; empty for one range."""
    values = sample.drop_nulls().sort()
    if ranges <= 1 or values.is_empty():
        return values.clear()
    return values.gather([values.len() * i // ranges for i in range(1, ranges)]).unique(maintain_order=True)


def write_ranges(table: pl.DataFrame, key: str, cuts: pl.Series, directory: Path, name: str,
                 compression: str = "none") -> None:
    """Write ``table``'s rows as one Arrow IPC file per range of ``key`` between ``cuts``
    (``directory/range-00002/<name>.arrow``, with ``compression``:
    :func:`~detector.engine.spill_files.write_ipc`). Range ``i`` holds the keys from ``cuts[i - 1]`` up
    to (not including) ``cuts[i]``; nulls are in the first. Empty ranges get no file, except the
    first, so that :func:`sink_ranges` always finds the table's columns."""
    table = table.sort(key)  # nulls first, as in range 0; free when the table is sorted already
    bounds = [0, *table[key].search_sorted(cuts, side="left").to_list(), table.height]
    for i in range(len(bounds) - 1):
        if bounds[i + 1] > bounds[i] or i == 0:
            folder = directory / f"range-{i:05d}"
            folder.mkdir(parents=True, exist_ok=True)
            write_ipc(table.slice(bounds[i], bounds[i + 1] - bounds[i]), folder / f"{name}.arrow", compression)


def sink_ranges(directory: Path, key: str, out: Path) -> None:
    """Write the ranges that :func:`write_ranges` left under ``directory``, in order and each
    sorted by ``key``, as one Parquet file ``out``."""
    ranges = [sorted(folder.glob("*.arrow")) for folder in sorted(directory.glob("range-*"))]
    if not ranges or not ranges[0]:
        raise ValueError(f"no ranges under {directory}")

    def read(with_columns: list[str] | None, predicate: pl.Expr | None, n_rows: int | None,
             _batch_size: int | None) -> Iterator[pl.DataFrame]:
        # Polars pulls the ranges one at a time as its Parquet writer takes the rows: memory
        # holds one range (and the writer's buffers).
        left = n_rows
        for files in ranges:
            frame = pl.read_ipc(files).sort(key)
            frame = frame if predicate is None else frame.filter(predicate)
            frame = frame if with_columns is None else frame.select(with_columns)
            if left is not None:
                frame, left = frame.head(left), left - min(left, frame.height)
            yield frame
            if left == 0:
                return

    register_io_source(read, schema=pl.read_ipc_schema(ranges[0][0])).sink_parquet(out)
