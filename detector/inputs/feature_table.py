"""Reading a ready feature table (cli.md, ``--features``): a carrier's own per-number aggregates.

One Parquet or CSV file, one row per number: an ``msisdn`` column (any case), normalised like
every number of the engine (:mod:`detector.inputs.numbers`) so that labels and the allowlist join,
and numeric columns of the user's choosing, under any names. Booleans are read as 0/1; a column
with no value at all (an empty CSV column) as a float column of nulls.

Refused with one line (:class:`InputError`): no ``msisdn`` column, a column that is not numeric
(named), a column with infinite values, a table with no rows or no feature column, and a number
on more than one row. Repeated numbers are refused rather than rejected row by row: which row is
right cannot be told, keeping either would train or score on arbitrary values, ``train`` writes
no rejects file to say so, and a per-number table with repeats is a broken export (a join that
fanned out, two forms of one number), better fixed where it is made. A row without a number
(a blank line, an empty ``msisdn``) describes nobody: it goes to the rejects, as in a CDR.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from detector.errors import InputError, one_line
from detector.inputs.cdr import REJECTS_SCHEMA, scan_table
from detector.inputs.fields import clean_text
from detector.inputs.mapping import Mapping
from detector.inputs.numbers import normalise_number

_ROW = "_row"


@dataclass(frozen=True)
class FeatureTable:
    """A feature table as read: its rows and the rows rejected."""

    #: ``msisdn`` (normalised, distinct) then the feature columns as the file has them (booleans
    #: as 0/1, empty columns as Float64).
    table: pl.DataFrame
    #: Rows without a number (:data:`~detector.inputs.cdr.REJECTS_SCHEMA`).
    rejects: pl.DataFrame

    @property
    def columns(self) -> list[str]:
        """The feature columns: every column but ``msisdn``, in the file's order."""
        return [c for c in self.table.columns if c != "msisdn"]


def read_feature_table(path: str | Path, mapping: Mapping | None = None) -> FeatureTable:
    """Read and check a feature table (see the module docstring for what is refused and why).

    ``mapping`` gives the country code numbers are normalised with and the CSV separator.
    """
    mapping = mapping or Mapping()
    p = Path(path)
    if not p.is_file():
        raise InputError(f"no such feature table file: {p}")
    _, separator = scan_table(p, mapping.separator, what="feature table ")  # empty or unreadable: one line

    def bad(message: str) -> InputError:
        return InputError(f"feature table {p}: {message}")

    raw = _read(p, separator, bad)
    by_name = {n.strip().lstrip("\ufeff").lower(): n for n in raw.columns}
    if "msisdn" not in by_name:
        raise bad("required column 'msisdn' is missing")
    number = by_name["msisdn"]
    columns = [n for n in raw.columns if n not in (number, _ROW)]
    if not columns:
        raise bad("no feature column besides msisdn")
    if raw.height == 0:
        raise bad("no rows (only a header)")
    for name in columns:
        dtype = raw.schema[name]
        empty = raw[name].null_count() == raw.height
        if not (dtype.is_numeric() or dtype == pl.Boolean or empty):
            kind = "text" if dtype == pl.Utf8 else str(dtype)
            raise bad(f"column {name!r} is not numeric ({kind}); give numbers (booleans as 0/1), "
                      "or leave the column out")
    values = [_numeric(name, raw.schema[name], raw[name].null_count() == raw.height) for name in columns]
    text = clean_text(pl.col(number), raw.schema[number])
    table = raw.select(pl.col(_ROW), normalise_number(text, mapping.country_code).alias("msisdn"), *values)
    infinite = [n for n in columns if table.schema[n].is_float() and table[n].is_infinite().any()]
    if infinite:
        raise bad(f"column {infinite[0]!r} has infinite values")
    missing = table["msisdn"].is_null()
    rejects = _rejects(raw.filter(missing), p, separator, [number, *columns])
    table = table.filter(~missing)
    if table.height == 0:
        raise bad("no row has a msisdn")
    repeated = table.group_by("msisdn").len().filter(pl.col("len") > 1).sort(["len", "msisdn"],
                                                                            descending=[True, False])
    if repeated.height:
        first, rows = repeated.row(0)
        more = f" ({repeated.height:,} numbers repeated)" if repeated.height > 1 else ""
        raise bad(f"msisdn {first} is on {rows} rows{more}: give one row per number")
    return FeatureTable(table=table.drop(_ROW), rejects=rejects)


def _read(path: Path, separator: str, bad) -> pl.DataFrame:
    """The file whole, with ``_row`` (the CSV line, the header being line 1; the Parquet row from
    1). CSV columns get the types their values have (every row looked at); the number column stays
    text, so that ``0912…`` keeps its trunk zero."""
    try:
        if not separator:
            return pl.read_parquet(path).with_row_index(_ROW, offset=1)
        header = pl.scan_csv(path, separator=separator, infer_schema=False, n_rows=0,
                             encoding="utf8-lossy").collect_schema().names()
        text = {n: pl.Utf8 for n in header if n.strip().lstrip("\ufeff").lower() == "msisdn"}
        return pl.read_csv(path, separator=separator, infer_schema_length=None, schema_overrides=text,
                           encoding="utf8-lossy", row_index_name=_ROW, row_index_offset=2)
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise bad(f"cannot read it: {one_line(exc)}") from None


def _numeric(name: str, dtype: pl.DataType, empty: bool) -> pl.Expr:
    """A feature column as the model reads it: booleans as 0/1, a column of nulls as Float64."""
    if dtype == pl.Boolean:
        return pl.col(name).cast(pl.UInt8)
    if empty and not dtype.is_numeric():
        return pl.lit(None, pl.Float64).alias(name)
    return pl.col(name)


def _rejects(rows: pl.DataFrame, path: Path, separator: str, columns: list[str]) -> pl.DataFrame:
    """The rows without a number, as rejects with their fields joined by the file's separator."""
    if rows.is_empty():
        return REJECTS_SCHEMA.to_frame()
    raw = pl.concat_str([pl.col(n).cast(pl.Utf8).fill_null("") for n in columns], separator=separator or ",")
    return rows.select(pl.lit(str(path)).alias("file"), pl.col(_ROW).cast(pl.Int64).alias("row"),
                       pl.lit("missing msisdn").alias("reason"), raw.alias("raw")).cast(dict(REJECTS_SCHEMA))
