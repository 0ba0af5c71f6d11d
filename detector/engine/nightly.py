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
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from detector.inputs.cdr import CdrBatch
from detector.inputs.mapping import OPTIONAL_COLUMNS, Mapping
from detector.state.store import EVENT_COLUMNS, Added, State, create_state, writing
from features.build import HAS_IMEI, Partition, build_partition_features, event_columns, feature_context, text_names

#: Hash partitions of a new state's rows (fixed for its life: every row's ``part`` depends on it).
STATE_PARTITIONS = 16


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
    from detector.state.store import StateError

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


def add_night(root: str | Path, batch: CdrBatch, mapping: Mapping) -> NightAdded:
    """Add tonight's rows (read by :func:`detector.inputs.cdr.read_cdrs`) to the state at
    ``root`` and commit: the rows, the texts of the numbers and IMEIs whose id is not their
    digits, and the optional columns the files had, for the days the rows belong to."""
    open_or_create(root, mapping)
    events = compact_rows(batch, mapping)
    cdrs = batch.cdrs
    names = pl.concat([text_names(events["caller_id"], cdrs["caller"]),
                       text_names(events["callee_id"], cdrs["callee"]),
                       text_names(events["imei"], cdrs["imei"])]).rename({"msisdn": "text"})
    with writing(root) as night:
        added = night.add_events(events)
        night.add_names(names)
        days = sorted(events["day"].unique().drop_nulls())
        night.add_columns(days, [c for c in OPTIONAL_COLUMNS if c not in batch.absent])
        state = night.commit(None)
    held = state.days()
    return NightAdded(state, added, held["day"].max() if held.height else None)


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
        absent=frozenset(c for c in OPTIONAL_COLUMNS if c not in state.present(days)),
    )
    return build_partition_features(events, context, Partition(0, 1), core_only=core_only)
