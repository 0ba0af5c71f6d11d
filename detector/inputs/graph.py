"""Reading a call graph: edge lists without per-call rows (cli.md, ``--graph``).

Research and honeypot data sets publish who called whom and how often, not the calls: one row per
(caller, callee) with ``calls``, and optionally ``voice_calls``, ``sms``, ``answered_calls``,
``duration_s_total``, ``first_time``, ``last_time``. Files, directories and globs are found as for
``--cdr`` (CSV, .csv.gz, Parquet, mixed); column names are matched ignoring case and padding.

What each column means, so that features built on it equal the CDR features value for value:

- ``calls``: every event from ``caller`` to ``callee`` in the window, voice calls and SMS alike;
- ``voice_calls`` and ``sms``: the same split by kind. One of them is enough (the other is
  ``calls`` less it); with both, they must add up to ``calls``. Without either the kind of the
  events is unknown, and every voice- or SMS-specific feature is null: an edge list that counts
  voice calls only should name its column ``voice_calls`` (and may repeat it as ``calls``);
- ``answered_calls``: the answered voice calls among them; ``duration_s_total``: the seconds of
  those answered calls added up;
- ``first_time``, ``last_time``: the start of the first and the last event, read as CDR
  timestamps are (layout detected or from ``--mapping``, converted to the network's local time).

Both numbers are normalised by the CDRs' rule (:mod:`detector.inputs.numbers`, the country of
``--mapping``). An optional column counts only if every file has it. Rows listing the same
(caller, callee) twice, as written or once normalised, are **added up** into one edge (counts
summed, earliest ``first_time``, latest ``last_time``): an edge list split by day or by switch is
read as the whole window, which is what a carrier engineer concatenating exports expects. How
many rows were merged is reported.

Bad input, told in one line (:class:`~detector.errors.InputError`): a file without ``caller``,
``callee`` or ``calls``; a count column that is not a number at all (a Parquet column of another
type, or CSV text of which no value is a count); a negative count (a count below zero is a
broken export, not one bad row); no rows at all. A row that cannot be used (an empty number, a
count that is empty or not a whole number, a timestamp that does not parse, counts that
contradict each other) is rejected with its file, row, reason and raw text, like a CDR row.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from detector.errors import InputError, one_line
from detector.inputs.cdr import REJECTS_SCHEMA, find_cdr_files, scan_table
from detector.inputs.fields import clean_text, parse_timestamp_text, typed_timestamp
from detector.inputs.mapping import Mapping
from detector.inputs.numbers import normalise_columns

#: Every column an edge list may have, as read (one row per distinct normalised edge).
GRAPH_SCHEMA = pl.Schema(
    {
        "caller": pl.Utf8,
        "callee": pl.Utf8,
        "calls": pl.Int64,
        "voice_calls": pl.Int64,
        "sms": pl.Int64,
        "answered_calls": pl.Int64,
        "duration_s_total": pl.Int64,
        "first_time": pl.Datetime("us"),
        "last_time": pl.Datetime("us"),
    }
)
REQUIRED = ("caller", "callee", "calls")
COUNTS = ("calls", "voice_calls", "sms", "answered_calls", "duration_s_total")
TIMES = ("first_time", "last_time")
OPTIONAL = tuple(c for c in GRAPH_SCHEMA.names() if c not in REQUIRED)

_ROW = "_row"
_REASON = "_reason"
_RAW = "_raw"


@dataclass
class GraphBatch:
    """A call graph as read: ``edges`` (the :data:`GRAPH_SCHEMA` columns in ``columns``, one row
    per distinct normalised (caller, callee), ``voice_calls`` and ``sms`` both present when the
    input gave either) and ``rejects`` (file, row, reason, raw)."""

    edges: pl.DataFrame
    rejects: pl.DataFrame
    #: The optional columns every file had (``voice_calls`` and ``sms`` together).
    columns: frozenset[str]
    #: Rows read (kept and rejected), and rows added into an edge listed before.
    rows_read: int
    duplicates: int

    def has(self, *names: str) -> bool:
        """Whether the graph has every one of these optional columns."""
        return set(names) <= self.columns


def find_graph_files(paths: Sequence[str | Path]) -> list[Path]:
    """The edge-list files named by files, directories and globs (as ``--cdr``)."""
    return find_cdr_files(paths, what="call graph", option="--graph")


def read_graph(
    paths: Sequence[str | Path],
    mapping: Mapping | None = None,
    progress: Callable[[Path], None] | None = None,
) -> GraphBatch:
    """Read edge lists (CSV, .csv.gz, Parquet; files, directories, globs) into a :class:`GraphBatch`.

    Raises :class:`InputError` (one line) as the module docstring says.
    """
    mapping = mapping or Mapping()
    files = find_graph_files(paths)
    scans = [(path, *_scan(path, mapping)) for path in files]
    present = frozenset.intersection(*(frozenset(names) for _, _, names, _ in scans))
    kept_frames, reject_frames, rows = [], [], 0
    for path, lf, names, separator in scans:
        parsed = _collect(path, _parse(lf, names, present, mapping, path, separator))
        _check_counts(parsed, present, path, names)
        rows += parsed.height
        bad = parsed[_REASON].is_not_null()
        reject_frames.append(parsed.filter(bad).select(
            pl.lit(str(path)).alias("file"), pl.col(_ROW).cast(pl.Int64).alias("row"),
            pl.col(_REASON).alias("reason"), pl.col(_RAW).alias("raw")))
        kept_frames.append(parsed.filter(~bad).drop(_ROW, _REASON, _RAW))
        if progress is not None:
            progress(path)
    if rows == 0:
        raise InputError(f"no edges in {', '.join(map(str, paths))} (the files have only headers)")
    columns = (present - set(REQUIRED)) | ({"voice_calls", "sms"} if present & {"voice_calls", "sms"} else set())
    kept = pl.concat(kept_frames, how="vertical")
    kept = normalise_columns(kept, ["caller", "callee"], mapping.country_code)
    edges = _add_up(kept, columns)
    rejects = pl.concat(reject_frames).cast(dict(REJECTS_SCHEMA)) if reject_frames else REJECTS_SCHEMA.to_frame()
    return GraphBatch(edges=edges, rejects=rejects, columns=frozenset(columns), rows_read=rows,
                      duplicates=kept.height - edges.height)


def _scan(path: Path, mapping: Mapping) -> tuple[pl.LazyFrame, dict[str, str], str]:
    """The file's scan, canonical name -> its column for each graph column it has, the separator."""
    lf, separator = scan_table(path, mapping.separator, what="call graph ")
    try:
        schema = lf.collect_schema()
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise InputError(f"cannot read call graph {path}: {one_line(exc)}") from None
    by_name = {n.strip().lstrip("\ufeff").lower(): n for n in schema.names() if n != _ROW}
    missing = [c for c in REQUIRED if c not in by_name]
    if missing:
        raise InputError(f"call graph {path}: required column {missing[0]!r} is missing "
                         f"(an edge list has caller,callee,calls)")
    names = {c: by_name[c] for c in GRAPH_SCHEMA.names() if c in by_name}
    for c in COUNTS:
        if c in names:
            dtype = schema[names[c]]
            if not (dtype.is_numeric() or dtype == pl.Utf8):
                raise InputError(f"call graph {path}: column {c!r} is not a count ({dtype})")
    return lf, names, separator


def _count(expr: pl.Expr, dtype: pl.DataType) -> tuple[pl.Expr, pl.Expr]:
    """A whole count from a column of any numeric or text type (null where it is not one), and
    whether the field was empty. ``3.0`` is 3; ``2.5`` is not a count."""
    if dtype.is_integer():
        return expr.cast(pl.Int64), expr.is_null()
    number = expr.cast(pl.Float64) if dtype.is_numeric() else clean_text(expr, dtype).cast(pl.Float64, strict=False)
    whole = number.is_finite() & (number == number.round(0)) & (number.abs() < 2.0**62)
    empty = expr.is_null() if dtype.is_numeric() else clean_text(expr, dtype).is_null()
    return pl.when(whole).then(number).cast(pl.Int64, strict=False), empty


def _parse(lf: pl.LazyFrame, names: dict[str, str], present: frozenset[str], mapping: Mapping, path: Path,
           separator: str) -> pl.LazyFrame:
    """``_row``, the canonical columns (present ones only), ``_reason`` and ``_raw`` (the row as
    written, for rejects)."""
    schema = lf.collect_schema()
    src = {c: pl.col(names[c]) for c in names}
    dtype = {c: schema[names[c]] for c in names}
    wanted = [c for c in GRAPH_SCHEMA.names() if c in REQUIRED or c in present]
    values: dict[str, pl.Expr] = {c: clean_text(src[c], dtype[c]) for c in ("caller", "callee")}
    empty: dict[str, pl.Expr] = {}
    for c in (c for c in COUNTS if c in wanted):
        values[c], empty[c] = _count(src[c], dtype[c])
    for c in (c for c in TIMES if c in wanted):
        if dtype[c] == pl.Utf8:
            text = clean_text(src[c], pl.Utf8)
            values[c] = parse_timestamp_text(lf, text, mapping, f"call graph {path}")
            empty[c] = text.is_null()
        else:
            values[c] = typed_timestamp(src[c], dtype[c], mapping)
            empty[c] = src[c].is_null()
    raw_columns = [n for n in schema.names() if n != _ROW]
    raw = (pl.concat_str([pl.col(n).cast(pl.Utf8).fill_null("") for n in raw_columns], separator="\x1f")
           .str.strip_chars_end("\x1f").str.replace_all("\x1f", separator or ",", literal=True))
    fields = lf.with_columns(
        *(v.alias(f"__{c}") for c, v in values.items()),
        *(e.alias(f"__{c}_empty") for c, e in empty.items()),
    )
    return fields.with_columns(_reason(wanted).alias(_REASON)).select(
        _ROW, *(pl.col(f"__{c}").alias(c) for c in wanted), _REASON,
        pl.when(pl.col(_REASON).is_not_null()).then(raw).alias(_RAW),
    )


def _reason(wanted: list[str]) -> pl.Expr:
    """Why a row cannot be used (null: it can), first reason first."""
    c = pl.col
    reason = pl.when(c("__caller").is_null()).then(pl.lit("missing caller"))
    reason = reason.when(c("__callee").is_null()).then(pl.lit("missing callee"))
    events = c("__calls") > 0
    for name in (n for n in COUNTS + TIMES if n in wanted):
        # A time is needed only where there was an event.
        required = events.fill_null(True) if name in TIMES else pl.lit(True)
        reason = (reason.when(c(f"__{name}_empty") & required).then(pl.lit(f"missing {name}"))
                  .when(~c(f"__{name}_empty") & c(f"__{name}").is_null()).then(pl.lit(f"bad {name}")))
    if "voice_calls" in wanted and "sms" in wanted:
        reason = reason.when(c("__voice_calls") + c("__sms") != c("__calls")).then(
            pl.lit("voice_calls + sms differ from calls"))
    for part in ("voice_calls", "sms"):
        if part in wanted:
            reason = reason.when(c(f"__{part}") > c("__calls")).then(pl.lit(f"{part} exceeds calls"))
    if "answered_calls" in wanted:
        voice = (c("__voice_calls") if "voice_calls" in wanted
                 else c("__calls") - c("__sms") if "sms" in wanted else c("__calls"))
        reason = reason.when(c("__answered_calls") > voice).then(
            pl.lit("answered_calls exceeds voice_calls" if {"voice_calls", "sms"} & set(wanted)
                   else "answered_calls exceeds calls"))
    if "first_time" in wanted and "last_time" in wanted:
        reason = reason.when(c("__first_time") > c("__last_time")).then(pl.lit("first_time after last_time"))
    return reason.otherwise(None)


def _collect(path: Path, plan: pl.LazyFrame) -> pl.DataFrame:
    try:
        return plan.collect()
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise InputError(f"cannot read call graph {path}: {one_line(exc)}") from None


def _check_counts(parsed: pl.DataFrame, present: frozenset[str], path: Path, names: dict[str, str]) -> None:
    """Raise :class:`InputError` for a negative count, or a count column none of whose values is one."""
    for c in (c for c in COUNTS if c in parsed.columns):
        negative = parsed.filter(pl.col(c) < 0)
        if negative.height:
            row = negative.row(0, named=True)
            raise InputError(f"call graph {path} row {row[_ROW]}: negative {c} ({row[c]}); "
                             "counts are 0 or more")
        bad = parsed.filter(pl.col(_REASON) == f"bad {c}")
        if bad.height and parsed[c].is_null().all():
            raise InputError(f"call graph {path}: column {names[c]!r} holds no counts "
                             f"(row {bad[_ROW][0]}: {bad[_RAW][0]!r})")


def _add_up(kept: pl.DataFrame, columns: frozenset[str] | set[str]) -> pl.DataFrame:
    """One row per (caller, callee): counts summed, earliest first and latest last event; the
    kind split completed (``sms`` = ``calls`` - ``voice_calls`` where only one was given)."""
    if "voice_calls" in columns and "voice_calls" not in kept.columns:
        kept = kept.with_columns((pl.col("calls") - pl.col("sms")).alias("voice_calls"))
    if "sms" in columns and "sms" not in kept.columns:
        kept = kept.with_columns((pl.col("calls") - pl.col("voice_calls")).alias("sms"))
    counts = [c for c in COUNTS if c in kept.columns]
    # Times of an edge without events say nothing (and may be empty).
    active = pl.col("calls") > 0
    times = [pl.col(c).filter(active).min().alias(c) if c == "first_time" else pl.col(c).filter(active).max().alias(c)
             for c in TIMES if c in kept.columns]
    edges = kept.group_by("caller", "callee").agg(*(pl.col(c).sum() for c in counts), *times)
    return edges.select(c for c in GRAPH_SCHEMA.names() if c in edges.columns).cast(
        {c: GRAPH_SCHEMA[c] for c in edges.columns}).sort("caller", "callee")
