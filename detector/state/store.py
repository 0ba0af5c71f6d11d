"""The state directory: Delta Lake tables that Polars, DuckDB and Spark read, written by one run
at a time, a night at a time.

Tables (each a Delta table in its own folder of the state directory):

``events``
    Every CDR row held, in the engine's compact form: the columns of
    :func:`features.build.event_columns` as the out-of-core engine spills them (numbers and IMEIs
    as integer ids, cells hashed, booleans packed into ``flags``), with ``day``, the local date of
    the row's ``start_time``, and ``part``, its caller's hash partition
    (:func:`features.build.partition_of`). Partitioned by ``day`` and ``part``: a window is a
    range of days, and a large carrier's night runs partition by partition. Exact duplicates of
    rows already held are never added.
``incoming``
    ``day``, ``part``, ``caller_id``, ``callee_id``, ``flags``: who called whom, for the rows of
    ``events`` whose callee is in another hash partition than their caller, under the callee's
    ``part`` (as the out-of-core engine spills them): a partition's numbers' incoming counts and
    reciprocity read their own ``part`` of both tables, never the whole window.
``twins``
    The incoming legs (two-leg exports, data-contract.md) that are the twin of an outgoing leg
    held in ``events``, in ``events``' columns: the call is counted once, by its outgoing leg, as
    when the files are scored at once. Kept so that a file delivered again is known, and re-paired
    when a later night brings a leg of the same call (a late switch's file, a call across
    midnight): tonight's rows are paired with the held rows of their days and the days beside.
``names``
    ``id``, ``text``: the text of every number or IMEI whose id is not its own digits
    (:func:`features.build.text_names`).
``columns``
    ``day``, ``column``: the optional CDR columns (``duration_s``, ``answered``, ``cell_id``,
    ``imei``, ...) that a file with rows of that day had. A window's features that need a column
    no day of it had are missing, as when the same files are scored at once.
``cases``
    The case ledger (nightly.md, "Cases"): one row per (``msisdn``, ``category``), opened the
    first night the number was flagged there; see :data:`CASE_COLUMNS`. Rewritten whole each
    night (it holds flags, not rows: small).
``flags``
    ``as_of``, ``msisdn``, ``category``, ``score``, ``source``, ``new``: each night's flags (the
    night is its ``as_of`` day; a night run again replaces its own rows), ``new`` when the flag
    opened or reopened its case that night. The report's history across nights reads it; the
    loop and the links read what was flagged when.
``surveys``
    ``asked_on``, ``flagged_msisdn``, ``category``, ``callee``: the callees each night's
    ``verify.csv`` listed, so that no callee is asked twice within :data:`SURVEY_REST_DAYS`.
``nights``
    One row per committed night: its sequence number, when it committed, the ``as_of`` day it
    scored, the rows it added and the duplicates it dropped, and the version of each table above
    it left. Readers read the tables at those versions.

Tables added to the layout after format 1 began (:data:`_ADDED_LATER`) are created in an older
state by its next writer, as part of its night (``incoming`` filled from ``events``, the others
empty), and read as empty until then: an older state is read, not refused.

``state.json`` holds the layout's format and what every row depends on: the number of hash
partitions, the country code the numbers were normalised for and the carrier's home prefixes its
off-net flags were read with.

A night commits all of its changes at once or none: its writes to ``events`` and ``names`` make
new table versions that nobody reads until the one append to ``nights`` names them. A run killed
before that leaves versions no night names, and the next writer restores those tables to the
versions the last night recorded. One writer at a time holds ``writer.lock``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
from deltalake import DeltaTable, write_deltalake

from detector.errors import InputError
from detector.inputs.cdr import duplicate_rows
from detector.inputs.legs import leg_pairs
from detector.inputs.mapping import DEFAULT_LEG_TOLERANCE_S, DEFAULT_TIMEZONE
from features.build import INCOMING_LEG, VOICE, partition_of

#: The layout written here; a state of another format is refused, never misread.
FORMAT = 1
_LAYOUT = "state.json"
_LOCK = "writer.lock"

#: The compact CDR rows (:func:`features.build.event_columns` with ``imei_ids``).
EVENT_COLUMNS: dict[str, pl.DataType] = {
    "caller_id": pl.Int64, "callee_id": pl.Int64, "ts": pl.Int64, "duration_s": pl.Int64, "flags": pl.Int16,
    "cell": pl.Int64, "imei": pl.Int64, "callee_key": pl.Int64,
}
_SCHEMAS: dict[str, pa.Schema] = {
    "events": pa.schema([("day", pa.date32()), ("part", pa.int32()),
                         *((name, pl.Series([], dtype=t).to_arrow().type) for name, t in EVENT_COLUMNS.items())]),
    "incoming": pa.schema([("day", pa.date32()), ("part", pa.int32()), ("caller_id", pa.int64()),
                           ("callee_id", pa.int64()), ("flags", pa.int16())]),
    "names": pa.schema([("id", pa.int64()), ("text", pa.large_string())]),
    "columns": pa.schema([("day", pa.date32()), ("column", pa.large_string())]),
    "cases": pa.schema([("msisdn", pa.large_string()), ("category", pa.large_string()), ("status", pa.large_string()),
                        ("first_flagged", pa.date32()), ("last_flagged", pa.date32()), ("nights_flagged", pa.int64()),
                        ("highest_score", pa.float64()), ("score", pa.float64()), ("source", pa.large_string()),
                        ("reasons", pa.large_string()), ("changed_on", pa.date32()), ("change", pa.large_string()),
                        ("change_reason", pa.large_string())]),
    "flags": pa.schema([("as_of", pa.date32()), ("msisdn", pa.large_string()), ("category", pa.large_string()),
                        ("score", pa.float64()), ("source", pa.large_string()), ("new", pa.bool_())]),
    "surveys": pa.schema([("asked_on", pa.date32()), ("flagged_msisdn", pa.large_string()),
                          ("category", pa.large_string()), ("callee", pa.large_string())]),
    "nights": pa.schema([("night", pa.int64()), ("committed_at", pa.timestamp("us", tz="UTC")),
                         ("as_of", pa.date32()), ("rows_added", pa.int64()), ("duplicates", pa.int64()),
                         ("events_version", pa.int64()), ("names_version", pa.int64()),
                         ("columns_version", pa.int64()), ("cases_version", pa.int64()),
                         ("flags_version", pa.int64()), ("surveys_version", pa.int64()),
                         ("incoming_version", pa.int64()), ("twins_version", pa.int64())]),
}
_SCHEMAS["twins"] = _SCHEMAS["events"]
_PARTITION_BY = {"events": ["day", "part"], "incoming": ["day", "part"], "twins": ["day", "part"]}
#: The tables a night writes and records the versions of.
_VERSIONED = ("events", "names", "columns", "cases", "flags", "surveys", "incoming", "twins")
#: Tables format 1 gained after its first release: a state without them is upgraded, not refused.
_ADDED_LATER = ("flags", "surveys", "incoming", "twins")
#: The ``columns`` entry of a day some of whose files held incoming legs (the canonical rows'
#: ``incoming_leg``, :data:`detector.inputs.cdr.LEG_SCHEMA`): its rows may pair with later ones.
LEGS_COLUMN = "incoming_leg"
#: What two legs of one call share (:func:`detector.inputs.legs.leg_pairs`), on the compact rows
#: with their kind as :data:`LEG_KIND`.
LEG_KEYS = ("caller_id", "callee_id", "__voice", "duration_s")
LEG_KIND = (pl.col("flags") & VOICE).alias("__voice")
#: How long a failed write's other tasks take to finish printing their panics (measured: all
#: within 50 ms; four times that).
_PANICS_SETTLE_S = 0.2
#: Days a callee rests after being listed in ``verify.csv`` before any case may list it again.
SURVEY_REST_DAYS = 7
#: The case ledger's columns: the status (``open``, ``closed``; the loop adds ``confirmed``,
#: ``blocked``, ``cleared``, ``unblocked``), the first and last night flagged and how many nights,
#: the highest and the latest score, the latest source and reasons, and the last change (the
#: night, ``opened`` / ``reopened`` / ``closed``, and why).
CASE_COLUMNS: dict[str, pl.DataType] = dict(pl.from_arrow(_SCHEMAS["cases"].empty_table()).schema)


class StateError(InputError):
    """A state directory that cannot be used as asked: missing, of another format or country,
    or being written by another run."""


@dataclass(frozen=True)
class State:
    """A state directory as its last committed night left it (read side)."""

    root: Path
    partitions: int
    country_code: str
    #: The version of each of :data:`_VERSIONED` the last committed night left (``None``: a
    #: table of :data:`_ADDED_LATER` this state does not have yet).
    versions: dict[str, int | None]
    #: The last committed night's sequence number (0: none yet, only the empty tables).
    night: int
    #: Tables of :data:`_ADDED_LATER` whose version the last night did not record: the next
    #: writer fills them (``incoming`` from ``events``).
    unrecorded: frozenset[str] = frozenset()
    #: The carrier's ``home_prefixes`` the rows' off-net flags were read with (``None``: a state
    #: from before they were recorded).
    home_prefixes: tuple[str, ...] | None = None
    #: The ``timezone`` the rows' local times and days are in, and the ``leg_tolerance_s`` their
    #: legs were paired with (``None``: a state from before they were recorded).
    timezone: str | None = None
    leg_tolerance_s: int | None = None

    @classmethod
    def open(cls, root: str | Path) -> State:
        """The state at ``root``; :class:`StateError` if it is none, or of another format."""
        root = Path(root)
        try:
            layout = json.loads((root / _LAYOUT).read_text())
        except FileNotFoundError:
            raise StateError(f"{root} is not a detector state (no {_LAYOUT}); a first nightly run creates one") from None
        except (OSError, ValueError) as exc:
            raise StateError(f"cannot read {root / _LAYOUT}: {exc}") from None
        if layout.get("format") != FORMAT:
            raise StateError(f"{root} holds a state of format {layout.get('format')!r}; this version of the "
                             f"engine reads format {FORMAT} only")
        nights = pl.read_delta(str(root / "nights"))
        first = [name for name in _SCHEMAS if name not in _ADDED_LATER]
        missing = [name for name in first if name != "nights" and f"{name}_version" not in nights.columns]
        if missing or not all((root / name).is_dir() for name in first):
            raise StateError(f"{root} was written by another version of the engine (its layout lacks "
                             f"{', '.join(missing) or 'a table'}); start a new state for this version")
        last = nights.sort("night").tail(1)
        versions = {name: _recorded_version(root, last, name) for name in _VERSIONED}
        unrecorded = frozenset(name for name in _ADDED_LATER
                               if f"{name}_version" not in last.columns or last[f"{name}_version"].item() is None)
        prefixes, tolerance = layout.get("home_prefixes"), layout.get("leg_tolerance_s")
        return cls(root, int(layout["partitions"]), str(layout["country_code"]), versions, int(last["night"].item()),
                   unrecorded, None if prefixes is None else tuple(prefixes), layout.get("timezone"),
                   None if tolerance is None else int(tolerance))

    def _scan(self, name: str) -> pl.LazyFrame:
        """Table ``name`` at the version the last night recorded (empty if this state predates it)."""
        version = self.versions[name]
        if version is None:
            return pl.LazyFrame(schema=pl.from_arrow(_SCHEMAS[name].empty_table()).schema)
        return pl.scan_delta(str(self.root / name), version=version)

    def events(self, days: Sequence[dt.date] | None = None) -> pl.LazyFrame:
        """The rows held (of ``days`` only, if given), as the last night left them."""
        rows = self._scan("events")
        return rows if days is None else rows.filter(pl.col("day").is_in(list(days)))

    def twins(self, days: Sequence[dt.date] | None = None) -> pl.LazyFrame:
        """The incoming legs held as the twin of an outgoing leg in ``events`` (of ``days`` only,
        if given): not counted, kept for the pairing of later nights."""
        rows = self._scan("twins")
        return rows if days is None else rows.filter(pl.col("day").is_in(list(days)))

    def days_with_legs(self) -> set[dt.date]:
        """The days with rows from a file that wrote calls' legs apart (``incoming_leg`` in ``columns``)."""
        rows = self._scan("columns").filter(pl.col("column") == LEGS_COLUMN).select("day").collect()
        return set(rows["day"].to_list())

    def incoming(self, days: Sequence[dt.date] | None = None) -> pl.LazyFrame:
        """Who called whom across partitions (of ``days`` only, if given), by the callee's ``part``."""
        rows = self._scan("incoming")
        return rows if days is None else rows.filter(pl.col("day").is_in(list(days)))

    def files(self, table: str, days: Sequence[dt.date], parts: Sequence[int]) -> list[str]:
        """The data files (Parquet, by absolute path or URI) of ``table`` (``events`` or
        ``incoming``) holding the rows of ``days`` and hash partitions ``parts``, as the last
        night left it. They hold the table's columns but ``day`` and ``part``."""
        if self.versions[table] is None or not days or not parts:
            return []
        held = DeltaTable(str(self.root / table), version=self.versions[table])
        return held.file_uris(file_pruning_predicate=[("day", "in", [d.isoformat() for d in days]),
                                                      ("part", "in", [str(p) for p in parts])])

    def rows_held(self, days: Sequence[dt.date] | None = None) -> pl.DataFrame:
        """``day``, ``rows``: the ``events`` rows held per day (of ``days`` only, if given), from
        the table's metadata: no data file is read."""
        actions = pl.DataFrame(DeltaTable(str(self.root / "events"), version=self.versions["events"])
                               .get_add_actions(flatten=True))
        if not actions.height:
            return pl.DataFrame(schema={"day": pl.Date, "rows": pl.Int64})
        per_day = (actions.group_by(pl.col("partition.day").alias("day"))
                   .agg(pl.col("num_records").sum().cast(pl.Int64).alias("rows")).sort("day"))
        return per_day if days is None else per_day.filter(pl.col("day").is_in(list(days)))

    def names(self) -> pl.LazyFrame:
        """``id`` -> ``text`` of the numbers and IMEIs whose id is not their digits."""
        return self._scan("names")

    def number_names(self) -> pl.DataFrame | None:
        """``id``, ``msisdn``: :meth:`names` as :func:`features.build.number_texts` reads them
        (``None``: there are none)."""
        names = self.names().rename({"text": "msisdn"}).collect()
        return names if names.height else None

    def present(self, days: Sequence[dt.date]) -> frozenset[str]:
        """The optional CDR columns some file with rows of ``days`` had."""
        rows = self._scan("columns")
        return frozenset(rows.filter(pl.col("day").is_in(list(days))).select("column").unique().collect()["column"])

    def cases(self) -> pl.DataFrame:
        """The case ledger (:data:`CASE_COLUMNS`), by number and category."""
        return self._scan("cases").collect().sort("msisdn", "category")

    def flags(self) -> pl.DataFrame:
        """Every night's flags (``as_of``, ``msisdn``, ``category``, ``score``, ``source``, ``new``)."""
        return self._scan("flags").collect().sort("as_of", "category", "msisdn")

    def surveys(self) -> pl.LazyFrame:
        """The callees listed for survey, by night (``asked_on``, ``flagged_msisdn``, ``category``, ``callee``)."""
        return self._scan("surveys")

    def nights(self) -> pl.DataFrame:
        """The committed nights, oldest first (the creation of the state is night 0)."""
        return pl.read_delta(str(self.root / "nights")).filter(pl.col("night") <= self.night).sort("night")

    def days(self) -> pl.DataFrame:
        """Per day held: its rows and the distinct numbers that originated them."""
        return (self.events().group_by("day").agg(pl.len().alias("rows"), pl.col("caller_id").n_unique().alias("numbers"))
                .sort("day").collect())


def create_state(root: str | Path, *, partitions: int, country_code: str, home_prefixes: Sequence[str] = (),
                 timezone: str = DEFAULT_TIMEZONE, leg_tolerance_s: int = DEFAULT_LEG_TOLERANCE_S) -> State:
    """A new, empty state at ``root`` (which must not exist, or be an empty directory), for rows
    read with the given country, prefixes, timezone and leg tolerance (recorded in its layout:
    :class:`State`). Built in a temporary directory beside it and renamed into place, so it is
    there whole or not at all."""
    root = Path(root)
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise StateError(f"{root} exists and is not an empty directory; give a new path for a new state")
    root.parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=f".{root.name}.", dir=root.parent))
    try:
        for name, schema in _SCHEMAS.items():
            DeltaTable.create(str(building / name), schema=schema, partition_by=_PARTITION_BY.get(name))
        _write(building / "nights", pl.DataFrame(
            {"night": [0], "committed_at": [_now()], "as_of": [None], "rows_added": [0], "duplicates": [0],
             **{f"{name}_version": [0] for name in _VERSIONED}}))
        (building / _LAYOUT).write_text(json.dumps(
            {"format": FORMAT, "partitions": partitions, "country_code": country_code,
             "home_prefixes": sorted(home_prefixes), "timezone": timezone, "leg_tolerance_s": leg_tolerance_s},
            indent=2) + "\n")
        if root.exists():
            root.rmdir()
        os.rename(building, root)
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return State.open(root)


@dataclass(frozen=True)
class Added:
    """What :meth:`StateWriter.add_events` did: rows added, exact duplicates of rows held (or of
    each other) dropped, and the days the added rows belong to."""

    rows: int
    duplicates: int
    days: tuple[dt.date, ...]
    #: Incoming legs newly counted by their outgoing twin (:data:`LEG_KEYS`; net of held ones
    #: a re-pairing set free).
    legs: int = 0


class StateWriter:
    """Tonight's changes to a :class:`State`, invisible to readers until :meth:`commit`."""

    def __init__(self, state: State) -> None:
        self.state = state
        self._added = 0
        self._duplicates = 0
        if "incoming" in state.unrecorded:
            self._fill_incoming()

    def _fill_incoming(self) -> None:
        """``incoming`` of every row held, day by day: a state from before the table had only
        ``events``."""
        for day in self.state.days()["day"]:
            held = self.state.events([day]).select("day", "part", "caller_id", "callee_id", "flags").collect()
            crossing = _crossing(held, self.state.partitions)
            if crossing.height:
                _write(self.state.root / "incoming", crossing)

    def add_events(self, events: pl.DataFrame, leg_tolerance_s: int | None = None) -> Added:
        """Add compact CDR rows (:data:`EVENT_COLUMNS`, with ``day``): late rows join their day;
        rows equal in every column to a row held, or to an earlier row here, are dropped and
        counted. With ``leg_tolerance_s``, incoming legs are paired with outgoing ones
        (:meth:`_paired`) and the twins go to ``twins``."""
        rows = events.select(pl.col("day").cast(pl.Date),
                             partition_of(pl.col("caller_id"), self.state.partitions).alias("part"),
                             *(pl.col(name).cast(t) for name, t in EVENT_COLUMNS.items()))
        days = tuple(sorted(rows["day"].unique().drop_nulls()))
        held = (pl.concat([self._tonight(name).filter(pl.col("day").is_in(list(days))) for name in ("events", "twins")])
                .collect() if days else rows.clear())
        both = pl.concat([held, rows])
        drop = duplicate_rows(both)
        fresh = drop[drop >= held.height] - held.height
        if fresh.size:
            keep = np.ones(rows.height, dtype=np.bool_)
            keep[fresh] = False
            rows = rows.filter(pl.Series(keep))
        twins, legs = rows.clear(), 0
        if leg_tolerance_s is not None and rows.height:
            rows, twins, legs = self._paired(rows, leg_tolerance_s)
        if rows.height:
            self._append_events(rows)
        if twins.height:
            _write(self.state.root / "twins", twins)
        self._added += rows.height
        self._duplicates += int(fresh.size)
        return Added(rows.height, int(fresh.size), tuple(sorted({*rows["day"].unique(), *twins["day"].unique()})),
                     legs + twins.height)

    def _append_events(self, rows: pl.DataFrame) -> None:
        """Append ``rows`` (``events``' columns) to ``events``, and those crossing partitions to ``incoming``."""
        _write(self.state.root / "events", rows)
        crossing = _crossing(rows, self.state.partitions)
        if crossing.height:
            _write(self.state.root / "incoming", crossing)

    def _paired(self, rows: pl.DataFrame, tolerance_s: int) -> tuple[pl.DataFrame, pl.DataFrame, int]:
        """Tonight's new ``rows`` split into those counted (for ``events``) and the incoming legs
        that are the twin of an outgoing leg (for ``twins``), paired as a batch run pairs the same
        rows (:func:`~detector.inputs.legs.leg_pairs`) together with the held rows of the same
        calls' keys on their days and the days beside (a leg that came another night, or a call
        across midnight). Held rows whose pairing that changes move between ``events`` and
        ``twins`` here; the count is the net number moved into ``twins``."""
        leg = (pl.col("flags") & INCOMING_LEG) != 0
        near = sorted({d + dt.timedelta(days=k) for d in rows["day"].unique() for k in (-1, 0, 1)})
        legs_held = (self._tonight("columns").filter(pl.col("day").is_in(near) & (pl.col("column") == LEGS_COLUMN))
                     .select(pl.len()).collect().item())
        legs_tonight = rows.filter(leg)["day"].unique()
        if legs_tonight.len():
            self.add_columns(legs_tonight.to_list(), [LEGS_COLUMN])
        elif not legs_held:
            return rows, rows.clear(), 0
        calls = rows.select(LEG_KIND, "caller_id", "callee_id", "duration_s").unique().lazy()

        def held(name: str) -> pl.DataFrame:
            return (self._tonight(name).filter(pl.col("day").is_in(near)).with_columns(LEG_KIND)
                    .join(calls, on=list(LEG_KEYS), how="semi").drop("__voice").collect())

        events, twins = held("events"), held("twins")
        both = pl.concat([events, twins, rows])
        twin = np.zeros(both.height, dtype=np.bool_)
        twin[leg_pairs(both.with_columns(LEG_KIND), list(LEG_KEYS), pl.col("ts"), leg, tolerance_s * 1_000_000)[0]] = True
        a, b = events.height, events.height + twins.height
        now_twins, freed = events.filter(pl.Series(twin[:a])), twins.filter(pl.Series(~twin[a:b]))
        if now_twins.height:
            self._remove_events(now_twins)
            _write(self.state.root / "twins", now_twins)
        if freed.height:
            _delete_rows(self.state.root / "twins", freed, list(_SCHEMAS["twins"].names))
            self._append_events(freed)
        tonight = pl.Series(twin[b:])
        return rows.filter(~tonight), rows.filter(tonight), now_twins.height - freed.height

    def _remove_events(self, rows: pl.DataFrame) -> None:
        """Remove held ``rows`` (whole rows of ``events``, each held once) from ``events`` and
        their entries from ``incoming`` (where equal entries are as many as the rows they stand
        for: all of a key's go, and those that stay come back)."""
        _delete_rows(self.state.root / "events", rows, list(_SCHEMAS["events"].names))
        gone = _crossing(rows, self.state.partitions)
        if not gone.height:
            return
        keys = list(_SCHEMAS["incoming"].names)
        counts = gone.group_by(keys).agg(pl.len().alias("gone"))
        days = gone["day"].unique().to_list()
        held = (self._tonight("incoming").filter(pl.col("day").is_in(days)).join(counts.lazy(), on=keys, how="semi")
                .group_by(keys).agg(pl.len().alias("held")).collect())
        _delete_rows(self.state.root / "incoming", counts.select(keys), keys)
        stay = held.join(counts, on=keys).with_columns((pl.col("held") - pl.col("gone")).alias("n")).filter(pl.col("n") > 0)
        if stay.height:
            _write(self.state.root / "incoming", stay.select(pl.col(keys).repeat_by("n").explode()))

    def add_names(self, names: pl.DataFrame) -> int:
        """Add ``id``, ``text`` pairs not held yet; returns how many were new."""
        new = names.select(pl.col("id").cast(pl.Int64), pl.col("text").cast(pl.Utf8)).unique("id")
        new = new.join(self._tonight("names").select("id").collect(), on="id", how="anti")
        if new.height:
            _write(self.state.root / "names", new)
        return new.height

    def add_columns(self, days: Sequence[dt.date], columns: Sequence[str]) -> None:
        """Record that files with rows of ``days`` had the optional ``columns``."""
        pairs = pl.DataFrame({"day": list(days)}, schema={"day": pl.Date}).join(
            pl.DataFrame({"column": list(columns)}, schema={"column": pl.Utf8}), how="cross")
        new = pairs.join(self._tonight("columns").collect(), on=["day", "column"], how="anti")
        if new.height:
            _write(self.state.root / "columns", new)

    def set_cases(self, cases: pl.DataFrame) -> None:
        """Replace the case ledger with ``cases`` (:data:`CASE_COLUMNS`)."""
        _write(self.state.root / "cases", cases.select(*CASE_COLUMNS), mode="overwrite")

    def set_flags(self, as_of: dt.date, flags: pl.DataFrame) -> None:
        """Record the night ``as_of``'s flags (``msisdn``, ``category``, ``score``, ``source``,
        ``new``), replacing what an earlier run of the same night recorded."""
        rows = flags.select(pl.lit(as_of).alias("as_of"), "msisdn", "category", "score", "source", "new")
        _write(self.state.root / "flags", rows, mode="overwrite", predicate=f"as_of = '{as_of.isoformat()}'")

    def set_surveys(self, asked_on: dt.date, listed: pl.DataFrame) -> None:
        """Record the callees the night ``asked_on`` listed for survey (``flagged_msisdn``,
        ``category``, ``callee``), replacing an earlier run of the same night's."""
        rows = listed.select(pl.lit(asked_on).alias("asked_on"), "flagged_msisdn", "category", "callee")
        _write(self.state.root / "surveys", rows, mode="overwrite", predicate=f"asked_on = '{asked_on.isoformat()}'")

    def view(self) -> State:
        """The state as tonight has it so far (for this run's own reading before it commits)."""
        versions = {name: DeltaTable(str(self.state.root / name)).version() for name in _VERSIONED}
        return dataclasses.replace(self.state, versions=versions)

    def forget_before(self, day: dt.date) -> int:
        """Drop the rows of days before ``day`` (retention); returns how many rows went."""
        gone = self._tonight("events").filter(pl.col("day") < day).select(pl.len()).collect().item()
        if gone:
            for name in ("events", "incoming", "twins", "columns"):
                DeltaTable(str(self.state.root / name)).delete(f"day < '{day.isoformat()}'")
            DeltaTable(str(self.state.root / "flags")).delete(f"as_of < '{day.isoformat()}'")
            DeltaTable(str(self.state.root / "surveys")).delete(f"asked_on < '{day.isoformat()}'")
        return gone

    def _tonight(self, name: str) -> pl.LazyFrame:
        """Table ``name`` as tonight has it so far: the last night's rows and tonight's."""
        return pl.scan_delta(str(self.state.root / name))

    def commit(self, as_of: dt.date | None) -> State:
        """Make tonight's changes the state's, at once: one row appended to ``nights`` names the
        tables' new versions."""
        night = self.state.night + 1
        versions = self.view().versions
        # ``merge``: a state from before :data:`_ADDED_LATER` gains their version columns here.
        _write(self.state.root / "nights", pl.DataFrame(
            {"night": [night], "committed_at": [_now()], "as_of": [as_of], "rows_added": [self._added],
             "duplicates": [self._duplicates], **{f"{name}_version": [v] for name, v in versions.items()}}),
            schema_mode="merge")
        self.state = State.open(self.state.root)
        self._added = self._duplicates = 0
        return self.state


@contextmanager
def writing(root: str | Path) -> Iterator[StateWriter]:
    """Hold the state at ``root`` for writing: refused (:class:`StateError`) while another run
    holds it; what a killed run left uncommitted is undone first."""
    root = Path(root)
    State.open(root)
    lock = root / _LOCK
    _take_lock(lock)
    try:
        _upgrade(root)
        yield StateWriter(_recovered(State.open(root)))
    finally:
        lock.unlink(missing_ok=True)


def _crossing(rows: pl.DataFrame, partitions: int) -> pl.DataFrame:
    """The ``incoming`` rows of ``rows`` (``day``, caller's ``part``, ``caller_id``,
    ``callee_id``, ``flags``): those whose callee is in another partition, under the callee's."""
    return (rows.with_columns(partition_of(pl.col("callee_id"), partitions).alias("callee_part"))
            .filter(pl.col("callee_part") != pl.col("part"))
            .select("day", pl.col("callee_part").alias("part"), "caller_id", "callee_id", "flags"))


def _upgrade(root: Path) -> None:
    """Create the tables of :data:`_ADDED_LATER` an older state lacks, empty: they are read at
    version 0 until a night records them."""
    for name in _ADDED_LATER:
        if not (root / name).is_dir():
            DeltaTable.create(str(root / name), schema=_SCHEMAS[name], partition_by=_PARTITION_BY.get(name))


def _recorded_version(root: Path, last: pl.DataFrame, name: str) -> int | None:
    """The version of table ``name`` the night ``last`` recorded: a table added to the layout
    later that the night did not know is at 0 (as created) if it exists, else absent (``None``)."""
    column = f"{name}_version"
    if column in last.columns and last[column].item() is not None:
        return int(last[column].item())
    return 0 if (root / name).is_dir() else None


def _recovered(state: State) -> State:
    """``state`` with every table at the version its last night recorded: a run killed between
    a table's write and the night's commit left a newer one, which nobody may read. (A restore
    is a new version with the recorded one's content; readers keep reading the recorded one.)"""
    for name in _VERSIONED:
        table = DeltaTable(str(state.root / name))
        recorded = state.versions[name] or 0  # created by :func:`_upgrade` at version 0
        if table.version() != recorded:
            table.restore(recorded)
    return state


def _take_lock(lock: Path) -> None:
    """Create ``lock`` or refuse: a lock left by a run that is gone (its process no longer runs
    on this host) is taken over."""
    mine = json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": _now().isoformat()})
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder = _holder(lock)
            if holder is not None and not _alive(holder):
                lock.unlink(missing_ok=True)
                continue
            who = (f"pid {holder.get('pid')} on {holder.get('host')} since {holder.get('since')}"
                   if holder else "another run")
            raise StateError(f"the state {lock.parent} is being written by {who}; wait for it to finish "
                             f"(or remove {lock} if that run is gone)") from None
        with os.fdopen(fd, "w") as f:
            f.write(mine)
        return
    raise StateError(f"cannot take {lock}: another run took it meanwhile")


def _holder(lock: Path) -> dict | None:
    try:
        return json.loads(lock.read_text())
    except (OSError, ValueError):
        return None


def _alive(holder: dict) -> bool:
    """Whether the run that wrote a lock may still run: on another host we cannot tell, so yes."""
    if holder.get("host") != socket.gethostname():
        return True
    try:
        os.kill(int(holder.get("pid", -1)), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError, OverflowError):
        return True
    return True


def _delete_rows(table: Path, rows: pl.DataFrame, columns: Sequence[str]) -> None:
    """Delete from ``table`` every row equal to one of ``rows`` in ``columns`` (nulls equal),
    reading only the files of the rows' days and partitions."""
    days = ", ".join(f"'{d.isoformat()}'" for d in rows["day"].unique().sort())
    parts = ", ".join(str(p) for p in rows["part"].unique().sort())
    predicate = " AND ".join([f"t.day IN ({days})", f"t.part IN ({parts})",
                              *(f"(t.{c} IS NOT DISTINCT FROM s.{c})" for c in columns)])
    source = rows.select(columns).unique().to_arrow().cast(pa.schema([_SCHEMAS[table.name].field(c) for c in columns]))
    with _panics_kept_off_stderr():
        DeltaTable(str(table)).merge(source, predicate, source_alias="s", target_alias="t").when_matched_delete().execute()


def _write(table: Path, rows: pl.DataFrame, mode: str = "append", **options: str) -> None:
    """Write ``rows`` into ``table`` (``append`` or ``overwrite``, with deltalake's ``predicate``
    or ``schema_mode``) in the table's own schema."""
    with _panics_kept_off_stderr():
        write_deltalake(str(table), rows.to_arrow().cast(_SCHEMAS[table.name]), mode=mode, **options)


@contextmanager
def _panics_kept_off_stderr() -> Iterator[None]:
    """Hold what the process writes to stderr (fd 2) during a Delta write. When a write fails (a
    full disk), deltalake raises an error, but its writer's other tasks each print a Rust panic
    trace ("Already shut down", apache/arrow-rs-object-store#810), a few milliseconds later too:
    those traces are kept from the user's one-line error (and added to the exception's notes,
    which ``--debug`` shows). After a write that succeeds, whatever was held is passed on."""
    sys.stderr.flush()
    held = tempfile.TemporaryFile()
    saved = os.dup(2)
    os.dup2(held.fileno(), 2)
    try:
        yield
    except BaseException as exc:
        time.sleep(_PANICS_SETTLE_S)
        os.dup2(saved, 2)
        held.seek(0)
        text = held.read().decode(errors="replace").strip()
        if text:
            exc.add_note(text)
        raise
    else:
        os.dup2(saved, 2)
        held.seek(0)
        text = held.read()
        if text:
            os.write(2, text)
    finally:
        os.close(saved)
        held.close()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
