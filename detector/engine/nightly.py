"""Nightly runs on the state store (nightly.md): tonight's rows go into the state once, and a
window's features are computed from the rows the state holds, equal to those of scoring the
window's raw files at once.

The state holds the rows in the form the out-of-core engine spills (:mod:`detector.state.store`),
so a window's features are :func:`features.build.build_partition_features` of those rows with a
:class:`features.build.FeatureContext` gathered from the whole window: the same code on the same
values as the batch run.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from detector.engine.cases import changes, update_cases, with_case_columns
from detector.engine.partitioned import BYTES_PER_SUBSCRIBER, PartitionJob
from detector.inputs.cdr import CdrBatch
from detector.inputs.mapping import OPTIONAL_COLUMNS, Mapping
from detector.state.store import EVENT_COLUMNS, Added, State, StateError, StateWriter, create_state, writing
from detector.engine.verification import VERIFY_CALLEES, verification_list
from detector.state.window_edges import EdgeCorrections, edge_corrections
from features.build import (
    HAS_IMEI, FeatureContext, Partition, build_partition_features, event_columns, feature_context, number_texts,
    text_names,
)

if TYPE_CHECKING:
    from detector.engine.pipeline import Engine
    from models.model_file import DetectorModel
    from models.rules import Rule
    from models.scoring import Flags

#: A new state's hash partitions (fixed for its life: every row's ``part`` depends on it) are a
#: power of two, about one per this many rows of its first night: then a day's file of a
#: partition holds about as many rows whatever the carrier's size, and a large carrier's window
#: can be split finely enough for its memory limit (4M subscribers, ~7M rows a day: 128).
ROWS_PER_STATE_PARTITION = 60_000
STATE_PARTITIONS = (4, 256)
#: Days kept beyond the window when ``nightly`` is not told (nightly.md: window + 30): a month of
#: history for the cases' and links' look back.
RETENTION_MARGIN_DAYS = 30


@dataclass(frozen=True)
class NightAdded:
    """What tonight's files added to the state."""

    state: State
    added: Added
    #: The latest day the state holds after tonight (the default ``--as-of``).
    latest: dt.date | None


def open_or_create(root: str | Path, mapping: Mapping, rows: int = 0) -> State:
    """The state at ``root``, created empty if there is none (partitioned for a first night of
    ``rows`` rows, :func:`state_partitions`); refused if its numbers were normalised for another
    country than ``mapping``'s, or its rows read with other ``home_prefixes`` (off-net flags),
    ``timezone`` (local times and days) or ``leg_tolerance_s`` (paired legs). The other mapping
    fields say how tonight's export is written, which may change from one night to the next."""
    root = Path(root)
    if not (root / "state.json").exists():
        return create_state(root, partitions=state_partitions(rows), country_code=mapping.country_code,
                            home_prefixes=mapping.home_prefixes, timezone=mapping.timezone,
                            leg_tolerance_s=mapping.leg_tolerance_s)
    state = State.open(root)
    if state.country_code != mapping.country_code:
        raise StateError(f"the state {root} holds numbers of country code {state.country_code}; the mapping "
                         f"says {mapping.country_code}: use another --state for another country")
    # The held rows were read this way: another tonight would score one window's days two ways.
    held = {"home_prefixes": (state.home_prefixes, tuple(sorted(mapping.home_prefixes))),
            "timezone": (state.timezone, mapping.timezone),
            "leg_tolerance_s": (state.leg_tolerance_s, mapping.leg_tolerance_s)}
    for name, (kept, tonight) in held.items():
        if kept is not None and kept != tonight:
            raise StateError(f"the state {root} was read with {name} {_shown(kept)}; the mapping says "
                             f"{_shown(tonight)}: keep the state's, or start a new --state from the raw files "
                             "for the new one")
    return state


def _shown(value: object) -> str:
    return str(list(value)) if isinstance(value, tuple) else str(value)


def state_partitions(rows: int) -> int:
    """The hash partitions of a new state whose first night has ``rows`` rows: a power of two,
    about ``rows /`` :data:`ROWS_PER_STATE_PARTITION`, within :data:`STATE_PARTITIONS`."""
    low, high = STATE_PARTITIONS
    wanted = max(1, math.ceil(rows / ROWS_PER_STATE_PARTITION))
    return min(high, max(low, 1 << (wanted - 1).bit_length()))


def compact_rows(batch: CdrBatch, mapping: Mapping) -> pl.DataFrame:
    """A batch's rows as the state holds them: :func:`features.build.event_columns` (IMEIs as
    ids) and ``day``, the local date of ``start_time``."""
    events = event_columns(batch.cdrs, mapping.country_code, imei_ids=True, home_prefixes=mapping.home_prefixes)
    return events.select(*EVENT_COLUMNS).with_columns(batch.cdrs["start_time"].dt.date().alias("day"))


def add_rows(night: StateWriter, batch: CdrBatch, mapping: Mapping) -> Added:
    """Add a batch's rows (read by :func:`detector.inputs.cdr.read_cdrs`, best with
    ``match_legs=False``: the state pairs the legs of calls across nights) to tonight's changes:
    the rows, the texts of the numbers and IMEIs whose id is not their digits, and the optional
    columns its files had, for the days its rows belong to."""
    events = compact_rows(batch, mapping)
    cdrs = batch.cdrs
    names = pl.concat([text_names(events["caller_id"], cdrs["caller"]),
                       text_names(events["callee_id"], cdrs["callee"]),
                       text_names(events["imei"], cdrs["imei"])]).rename({"msisdn": "text"})
    added = night.add_events(events, leg_tolerance_s=mapping.leg_tolerance_s)
    night.add_names(names)
    night.add_columns(sorted(events["day"].unique().drop_nulls()), [c for c in OPTIONAL_COLUMNS if c not in batch.absent])
    return added


def add_night(root: str | Path, batch: CdrBatch, mapping: Mapping) -> NightAdded:
    """:func:`add_rows` of a batch into the state at ``root`` (created if there is none), committed."""
    open_or_create(root, mapping, batch.cdrs.height)
    with writing(root) as night:
        added = add_rows(night, batch, mapping)
        state = night.commit(None)
    return NightAdded(state, added, latest_day(state))


def latest_day(state: State) -> dt.date | None:
    """The latest day the state holds rows of (from its metadata)."""
    held = state.rows_held()
    return held["day"].max() if held.height else None


def last_scored(state: State) -> dt.date | None:
    """The ``as_of`` of the state's last scored night (``None``: none yet)."""
    scored = state.nights()["as_of"].drop_nulls()
    return scored.max() if scored.len() else None


def window_days(as_of: dt.date, window: int) -> list[dt.date]:
    """The ``window`` days ending on ``as_of``, oldest first."""
    return [as_of - dt.timedelta(days=back) for back in range(window - 1, -1, -1)]


def window_context(state: State, days: Sequence[dt.date], registry: pl.DataFrame | None, rows: pl.LazyFrame,
                   partitions: int | None = None) -> FeatureContext:
    """The :class:`~features.build.FeatureContext` of the window ``days``, gathered from
    ``rows`` (the window's rows: held in memory, or scanned from the state): the same small
    tables a batch run gathers from the same days' raw files. ``partitions``: the window is
    scored in this many partitions. Streamed: a carrier's window is never held whole here."""
    summary = rows.select(pl.col("day").n_unique().alias("days"), pl.col("ts").max().alias("end")).collect(engine="streaming")
    callers = rows.select("caller_id").unique().collect(engine="streaming")["caller_id"]
    names = state.names().rename({"text": "msisdn"}).join(callers.to_frame("id").lazy(), on="id", how="semi").collect(engine="streaming")
    end = summary["end"].item()
    return feature_context(
        days=summary["days"].item(),
        end=None if end is None else pl.select(pl.from_epoch(pl.lit(end), "us")).item(),
        imei_callers=rows.filter((pl.col("flags") & HAS_IMEI) != 0).select("imei", "caller_id").unique().collect(engine="streaming"),
        callers=callers,
        registry=registry,
        names=names if names.height else None,
        partitions=partitions,
        absent=absent_columns(state, days),
    )


def window_rows(state: State, days: Sequence[dt.date], edges: EdgeCorrections | None = None) -> pl.LazyFrame:
    """The rows the window ``days`` counts: its ``events``, with the legs its edges split counted
    as a batch run over its files counts them (``edges``: :func:`edge_corrections` of the window,
    if computed already)."""
    edges = edge_corrections(state, days) if edges is None else edges
    return edges.applied(state.events(days))


def window_features(state: State, as_of: dt.date, window: int, registry: pl.DataFrame | None = None,
                    *, core_only: bool = False, events: pl.DataFrame | None = None) -> pl.DataFrame:
    """The feature table of the ``window`` days ending on ``as_of``, from the rows the state
    holds, read whole (or given: ``events``, :func:`window_rows` in memory): equal to
    :func:`features.build.build_features` of the same days' rows read at once."""
    days = window_days(as_of, window)
    events = edge_corrections(state, days).applied(state.events(days).collect()) if events is None else events
    context = window_context(state, days, registry, events.lazy())
    return build_partition_features(events.select(*EVENT_COLUMNS), context, Partition(0, 1), core_only=core_only)


def window_jobs(state: State, days: Sequence[dt.date], context: FeatureContext, count: int,
                edges: EdgeCorrections | None = None, **options: object) -> list[PartitionJob]:
    """One :class:`~detector.engine.partitioned.PartitionJob` per partition of ``count`` (which
    divides the state's partitions), reading the window's rows from the state's files: partition
    ``i`` holds the state's partitions ``i``, ``i + count``, ... (a number's hash modulo the
    state's count, modulo ``count``, is its hash modulo ``count``)."""
    jobs = []
    for i in range(count):
        parts = list(range(i, state.partitions, count))
        jobs.append(PartitionJob(files=tuple(state.files("events", days, parts)),
                                 incoming_files=tuple(state.files("incoming", days, parts)),
                                 partition=Partition(i, count), context=context, held=True,
                                 edges=edges if edges is not None and not edges.empty else None,
                                 **options))  # type: ignore[arg-type]
    return jobs


def night_partitions(state: State, days: Sequence[dt.date], engine: Engine, held: int) -> int:
    """How many partitions the window is scored in: as many as the engine's memory limit asks
    for the window's rows (or ``--partitions``), rounded up to a divisor of the state's
    partitions (a power of two), and at most the state's. ``held``: the memory kept throughout."""
    from detector.engine.partitioned import IN_FLIGHT, partition_count

    rows = int(state.rows_held(days)["rows"].sum())
    if engine.partitions is not None:
        wanted = engine.partitions
    elif engine.kind == "dask":
        workers = engine.workers or 2
        wanted = max(partition_count(rows, engine.limit() // workers), 2 * workers)
    else:
        wanted = partition_count(rows, engine.limit(), held, IN_FLIGHT)
    divisors = [d for d in range(1, state.partitions + 1) if state.partitions % d == 0]
    return next((d for d in divisors if d >= wanted), state.partitions)


@dataclass(frozen=True)
class WindowScores:
    """What :func:`score_window` found."""

    flags: Flags
    #: The window's feature table when it was computed whole (``None``: partitioned).
    features: pl.DataFrame | None
    #: The partitions it was scored in (1: read whole).
    partitions: int
    #: The window's rows, for the steps after scoring: in memory when they were read whole,
    #: else scanned from the state.
    rows: pl.LazyFrame


def score_window(state: State, days: Sequence[dt.date], model: DetectorModel, thresholds: dict[str, float], *,
                 registry: pl.DataFrame | None = None, rules: Sequence[Rule] = (), allowlist: pl.Series | None = None,
                 engine: Engine | None = None) -> WindowScores:
    """Every number active in the window ``days`` scored and flagged, in memory or partition by
    partition (on Dask with a Dask ``engine``): the same scores and flags either way."""
    from detector.engine.partitioned import merged_flags, resident_bytes, run_locally, spill_directory
    from detector.engine.pipeline import Engine
    from models.scoring import flag_numbers, score_numbers

    engine = engine or Engine()
    held = resident_bytes() + (registry.height * BYTES_PER_SUBSCRIBER if registry is not None else 0)
    count = night_partitions(state, days, engine, held)
    edges = edge_corrections(state, days)
    if count == 1 and engine.kind == "local":
        events = edges.applied(state.events(days).collect())
        table = window_features(state, days[-1], len(days), registry, events=events)
        return WindowScores(flag_numbers(score_numbers(model, table), table, thresholds, rules, allowlist), table,
                            1, events.lazy())
    rows = window_rows(state, days, edges)
    context = window_context(state, days, registry, rows, partitions=count)
    jobs = window_jobs(state, days, context, count, edges, model=model, thresholds=thresholds, rules=tuple(rules),
                       allowlist=allowlist)
    if engine.kind == "dask":
        from detector.engine.distributed import run_on_dask

        with spill_directory(engine.tmp_dir) as directory:
            results = run_on_dask(jobs, directory, workers=engine.workers, scheduler=engine.scheduler)
    else:
        results = run_locally(jobs)
    return WindowScores(merged_flags(results, thresholds), None, count, rows)


def traffic_window(rows: pl.LazyFrame) -> tuple[dt.datetime | None, dt.datetime | None]:
    """The first and last start time (local) of ``rows``."""
    first, last = (rows.select(pl.col("ts").min().alias("first"), pl.col("ts").max().alias("last"))
                   .select(pl.from_epoch(pl.all(), "us")).collect(engine="streaming").row(0))
    return first, last


def absent_columns(state: State, days: Sequence[dt.date]) -> frozenset[str]:
    """The optional CDR columns no file with rows of ``days`` had."""
    present = state.present(days)
    return frozenset(c for c in OPTIONAL_COLUMNS if c not in present)


def window_handsets(state: State, days: Sequence[dt.date], rows: pl.LazyFrame | None = None) -> pl.DataFrame:
    """``caller``, ``imei``: the texts of each distinct (number, handset) pair of the days' rows
    (``rows``, if given: those rows) with an IMEI, as :func:`detector.outputs.report.shared_imeis`
    reads a batch's CDRs."""
    rows = window_rows(state, days) if rows is None else rows
    pairs = (rows.filter((pl.col("flags") & HAS_IMEI) != 0).select("caller_id", "imei").unique()
             .collect(engine="streaming"))
    names = state.number_names()
    callers = number_texts(pairs, names, "caller_id").rename({"msisdn": "caller"})
    return number_texts(callers, names, "imei").select("caller", pl.col("msisdn").alias("imei"))


def new_cases(flagged: pl.DataFrame, cases: pl.DataFrame, as_of: dt.date) -> pl.DataFrame:
    """The flags of ``flagged`` whose case opened or reopened on the night ``as_of``."""
    fresh = cases.filter((pl.col("changed_on") == as_of) & pl.col("change").is_in(["opened", "reopened"]))
    return flagged.join(fresh.select("msisdn", "category"), on=["msisdn", "category"], how="semi")


@dataclass(frozen=True)
class NightResult:
    """What a night did and found (the outputs of ``detector nightly``)."""

    state: State
    added: Added
    as_of: dt.date
    #: The window's days, oldest first (the state may hold rows of only some of them).
    days: list[dt.date]
    #: The window's feature table, when it was computed in memory whole (``None``: partitioned).
    features: pl.DataFrame | None
    #: The first and last start time of the window's rows.
    traffic: tuple[dt.datetime | None, dt.datetime | None]
    #: The partitions the window was scored in (1: read whole).
    partitions: int
    scores: pl.DataFrame
    #: The flags, with their cases' ``first_flagged``, ``nights_flagged`` and ``status``.
    flagged: pl.DataFrame
    #: ``changes.csv``: the cases opened, reopened or closed tonight.
    changes: pl.DataFrame
    thresholds: dict[str, float]
    allowlisted: dict[str, int]
    verify: pl.DataFrame
    #: ``caller``, ``imei`` texts of the window's (number, handset) pairs, for the report.
    handsets: pl.DataFrame
    #: Optional CDR columns no file of the window's days had.
    absent: frozenset[str]
    #: Every night's flags the state holds, tonight's included (the report's history).
    history: pl.DataFrame | None = None
    #: The case ledger after tonight.
    cases: pl.DataFrame | None = None
    #: Rows of days older than the retention, forgotten tonight.
    forgotten: int = 0


def run_night(root: str | Path, batch: CdrBatch, mapping: Mapping, model: DetectorModel, *,
              registry: pl.DataFrame | None = None, rules: Sequence[Rule] = (), allowlist: pl.Series | None = None,
              precision: float | None = None, window: int = 7, as_of: dt.date | None = None,
              keep_days: int | None = None, verify_callees: int = VERIFY_CALLEES,
              engine: Engine | None = None) -> NightResult:
    """Tonight's rows into the state at ``root`` (created if there is none), every number active
    in the ``window`` days ending on ``as_of`` (default: the latest day held) scored and flagged,
    the case ledger updated, the verification list drawn (at most ``verify_callees`` per case
    opened tonight), tonight's flags and surveys recorded, and the days older than the latest
    minus ``keep_days`` (default: the window + :data:`RETENTION_MARGIN_DAYS`) forgotten; all in
    one commit of the state. ``engine``: where the window is scored (:func:`score_window`)."""
    from detector.engine.pipeline import model_thresholds
    from detector.errors import InputError

    open_or_create(root, mapping, batch.cdrs.height)
    with writing(root) as night:
        added = add_rows(night, batch, mapping)
        view = night.view()
        latest = latest_day(view)
        as_of = as_of or latest
        if as_of is None:
            raise InputError(f"the state {root} holds no rows yet, and tonight's files added none")
        last = last_scored(view)
        if last is not None and as_of < last:
            # The ledger, flags and surveys moved on from that night: scoring it again would
            # rewrite history under later nights. A past window is what `detector score` is for.
            raise InputError(f"--as-of {as_of} is before the state's last night ({last}); a night can be run "
                             "again only for that day or later (detector score scores any past window)")
        days = window_days(as_of, window)
        thresholds = model_thresholds(model, precision)
        scored = score_window(view, days, model, thresholds, registry=registry, rules=rules, allowlist=allowlist,
                              engine=engine)
        flags = scored.flags
        traffic = traffic_window(scored.rows)
        handsets = window_handsets(view, days, scored.rows)
        absent = absent_columns(view, days)
        cases = update_cases(view.cases(), flags.flagged, as_of, window)
        flagged = with_case_columns(flags.flagged, cases)
        new = new_cases(flagged, cases, as_of)
        verify = verification_list(view, days, new, flags.flagged, registry=registry, allowlist=allowlist,
                                   per_case=verify_callees, rows=scored.rows)
        night.set_cases(cases)
        night.set_flags(as_of, flagged.join(new.select("msisdn", "category", new=pl.lit(True)),
                                            on=["msisdn", "category"], how="left").with_columns(pl.col("new").fill_null(False)))
        night.set_surveys(as_of, verify)
        keep = window + RETENTION_MARGIN_DAYS if keep_days is None else keep_days
        forgotten = night.forget_before(latest - dt.timedelta(days=keep)) if latest is not None else 0
        state = night.commit(as_of)
    return NightResult(state=state, added=added, as_of=as_of, days=days, features=scored.features, traffic=traffic,
                       partitions=scored.partitions,
                       scores=flags.scores,
                       flagged=flagged, changes=changes(cases, as_of),
                       thresholds=thresholds, allowlisted=flags.allowlisted, verify=verify, handsets=handsets,
                       absent=absent, history=state.flags(), cases=cases, forgotten=forgotten)
