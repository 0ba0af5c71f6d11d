"""Reading the subscriber registry (data-contract.md, "Subscriber registry").

One row per home subscriber: ``msisdn``, ``activation_time``, ``dealer_id``, ``id_number``,
``subscription_type``, and optionally ``iccid``, ``imsi``, ``activation_cell``. Numbers are
normalised like CDR numbers; a row whose msisdn or activation time cannot be parsed is rejected
with a reason; for a msisdn listed twice the latest activation wins and the duplicates are counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from detector.errors import InputError, one_line
from detector.inputs.cdr import REJECTS_SCHEMA, scan_named_table
from detector.inputs.fields import clean_text, parse_timestamp_text, typed_timestamp
from detector.inputs.mapping import Mapping
from detector.inputs.numbers import normalise_number

REGISTRY_SCHEMA = pl.Schema(
    {
        "msisdn": pl.Utf8,
        "activation_time": pl.Datetime("us"),
        "dealer_id": pl.Utf8,
        "id_number": pl.Utf8,
        "subscription_type": pl.Utf8,
        "iccid": pl.Utf8,
        "imsi": pl.Utf8,
        "activation_cell": pl.Utf8,
    }
)
_REQUIRED = ("msisdn", "activation_time", "dealer_id", "id_number", "subscription_type")


@dataclass
class Registry:
    """The parsed registry: one row per msisdn, plus what was rejected or superseded."""

    subscribers: pl.DataFrame
    rejects: pl.DataFrame
    duplicates: int


def read_registry(path: str | Path, mapping: Mapping | None = None) -> Registry:
    """Read a registry CSV or Parquet file.

    Raises :class:`InputError` for a missing or unreadable file or a missing required column.
    """
    mapping = mapping or Mapping()
    p = Path(path)
    lf, schema, by_name = scan_named_table(p, mapping.separator, "registry", _REQUIRED)

    def text(name: str) -> pl.Expr:
        if name not in by_name:
            return pl.lit(None, pl.Utf8)
        return clean_text(pl.col(by_name[name]), schema[by_name[name]])

    activation_dtype = schema[by_name["activation_time"]]
    if activation_dtype == pl.Utf8:
        activation = parse_timestamp_text(lf, text("activation_time"), mapping, f"registry {p}")
    else:
        activation = typed_timestamp(pl.col(by_name["activation_time"]), activation_dtype, mapping)
    msisdn = normalise_number(text("msisdn"), mapping.country_code)
    reason = (
        pl.when(msisdn.is_null()).then(pl.lit("missing msisdn"))
        .when(text("activation_time").is_null()).then(pl.lit("missing activation_time"))
        .when(activation.is_null()).then(pl.lit("bad activation_time"))
        .otherwise(None)
    )
    parsed = lf.select(
        pl.col("_row").cast(pl.Int64),
        msisdn.alias("msisdn"),
        activation.alias("activation_time"),
        *[text(c).alias(c) for c in REGISTRY_SCHEMA.names()[2:]],
        reason.alias("_reason"),
    )
    # The raw line is built for the rejected rows alone, in a second pass: on every row it was a
    # copy of the whole file (GBs for a carrier's tens of millions of subscribers), and even
    # under a ``when`` Polars formats every row (4M rows: 0.35 of 1.3 s).
    raw = pl.concat_str([pl.col(c).cast(pl.Utf8).fill_null("") for c in schema.names() if c != "_row"],
                        separator=",")
    try:
        df = parsed.collect()
        bad = df.filter(pl.col("_reason").is_not_null()).select("_row", "_reason")
        bad = (lf.with_columns(pl.col("_row").cast(pl.Int64)).join(bad.lazy(), on="_row")
               .select("_row", "_reason", raw.alias("_raw")).sort("_row").collect() if bad.height
               else bad.with_columns(pl.lit(None, pl.Utf8).alias("_raw")))
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise InputError(f"cannot read registry {p}: {one_line(exc)}") from None

    rejects = bad.select(pl.lit(str(p)).alias("file"), pl.col("_row").alias("row"),
                         pl.col("_reason").alias("reason"), pl.col("_raw").alias("raw"))
    good = df.filter(pl.col("_reason").is_null()).select(REGISTRY_SCHEMA.names())
    del df  # every parsed row, the rejected ones too: 1.4 GB for 16M subscribers
    # The latest activation of a msisdn wins (a number recycled to a new owner); of rows alike in
    # both, the file's last. The keys alone are sorted and the rows gathered once: sorting every
    # column took 2.3 GB more memory for 16M subscribers.
    latest = (good.select(pl.int_range(pl.len(), dtype=pl.UInt32).alias("i"), "msisdn", "activation_time")
              .sort(["msisdn", "activation_time"], maintain_order=True)
              .unique("msisdn", keep="last", maintain_order=True))
    return Registry(
        subscribers=good[latest["i"]].cast(dict(REGISTRY_SCHEMA)),
        rejects=rejects.cast(dict(REJECTS_SCHEMA)),
        duplicates=good.height - latest.height,
    )
