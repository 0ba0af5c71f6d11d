"""Reading labels (training and evaluation) and the allowlist (data-contract.md).

Labels: ``msisdn,label``, one row per (number, label), a number may carry several; numbers without
a row are negatives. Allowlist: a ``msisdn`` column of numbers that must never be flagged. Numbers
are normalised exactly like CDR numbers, so ``0912…`` in a label file matches ``84912…`` in the CDRs.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from detector.contract import CATEGORIES
from detector.errors import InputError, one_line
from detector.inputs.cdr import scan_named_table
from detector.inputs.fields import clean_text
from detector.inputs.mapping import Mapping
from detector.inputs.numbers import normalise_number


def read_labels(path: str | Path, mapping: Mapping | None = None) -> pl.DataFrame:
    """One row per labelled number: ``msisdn`` and a boolean column per category.

    Raises :class:`InputError` for a missing or unreadable file, a missing column, or a label
    that is not one of the four categories.
    """
    table = _read_numbers(path, mapping, "labels", ("msisdn", "label"))
    unknown = table.filter(~pl.col("label").is_in(CATEGORIES)).get_column("label").unique().sort()
    if unknown.len():
        raise InputError(f"labels {path}: unknown label {unknown[0]!r} (expected one of {', '.join(CATEGORIES)})")
    return (
        table.group_by("msisdn")
        .agg(pl.col("label").eq(c).any().alias(c) for c in CATEGORIES)
        .sort("msisdn")
    )


def read_allowlist(path: str | Path, mapping: Mapping | None = None) -> pl.Series:
    """The distinct normalised numbers of an allowlist file's ``msisdn`` column."""
    return _read_numbers(path, mapping, "allowlist", ("msisdn",)).get_column("msisdn").unique().sort()


def _read_numbers(path: str | Path, mapping: Mapping | None, what: str, columns: tuple[str, ...]) -> pl.DataFrame:
    mapping = mapping or Mapping()
    p = Path(path)
    lf, schema, by_name = scan_named_table(p, mapping.separator, what, columns)
    text = {c: clean_text(pl.col(by_name[c]), schema[by_name[c]]) for c in columns}
    selected = [normalise_number(text["msisdn"], mapping.country_code).alias("msisdn")]
    if "label" in columns:
        selected.append(text["label"].str.to_lowercase().alias("label"))
    try:
        table = lf.select(selected).collect()
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise InputError(f"cannot read {what} {p}: {one_line(exc)}") from None
    # A blank line or a row without a number labels nobody.
    return table.drop_nulls()
