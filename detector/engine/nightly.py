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
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from detector.engine.cases import changes, update_cases, with_case_columns
from detector.inputs.cdr import CdrBatch
from detector.inputs.mapping import OPTIONAL_COLUMNS, Mapping
from detector.state.store import EVENT_COLUMNS, Added, State, StateError, StateWriter, create_state, writing
from detector.engine.verification import VERIFY_CALLEES, verification_list
from features.build import (
    HAS_IMEI, Partition, build_partition_features, event_columns, feature_context, number_texts, text_names,
)

if TYPE_CHECKING:
    from models.model_file import DetectorModel
    from models.rules import Rule

#: Hash partitions of a new state's rows (fixed for its life: every row's ``part`` depends on it).
STATE_PARTITIONS = 16
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


def open_or_create(root: str | Path, mapping: Mapping) -> State:
    """The state at ``root``, created empty if there is none; refused if its numbers were
    normalised for another country than ``mapping``'s."""
    root = Path(root)
    if not (root / "state.json").exists():
        return create_state(root, partitions=STATE_PARTITIONS, country_code=mapping.country_code)
    state = State.open(root)
    if state.country_code != mapping.country_code:
        raise StateError(f"the state {root} holds numbers of country code {state.country_code}; the mapping "
                         f"says {mapping.country_code}: use another --state for another country")
    return state


def compact_rows(batch: CdrBatch, mapping: Mapping) -> pl.DataFrame:
    """A batch's rows as the state holds them: :func:`features.build.event_columns` (IMEIs as
    ids) and ``day``, the local date of ``start_time``."""
    events = event_columns(batch.cdrs, mapping.country_code, imei_ids=True, home_prefixes=mapping.home_prefixes)
    return events.select(*EVENT_COLUMNS).with_columns(batch.cdrs["start_time"].dt.date().alias("day"))


def add_rows(night: StateWriter, batch: CdrBatch, mapping: Mapping) -> Added:
    """Add a batch's rows (read by :func:`detector.inputs.cdr.read_cdrs`) to tonight's changes:
    the rows, the texts of the numbers and IMEIs whose id is not their digits, and the optional
    columns its files had, for the days its rows belong to."""
    events = compact_rows(batch, mapping)
    cdrs = batch.cdrs
    names = pl.concat([text_names(events["caller_id"], cdrs["caller"]),
                       text_names(events["callee_id"], cdrs["callee"]),
                       text_names(events["imei"], cdrs["imei"])]).rename({"msisdn": "text"})
    added = night.add_events(events)
    night.add_names(names)
    night.add_columns(sorted(events["day"].unique().drop_nulls()), [c for c in OPTIONAL_COLUMNS if c not in batch.absent])
    return added


def add_night(root: str | Path, batch: CdrBatch, mapping: Mapping) -> NightAdded:
    """:func:`add_rows` of a batch into the state at ``root`` (created if there is none), committed."""
    open_or_create(root, mapping)
    with writing(root) as night:
        added = add_rows(night, batch, mapping)
        state = night.commit(None)
    return NightAdded(state, added, latest_day(state))


def latest_day(state: State) -> dt.date | None:
    """The latest day the state holds rows of."""
    held = state.days()
    return held["day"].max() if held.height else None


def window_days(as_of: dt.date, window: int) -> list[dt.date]:
    """The ``window`` days ending on ``as_of``, oldest first."""
    return [as_of - dt.timedelta(days=back) for back in range(window - 1, -1, -1)]


def window_features(state: State, as_of: dt.date, window: int, registry: pl.DataFrame | None = None,
                    *, core_only: bool = False) -> pl.DataFrame:
    """The feature table of the ``window`` days ending on ``as_of``, from the rows the state
    holds: equal to :func:`features.build.build_features` of the same days' rows read at once."""
    days = window_days(as_of, window)
    events = state.events(days).collect()
    held_days = events["day"].n_unique()
    events = events.select(*EVENT_COLUMNS)
    names = state.names().rename({"text": "msisdn"}).join(
        events.lazy().select(pl.col("caller_id").alias("id")).unique(), on="id", how="semi").collect()
    end = events["ts"].max()
    context = feature_context(
        days=held_days,
        end=None if end is None else pl.select(pl.from_epoch(pl.lit(end), "us")).item(),
        imei_callers=events.filter((pl.col("flags") & HAS_IMEI) != 0).select("imei", "caller_id"),
        callers=events["caller_id"],
        registry=registry,
        names=names if names.height else None,
        absent=absent_columns(state, days),
    )
    return build_partition_features(events, context, Partition(0, 1), core_only=core_only)


def absent_columns(state: State, days: Sequence[dt.date]) -> frozenset[str]:
    """The optional CDR columns no file with rows of ``days`` had."""
    present = state.present(days)
    return frozenset(c for c in OPTIONAL_COLUMNS if c not in present)


def window_handsets(state: State, days: Sequence[dt.date]) -> pl.DataFrame:
    """``caller``, ``imei``: the texts of each distinct (number, handset) pair of the days' rows
    with an IMEI, as :func:`detector.outputs.report.shared_imeis` reads a batch's CDRs."""
    pairs = (state.events(days).filter((pl.col("flags") & HAS_IMEI) != 0).select("caller_id", "imei").unique()
             .collect())
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
    features: pl.DataFrame
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
              keep_days: int | None = None, verify_callees: int = VERIFY_CALLEES) -> NightResult:
    """Tonight's rows into the state at ``root`` (created if there is none), every number active
    in the ``window`` days ending on ``as_of`` (default: the latest day held) scored and flagged,
    the case ledger updated, the verification list drawn (at most ``verify_callees`` per case
    opened tonight), tonight's flags and surveys recorded, and the days older than the latest
    minus ``keep_days`` (default: the window + :data:`RETENTION_MARGIN_DAYS`) forgotten; all in
    one commit of the state."""
    from detector.engine.pipeline import model_thresholds
    from detector.errors import InputError
    from models.scoring import flag_numbers, score_numbers

    open_or_create(root, mapping)
    with writing(root) as night:
        added = add_rows(night, batch, mapping)
        view = night.view()
        latest = latest_day(view)
        as_of = as_of or latest
        if as_of is None:
            raise InputError(f"the state {root} holds no rows yet, and tonight's files added none")
        days = window_days(as_of, window)
        table = window_features(view, as_of, window, registry)
        thresholds = model_thresholds(model, precision)
        flags = flag_numbers(score_numbers(model, table), table, thresholds, rules, allowlist)
        handsets = window_handsets(view, days)
        absent = absent_columns(view, days)
        cases = update_cases(view.cases(), flags.flagged, as_of, window)
        flagged = with_case_columns(flags.flagged, cases)
        new = new_cases(flagged, cases, as_of)
        verify = verification_list(view, days, new, flags.flagged, registry=registry, allowlist=allowlist,
                                   per_case=verify_callees)
        night.set_cases(cases)
        night.set_flags(as_of, flagged.join(new.select("msisdn", "category", new=pl.lit(True)),
                                            on=["msisdn", "category"], how="left").with_columns(pl.col("new").fill_null(False)))
        night.set_surveys(as_of, verify)
        keep = window + RETENTION_MARGIN_DAYS if keep_days is None else keep_days
        forgotten = night.forget_before(latest - dt.timedelta(days=keep)) if latest is not None else 0
        state = night.commit(as_of)
    return NightResult(state=state, added=added, as_of=as_of, days=days, features=table, scores=flags.scores,
                       flagged=flagged, changes=changes(cases, as_of),
                       thresholds=thresholds, allowlisted=flags.allowlisted, verify=verify, handsets=handsets,
                       absent=absent, history=state.flags(), cases=cases, forgotten=forgotten)
