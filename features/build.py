"""``build_features``: the one entry point from canonical CDRs to one row per number.

How it works: numbers become int64 ids (a normalised number without a leading zero is its own
id; other text gets a negative id hashed from it), cells and IMEIs 64-bit hashes, and the events
are sorted once by caller. numba kernels (:mod:`features.kernels`) then walk each caller's
segment: counts, distinct callees with how often each was called, medians, event order, gaps,
sequential dialling. The same rows sorted by callee give each number's distinct callers, for
the incoming counts and reciprocity (B called A back if B is among A's callers: one merge of two
sorted lists); Polars does the remaining relational work (IMEI sharing, registry, joins).

Splitting by subscriber (out-of-core and Dask runs, :mod:`detector.engine.partitioned`): numbers are
hash-partitioned on their id (:func:`partition_of`). A CDR row goes to its caller's partition and,
when that is another one, to its callee's too as who called whom (:data:`INCOMING_COLUMNS`), so a
partition holds every row its numbers originated *and* every row that names them as callee.
:func:`build_partition_features` runs the same code as :func:`build_features` on that and keeps
only the partition's own numbers. How each cross-subscriber feature stays exact:

- outgoing features (counts, distinct callees, medians, gaps, per-day maxima, first use): only the
  number's own rows, all in its partition (computed for the partition's own callers only: the
  rows of other callers are there to be looked up, below);
- incoming counts (``voice_in``, ``voice_in_distinct``, ``sms_in``): every row naming the number
  as callee is in its partition;
- reciprocity, SMS reciprocity and "unrelated" callees: whether callee B called or texted A back
  is a row B -> A, which names A as callee, so it is in A's partition;
- exact duplicates: equal rows have the same caller and callee, so they land in the same
  partitions and are dropped there;
- IMEI sharing (``imei_max_sims``): from a table built over all files, IMEI -> distinct callers
  (:class:`FeatureContext`);
- ``window_days`` and the window end: from all files (:class:`FeatureContext`);
- registry features (IDs, dealer bursts, number runs, dealers' dormant SIMs): computed once on the
  whole registry, with the set of every number that originated an event
  (:func:`registry_features`), and joined to each partition's numbers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import polars as pl

from detector.inputs.numbers import DEFAULT_COUNTRY_CODE, number_ids
from features import kernels
from features.catalogue import CORE_FEATURES, FEATURES

#: Registry-linked behaviour features (null without a registry).
REGISTRY_BEHAVIOUR = ("prepaid", "days_to_first_use", "activation_age_days", "first_use_away_from_activation", "dealer_dormant_share",
                      "dealer_over_id_cap_share", "dealer_sims", "dealer_burst_1h_max")
#: Extended counts that are 0, not null, for a number without outgoing events.
EXTENDED_COUNTS = ("days_active", "voice_out_per_day_max", "sms_out_per_day_max", "voice_burst_10m_max",
                   "voice_out_distinct_per_day_max")
#: Bins of answered call durations for their entropy, in seconds: 0-3, 4-10, 11-30, 31-60, 1-3 min,
#: 3-10 min, longer. A robocall or a SIM-box route plays a narrow band; people spread over all.
DURATION_EDGES = np.array([4, 11, 31, 61, 181, 601], dtype=np.int64)
#: The features each optional CDR column is needed for: without the column in any file they are
#: missing (null), never 0. ``answered`` is read from the duration where the export has none
#: (data-contract.md), so its features are lost only with both.
NEEDS: dict[frozenset[str], tuple[str, ...]] = {
    frozenset({"duration_s"}): ("voice_dur_mean", "voice_dur_median", "voice_short_ratio", "voice_very_short_ratio",
                                "voice_dur_entropy"),
    frozenset({"duration_s", "answered"}): ("voice_answered_ratio",),
    frozenset({"cell_id"}): ("distinct_cells", "first_use_away_from_activation"),
    frozenset({"imei"}): ("distinct_imeis", "imei_max_sims"),
}


def missing_features(absent: frozenset[str] | set[str]) -> list[str]:
    """The features that cannot be known without the ``absent`` columns (:data:`NEEDS`)."""
    return [f for columns, features in NEEDS.items() if columns <= set(absent) for f in features]


#: Callees are grouped in blocks of this many consecutive numbers for their dispersion.
CALLEE_BLOCK = 1000

VOICE, ANSWERED, HAS_CELL, HAS_IMEI = kernels.VOICE, kernels.ANSWERED, kernels.HAS_CELL, kernels.HAS_IMEI
#: Event flag: the callee is not a number of the home country (international or a short code).
ABROAD = 16
#: Event flag: the row was read from an incoming leg (:data:`detector.inputs.cdr.LEG_SCHEMA`), to be
#: matched with its call's outgoing leg where that was recorded too (:mod:`detector.inputs.legs`).
INCOMING_LEG = 32
#: Event flags: the callee is a number of the home country on another network; whether the row
#: tells :data:`ABROAD` at all (the export's ``callee_network``, or a callee that is a number:
#: an anonymised one is not known to be anywhere); whether it tells :data:`OFFNET` (the export's
#: ``callee_network``, or the carrier's ``home_prefixes``). Shares are over the rows that tell.
OFFNET, ABROAD_KNOWN, OFFNET_KNOWN = 64, 128, 256
#: Seed of the hash that assigns numbers to partitions (any fixed value; it must never vary by run).
PARTITION_SEED = 20261125
#: What a partition reads of the rows it holds only because they name one of its numbers as
#: callee: who called whom, and whether by voice. Incoming counts, reciprocity and "unrelated"
#: callees need no more (:func:`build_partition_features`).
INCOMING_COLUMNS = ("caller_id", "callee_id", "flags")


def number_id(number: pl.Expr) -> pl.Expr:
    """:func:`~detector.inputs.numbers.number_ids` as an expression: an int64 id per normalised number,
    the number itself when it is a plain positive integer, else a negative id hashed from its text."""
    return number.map_batches(number_ids, return_dtype=pl.Int64, is_elementwise=True)


def _callee_key(number: pl.Expr) -> pl.Expr:
    """The callee as an integer, for event order and sequential dialling; a callee that is not
    one sorts last (:data:`~features.kernels.NOT_AN_INTEGER`)."""
    return number.str.to_integer(strict=False).fill_null(kernels.NOT_AN_INTEGER)


@dataclass(frozen=True)
class FeatureContext:
    """What the features of a number need to know about the whole input, beyond the rows that
    name it (as caller or as callee).

    The in-memory path builds it from its own batch (:func:`build_features`); the partitioned
    engine builds it once from every file (:func:`feature_context`) and hands the same object to
    every partition, so both run the same code on the same values.
    """

    #: Distinct calendar dates with an event (``window_days``).
    days: int
    #: The last event's start time: activation age is measured up to it.
    end: dt.datetime | None
    #: ``imei`` (64-bit hash, as in the events) -> ``sims``: distinct callers seen on it, for the
    #: IMEIs more than one caller used (any other IMEI has the one). ``None`` counts them in the
    #: batch itself, which is only right when the batch is the whole input.
    imei_sims: pl.DataFrame | None
    #: :func:`registry_features` of the whole registry without its texts (``msisdn``, in
    #: ``names`` where the id is not the number; ``dealer_id``), or ``None`` without one.
    registry: pl.DataFrame | None
    #: ``id`` -> ``msisdn`` of every caller and registry subscriber whose id is not its number
    #: (:func:`text_names`): the only numbers whose text their id cannot give back. ``None``:
    #: there are none.
    names: pl.DataFrame | None = None
    #: When ``registry`` is sorted by partition (:func:`feature_context` with ``partitions``):
    #: partition ``i`` of ``len(registry_offsets) - 1`` owns its rows
    #: ``registry_offsets[i]:registry_offsets[i + 1]``, a slice instead of a filter of every row
    #: (a 16M-subscriber registry, hashed once per partition, took seconds each).
    registry_offsets: tuple[int, ...] | None = None
    #: Optional CDR columns no file had: the features that read them are null (:data:`NEEDS`).
    absent: frozenset[str] = frozenset()

    def registry_of(self, partition: Partition | None) -> pl.DataFrame | None:
        """The registry features of ``partition``'s numbers (all of them for ``None``)."""
        reg = self.registry
        if reg is None or partition is None:
            return reg
        offsets = self.registry_offsets
        if offsets is not None and len(offsets) == partition.count + 1:
            return reg.slice(offsets[partition.index], offsets[partition.index + 1] - offsets[partition.index])
        return reg.filter(partition.holds(pl.col("id")))


@dataclass(frozen=True)
class Partition:
    """One hash partition of the numbers: ``index`` of ``count`` (see :func:`partition_of`)."""

    index: int
    count: int

    def holds(self, ids: pl.Expr) -> pl.Expr:
        """Whether each number id belongs to this partition."""
        return partition_of(ids, self.count) == self.index


def partition_of(ids: pl.Expr, count: int) -> pl.Expr:
    """The hash partition (0 .. count-1) a number id belongs to; the same in every process."""
    return (ids.hash(seed=PARTITION_SEED) % count).cast(pl.Int32)


def feature_context(
    *,
    days: int,
    end: dt.datetime | None,
    imei_callers: pl.DataFrame | None,
    callers: pl.Series,
    registry: pl.DataFrame | None,
    names: pl.DataFrame | None = None,
    partitions: int | None = None,
    profile: pl.DataFrame | None = None,
    absent: frozenset[str] = frozenset(),
) -> FeatureContext:
    """The :class:`FeatureContext` of a whole input, from small tables gathered over all of it.

    Parameters
    ----------
    days, end:
        Distinct dates with events, and the last event's start time.
    imei_callers:
        ``imei`` (as :func:`event_columns` gives it) and ``caller_id`` (:func:`number_id`) of every
        event with an IMEI (repeats allowed); ``None`` to count in each batch.
    callers:
        The id of every number that originated an event (repeats allowed).
    registry:
        The registry (:data:`detector.inputs.registry.REGISTRY_SCHEMA`), or ``None``.
    names:
        :func:`text_names` of every caller (repeats allowed), or ``None`` if there are none.
    partitions:
        The number of hash partitions the input is split into, if it is: the registry features
        are then sorted by partition (:attr:`FeatureContext.registry_offsets`).
    profile:
        :func:`registry_profile` of ``registry`` if computed already (``registry`` is then not
        read).
    absent:
        Optional CDR columns no file had (:attr:`FeatureContext.absent`).
    """
    imei_sims = None
    if imei_callers is not None:
        # Only the shared IMEIs: a handful beside every handset of the carrier, and each
        # partition joins its callers' IMEIs to this table.
        imei_sims = (imei_callers.group_by("imei").agg(pl.col("caller_id").n_unique().cast(pl.Int64).alias("sims"))
                     .filter(pl.col("sims") > 1))
    if profile is None and registry is not None and registry.height:
        profile = registry_profile(registry)
    reg = with_dormant_share(profile, callers) if profile is not None else None
    if reg is not None:
        # Held through a whole run and joined to every partition: the numbers' texts join the
        # other names (a plain number's text is its id), and the dealer's name is not a feature.
        # 16M subscribers held ~0.8 GB less.
        names = pl.concat([frame for frame in (names, reg.filter(pl.col("id") < 0).select("id", "msisdn"))
                           if frame is not None])
        reg = reg.drop("msisdn", "dealer_id")
    offsets = None
    if reg is not None and partitions is not None:
        part = pl.select(partition_of(pl.lit(reg["id"]), partitions)).to_series()
        reg = reg.sort(part, maintain_order=True)
        counts = np.bincount(part.to_numpy(), minlength=partitions)
        offsets = tuple(int(x) for x in np.concatenate([[0], np.cumsum(counts)]))
    names = names.unique("id") if names is not None and names.height else None
    return FeatureContext(days=days, end=end, imei_sims=imei_sims, registry=reg, names=names,
                          registry_offsets=offsets, absent=frozenset(absent))


def build_features(
    cdrs: pl.DataFrame | pl.LazyFrame,
    registry: pl.DataFrame | None = None,
    *,
    core_only: bool = False,
    country_code: str = DEFAULT_COUNTRY_CODE,
    home_prefixes: Sequence[str] = (),
    absent: frozenset[str] = frozenset(),
) -> pl.DataFrame:
    """The feature table: one row per number that originated an event, plus one per registry
    subscriber. Column ``msisdn``, the core features of features.md in that order, then (unless
    ``core_only``) the engine's own behaviour features; all are described in
    :mod:`features.catalogue`.

    Parameters
    ----------
    cdrs:
        Canonical CDRs (:data:`detector.inputs.cdr.CDR_SCHEMA`), normalised and de-duplicated.
    registry:
        Optional registry (:data:`detector.inputs.registry.REGISTRY_SCHEMA`), one row per msisdn.
    core_only:
        Only the core features (what the DuckDB benchmark peer computes too).
    country_code, home_prefixes:
        The home country's code and the carrier's own number ranges: where a callee is when the
        export's ``callee_network`` does not say (:func:`network_flags`).
    absent:
        Optional columns none of the input's files had (:attr:`detector.inputs.cdr.CdrBatch.absent`):
        the features that read them are null (:data:`NEEDS`).
    """
    cdrs = cdrs.lazy().collect() if isinstance(cdrs, pl.LazyFrame) else cdrs
    events = event_columns(cdrs, None if core_only else country_code, home_prefixes=home_prefixes)
    names = text_names(events["caller_id"], cdrs["caller"])
    events = by_caller(events)
    callers = events["caller_id"].to_numpy()
    with ThreadPoolExecutor(max_workers=1) as pool:
        # The registry's side (Polars) runs while the kernels count the events (numba, partly on
        # one thread): neither reads what the other makes.
        pending = pool.submit(lambda: feature_context(
            days=cdrs["start_time"].dt.date().n_unique(),
            end=cdrs["start_time"].max(),
            imei_callers=None,
            callers=pl.Series(callers[kernels.segment_starts(callers)[:-1]]),  # each once: sorted
            registry=registry,
            names=names,
            absent=absent,
        ))
        table = _per_number(events, None, extended=not core_only)
        context = pending.result()
    return _feature_rows(table, context, None, core_only=core_only)


def build_partition_features(
    events: pl.DataFrame,
    context: FeatureContext,
    partition: Partition,
    *,
    incoming: pl.DataFrame | None = None,
    core_only: bool = False,
) -> pl.DataFrame:
    """The rows of :func:`build_features` for the numbers of one hash ``partition``.

    ``events`` (:func:`event_columns`, in input order or :func:`by_caller`) must hold every row whose caller is in the
    partition, and ``incoming`` at least the :data:`INCOMING_COLUMNS` of every row whose callee is
    in it and whose caller is not, both de-duplicated; with ``incoming=None``, ``events`` holds
    both kinds and they are told apart here. ``context`` must describe the whole input
    (:func:`feature_context`): then every row equals the whole input's, value for value (module
    docstring).
    """
    if incoming is None:
        own = partition.holds(pl.col("caller_id"))
        events, incoming = events.filter(own), events.filter(~own)
    return _features(by_caller(events), context, partition, incoming=incoming, core_only=core_only)


def _features(events: pl.DataFrame, context: FeatureContext, partition: Partition | None, *,
              incoming: pl.DataFrame | None = None, core_only: bool) -> pl.DataFrame:
    table = _per_number(events, context.imei_sims, extended=not core_only, partition=partition, incoming=incoming)
    return _feature_rows(table, context, partition, core_only=core_only)


def _feature_rows(table: pl.DataFrame, context: FeatureContext, partition: Partition | None, *,
                  core_only: bool) -> pl.DataFrame:
    """The feature table's rows from :func:`_per_number`'s ``table`` and the ``context``: every
    number that originated an event and every registry subscriber, in ``msisdn`` order."""
    # Rows: every number that originated an event, and every registry subscriber. Numbers that
    # only received are in the table so far for their incoming counts; they go unless registered.
    keep = pl.col("n_out") > 0
    has_registry = context.registry is not None
    if has_registry:
        reg = context.registry_of(partition).with_columns(pl.lit(True).alias("registered"))
        table = _full_join(table, reg, "id")
        keep = keep | pl.col("registered").fill_null(False)
    else:
        table = table.with_columns(
            pl.lit(None, pl.Int64).alias(c) for c in ("sims_per_id", "dealer_burst_1h", "msisdn_run_length")
        )
    counts = ["voice_out", "voice_out_distinct", "sms_out", "sms_out_distinct", "voice_in",
              "voice_in_distinct", "sms_in", "active_hours", "distinct_cells", "distinct_imeis",
              "imei_max_sims", "n_out", "answered_n", "short_n", "night_n", "reciprocated_n"]
    table = table.with_columns(pl.col(c).fill_null(0).cast(pl.Int64) for c in counts).filter(keep)
    table = table.with_columns(
        ratio("answered_n", "voice_out").alias("voice_answered_ratio"),
        ratio("short_n", "answered_n").alias("voice_short_ratio"),
        ratio("reciprocated_n", "voice_out_distinct").alias("reciprocity"),
        ratio("night_n", "n_out").alias("night_ratio"),
        pl.lit(context.days, pl.Int64).alias("window_days"),
    )
    columns = CORE_FEATURES
    if not core_only:
        table = table.with_columns(
            pl.lit(context.end, pl.Datetime("us")).dt.epoch("us").alias("window_end_us"),
        ).with_columns(registry_behaviour(has_registry))
        table = table.with_columns(
            ratio("voice_out", "days_active").alias("voice_out_per_day_mean"),
            ratio("very_short_n", "answered_n").alias("voice_very_short_ratio"),
            ratio_of(pl.col("voice_in") + pl.col("sms_in"), "n_out").alias("in_out_ratio"),
            ratio("voice_distinct_days_n", "days_active").alias("voice_out_distinct_per_day_mean"),
            ratio("sms_out", "days_active").alias("sms_out_per_day_mean"),
            ratio("sms_distinct_days_n", "days_active").alias("sms_out_distinct_per_day_mean"),
            ratio("sms_reciprocated_n", "sms_out_distinct").alias("sms_reciprocity"),
            ratio("sms_in", "sms_out").alias("sms_reply_ratio"),
            (pl.col("voice_in") / pl.col("window_days")).alias("voice_in_per_day_mean"),
            (pl.col("sms_in") / pl.col("window_days")).alias("sms_in_per_day_mean"),
            (pl.col("days_active").fill_null(0) / pl.col("window_days")).alias("active_day_share"),
            ratio("voice_out_distinct", "voice_out").alias("voice_out_new_callee_ratio"),
            ratio("unrelated_n", "voice_out_distinct").alias("voice_unrelated_ratio"),
            ratio("callee_blocks_n", "integer_callees_n").alias("voice_callee_block_ratio"),
            ratio("abroad_n", "abroad_known_n").alias("intl_out_ratio"),
            ratio("offnet_n", "offnet_known_n").alias("offnet_out_ratio"),
            ((pl.col("last_out_us") - pl.col("first_out_us")) / kernels.US_PER_DAY).alias("active_span_days"),
            pl.from_epoch("first_out_us", "us").alias("first_out_time"),
            pl.from_epoch("last_out_us", "us").alias("last_out_time"),
        ).with_columns(pl.col(c).fill_null(0) for c in EXTENDED_COUNTS)
        columns = FEATURES
    # Text of the numbers whose id is not their number (a plain number's text is its id).
    table = number_texts(table, context.names)
    missing = [f for f in missing_features(context.absent) if f in columns]
    if missing:
        table = table.with_columns(pl.lit(None, table.schema[f]).alias(f) for f in missing)
    return table.select("msisdn", *columns).sort("msisdn")


def registry_behaviour(has_registry: bool) -> list[pl.Expr]:
    """Features joining a SIM's registration with its traffic: how long it slept before its first
    call, whether it was first used away from the shop, and how its dealer's SIMs behave. They read
    ``n_out``, ``first_out_us``, ``window_end_us``, ``has_first_cell`` and ``first_cell`` beside the
    registry's columns (:func:`registry_features`)."""
    if not has_registry:
        return [pl.lit(None, pl.Float64).alias(c) for c in REGISTRY_BEHAVIOUR]
    used = pl.col("n_out") > 0
    return [
        pl.col("prepaid"),
        pl.when(used & pl.col("activated").is_not_null())
        .then((pl.col("first_out_us") - pl.col("activated")) / kernels.US_PER_DAY)
        .alias("days_to_first_use"),
        ((pl.col("window_end_us") - pl.col("activated")) / kernels.US_PER_DAY).alias("activation_age_days"),
        pl.when(pl.col("has_first_cell") & pl.col("activation_cell").is_not_null())
        .then((pl.col("first_cell") != pl.col("activation_cell")).cast(pl.Float64))
        .alias("first_use_away_from_activation"),
        pl.col("dealer_dormant_share"),
        pl.col("dealer_over_id_cap_share"),
        pl.col("dealer_sims"),
        pl.col("dealer_burst_1h_max"),
    ]


def ratio(num: str, den: str) -> pl.Expr:
    """Column ``num`` over column ``den``; null where ``den`` is not positive (features.md: a ratio
    whose denominator is zero is null)."""
    return ratio_of(pl.col(num), den)


def ratio_of(num: pl.Expr, den: str) -> pl.Expr:
    """:func:`ratio` of an expression over column ``den``."""
    return pl.when(pl.col(den) > 0).then(num / pl.col(den)).otherwise(None)


def event_columns(cdrs: pl.DataFrame, country_code: str | None = None, *, imei_ids: bool = False,
                  home_prefixes: Sequence[str] = ()) -> pl.DataFrame:
    """The columns the features need, all integers (booleans packed as bit flags), row for row
    with ``cdrs``. With a ``country_code``, where each callee is (:func:`network_flags`: the
    export's ``callee_network``, else the number and the carrier's ``home_prefixes``).

    Cells and IMEIs are only counted and matched, so they become 64-bit hashes: two different
    ones could only be confused by a hash collision (odds ~1e-9 for a million IMEIs). Two rows
    with equal columns here are equal in every column the features read, so the out-of-core
    engine spills these columns instead of the text. It spills ``imei_ids``: IMEIs get ids as
    numbers do (:func:`number_id`), an IMEI of plain digits its own, so that the report's shared
    handsets need the text of only the few others (50M rows: 0.7 GB less spilled, ~10 s faster).
    In memory the hash is cheaper (parsing the text is ~10x hashing it) and the text is at hand.
    The features only match IMEIs, so they are the same either way.

    ``cdrs`` may hold the ids of its numbers already, as ``caller_id`` and ``callee_id``
    (:func:`~detector.inputs.numbers.normalise_columns` with ``ids``): they are used, not parsed again.
    """
    ids = [pl.col(f"{c}_id") if f"{c}_id" in cdrs.columns else number_id(pl.col(c)).alias(f"{c}_id")
           for c in ("caller", "callee")]
    flags = (
        (pl.col("event_type") == "voice").cast(pl.Int16) * VOICE
        + pl.col("answered").fill_null(False).cast(pl.Int16) * ANSWERED
        + pl.col("cell_id").is_not_null().cast(pl.Int16) * HAS_CELL
        + pl.col("imei").is_not_null().cast(pl.Int16) * HAS_IMEI
    )
    if country_code is not None:
        network = pl.col("callee_network") if "callee_network" in cdrs.columns else None
        where = network_flags(pl.col("callee"), pl.col("callee_id"), network, country_code, home_prefixes)
        flags = flags + sum(where[name].cast(pl.Int16) * value for name, value in
                            (("abroad", ABROAD), ("abroad_known", ABROAD_KNOWN), ("offnet", OFFNET),
                             ("offnet_known", OFFNET_KNOWN)))
    if "incoming_leg" in cdrs.columns:
        flags = flags + pl.col("incoming_leg").cast(pl.Int16) * INCOMING_LEG
    events = cdrs.lazy().with_columns(ids).select(
        "caller_id", "callee_id",
        pl.col("start_time").dt.epoch("us").alias("ts"),
        # Unknown (an export without durations): 0 for the kernels; the features that read it
        # are then missing (FeatureContext.absent).
        pl.col("duration_s").fill_null(0),
        flags.alias("flags"),
        text_hash(pl.col("cell_id")).alias("cell"),
        (number_id if imei_ids else text_hash)(pl.col("imei")).alias("imei"),
    ).collect(engine="in-memory")
    # A plain callee's integer is its id; only the rare others need their text parsed.
    key = events["callee_id"].to_numpy().copy()
    other = key < 0
    if other.any():
        key[other] = pl.select(_callee_key(pl.lit(cdrs["callee"].filter(pl.Series(other))))).to_series().to_numpy()
    return events.with_columns(pl.Series("callee_key", key))


def network_flags(callee: pl.Expr, callee_id: pl.Expr, network: pl.Expr | None, country_code: str,
                  home_prefixes: Sequence[str] = ()) -> dict[str, pl.Expr]:
    """Where each callee is, as booleans ``abroad``, ``abroad_known``, ``offnet``, ``offnet_known``
    (see :data:`OFFNET`). The export's ``network`` (``onnet``/``offnet``/``international``) where it
    says; else the number: a callee that is a number (its id positive) is abroad unless it is under
    ``country_code`` (short codes count as abroad, as they always have: neither is a subscriber),
    and with ``home_prefixes`` a home-country number under none of them is off-net. A callee that is
    not a number (anonymised, alphanumeric) tells neither."""
    is_number = callee_id > 0
    home = callee.str.starts_with(country_code)
    abroad = is_number & ~home
    abroad_known = is_number
    if home_prefixes:
        offnet = is_number & home & ~pl.any_horizontal(callee.str.starts_with(p) for p in home_prefixes)
        offnet_known = is_number
    else:
        offnet, offnet_known = pl.lit(False), pl.lit(False)
    if network is not None:
        said = network.is_not_null()
        abroad = pl.when(said).then(network == "international").otherwise(abroad)
        offnet = pl.when(said).then(network == "offnet").otherwise(offnet)
        abroad_known, offnet_known = said | abroad_known, said | offnet_known
    return {"abroad": abroad.fill_null(False), "abroad_known": abroad_known.fill_null(False),
            "offnet": offnet.fill_null(False), "offnet_known": offnet_known.fill_null(False)}


def by_caller(events: pl.DataFrame, without: np.ndarray | None = None) -> pl.DataFrame:
    """``events`` sorted by caller, without the rows at positions ``without`` (if given: the one
    gather that sorts them leaves those out, where dropping them first copied every column). The
    sort is stable, so each caller's rows keep their input order, which is nearly always time
    order already. Sorted events are returned as they are."""
    return _sorted_by(events, "caller_id", without)


def _sorted_by(frame: pl.DataFrame, column: str, without: np.ndarray | None = None) -> pl.DataFrame:
    """``frame`` sorted by its integer ``column``, equal keys in their order
    (:func:`kernels.stable_argsort`: a third of the CPU of Polars' sort), without the rows at
    positions ``without``; flagged as sorted."""
    if without is None and frame[column].is_sorted():
        return frame
    frame = frame.rechunk()  # one gather per column, not one per chunk (a partition reads dozens of files)
    order = kernels.stable_argsort(frame[column].to_numpy())
    if without is not None and without.size:
        keep = np.ones(frame.height, dtype=np.bool_)
        keep[without] = False
        order = order[keep[order]]
    return frame[pl.Series(order)].with_columns(pl.col(column).set_sorted())


def text_names(ids: pl.Series, texts: pl.Series) -> pl.DataFrame:
    """``id`` -> ``msisdn`` of the numbers (or IMEIs) whose :func:`number_id` is not their
    number (text that is not a plain integer), from the ids and texts of the same rows; distinct."""
    frame = pl.DataFrame({"id": ids, "msisdn": texts})
    return frame.filter((pl.col("id") < 0) & pl.col("msisdn").is_not_null()).unique("id")


def number_texts(frame: pl.DataFrame, names: pl.DataFrame | None, id_column: str = "id") -> pl.DataFrame:
    """``frame`` with ``msisdn``, the text of the number in ``id_column``: a plain number's text is
    its id; any other's is looked up in ``names`` (:func:`text_names`; ``None``: there are none)."""
    if names is None:
        frame = frame.with_columns(pl.lit(None, pl.Utf8).alias("msisdn"))
    else:
        frame = frame.join(names, left_on=id_column, right_on="id", how="left")
    ids = pl.col(id_column)
    return frame.with_columns(pl.when(ids > 0).then(ids.cast(pl.Utf8)).otherwise(pl.col("msisdn")).alias("msisdn"))


def text_hash(text: pl.Expr) -> pl.Expr:
    """A 64-bit id of a cell or IMEI text (the same text gives the same id in every table)."""
    return text.hash(seed=0).reinterpret(signed=True)


def _per_number(events: pl.DataFrame, imei_sims: pl.DataFrame | None, extended: bool = True,
                partition: Partition | None = None, incoming: pl.DataFrame | None = None) -> pl.DataFrame:
    """Every outgoing and incoming feature from the caller-sorted events (numba kernels): one row
    per caller, and one per number that only received. With a ``partition``, ``events`` are its
    own callers' rows and ``incoming`` (:data:`INCOMING_COLUMNS`) the other callers' rows that
    call into it: those only answer who calls whom.

    The distinct callees of each caller (with how often each was called) and the distinct callers
    of each callee (:func:`_contacts`) serve distinct callees, the incoming counts, reciprocity
    and "unrelated" callees: whether B called A back is whether B is among A's callers.
    """
    col = {name: events[name].to_numpy() for name in events.columns}
    starts = kernels.segment_starts(col["caller_id"])
    ids = col["caller_id"][starts[:-1]]
    voice = (col["flags"] & VOICE) != 0
    pairs = {"voice": kernels.distinct_sorted(starts, col["callee_id"], voice),
             "sms": kernels.distinct_sorted(starts, col["callee_id"], ~voice)}
    contacts, incoming_counts = _contacts(events, partition, incoming)
    called_back = kernels.contacted_by(ids, *pairs["voice"][:2], *contacts["voice"])
    looked_up = {"reciprocated_n": kernels.masked_counts(pairs["voice"][0], called_back)}
    if extended:
        # Called once, and never called or texted back.
        heard_from = called_back | kernels.contacted_by(ids, *pairs["voice"][:2], *contacts["sms"])
        looked_up["unrelated_n"] = kernels.masked_counts(pairs["voice"][0], (pairs["voice"][2] == 1) & ~heard_from)
        looked_up["sms_reciprocated_n"] = kernels.masked_counts(
            pairs["sms"][0], kernels.contacted_by(ids, *pairs["sms"][:2], *contacts["sms"]))
    flags = col["flags"]
    counts = dict(zip(kernels.EVENT_COUNTS, kernels.event_counts(starts, flags, col["duration_s"], col["ts"]).T))
    answered_n = counts["answered_n"]
    voice_starts, voice_callees, _ = pairs["voice"]
    sms_starts = pairs["sms"][0]
    imei_starts, imeis, _ = kernels.distinct_sorted(starts, col["imei"], (flags & HAS_IMEI) != 0)
    seq_starts, seq_ts, seq_key = kernels.masked_event_order(starts, voice, col["ts"], col["callee_key"])
    table = pl.DataFrame(
        {
            "id": ids,
            "voice_out": counts["voice_out"],
            "voice_out_distinct": np.diff(voice_starts),
            "answered_n": answered_n,
            "voice_dur_mean": np.where(answered_n > 0, counts["answered_seconds"] / np.maximum(answered_n, 1), np.nan),
            "voice_dur_median": kernels.segment_median(starts, col["duration_s"], voice & ((flags & ANSWERED) != 0)),
            "short_n": counts["short_n"],
            "sms_out": counts["sms_out"],
            "sms_out_distinct": np.diff(sms_starts),
            "n_out": np.diff(starts),
            "night_n": counts["night_n"],
            "active_hours": kernels.active_hours(starts, col["ts"]),
            "distinct_cells": np.diff(kernels.distinct_sorted(starts, col["cell"], (flags & HAS_CELL) != 0)[0]),
            "distinct_imeis": np.diff(imei_starts),
            "reciprocated_n": looked_up["reciprocated_n"],
            "gap_cv": kernels.gap_cv(seq_starts, seq_ts),
            "seq_callee_ratio": kernels.seq_callee_ratio(seq_starts, seq_key),
        }
    ).with_columns(pl.col("voice_dur_mean", "voice_dur_median", "gap_cv", "seq_callee_ratio").fill_nan(None))
    if extended:
        day = col["ts"] // kernels.US_PER_DAY
        day = day - (day.min() if day.size else 0)
        n_days = int(day.max()) + 1 if day.size else 1
        everything = np.ones(day.shape[0], dtype=np.bool_)
        days_active, _ = kernels.per_day(starts, day, everything, n_days)
        _, voice_day_max = kernels.per_day(starts, day, voice, n_days)
        _, sms_day_max = kernels.per_day(starts, day, ~voice, n_days)
        table = table.with_columns(
            pl.Series("days_active", days_active),
            pl.Series("voice_out_per_day_max", voice_day_max),
            pl.Series("sms_out_per_day_max", sms_day_max),
            pl.Series("voice_burst_10m_max", kernels.max_in_window(seq_starts, seq_ts, 10 * 60 * 1_000_000)),
            pl.Series("very_short_n", counts["very_short_n"]),
        )
        first_ts, first_cell, has_first_cell = kernels.first_event(starts, col["ts"], col["cell"],
                                                                   (flags & HAS_CELL) != 0)
        table = table.with_columns(
            pl.Series("first_out_us", first_ts),
            pl.Series("last_out_us", np.maximum.reduceat(col["ts"], starts[:-1]) if ids.size else first_ts),
            pl.Series("first_cell", np.where(has_first_cell, first_cell, 0)),
            pl.Series("has_first_cell", has_first_cell),
        )
        table = table.with_columns(*_callee_shape(col, starts, day, voice_starts, voice_callees),
                                   pl.Series("unrelated_n", looked_up["unrelated_n"]))
        sms_days_n, sms_day_distinct_max = kernels.distinct_per_day(starts, day, col["callee_id"], ~voice)
        table = table.with_columns(
            pl.Series("sms_distinct_days_n", sms_days_n),
            pl.Series("sms_reciprocated_n", looked_up["sms_reciprocated_n"]),
        )
    table = table.join(_imei_max_sims(ids, imei_starts, imeis, imei_sims), on="id", how="left")
    return _full_join(table, incoming_counts, "id")


def _full_join(left: pl.DataFrame, right: pl.DataFrame, on: str) -> pl.DataFrame:
    """``left.join(right, on=on, how="full", coalesce=True)``, rows in another order: ``left``
    joined with its matches, then the rows of ``right`` that match none. Polars' full join
    gathers every column of both sides by index, nulls where a side has no match: on a
    partition's 170k numbers and ~40 columns, 4x the CPU of a left join and an anti join."""
    return pl.concat([left.join(right, on=on, how="left"), right.join(left.select(on), on=on, how="anti")],
                     how="diagonal")


def _callee_shape(col: dict[str, np.ndarray], starts: np.ndarray, day: np.ndarray, voice_starts: np.ndarray,
                  voice_callees: np.ndarray) -> list[pl.Series]:
    """Who a number calls and how: distinct callees per day, how tightly the callees cluster in
    number blocks, international callees, and the spread of call lengths (as counts for the
    ratios built in ``build_features``)."""
    flags = col["flags"]
    voice = (flags & VOICE) != 0
    distinct_days_n, distinct_day_max = kernels.distinct_per_day(starts, day, col["callee_id"], voice)
    # From the distinct voice callees already at hand, not another pass over every event.
    return [
        pl.Series("voice_distinct_days_n", distinct_days_n),
        pl.Series("voice_out_distinct_per_day_max", distinct_day_max),
        *callee_blocks(voice_starts, voice_callees),
        *(pl.Series(name, kernels.masked_counts(starts, (flags & bit) != 0)) for name, bit in
          (("abroad_n", ABROAD), ("abroad_known_n", ABROAD_KNOWN), ("offnet_n", OFFNET),
           ("offnet_known_n", OFFNET_KNOWN))),
        pl.Series("voice_dur_entropy", kernels.histogram_entropy(starts, col["duration_s"],
                                                                 voice & ((flags & ANSWERED) != 0), DURATION_EDGES)
                  ).fill_nan(None),
    ]


def callee_blocks(voice_starts: np.ndarray, voice_callees: np.ndarray) -> list[pl.Series]:
    """Per number, from its distinct voice callees (ids, sorted within each segment at
    ``voice_starts``): ``callee_blocks_n``, the distinct blocks of :data:`CALLEE_BLOCK` consecutive
    numbers they fall in, and ``integer_callees_n``, how many are plain numbers (only those have a
    block): ``voice_callee_block_ratio`` is the one over the other."""
    integer_callee = voice_callees > 0
    return [
        pl.Series("callee_blocks_n",
                  np.diff(kernels.distinct_sorted(voice_starts, voice_callees // CALLEE_BLOCK, integer_callee)[0])),
        pl.Series("integer_callees_n", kernels.masked_counts(voice_starts, integer_callee)),
    ]


def _imei_max_sims(ids: np.ndarray, imei_starts: np.ndarray, imeis: np.ndarray,
                   imei_sims: pl.DataFrame | None) -> pl.DataFrame:
    """Per caller, the most distinct callers seen on any IMEI it used (``imei_sims``: see
    :class:`FeatureContext`)."""
    pairs = pl.DataFrame({"id": np.repeat(ids, np.diff(imei_starts)), "imei": imeis})
    if imei_sims is None:
        # The pairs are distinct per caller, so an IMEI's pairs count its callers.
        imei_sims = pairs.group_by("imei").agg(pl.len().cast(pl.Int64).alias("sims"))
    return (
        pairs.join(imei_sims, on="imei", how="left")
        .group_by("id")
        # An IMEI missing from the table has its one caller.
        .agg(pl.col("sims").max().fill_null(1).alias("imei_max_sims"))
    )


def _contacts(events: pl.DataFrame, partition: Partition | None, incoming: pl.DataFrame | None
              ) -> tuple[dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]], pl.DataFrame]:
    """Who contacted each number, from every row that names it as callee (with a ``partition``,
    of its own numbers only: ``events``' rows into it and the ``incoming`` rows), sorted by
    callee: per kind (``voice``, ``sms``) the callees' ids with the distinct callers of each
    (:func:`kernels.contacted_by`'s ``back_*`` arguments); and the incoming counts per number."""
    rows = events.select(INCOMING_COLUMNS)
    if partition is not None:
        rows = rows.filter(partition.holds(pl.col("callee_id")))
    if incoming is not None and incoming.height:
        rows = pl.concat([rows, incoming.select(INCOMING_COLUMNS)])
    rows = _sorted_by(rows, "callee_id")
    callees, callers = rows["callee_id"].to_numpy(), rows["caller_id"].to_numpy()
    voice = (rows["flags"].to_numpy() & VOICE) != 0
    starts = kernels.segment_starts(callees)
    ids = callees[starts[:-1]]
    contacts = {kind: (ids, *kernels.distinct_sorted(starts, callers, mask)[:2])
                for kind, mask in (("voice", voice), ("sms", ~voice))}
    counts = pl.DataFrame({
        "id": ids,
        "voice_in": kernels.masked_counts(starts, voice),
        "voice_in_distinct": np.diff(contacts["voice"][1]),
        "sms_in": kernels.masked_counts(starts, ~voice),
    })
    return contacts, counts


def registry_features(registry: pl.DataFrame, callers: pl.Series) -> pl.DataFrame:
    """Per registry subscriber (``id``, ``msisdn``): what its registration says
    (``sims_per_id``, ``dealer_burst_1h``, ``msisdn_run_length``, activation time and cell,
    ``prepaid``) and how its dealer's SIMs behave (``dealer_*``); ``callers`` are the ids of every
    number that originated an event, for the dealer's share of dormant SIMs.

    The same as :func:`with_dormant_share` of :func:`registry_profile`: a run that streams its
    CDRs computes the profile before or while it reads them
    (:func:`detector.engine.partitioned.profile_registry`), and adds the share once it knows the callers.
    """
    return with_dormant_share(registry_profile(registry), callers)


def registry_profile(registry: pl.DataFrame) -> pl.DataFrame:
    """The part of :func:`registry_features` that needs the registry alone (every column but
    ``dealer_dormant_share``), with ``dealer``, an integer per dealer."""
    reg = registry.select(
        number_id(pl.col("msisdn")).alias("id"),
        pl.col("msisdn"),
        pl.col("msisdn").str.to_integer(strict=False).alias("msisdn_int"),
        pl.col("activation_time").dt.epoch("us").alias("activated"),
        pl.col("dealer_id"),
        # An integer per dealer for the sorts and groups below: on 4M subscribers, sorting by
        # the dealer's text took 1.4 s a sort, by this code 0.8 s.
        pl.col("dealer_id").cast(pl.Categorical).to_physical().alias("dealer"),
        pl.col("id_number"),
        # Prepaid SIMs are what dealers pre-activate; postpaid and enterprise lines carry a contract.
        pl.col("subscription_type").str.to_lowercase().str.contains("pre").cast(pl.Float64).alias("prepaid"),
        # Optional in the registry (data-contract.md).
        (text_hash(pl.col("activation_cell")) if "activation_cell" in registry.columns
         else pl.lit(None, pl.Int64)).alias("activation_cell"),
    ).with_columns(
        # Counted by a 64-bit hash of the id number, not its text: the text's window took twice
        # the memory (16M subscribers: +1.9 GB); ids could only merge by a hash collision.
        pl.when(pl.col("id_number").is_not_null())
        .then(pl.len().over(pl.col("id_number").hash()))
        .cast(pl.Int64)
        .alias("sims_per_id")
    )

    burst = _within_dealer(reg, "activated", lambda starts, activated: kernels.window_count(
        starts, activated, kernels.US_PER_HOUR)).alias("dealer_burst_1h")
    runs = _within_dealer(reg, "msisdn_int", kernels.run_length).alias("msisdn_run_length")
    dealer = pl.col("dealer").is_not_null()
    return (
        reg.select("id", "msisdn", "sims_per_id", "activated", "activation_cell", "dealer_id", "dealer", "prepaid")
        .with_columns(burst, runs)
        .with_columns(
            pl.when(dealer).then((pl.col("sims_per_id") > 3).fill_null(False).cast(pl.Float64).mean().over("dealer"))
            .alias("dealer_over_id_cap_share"),
            pl.when(dealer).then(pl.len().over("dealer")).cast(pl.Int64).alias("dealer_sims"),
            pl.when(dealer).then(pl.col("dealer_burst_1h").max().over("dealer")).alias("dealer_burst_1h_max"),
        )
    )


def with_dormant_share(profile: pl.DataFrame, callers: pl.Series) -> pl.DataFrame:
    """:func:`registry_features` from the :func:`registry_profile` and the ids of every number
    that originated an event: ``dealer_dormant_share``, the share of the dealer's SIMs that did
    not."""
    # A column of its own: inside a window, Polars would broadcast the callers to every group.
    dormant = (~pl.col("id").is_in(callers.implode())).cast(pl.Float64)
    share = (profile.select(dormant.alias("dormant"), "dealer")
             .select(pl.when(pl.col("dealer").is_not_null()).then(pl.col("dormant").mean().over("dealer")))
             .to_series())
    return profile.drop("dealer").with_columns(share.alias("dealer_dormant_share"))


def _within_dealer(reg: pl.DataFrame, column: str,
                   kernel: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> pl.Series:
    """``kernel(starts, values)`` over each dealer's subscribers sorted by ``column`` (a kernel of
    :mod:`features.kernels` taking segment offsets and the sorted values), row for row with
    ``reg``; null where the dealer or the value is.

    Sorting the whole registry by both keys and joining the result back on ``id`` took 0.7 s a
    feature on 4M subscribers; Polars sorts two keys far slower than one. Here the values are
    ranked by one sort, and one more sorts on ``dealer << 32 | rank``; the result goes back by row.
    """
    keys = reg.select("dealer", column)
    keep = np.flatnonzero(keys.select(pl.all_horizontal(pl.all().is_not_null())).to_series().to_numpy())
    dealer = keys["dealer"].to_numpy()[keep].astype(np.int64)
    values = keys[column].to_numpy()[keep]
    rank = np.empty(keep.size, dtype=np.int64)
    rank[pl.Series(values).arg_sort().to_numpy()] = np.arange(keep.size)
    order = pl.Series((dealer << 32) | rank).arg_sort().to_numpy()
    out = np.zeros(reg.height, dtype=np.int64)
    out[keep[order]] = kernel(kernels.segment_starts(dealer[order]), values[order])
    if keep.size == reg.height:
        return pl.Series(out)
    valid = np.zeros(reg.height, dtype=np.bool_)
    valid[keep] = True
    return pl.select(pl.when(pl.lit(pl.Series(valid))).then(pl.lit(pl.Series(out)))).to_series()
