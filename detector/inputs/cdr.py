"""Reading CDR exports into the canonical schema (data-contract.md, "Inputs").

``scan_cdr_file`` builds a lazy Polars plan for one file: read every field as text (CSV) or as
stored (Parquet), apply the mapping, parse timestamps and durations, and give each row either a
canonical record or a reason for rejecting it. ``read_cdrs`` runs those plans two files at a time
(re-running them one by one on failure, so that an unreadable file is named in the error), splits
kept rows from rejects (re-reading only the rejected rows' raw text), then normalises the numbers
of all files at once and drops exact duplicate rows across all files.

Nothing is ever dropped silently: every row read is kept, rejected (with its file, row and reason),
dropped on purpose by the mapping (``[values.event_type] X = "drop"``), or counted as a duplicate.
"""

from __future__ import annotations

import glob
import gzip
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from detector.errors import InputError, one_line
from detector.inputs.fields import (
    clean_text,
    NETWORK,
    parse_answered,
    parse_callee_network,
    parse_duration,
    parse_event_type,
    parse_timestamp_text,
    typed_timestamp,
)
from detector.inputs.legs import leg_pairs
from detector.inputs.mapping import CANONICAL_COLUMNS, DROP, EVENT_TYPES, INCOMING_LEGS, OPTIONAL_COLUMNS, Mapping
from detector.inputs.numbers import normalise_columns

EVENT_TYPE = pl.Enum(list(EVENT_TYPES))

#: The canonical CDR schema every export is mapped onto.
CDR_SCHEMA = pl.Schema(
    {
        "caller": pl.Utf8,
        "callee": pl.Utf8,
        "start_time": pl.Datetime("us"),
        "duration_s": pl.Int64,
        "event_type": EVENT_TYPE,
        "answered": pl.Boolean,
        "cell_id": pl.Utf8,
        "imei": pl.Utf8,
        # Where the callee is, when the export says (null: decided from the number).
        "callee_network": NETWORK,
    }
)
#: Columns a batch has besides :data:`CDR_SCHEMA` when its mapping declares incoming legs
#: (``voice_in``/``sms_in``): whether the row was read from an incoming leg (its parties swapped:
#: ``cell_id`` and ``imei`` are then null, since they described the receiver), and the receiver's
#: cell and handset, from an incoming leg (copied onto the outgoing leg it was matched with).
LEG_SCHEMA = pl.Schema({"incoming_leg": pl.Boolean, "callee_cell_id": pl.Utf8, "callee_imei": pl.Utf8})
REJECTS_SCHEMA = pl.Schema({"file": pl.Utf8, "row": pl.Int64, "reason": pl.Utf8, "raw": pl.Utf8})

CSV_SUFFIXES = (".csv", ".csv.gz")
PARQUET_SUFFIXES = (".parquet", ".pq")


_ROW = "_row"
_FILES_AT_ONCE = 2
_REASON = "_reason"
_DROP = "_drop"


@dataclass(frozen=True)
class FileReport:
    """What happened to the rows of one input file."""

    path: str
    rows_read: int
    rows_parsed: int
    rows_rejected: int
    rows_dropped: int


@dataclass
class CdrBatch:
    """The result of reading a set of CDR files.

    ``cdrs`` has the canonical schema with exact duplicates removed; ``rejects`` has one row per
    row that could not be parsed (``file``, ``row`` (line number for CSV, 1-based row for Parquet),
    ``reason``, ``raw``).
    """

    cdrs: pl.DataFrame
    rejects: pl.DataFrame
    files: list[FileReport] = field(default_factory=list)
    duplicates: int = 0

    #: Incoming legs matched with the outgoing leg of the same call, and counted once.
    legs_matched: int = 0
    #: Optional columns no file had (:func:`absent_columns`).
    absent: frozenset[str] = frozenset()

    @property
    def rows_read(self) -> int:
        return sum(f.rows_read for f in self.files)

    @property
    def rows_dropped(self) -> int:
        return sum(f.rows_dropped for f in self.files)


def find_cdr_files(paths: Sequence[str | Path], skipped: list[Path] | None = None, what: str = "CDR",
                   option: str = "--cdr") -> list[Path]:
    """Expand files, directories (searched recursively) and globs into a sorted list of files.

    A file named explicitly is read whatever its name; a directory or a glob yields only CDR
    names (:data:`CSV_SUFFIXES`, :data:`PARQUET_SUFFIXES`), so that a ``README.txt`` or a
    checksum file beside the exports is not read as CDRs. The other files they held are appended
    to ``skipped`` (hidden files are not: they are nobody's export) for the caller to name.

    Raises :class:`InputError` for a path that does not exist, a glob that matches nothing, or a
    directory holding no CSV/Parquet file. ``what`` and ``option`` name the input in messages
    (a call graph's edge lists are found the same way: :mod:`detector.inputs.graph`).
    """
    if not paths:
        raise InputError(f"no {what} input given (use {option} PATH)")
    found: list[Path] = []
    passed: list[Path] = []
    for raw in paths:
        text = str(raw)
        if glob.has_magic(text):
            matches = sorted(Path(m) for m in glob.glob(text, recursive=True))
            if not matches:
                raise InputError(f"no file matches {text}")
            for m in matches:
                found.extend(_expand(m, passed, what=what))
            continue
        p = Path(text)
        if not p.exists():
            raise InputError(f"no such file or directory: {p}")
        found.extend(_expand(p, passed, explicit=True, what=what))
    # A file named twice (a glob and its directory) is read once.
    unique = list(dict.fromkeys(found))
    if skipped is not None:
        skipped.extend(p for p in dict.fromkeys(passed) if p not in set(unique))
    if not unique:
        raise InputError(f"no {what} files (CSV, .csv.gz or Parquet) in {', '.join(map(str, paths))}")
    return unique


def _expand(p: Path, passed: list[Path], explicit: bool = False, what: str = "CDR") -> list[Path]:
    if p.is_dir():
        files = sorted(f for f in p.rglob("*") if f.is_file() and not f.name.startswith("."))
        passed.extend(f for f in files if not _is_cdr_name(f))
        files = [f for f in files if _is_cdr_name(f)]
        if not files and explicit:
            raise InputError(f"no {what} files (CSV, .csv.gz or Parquet) in directory {p}")
        return files
    if explicit or _is_cdr_name(p):
        return [p]
    if p.is_file() and not p.name.startswith("."):
        passed.append(p)
    return []


def _is_cdr_name(p: Path) -> bool:
    name = p.name.lower()
    return name.endswith(CSV_SUFFIXES + PARQUET_SUFFIXES)


def _is_parquet(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(4) == b"PAR1"


def _first_line(path: Path) -> bytes:
    with path.open("rb") as fh:
        magic = fh.read(2)
    try:
        opener = gzip.open if magic == b"\x1f\x8b" else open
        with opener(path, "rb") as fh:
            return fh.readline(65536)
    except (OSError, EOFError, zlib.error) as exc:
        raise InputError(f"cannot read {path}: {exc}") from None


def sniff_separator(header: bytes) -> str:
    """The most frequent of , ; | and tab in a header line (comma when none)."""
    counts = {sep: header.count(sep.encode()) for sep in (",", ";", "|", "\t")}
    best = max(counts, key=lambda s: counts[s])
    return best if counts[best] else ","


@dataclass(frozen=True)
class FilePlan:
    """How one file is read: the raw scan, the parsing plan on top of it, the CSV separator."""

    path: Path
    raw: pl.LazyFrame
    parsed: pl.LazyFrame
    separator: str
    #: The canonical columns it gives (:func:`cdr_schema`).
    schema: pl.Schema = field(default_factory=lambda: CDR_SCHEMA)
    #: The canonical columns the file has (the others are null in every row).
    columns: frozenset[str] = frozenset(CANONICAL_COLUMNS)

    def parsed_columns(self) -> pl.LazyFrame:
        """Only what is kept of a row once parsed: ``_row``, canonical columns, ``_reason``,
        ``_drop`` (the export's own columns are re-read for rejected rows only)."""
        canonical = [pl.col(f"__{name}").alias(name) for name in self.schema.names()]
        return self.parsed.select(_ROW, *canonical, _REASON, _DROP)


def cdr_schema(mapping: Mapping) -> pl.Schema:
    """The columns of the CDRs read with ``mapping``: :data:`CDR_SCHEMA`, and :data:`LEG_SCHEMA`
    when it declares incoming legs."""
    return pl.Schema({**CDR_SCHEMA, **LEG_SCHEMA}) if mapping.has_incoming_legs else CDR_SCHEMA


def scan_cdr_file(path: Path, mapping: Mapping) -> FilePlan:
    """The lazy plan reading one file into canonical columns plus ``_row``, ``_reason``, ``_drop``.

    Raises :class:`InputError` for an empty or unreadable file or a missing required column.
    """
    lf, separator = scan_table(path, mapping.separator)
    schema = lf.collect_schema()
    return FilePlan(path=path, raw=lf, parsed=_parse(lf, schema, mapping, path), separator=separator,
                    schema=cdr_schema(mapping), columns=frozenset(_resolve_columns(schema, mapping, path)))


def absent_columns(plans: Sequence[FilePlan]) -> frozenset[str]:
    """The optional columns none of the files has: what the features that read them cannot know."""
    present = frozenset().union(*(plan.columns for plan in plans))
    return frozenset(c for c in OPTIONAL_COLUMNS if c not in present)


def scan_table(path: Path, separator: str | None = None, what: str = "") -> tuple[pl.LazyFrame, str]:
    """A lazy scan of a CSV (plain or gzip) or Parquet file, every CSV field as text, with a
    ``_row`` column: the line number for CSV (the header is line 1), the 1-based row for Parquet.

    Returns the scan and the CSV separator (given, or sniffed from the header; ``""`` for
    Parquet). Raises :class:`InputError` for an empty or unreadable file. ``what`` names the kind
    of file in messages ("registry ").
    """
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InputError(f"cannot read {what}{path}: {exc.strerror or exc}") from None
    if size == 0:
        raise InputError(f"{what}{path} is empty")
    try:
        if _is_parquet(path):
            separator = ""
            lf = pl.scan_parquet(path).with_row_index(_ROW, offset=1)
        else:
            header = _first_line(path)
            if not header.strip():
                raise InputError(f"{what}{path} is empty")
            separator = separator or sniff_separator(header)
            lf = pl.scan_csv(
                path,
                separator=separator,
                infer_schema=False,
                truncate_ragged_lines=True,
                encoding="utf8-lossy",
                row_index_name=_ROW,
                row_index_offset=2,
            )
        lf.collect_schema()  # reads the header or footer now, so a broken file fails here
    except InputError:
        raise
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise InputError(f"cannot read {what}{path}: {one_line(exc)}") from None
    return lf, separator


def scan_named_table(
    path: str | Path, separator: str | None, what: str, required: Sequence[str]
) -> tuple[pl.LazyFrame, pl.Schema, dict[str, str]]:
    """A side table (registry, labels, allowlist): its scan, its schema, and each column's name
    lower-cased, trimmed and without a BOM -> the file's own name.

    Raises :class:`InputError` for a missing file or a missing ``required`` column.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(f"no such {what} file: {p}")
    lf, _ = scan_table(p, separator, what=f"{what} ")
    schema = lf.collect_schema()
    by_name = {n.strip().lstrip("\ufeff").lower(): n for n in schema.names()}
    missing = [c for c in required if c not in by_name]
    if missing:
        raise InputError(f"{what} {p}: required column {missing[0]!r} is missing")
    return lf, schema, by_name


def _resolve_columns(schema: pl.Schema, mapping: Mapping, path: Path) -> dict[str, str]:
    """Canonical name -> the file's column name, for every canonical column the file has."""
    names = [n for n in schema.names() if n != _ROW]
    by_stripped = {n.strip().lstrip("\ufeff"): n for n in names}
    by_folded = {k.lower(): v for k, v in by_stripped.items()}
    wanted = dict.fromkeys(CANONICAL_COLUMNS)
    wanted["start_date"] = None
    resolved: dict[str, str] = {}
    for canonical in wanted:
        source = mapping.source_column(canonical)
        column = by_stripped.get(source) or by_folded.get(source.lower())
        if column is None and canonical == "start_date":
            continue
        if column is not None:
            resolved[canonical] = column
        elif CANONICAL_COLUMNS[canonical]:
            hint = "" if canonical in mapping.columns else f"; map it with {mapping.option_for(canonical)}"
            raise InputError(
                f"{path}: required column {canonical!r} is missing (looked for {source!r}){hint}"
            )
    return resolved


def _parse(lf: pl.LazyFrame, schema: pl.Schema, mapping: Mapping, path: Path) -> pl.LazyFrame:
    """Add the parsed canonical columns (prefixed ``__``), ``_reason`` and ``_drop`` to ``lf``.

    Built in stages of ``with_columns`` so that each field is parsed once and later stages refer
    to it by name; one nested expression would make Polars evaluate shared parts repeatedly.
    The export's own columns stay, so rejected rows can be shown as they were.
    """
    cols = _resolve_columns(schema, mapping, path)
    src = {k: pl.col(v) for k, v in cols.items()}
    dtype = {k: schema[v] for k, v in cols.items()}
    c = pl.col

    if "start_date" in cols:
        ts_text = pl.concat_str(
            [clean_text(src["start_date"], dtype["start_date"]),
             clean_text(src["start_time"], dtype["start_time"])],
            separator=" ",
        )
    elif dtype["start_time"] == pl.Utf8:
        ts_text = clean_text(src["start_time"], pl.Utf8)
    else:
        ts_text = None
    if ts_text is not None:
        start_time = parse_timestamp_text(lf, c("__ts_text"), mapping, str(path), sample=ts_text)
    else:
        start_time = typed_timestamp(src["start_time"], dtype["start_time"], mapping)
    has_duration = "duration_s" in cols
    if has_duration:
        duration, duration_missing = parse_duration(src["duration_s"], dtype["duration_s"], mapping)
    else:
        # No duration column: an SMS still lasts 0 s (below), a call's length is unknown (null).
        duration, duration_missing = pl.lit(None, pl.Int64), pl.lit(True)
    answered = (parse_answered(src["answered"], dtype["answered"], mapping) if "answered" in cols
                else pl.lit(None, pl.Boolean))
    optional = {
        name: (clean_text(src[name], dtype[name]) if name in cols else pl.lit(None, pl.Utf8))
        for name in ("cell_id", "imei")
    }
    network = (parse_callee_network(src["callee_network"], dtype["callee_network"], mapping)
               if "callee_network" in cols else pl.lit(None, NETWORK))
    others = [v for k, v in cols.items() if k != "caller"]
    a_number = clean_text(src["caller"], dtype["caller"])
    b_number = clean_text(src["callee"], dtype["callee"])
    legs = mapping.has_incoming_legs
    if legs:
        # An incoming leg's A column is the served subscriber, who received it: the callee.
        incoming = c("__event_kind").is_in(list(INCOMING_LEGS)).fill_null(False)
        a_number, b_number = (pl.when(incoming).then(b_number).otherwise(a_number),
                              pl.when(incoming).then(a_number).otherwise(b_number))
        receiver = {name: pl.when(incoming).then(expr) for name, expr in optional.items()}
        optional = {name: pl.when(~incoming).then(expr) for name, expr in optional.items()}
        if "callee_network" in cols:
            # The callee of a swapped leg is the served subscriber: the carrier's own. (Without the
            # column the export says nothing of where anyone is, and neither does this.)
            network = pl.when(incoming).then(pl.lit("onnet", NETWORK)).otherwise(network)

    kinds = lf.with_columns(
        parse_event_type(src["event_type"], dtype["event_type"], mapping).alias("__event_kind"),
    ) if legs else lf
    fields = kinds.with_columns(
        # Numbers are normalised once for all files in read_cdrs: far fewer distinct values.
        a_number.alias("__caller"),
        b_number.alias("__callee"),
        (ts_text if ts_text is not None else pl.lit(None, pl.Utf8)).alias("__ts_text"),
        src["start_time"].is_null().alias("__ts_null"),
        *([] if legs else [parse_event_type(src["event_type"], dtype["event_type"], mapping).alias("__event_kind")]),
        duration.alias("__duration_raw"),
        duration_missing.alias("__duration_missing"),
        answered.alias("__answered_raw"),
        optional["cell_id"].alias("__cell_id"),
        optional["imei"].alias("__imei"),
        network.alias("__callee_network"),
        *([incoming.alias("__incoming_leg"), receiver["cell_id"].alias("__callee_cell_id"),
           receiver["imei"].alias("__callee_imei")] if legs else []),
        pl.all_horizontal([c(v).is_null() for v in others]).alias("__too_few_fields"),
    ).with_columns(
        start_time.alias("__start_time"),
    ).with_columns(
        # SMS rows often leave the duration blank: an SMS has no conversation time.
        pl.when(c("__duration_missing") & c("__event_kind").is_in(["sms", "sms_in"]))
        .then(pl.lit(0, pl.Int64))
        .otherwise(c("__duration_raw"))
        .alias("__duration_s"),
        (c("__event_kind") == DROP).fill_null(False).alias(_DROP),
    )
    ts_missing = c("__ts_text").is_null() if ts_text is not None else c("__ts_null")
    reason = (
        pl.when(c(_DROP)).then(None)
        .when(c("__too_few_fields")).then(pl.lit("malformed row (too few fields)"))
        .when(c("__caller").is_null()).then(pl.lit("missing caller"))
        .when(c("__callee").is_null()).then(pl.lit("missing callee"))
        .when(ts_missing).then(pl.lit("missing start_time"))
        .when(c("__start_time").is_null()).then(pl.lit("bad start_time"))
        .when(c("__event_kind") == "").then(pl.lit("missing event_type"))
        .when(c("__event_kind").is_null()).then(pl.lit("unknown event_type"))
        .when(pl.lit(has_duration) & c("__duration_missing") & c("__duration_s").is_null())
        .then(pl.lit("missing duration_s"))
        .when(pl.lit(has_duration) & c("__duration_s").is_null()).then(pl.lit("bad duration_s"))
        .when(c("__duration_s") < 0).then(pl.lit("negative duration_s"))
        .otherwise(None)
    )
    return fields.with_columns(
        reason.alias(_REASON),
        c("__answered_raw").fill_null(c("__duration_s") > 0).alias("__answered"),
        pl.when(c(_DROP)).then(None).otherwise(_event_type(c("__event_kind"), legs)).alias("__event_type"),
    )


def _event_type(kind: pl.Expr, legs: bool) -> pl.Expr:
    """The canonical event type of a parsed kind: an incoming leg's is that of its call."""
    if legs:
        kind = kind.cast(pl.Utf8).replace(INCOMING_LEGS)
    return kind.cast(EVENT_TYPE, strict=False)


def read_cdrs(
    paths: Sequence[str | Path],
    mapping: Mapping | None = None,
    progress: Callable[[Path, FileReport], None] | None = None,
    *,
    match_legs: bool = True,
) -> CdrBatch:
    """Read CDR files (CSV, .csv.gz, Parquet; files, directories, globs) into a :class:`CdrBatch`.

    ``match_legs``: count the two legs of one call once (:func:`merge_legs`). A nightly run reads
    with ``False``: its state pairs tonight's legs with those of the nights before.

    Raises :class:`InputError` (one clear line) for unreadable input, a missing required column,
    or input with no rows at all.
    """
    mapping = mapping or Mapping()
    plans = [scan_cdr_file(path, mapping) for path in find_cdr_files(paths)]
    kept_frames: list[pl.DataFrame] = []
    reject_frames: list[pl.DataFrame] = []
    reports: list[FileReport] = []
    # Files are parsed a few at a time, so that both cores stay busy while memory stays bounded.
    for batch in (plans[i:i + _FILES_AT_ONCE] for i in range(0, len(plans), _FILES_AT_ONCE)):
        for plan, parsed in zip(batch, _collect(batch)):
            kept, rejects, dropped = _split(plan, parsed)
            report = FileReport(
                path=str(plan.path),
                rows_read=kept.height + rejects.height + dropped,
                rows_parsed=kept.height,
                rows_rejected=rejects.height,
                rows_dropped=dropped,
            )
            reports.append(report)
            kept_frames.append(kept)
            reject_frames.append(rejects)
            if progress is not None:
                progress(plan.path, report)

    if sum(r.rows_read for r in reports) == 0:
        raise InputError(f"no CDR rows in {', '.join(map(str, paths))} (the files have only headers)")
    cdrs = pl.concat(kept_frames, how="vertical", rechunk=False)
    cdrs = normalise_columns(cdrs, ["caller", "callee"], mapping.country_code)
    cdrs, duplicates = drop_exact_duplicates(cdrs)
    legs_matched = 0
    if match_legs and mapping.has_incoming_legs:
        cdrs, legs_matched = merge_legs(cdrs, mapping.leg_tolerance_s)
    rejects = pl.concat(reject_frames, how="vertical") if reject_frames else REJECTS_SCHEMA.to_frame()
    return CdrBatch(cdrs=cdrs, rejects=rejects, files=reports, duplicates=duplicates, legs_matched=legs_matched,
                    absent=absent_columns(plans))


def merge_legs(cdrs: pl.DataFrame, tolerance_s: int) -> tuple[pl.DataFrame, int]:
    """``cdrs`` (normalised, with :data:`LEG_SCHEMA`) with each incoming leg that is the twin of
    an outgoing leg (:func:`~detector.inputs.legs.leg_pairs`) counted once: the outgoing leg stays
    and takes the receiver's cell and handset from its twin. Returns the rows and how many legs
    were matched."""
    incoming, outgoing = leg_pairs(cdrs, ["caller", "callee", "event_type", "duration_s"],
                                   pl.col("start_time").dt.epoch("us"), pl.col("incoming_leg"),
                                   tolerance_s * 1_000_000)
    if not incoming.size:
        return cdrs, 0
    twins = cdrs[pl.Series(incoming)].select("callee_cell_id", "callee_imei")
    receiver = {name: cdrs[name].clone().scatter(outgoing, twins[name]) for name in twins.columns}
    keep = np.ones(cdrs.height, dtype=np.bool_)
    keep[incoming] = False
    return cdrs.with_columns(*receiver.values()).filter(pl.Series(keep)), int(incoming.size)


def drop_exact_duplicates(df: pl.DataFrame, hashes: pl.Series | None = None) -> tuple[pl.DataFrame, int]:
    """Drop rows equal in every column to an earlier row; return the frame and how many went
    (:func:`duplicate_rows`)."""
    drop = duplicate_rows(df, hashes)
    if not drop.size:
        return df, 0
    keep = np.ones(df.height, dtype=bool)
    keep[drop] = False
    return df.filter(pl.Series(keep)), int(drop.size)


def duplicate_rows(df: pl.DataFrame, hashes: pl.Series | None = None) -> np.ndarray:
    """The positions (int64, ascending) of the rows equal in every column to an earlier row.

    A full ``unique()`` over every column is the slow way (seconds on millions of rows). Rows
    are hashed instead; only rows whose hash occurs more than once are compared exactly, so a
    hash collision can never drop a row that merely looks alike.

    ``hashes``: a 64-bit hash per row already at hand, any function of the row's values (equal
    rows must have equal hashes); the rows are not hashed again.
    """
    none = np.zeros(0, dtype=np.int64)
    if df.height < 2:
        return none
    hashes = df.hash_rows() if hashes is None else hashes
    # numpy's sort (vectorised, one thread): 15 ms for a partition's 1.8M hashes against 29 ms
    # of Polars' on two threads.
    ordered = np.sort(hashes.to_numpy())
    same = ordered[1:] == ordered[:-1]
    if not same.any():
        return none
    repeated = np.unique(ordered[1:][same])
    candidates = df.with_row_index("__i").filter(hashes.is_in(pl.Series(repeated, dtype=hashes.dtype).implode()))
    first = candidates.unique(subset=df.columns, keep="first", maintain_order=True)["__i"]
    drop = candidates["__i"].filter(~candidates["__i"].is_in(first.implode()))
    return drop.to_numpy().astype(np.int64)  # filters keep the row order: ascending already


def _collect(plans: list[FilePlan]) -> list[pl.DataFrame]:
    """Run several files' parsing plans together; on failure, name the file that failed."""
    try:
        return pl.collect_all([plan.parsed_columns() for plan in plans])
    except (pl.exceptions.PolarsError, OSError):
        pass
    frames = []
    for plan in plans:
        try:
            frames.append(plan.parsed_columns().collect())
        except (pl.exceptions.PolarsError, OSError) as exc:
            raise InputError(f"cannot read {plan.path}: {one_line(exc)}") from None
    return frames


def _split(plan: FilePlan, parsed: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame, int]:
    """Kept rows (canonical), rejects with their raw text, and how many rows the mapping dropped."""
    kept, bad, dropped = _split_parsed(parsed)
    return kept, _reject_rows(plan, bad), dropped


def _split_parsed(parsed: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame, int]:
    """Kept rows (canonical), the rejected rows' ``_row`` and ``_reason``, and how many rows the
    mapping dropped."""
    bad = parsed.filter(pl.col(_REASON).is_not_null()).select(_ROW, _REASON)
    dropped = int(parsed[_DROP].sum())
    kept = parsed.drop(_ROW, _REASON, _DROP)
    if bad.height or dropped:
        kept = kept.filter((parsed[_REASON].is_null() & ~parsed[_DROP]))
    return kept, bad, dropped


@dataclass
class CdrStream:
    """CDR files read in batches, for inputs larger than memory: iterating yields canonical,
    normalised rows about ``batch_rows`` at a time (not de-duplicated: exact duplicates may sit in
    different batches), with the numbers' ids as ``caller_id`` and ``callee_id``
    (:func:`~detector.inputs.numbers.normalise_with_ids`). Meanwhile ``files`` and ``rejects`` fill up as
    each file is finished.

    Raises :class:`InputError` like :func:`read_cdrs`.
    """

    paths: Sequence[str | Path]
    mapping: Mapping = field(default_factory=Mapping)
    batch_rows: int = 1_000_000
    files: list[FileReport] = field(default_factory=list)
    reject_frames: list[pl.DataFrame] = field(default_factory=list)
    #: Optional columns none of the files has (:func:`absent_columns`), once iterating started.
    absent: frozenset[str] = frozenset()

    @property
    def rejects(self) -> pl.DataFrame:
        """Rejected rows of the files read so far (file, row, reason, raw)."""
        return pl.concat(self.reject_frames, how="vertical") if self.reject_frames else REJECTS_SCHEMA.to_frame()

    def __iter__(self) -> Iterator[pl.DataFrame]:
        plans = [scan_cdr_file(path, self.mapping) for path in find_cdr_files(self.paths)]
        self.absent = absent_columns(plans)
        for plan in plans:
            bad_parts: list[pl.DataFrame] = []
            kept_rows = dropped_rows = 0
            try:
                batches = plan.parsed_columns().collect_batches(chunk_size=self.batch_rows)
                for parsed in batches:
                    kept, bad, dropped = _split_parsed(parsed)
                    bad_parts.append(bad)
                    kept_rows += kept.height
                    dropped_rows += dropped
                    if kept.height:
                        yield normalise_columns(kept, ["caller", "callee"], self.mapping.country_code, ids=True)
            except (pl.exceptions.PolarsError, OSError) as exc:
                raise InputError(f"cannot read {plan.path}: {one_line(exc)}") from None
            rejects = _reject_rows(plan, pl.concat(bad_parts) if bad_parts else pl.DataFrame())
            self.reject_frames.append(rejects)
            self.files.append(FileReport(path=str(plan.path), rows_read=kept_rows + rejects.height + dropped_rows,
                                         rows_parsed=kept_rows, rows_rejected=rejects.height,
                                         rows_dropped=dropped_rows))
        if sum(r.rows_read for r in self.files) == 0:
            raise InputError(f"no CDR rows in {', '.join(map(str, self.paths))} (the files have only headers)")


def _reject_rows(plan: FilePlan, bad: pl.DataFrame) -> pl.DataFrame:
    """The rejected rows with their raw text, re-read from the file (rejects are few)."""
    if bad.is_empty():
        return REJECTS_SCHEMA.to_frame()
    raw_columns = [n for n in plan.raw.collect_schema().names() if n != _ROW]
    raw = (
        plan.raw.with_columns(pl.col(_ROW).cast(pl.Int64))
        .join(bad.lazy().with_columns(pl.col(_ROW).cast(pl.Int64)), on=_ROW, how="inner")
        .select(
            pl.lit(str(plan.path)).alias("file"),
            pl.col(_ROW).cast(pl.Int64).alias("row"),
            pl.col(_REASON).alias("reason"),
            pl.concat_str([pl.col(n).cast(pl.Utf8).fill_null("") for n in raw_columns], separator="\x1f")
            .str.strip_chars_end("\x1f")  # a short row's missing fields are not part of its text
            .str.replace_all("\x1f", plan.separator or ",", literal=True)
            .alias("raw"),
        )
        .sort("row")
    )
    try:
        return raw.collect()
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise InputError(f"cannot read {plan.path}: {one_line(exc)}") from None
